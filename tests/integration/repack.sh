#!/usr/bin/env bash
# Issue #19: a Q4_0 model ran at ~0.75 of native through APIR because natively llama.cpp puts
# its matmul weights in ggml-cpu's CPU_REPACK buffers (faster kernels) and APIR offered only
# the plain buffer type. Through APIR they must land in the host's repack buffers too
# (APIR0_REPACK), and 32-token greedy generation must still give the native token ids, over
# every data path: shared buffers + ring (the default), the staging region (APIR_ZERO_COPY=0),
# the socket alone (APIR_REGIONS=0 APIR_RING=0: weights inline), and with the extra buffer
# types turned off (APIR_EXTRA_BUFTS=0: the plain buffer type, as before).
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model-q4.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q4_0 >/dev/null
apir_start_host --device CPU

gen=("$APIR_BUILD/apir-generate" -m "$model" -n 32 -t 2)
native=$(apir_flushed "${gen[@]}" -d none 2>"$APIR_TMP/native.err") || { cat "$APIR_TMP/native.err"; exit 1; }
nt=$(echo "$native" | sed -n 's/^tokens: //p')
echo "native: $nt"
[ "$(echo "$nt" | wc -w)" = 32 ] || { echo "FAIL: expected 32 tokens natively"; exit 1; }
# Whether this machine's ggml-cpu repacks Q4_0 at all (AVX2, NEON dotprod, RVV...): only then
# is the placement checked; the token ids always are.
repacks=0
grep -q 'CPU_REPACK model buffer size' "$APIR_TMP/native.err" && repacks=1
echo "native repacks Q4_0 here: $repacks"

passed=0
for mode in shared staged socket plain; do
  err="$APIR_TMP/apir-$mode.err"
  case $mode in
    shared) envs=() ;;
    staged) envs=(APIR_ZERO_COPY=0) ;;
    socket) envs=(APIR_REGIONS=0 APIR_RING=0) ;;
    plain) envs=(APIR_EXTRA_BUFTS=0) ;;
  esac
  apir=$(apir_flushed "${envs[@]}" APIR_STATS=1 GGML_BACKEND_PATH="$APIR_PLUGIN" \
    LD_PRELOAD="${APIR_GUEST_PRELOAD:-}" "${gen[@]}" -d APIR0 2>"$err") || { cat "$err"; exit 1; }
  at=$(echo "$apir" | sed -n 's/^tokens: //p')
  echo "apir ($mode): $at"
  grep -q 'stats: GRAPH_COMPUTE' "$err" || { echo "FAIL: no remote compute"; tail -20 "$err"; exit 1; }
  [ "$nt" = "$at" ] || { echo "FAIL: token ids differ ($mode)"; exit 1; }
  placed=0
  grep -q 'APIR0_REPACK model buffer size' "$err" && placed=1
  if [ "$mode" = plain ]; then
    [ "$placed" = 0 ] || { echo "FAIL: APIR_EXTRA_BUFTS=0 still placed weights in APIR0_REPACK"; exit 1; }
  elif [ "$repacks" = 1 ] && [ "$placed" = 0 ]; then
    echo "FAIL: natively the weights are repacked (CPU_REPACK), through APIR ($mode) they are not:"
    grep -E 'model buffer size|APIR0' "$err" | head
    exit 1
  fi
  passed=$((passed + 1))
done
echo "repack: $passed passed, 0 failed"
