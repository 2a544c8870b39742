#!/usr/bin/env bash
# apir-hostd's socket path is claimed safely, and both ends check who is at the other:
#  - a regular file at --socket is refused and left alone;
#  - a second daemon on a live daemon's path is refused, and the first keeps serving;
#  - a stale socket (its daemon killed) is replaced;
#  - the default path without XDG_RUNTIME_DIR is in a private ${TMPDIR}/apir-<uid> (0700),
#    and a guest refuses that directory once others can write it;
#  - a guest refuses a server of another user; the daemon refuses a client of another user.
. "$(dirname "$0")/lib.sh"
passed=0
check() { if eval "$2"; then passed=$((passed + 1)); else echo "FAIL: $1"; cat "$APIR_TMP"/*.log 2>/dev/null | tail -20; exit 1; fi; }
devices() { # env for the guest...; prints llama-cli --list-devices output
  # (env's -u options first: apir_flushed takes assignments only; the flush as it does)
  env "$@" APIR_TEST_FLUSH_ONLY=1 LD_PRELOAD="$(apir_stock_preload "$APIR_FLUSH_SHIM")" GGML_BACKEND_PATH="$APIR_PLUGIN" \
    "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1
}
hostd() { env -u GGML_BACKEND_PATH "$APIR_BUILD/apir-hostd" --device CPU "$@"; }

echo precious >"$APIR_TMP/file"
rc=0
hostd --socket "$APIR_TMP/file" >"$APIR_TMP/file.log" 2>&1 || rc=$?
check "a regular file at --socket is refused and kept" \
  '[ "$rc" != 0 ] && [ "$(cat "$APIR_TMP/file")" = precious ] && grep -q "not a socket" "$APIR_TMP/file.log"'

apir_start_hostd --device CPU
rc=0
timeout 10 env -u GGML_BACKEND_PATH "$APIR_BUILD/apir-hostd" --device CPU --socket "$APIR_SOCKET" \
  >"$APIR_TMP/second.log" 2>&1 || rc=$?
check "a second daemon on a live path is refused" '[ "$rc" != 0 ] && grep -q "another apir-hostd" "$APIR_TMP/second.log"'
check "the first daemon still serves" 'devices | grep -q APIR0'

kill -9 "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
HOSTD_PID=""
check "a killed daemon leaves its socket behind" '[ -S "$APIR_SOCKET" ]'
apir_start_hostd --device CPU
check "a stale socket is replaced" 'devices | grep -q APIR0'

# The private fallback directory.
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
HOSTD_PID=""
dir="$APIR_TMP/apir-$(id -u)"
env -u APIR_SOCKET -u XDG_RUNTIME_DIR -u GGML_BACKEND_PATH TMPDIR="$APIR_TMP" \
  "$APIR_BUILD/apir-hostd" --device CPU >"$APIR_TMP/default.log" 2>&1 &
HOSTD_PID=$!
for _ in $(seq 1 100); do [ -S "$dir/apir.sock" ] && break; sleep 0.1; done
check "the default path is in a private directory" \
  '[ -S "$dir/apir.sock" ] && [ "$(stat -c %a "$dir")" = 700 ]'
check "a guest finds the daemon there" \
  'devices -u APIR_SOCKET -u XDG_RUNTIME_DIR TMPDIR="$APIR_TMP" | grep -q APIR0'
chmod 777 "$dir"
out=$(devices -u APIR_SOCKET -u XDG_RUNTIME_DIR TMPDIR="$APIR_TMP")
check "a guest refuses a directory others can write" \
  '! echo "$out" | grep -q "APIR[0-9]" && echo "$out" | grep -q "not a private directory"'
chmod 700 "$dir"

# Another user at either end (needs root to become nobody).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  chmod 711 "$APIR_TMP" # nobody must reach the sockets below it
  mkdir -m 777 "$APIR_TMP/shared"
  # Started directly (not through the function) so that $! is the server itself.
  setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$APIR_BUILD/tests/silent_server" "$APIR_TMP/shared/apir.sock" 20 &
  squatter=$!
  for _ in $(seq 1 50); do [ -S "$APIR_TMP/shared/apir.sock" ] && break; sleep 0.1; done
  out=$(devices APIR_SOCKET="$APIR_TMP/shared/apir.sock")
  kill $squatter 2>/dev/null || true
  wait $squatter 2>/dev/null || true
  check "a guest refuses a server of another user" \
    '! echo "$out" | grep -q "APIR[0-9]" && echo "$out" | grep -q "served by uid 65534"'
  chmod 666 "$dir/apir.sock"
  chmod 755 "$dir"
  as_nobody "$APIR_BUILD/tests/idle_client" "$dir/apir.sock" 1 >/dev/null 2>&1 || true
  chmod 700 "$dir"
  check "the daemon refuses a client of another user" \
    'grep -q "refused a connection from uid 65534" "$APIR_TMP/default.log"'
else
  echo "(not root: the other-user checks are not run)"
fi
echo "sockets: $passed passed, 0 failed"
