#!/usr/bin/env bash
# The host goes away mid-generation: the guest application must not abort. It gets one clear
# log line, llama.cpp sees a failed compute (a ggml error status), and the program ends on
# its own terms with an ordinary exit code.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 --size small >/dev/null
apir_start_hostd --device CPU
GGML_BACKEND_PATH="$APIR_PLUGIN" "$APIR_BUILD/apir-generate" -m "$model" -n 480 -t 1 -d APIR0 \
  >"$APIR_TMP/out" 2>"$APIR_TMP/err" &
gen=$!
# Wait until the guest decodes (its set-up, model load included, can take seconds on a busy
# machine: a kill before would fail the context's creation, not a decode), let it generate a
# little, then end its session process.
session=""
for _ in $(seq 1 1200); do
  session=$(pgrep -P "$HOSTD_PID" | head -1 || true)
  [ -n "$session" ] && grep -q '^apir-generate: decoding' "$APIR_TMP/err" && break
  sleep 0.05
done
grep -q '^apir-generate: decoding' "$APIR_TMP/err" || { echo "FAIL: the guest never decoded"; exit 1; }
[ -n "$session" ] || { echo "FAIL: no session process appeared"; exit 1; }
sleep 0.5
kill -KILL "$session"
rc=0
wait $gen || rc=$?
echo "apir-generate exit code: $rc"
grep 'ggml-apir: ' "$APIR_TMP/err" || true
passed=0
[ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && passed=$((passed + 1)) || {
  echo "FAIL: expected an ordinary failure exit, not $rc (>=128 means killed by a signal)"; exit 1; }
[ "$(grep -c 'ggml-apir: lost the host' "$APIR_TMP/err")" = 1 ] && passed=$((passed + 1)) || {
  echo "FAIL: expected exactly one 'lost the host' line"; tail -20 "$APIR_TMP/err"; exit 1; }
grep -q 'failed to decode' "$APIR_TMP/err" && passed=$((passed + 1)) || {
  echo "FAIL: llama.cpp did not see a failed decode"; tail -20 "$APIR_TMP/err"; exit 1; }
echo "host_lost: $passed passed, 0 failed"
