#!/usr/bin/env bash
# apir-hostd's session sandbox (docs/security.md, "Session sandbox"): a session process runs
# under the seccomp filter, in the namespaces the daemon says it got, with finite address-space
# and descriptor limits, and still serves a guest its right tokens; a CPU work buffer beyond
# the session quota is refused with an error reply and the session goes on; a request that
# runs past APIR_HOSTD_COMPUTE_TIMEOUT_S ends its session while another guest is served; and
# APIR_HOSTD_SECCOMP=0 / APIR_HOSTD_NAMESPACES=0 turn the filter and the namespaces off.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q4_0 >/dev/null
gen() { "$APIR_BUILD/apir-generate" -m "$model" -n 48 -t 1 "$@" 2>/dev/null | sed -n 's/^tokens: //p'; }
native=$(gen -d none)
passed=0
check() { if eval "$2"; then passed=$((passed + 1)); else echo "FAIL: $1"; cat "$APIR_TMP/hostd.log"; exit 1; fi; }
restart_hostd() {
  kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
  apir_start_hostd "$@"
}

# A session that stays open (3 s) while /proc is read: the daemon's child that appears with
# it. The idle guest ends by itself (it runs in the caller's command substitution).
idle_session() {
  local before
  before=$(pgrep -P "$HOSTD_PID" | sort || true)
  "$APIR_BUILD/tests/idle_client" "$APIR_SOCKET" 3 >"$APIR_TMP/idle" &
  for _ in $(seq 1 100); do grep -q connected "$APIR_TMP/idle" && break; sleep 0.05; done
  comm -13 <(echo "$before") <(pgrep -P "$HOSTD_PID" | sort) | head -1
}
ns_of() { readlink "/proc/$1/ns/$2"; }

apir_start_hostd --device CPU
check "the daemon says how sessions are sandboxed" 'grep -q "sessions: .*seccomp filter on" "$APIR_TMP/hostd.log"'
s=$(idle_session)
check "a session process exists" '[ -n "$s" ]'
check "the session runs under a seccomp filter, no_new_privs" \
  'grep -q "^Seccomp:[[:space:]]*2" /proc/$s/status && grep -q "^NoNewPrivs:[[:space:]]*1" /proc/$s/status'
check "the session has finite address-space and descriptor limits" \
  'grep -q "^Max address space *[0-9]" /proc/$s/limits && grep -q "^Max open files *64 *64" /proc/$s/limits'
# The namespaces the daemon reported are the ones the session is in.
nsline=$(sed -n 's/.*sessions: namespaces \([^;]*\);.*/\1/p' "$APIR_TMP/hostd.log")
echo "session namespaces: $nsline"
for ns in user net ipc; do
  if [[ ",$nsline" == *",$ns"* ]]; then
    check "the session has its own $ns namespace" '[ "$(ns_of "$s" $ns)" != "$(ns_of "$HOSTD_PID" $ns)" ]'
  fi
done
check "a guest generates its right tokens under the sandbox" \
  '[ "$(GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0)" = "$native" ]'

# The CPU work buffer counts against the quota: 2 MiB asked under 1 MiB is refused, then the
# same session computes a small one.
restart_hostd --device CPU --max-session-mib 1
check "a work buffer past the quota is refused, then a small one served" \
  'timeout 60 "$APIR_BUILD/tests/hostile_client" "$APIR_SOCKET" workbuf'

# The watchdog: a 1.1 TFLOP MUL_MAT ends its session after 2 s; a guest generating meanwhile
# finishes with its right tokens.
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
APIR_HOSTD_COMPUTE_TIMEOUT_S=2 apir_start_hostd --device CPU
GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0 >"$APIR_TMP/other" &
other=$!
check "a request running past the compute timeout ends its session" \
  'timeout 60 "$APIR_BUILD/tests/hostile_client" "$APIR_SOCKET" spin'
check "the daemon logged why" 'grep -q "ran past 2 s" "$APIR_TMP/hostd.log"'
wait $other || true
check "the guest served meanwhile got its right tokens" '[ "$(cat "$APIR_TMP/other")" = "$native" ]'
check "the daemon still serves" '[ "$(GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0)" = "$native" ]'

# The operator's switches.
kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
APIR_HOSTD_SECCOMP=0 APIR_HOSTD_NAMESPACES=0 apir_start_hostd --device CPU
s=$(idle_session)
check "APIR_HOSTD_SECCOMP=0: no filter" 'grep -q "^Seccomp:[[:space:]]*0" /proc/$s/status'
check "APIR_HOSTD_NAMESPACES=0: the daemon's namespaces" \
  '[ "$(ns_of "$s" net)" = "$(ns_of "$HOSTD_PID" net)" ] && [ "$(ns_of "$s" user)" = "$(ns_of "$HOSTD_PID" user)" ]'
echo "sandbox: $passed passed, 0 failed"
