#!/usr/bin/env bash
# ggml's own test-backend-ops through the remote path: APIR0 (apir-hostd's CPU) against the
# local CPU backend. Default: a representative op set; --full: every op.
. "$(dirname "$0")/lib.sh"

# op(s) | params regex: a representative slice of each op's cases (the full set is test-full).
# Every weight type goes through MUL_MAT; CONT and CPY cover permuted views.
CASES=(
  'MUL_MAT|type_b=f32,m=16,n=(1|9),k=256,bs=\[1,1\],nr=\[1,1\],per=\[0,1,2,3\],k_v=0,o=1'
  'MUL_MAT|type_a=f16,type_b=f32,m=16,n=1,k=256,bs=\[1,1\],nr=\[1,1\],per=\[0,(2|1),(1|2),3\]'
  'MUL_MAT_ID|type_a=(f16|q8_0|q4_0|q4_K),type_b=f32,n_mats=4,n_used=(1|2)'
  'GET_ROWS|type=(f32|f16|q8_0|q4_0|q4_K)'
  'SET_ROWS|type_src=f32,type_dst=(f32|f16|q8_0|q4_0),type_idx=i64'
  'CPY|ne_src=\[(256|1,2,3,4)'
  'ROPE|type=f32,ne_a=\[128,32,2,1\]'
  'SOFT_MAX|'
  'FLASH_ATTN_EXT|hsk=128,hsv=128,.*kv=512,nb=(1|3),mask=1,.*type_K=(f16|q8_0),.*permute=\[0,1,2,3\]'
  'RMS_NORM|'
  'ADD|'
  'MUL|'
  'SWIGLU,GEGLU,REGLU|'
  'CONT|'
  'TOPK_QSA|n_blocks=64' # ggml_cast: a CPY that is its own src[1]
)
apir_start_host --device CPU

run_ops() {
  apir_guest "$LLAMA_CPP_BIN/test-backend-ops" test -b APIR0 "$@" \
    >"$APIR_TMP/ops.log" 2>&1
  local rc=$?
  grep -E 'FAIL|tests passed|Backend APIR0' "$APIR_TMP/ops.log" | grep -v '^ *\[' | tail -3
  # A host refusal of a query would show up as "not supported", silently skipping cases:
  # the host must refuse nothing that ggml built.
  if grep -q 'ggml-apir: ' "$APIR_TMP/ops.log"; then
    grep 'ggml-apir: ' "$APIR_TMP/ops.log" | sort | uniq -c | head -20
    return 1
  fi
  if [ $rc -ne 0 ] || ! grep -q 'Backend APIR0: .*OK' "$APIR_TMP/ops.log"; then
    grep -E 'FAIL' "$APIR_TMP/ops.log" | head -40
    return 1
  fi
}

passed=0 failed=0
if [ "${1:-}" = "--full" ]; then
  if run_ops; then passed=1; else failed=1; fi
else
  for c in "${CASES[@]}"; do
    op=${c%%|*} re=${c#*|}
    echo "== $op ${re:+(-p $re)}"
    if run_ops -o "$op" ${re:+-p "$re"}; then passed=$((passed + 1)); else
      failed=$((failed + 1)); echo "op $op FAILED"; fi
  done
fi
echo "backend_ops: $passed passed, $failed failed"
[ "$failed" = 0 ]
