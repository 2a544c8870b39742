#!/usr/bin/env bash
# For every case test-backend-ops knows (~20k), APIR0 (apir-hostd serving the CPU) must give
# the same supports_op answer as the local CPU backend. A host that wrongly refused an op it
# could run would otherwise hide as "not supported" and silently skip tests.
. "$(dirname "$0")/lib.sh"

apir_start_hostd --device CPU
strip() { sed 's/\x1b\[[0-9;]*m//g' | grep -E 'SUPPORTED$' | sed 's/^ *//'; }
"$LLAMA_CPP_BIN/test-backend-ops" support -b CPU 2>&1 | strip >"$APIR_TMP/cpu"
GGML_BACKEND_PATH="$APIR_PLUGIN" apir_stock "$LLAMA_CPP_BIN/test-backend-ops" support -b APIR0 \
  >"$APIR_TMP/apir.raw" 2>&1 || true
strip <"$APIR_TMP/apir.raw" >"$APIR_TMP/apir"
n=$(wc -l <"$APIR_TMP/cpu")
[ "$n" -gt 1000 ] || { echo "FAIL: only $n cases from the CPU backend"; exit 1; }
if grep -q 'ggml-apir: ' "$APIR_TMP/apir.raw"; then
  echo "FAIL: the host refused queries:"; grep 'ggml-apir: ' "$APIR_TMP/apir.raw" | sort | uniq -c | head
  exit 1
fi
if ! diff "$APIR_TMP/cpu" "$APIR_TMP/apir" >"$APIR_TMP/diff"; then
  echo "FAIL: answers differ:"; head -20 "$APIR_TMP/diff"; exit 1
fi
echo "support_parity: $n cases identical"
echo "support_parity: 1 passed, 0 failed"
