#!/usr/bin/env bash
# Records the fuzz_trace seed corpus from real traffic: the real guest plugin, with
# APIR_TRACE_DIR set, under llama.cpp's test-backend-ops (a slice of many ops' cases: their
# supports_op queries, buffers, tensor data and graphs) and a short generation with a
# generated llama model, through a private apir-hostd. Data travels in messages
# (APIR_REGIONS=0 APIR_RING=0), as the in-process fuzz session has no shared memory.
#   tests/fuzz/record.sh BUILD LLAMA_CPP_BIN OUT_DIR
set -euo pipefail
build=$1 bin=$2 out=$3
mkdir -p "$out"
tmp=$(mktemp -d /tmp/apir-record.XXXXXX)
"$build/apir-hostd" --socket "$tmp/s" --device CPU >"$tmp/hostd.log" 2>&1 &
hostd=$!
trap 'kill $hostd 2>/dev/null || true; wait $hostd 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do [ -S "$tmp/s" ] && break; sleep 0.1; done
guest() {
  APIR_SOCKET="$tmp/s" GGML_BACKEND_PATH="$build/libggml-apir.so" APIR_REGIONS=0 APIR_RING=0 \
    APIR_TRACE_DIR="$out" "$@" >/dev/null 2>&1 || true
}
# op | params regex: a few cases of each, enough for every op's request shapes.
for c in 'ADD|ne=\[10,5,4,3\]' 'MUL|ne=\[10,5,4,3\]' 'SOFT_MAX|ne=\[16,16,1,1\]' \
    'RMS_NORM|ne=\[64,5,4,3\]' 'ROPE|type=f32,ne_a=\[128,32,2,1\],n_dims=128,mode=0' \
    'GET_ROWS|type=(f32|q8_0),n=256,m=5,r=4' 'SET_ROWS|type_src=f32,type_dst=(f32|f16),type_idx=i64' \
    'CPY|type_src=f32,type_dst=(f16|q8_0),ne=\[256,4,4,4\]' 'CONT|' 'ARGSORT|ne=\[16,10,10,10\]' \
    'CONCAT|type=f32,ne_a=\[11,12,13,14\]' 'SCALE|' 'SUM_ROWS|' 'MUL_MAT|type_a=(f32|q8_0|q4_0),type_b=f32,m=16,n=1,k=256,bs=\[1,1\]' \
    'MUL_MAT_ID|type_a=q8_0,type_b=f32,n_mats=4,n_used=2' 'GLU|' 'UNARY|' 'PAD|' 'FLASH_ATTN_EXT|hsk=64,hsv=64,nh=4,.*kv=512,nb=1,mask=1'; do
  op=${c%%|*} re=${c#*|}
  guest "$bin/test-backend-ops" test -b APIR0 -o "$op" ${re:+-p "$re"}
done
"$build/apir-mkmodel" --out "$tmp/model.gguf" --type q8_0 >/dev/null
guest "$build/apir-generate" -m "$tmp/model.gguf" -d APIR0 -n 4 -t 1
n=$(ls "$out" | wc -l)
[ "$n" -gt 0 ] || { echo "record: no trace written"; cat "$tmp/hostd.log"; exit 1; }
echo "record: $n traces, $(du -sk "$out" | cut -f1) KiB"
