#!/usr/bin/env bash
# The hostile corpus (tests/hostile/) over the socket against a real apir-hostd: every entry
# gets an error reply (or, for a framing error, its session ends) and the same or a fresh
# session then computes right. Afterwards the daemon still runs, no session died of a signal,
# an honest guest generates the right tokens, and no session process is left behind.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null
# Half a message ends its session after 1 s instead of the default 10.
APIR_HOSTD_READ_TIMEOUT_S=1 apir_start_hostd --device CPU --max-session-mib 512
passed=0
check() { if eval "$2"; then passed=$((passed + 1)); else echo "FAIL: $1"; cat "$APIR_TMP/hostd.log"; exit 1; fi; }

rc=0
"$APIR_BUILD/tests/hostile_socket" "$APIR_SOCKET" 512 >"$APIR_TMP/corpus" 2>&1 || rc=$?
grep -v '^ok ' "$APIR_TMP/corpus" || true
check "every corpus entry refused, every follow-up computed right" '[ "$rc" = 0 ]'
check "apir-hostd still serves" 'kill -0 $HOSTD_PID'
check "no session process ended by a signal" '! grep -q "ended by signal" "$APIR_TMP/hostd.log"'
gen() { "$APIR_BUILD/apir-generate" -m "$model" -n 16 -t 1 "$@" 2>/dev/null | sed -n 's/^tokens: //p'; }
native=$(gen -d none)
check "an honest guest then gets the right tokens" \
  '[ -n "$native" ] && [ "$(GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0)" = "$native" ]'
for _ in $(seq 1 20); do [ -z "$(pgrep -P "$HOSTD_PID")" ] && break; sleep 0.1; done
check "no session process left behind" '[ -z "$(pgrep -P $HOSTD_PID)" ]'
echo "hostile: $(grep -c '^ok ' "$APIR_TMP/corpus") corpus entries ok; $passed passed, 0 failed"
