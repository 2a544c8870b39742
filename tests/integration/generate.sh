#!/usr/bin/env bash
# 32-token greedy generation through APIR and natively must give identical token ids.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model-q8.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null
apir_start_hostd --device CPU

gen() { "$APIR_BUILD/apir-generate" -m "$model" -n 32 -t 2 "$@"; }
native=$(gen -d none 2>"$APIR_TMP/native.err") || { cat "$APIR_TMP/native.err"; exit 1; }
apir=$(GGML_BACKEND_PATH="$APIR_PLUGIN" gen -d APIR0 2>"$APIR_TMP/apir.err") || {
  cat "$APIR_TMP/apir.err"; exit 1; }
nt=$(echo "$native" | sed -n 's/^tokens: //p')
at=$(echo "$apir" | sed -n 's/^tokens: //p')
echo "native: $nt"
echo "apir:   $at"
[ "$(echo "$nt" | wc -w)" = 32 ] || { echo "FAIL: expected 32 tokens natively"; exit 1; }
# The model really ran remotely: the guest loaded and the session did work on the host.
grep -q 'APIR0' "$APIR_TMP/apir.err" || { echo "FAIL: APIR0 not used"; tail -20 "$APIR_TMP/apir.err"; exit 1; }
[ "$nt" = "$at" ] || { echo "FAIL: token ids differ"; exit 1; }
echo "generate: 1 passed, 0 failed"
