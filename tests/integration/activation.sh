#!/usr/bin/env bash
# apir-hostd socket-activated (sd_listen_fds, as systemd's apir-hostd.socket starts it), with
# tests/integration/activate_exec.c playing the service manager:
#  - the inherited socket is served, and --socket yields to it; a guest that connected before
#    the daemon was ready (the manager's socket queues it) is served;
#  - the path is locked like a bound one: a daemon started by hand on it is refused;
#  - on exit the manager's socket file stays;
#  - LISTEN_* meant for another process are ignored: the daemon binds --socket itself;
#  - a passed descriptor that does not listen, or two of them, are refused with one line.
. "$(dirname "$0")/lib.sh"
passed=0
# grep -q may end a pipe early: its writer's SIGPIPE must not fail the check (pipefail).
check() { if (set +o pipefail; eval "$2"); then passed=$((passed + 1)); else echo "FAIL: $1"; tail -n 20 "$APIR_TMP"/*.log; exit 1; fi; }
devices() { # socket path; prints llama-cli --list-devices output
  APIR_SOCKET="$1" GGML_BACKEND_PATH="$APIR_PLUGIN" apir_stock "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1
}
activate() { # mode path log hostd-args...; run in a subshell (it execs: $! is the daemon)
  local mode=$1 path=$2 log=$3
  shift 3
  exec env -u GGML_BACKEND_PATH "$APIR_BUILD/tests/activate_exec" "$mode" "$path" \
    "$APIR_BUILD/apir-hostd" --device CPU "$@" >"$log" 2>&1
}

sock="$APIR_TMP/activated.sock"
activate ok "$sock" "$APIR_TMP/ok.log" --socket "$APIR_TMP/unused.sock" &
HOSTD_PID=$!
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
out=$(devices "$sock") # at once: the daemon may still be probing its backend
check "a guest that connects at once is served on the inherited socket" 'echo "$out" | grep -q APIR0'
check "the daemon says it serves the activated socket" \
  'grep -q "listening on $sock (socket activation)" "$APIR_TMP/ok.log"'
check "--socket yields to the inherited socket" \
  '[ ! -e "$APIR_TMP/unused.sock" ] && grep -q "serving the activated socket" "$APIR_TMP/ok.log"'
rc=0
timeout 10 env -u GGML_BACKEND_PATH "$APIR_BUILD/apir-hostd" --device CPU --socket "$sock" \
  >"$APIR_TMP/second.log" 2>&1 || rc=$?
check "a daemon started by hand on the activated path is refused" \
  '[ "$rc" != 0 ] && grep -q "another apir-hostd" "$APIR_TMP/second.log"'
check "and the activated daemon still serves" 'devices "$sock" | grep -q APIR0'
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
HOSTD_PID=""
check "on exit the manager's socket file stays" '[ -S "$sock" ] && grep -q stopped "$APIR_TMP/ok.log"'

own="$APIR_TMP/own.sock"
activate other-pid "$APIR_TMP/inherited.sock" "$APIR_TMP/other.log" --socket "$own" &
HOSTD_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$APIR_TMP/other.log" 2>/dev/null && break; sleep 0.1; done
check "LISTEN_PID of another process: the daemon binds --socket itself" \
  'grep -q "listening on $own\$" "$APIR_TMP/other.log" && devices "$own" | grep -q APIR0'
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
HOSTD_PID=""

rc=0
timeout 10 bash -c "$(declare -f activate); activate not-listening '$APIR_TMP/nl.sock' '$APIR_TMP/nl.log'" || rc=$?
check "a passed socket that does not listen is refused" \
  '[ "$rc" = 1 ] && grep -q "not a listening unix stream socket" "$APIR_TMP/nl.log"'
rc=0
timeout 10 bash -c "$(declare -f activate); activate two '$APIR_TMP/two.sock' '$APIR_TMP/two.log'" || rc=$?
check "two passed sockets are refused" '[ "$rc" = 1 ] && grep -q "one is served" "$APIR_TMP/two.log"'
echo "activation: $passed passed, 0 failed"
