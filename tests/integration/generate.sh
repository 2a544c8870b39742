#!/usr/bin/env bash
# 32-token greedy generation through APIR and natively must give identical token ids, over
# every data and command path: shared buffers and the shared-memory ring (the default: tensor
# data written in place, calls through the ring), unshared buffers with data through the
# staging region (APIR_ZERO_COPY=0, what a GPU host gets), and messages on the socket alone
# (APIR_REGIONS=0 APIR_RING=0, for transports without shared memory). llama.cpp's default load
# mode keeps mmap on with APIR devices present, as it does natively.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model-q8.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null
apir_start_host --device CPU

gen() { "$APIR_BUILD/apir-generate" -m "$model" -n 32 -t 2 "$@"; }
native=$(gen -d none 2>"$APIR_TMP/native.err") || { cat "$APIR_TMP/native.err"; exit 1; }
nt=$(echo "$native" | sed -n 's/^tokens: //p')
echo "native: $nt"
[ "$(echo "$nt" | wc -w)" = 32 ] || { echo "FAIL: expected 32 tokens natively"; exit 1; }
passed=0
# mode: 1 shared buffers + ring; staged: buffers the host keeps to itself (as a GPU's), data
# through the staging region; 0 the socket alone.
for regions in 1 staged 0; do
  err="$APIR_TMP/apir-$regions.err"
  apir=$(APIR_REGIONS=${regions/staged/1} APIR_RING=${regions/staged/1} \
    APIR_ZERO_COPY=${regions/staged/0} APIR_STATS=1 \
    apir_guest gen -d APIR0 2>"$err") || { cat "$err"; exit 1; }
  at=$(echo "$apir" | sed -n 's/^tokens: //p')
  echo "apir ($regions): $at"
  grep -q 'load_mode = mmap' "$err" || {
    echo "FAIL: the default load mode turned mmap off ($(grep -o 'load_mode = [a-z]*' "$err"))"; exit 1; }
  # The model really ran remotely: compute went to the host.
  grep -q 'stats: GRAPH_COMPUTE' "$err" || { echo "FAIL: no remote compute"; tail -20 "$err"; exit 1; }
  [ "$nt" = "$at" ] || { echo "FAIL: token ids differ (regions=$regions)"; exit 1; }
  stat() { # command field: a number from the plugin's APIR_STATS line (0 when absent)
    sed -n "s/^ggml-apir stats: $1 .* $2=\([0-9]*\).*/\1/p" "$err" | grep . || echo 0; }
  msgs=$(( $(stat TENSOR_SET calls) + $(stat TENSOR_GET calls) ))
  local_ops=$(( $(stat TENSOR_SET local) + $(stat TENSOR_GET local) ))
  ring=$(stat TOTAL ring)
  staged=$(( $(stat TENSOR_SET_STAGED calls) + $(stat TENSOR_GET_STAGED calls) ))
  if [ "$regions" = staged ]; then
    [ "$msgs" = 0 ] && [ "$staged" -gt 0 ] && [ "$(stat TENSOR_SET_STAGED bulk)" -gt 0 ] || {
      echo "FAIL: unshared buffers' data did not go through the staging region"; cat "$err"; exit 1; }
  elif [ "$regions" = 1 ]; then
    [ "$(stat BUFFER_FROM_REGION calls)" -gt 0 ] || { echo "FAIL: no shared buffer"; exit 1; }
    [ "$ring" -gt 0 ] || { echo "FAIL: no call went through the ring"; exit 1; }
    [ "$msgs" = 0 ] && [ "$local_ops" -gt 0 ] || {
      echo "FAIL: tensor data went through messages with shared buffers"; cat "$err"; exit 1; }
  else
    [ "$msgs" -gt 0 ] && [ "$local_ops" = 0 ] && [ "$ring" = 0 ] || {
      echo "FAIL: the socket path was not used alone"; exit 1; }
  fi
  passed=$((passed + 1))
done
echo "generate: $passed passed, 0 failed"
