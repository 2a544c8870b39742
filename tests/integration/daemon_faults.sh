#!/usr/bin/env bash
# Faults of apir-hostd itself and of a guest, through the real plugin:
#  1. apir-hostd and the guest's session process killed (SIGKILL) while the guest generates:
#     the guest's call fails as soon as the socket closes (the socket transport has no call
#     timeout to wait out: a dead peer is seen within 100 ms), the calls after it fail fast
#     (llama.cpp then frees its buffers through the plugin), the process exits on its own with
#     an ordinary error (no signal, no abort) and one line saying why, and nothing hangs.
#  2. apir-hostd alone killed (SIGKILL): its session processes end with it (none serves on),
#     and the guest fails as in 1.
#  3. apir-hostd restarted on the same path (the stale socket replaced): a new guest gets the
#     right tokens.
#  4. a guest killed (SIGKILL) mid-generation: its session process ends (the OS frees what it
#     held), the daemon serves the next guest.
#  5. the guest's session process stalled (SIGSTOP: alive, socket open, never answering) with
#     APIR_TIMEOUT_S=3: the guest's call fails after its timeout instead of hanging, as in 1.
# Eight guests at once: integration.sessions. A session process crashing: integration.sessions.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 --size small >/dev/null
gen() { "$APIR_BUILD/apir-generate" -m "$model" -n 16 -t 1 "$@" 2>/dev/null | sed -n 's/^tokens: //p'; }
native=$(gen -d none)
passed=0
check() { if eval "$2"; then passed=$((passed + 1)); else echo "FAIL: $1"; cat "$APIR_TMP/hostd.log"; exit 1; fi; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Starts a long generation through APIR0; sets GUEST and SESSION once it decodes (its set-up,
# model load included, can take seconds on a busy machine: a fault injected before would fail
# the context's creation, not a decode).
start_long_guest() {
  GGML_BACKEND_PATH="$APIR_PLUGIN" APIR_TIMEOUT_S="${GUEST_TIMEOUT_S:-600}" "$APIR_BUILD/apir-generate" -m "$model" -n 2000 -t 1 -d APIR0 \
    >"$APIR_TMP/$1.out" 2>"$APIR_TMP/$1.err" &
  GUEST=$!
  GUEST_ERR="$APIR_TMP/$1.err"
  SESSION=""
  for _ in $(seq 1 1200); do
    SESSION=$(pgrep -P "$HOSTD_PID" | head -1 || true)
    [ -n "$SESSION" ] && grep -q '^apir-generate: decoding' "$APIR_TMP/$1.err" && break
    sleep 0.05
  done
  sleep 0.5 # generating: nearly every moment is a call through the ring
  check "$1: the guest is generating on a session" \
    '[ -n "$SESSION" ] && grep -q "^apir-generate: decoding" "$GUEST_ERR" && kill -0 $GUEST'
}

# The guest must end on its own, soon, with an ordinary error and one line about the host.
expect_orderly_failure() {
  local t0=$1 tag=$2 rc=0 waited=0
  while kill -0 "$GUEST" 2>/dev/null && [ $waited -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
  local ms=$(($(now_ms) - t0))
  check "$tag: the guest exited within 30 s of the kill" '! kill -0 $GUEST 2>/dev/null'
  wait "$GUEST" || rc=$?
  echo "$tag: guest exit code $rc, $ms ms after the kill"
  grep '^ggml-apir: ' "$APIR_TMP/$tag.err" | head -3
  check "$tag: an ordinary error exit, not a signal (no abort, no core)" '[ $rc -ge 1 ] && [ $rc -lt 128 ]'
  grep -E "GGML_ASSERT|GGML_ABORT|Aborted|core dumped" "$APIR_TMP/$tag.err" || true
  check "$tag: no assertion or abort in the guest" '! grep -qE "GGML_ASSERT|GGML_ABORT|Aborted|core dumped" "$APIR_TMP/$tag.err"'
  check "$tag: exactly one line saying the host was lost" \
    '[ "$(grep -c "^ggml-apir: lost the host" "$APIR_TMP/$tag.err")" = 1 ]'
  check "$tag: llama.cpp saw a failed decode" 'grep -q "failed to decode" "$APIR_TMP/$tag.err"'
}

# Starts apir-hostd and waits until it listens (a killed daemon's stale socket file is there
# before the new one replaces it).
start_hostd() {
  apir_start_hostd --device CPU
  for _ in $(seq 1 100); do grep -q 'listening on' "$APIR_TMP/hostd.log" && return 0; sleep 0.05; done
  echo "FAIL: apir-hostd does not listen"; cat "$APIR_TMP/hostd.log"; exit 1
}

# 1. The daemon and the session killed together.
start_hostd
start_long_guest both
t0=$(now_ms)
kill -KILL "$HOSTD_PID" "$SESSION"
wait "$HOSTD_PID" 2>/dev/null || true
HOSTD_PID=""
expect_orderly_failure "$t0" both

# 2. The daemon alone killed: its sessions must not serve on as orphans.
start_hostd
check "a daemon restarts on the killed one's socket path" 'kill -0 $HOSTD_PID'
start_long_guest daemon
t0=$(now_ms)
kill -KILL "$HOSTD_PID"
wait "$HOSTD_PID" 2>/dev/null || true
HOSTD_PID=""
for _ in $(seq 1 50); do kill -0 "$SESSION" 2>/dev/null || break; sleep 0.1; done
check "daemon: its session process ended with it" '! kill -0 $SESSION 2>/dev/null'
expect_orderly_failure "$t0" daemon

# 3. Restarted: new guests are served right.
start_hostd
check "restarted: a new guest gets the right tokens" \
  '[ -n "$native" ] && [ "$(GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0)" = "$native" ]'

# 4. A guest killed mid-generation: its session ends, the daemon goes on.
start_long_guest victim
kill -KILL "$GUEST"
wait "$GUEST" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$SESSION" 2>/dev/null || break; sleep 0.1; done
check "victim: the killed guest's session process ended (all it held freed)" '! kill -0 $SESSION 2>/dev/null'
check "victim: the daemon still runs and logged no crash" \
  'kill -0 $HOSTD_PID && ! grep -q "ended by signal" "$APIR_TMP/hostd.log"'
check "victim: the next guest gets the right tokens" \
  '[ "$(GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0)" = "$native" ]'
# 5. A stalled host: alive, never answering. The call must end at APIR_TIMEOUT_S.
GUEST_TIMEOUT_S=3 start_long_guest stalled
t0=$(now_ms)
kill -STOP "$SESSION"
expect_orderly_failure "$t0" stalled
ms=$(($(now_ms) - t0))
kill -KILL "$SESSION" 2>/dev/null || true
check "stalled: the guest waited its timeout (3 s), not less ($ms ms)" '[ $ms -ge 2500 ]'
check "stalled: the daemon still runs" 'kill -0 $HOSTD_PID'
echo "daemon_faults: $passed passed, 0 failed"
