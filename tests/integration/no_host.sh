#!/usr/bin/env bash
# With no apir-hostd running, a stock llama.cpp tool lists no APIR device, says why in one
# line, and exits 0.
. "$(dirname "$0")/lib.sh"
# llama-cli logs through an asynchronous queue that upstream never drains at exit: under load
# its last lines (ours included, as any backend's) can be lost. The test shim flushes it at
# exit (tests/integration/load_backends.c), so the test judges what the program logged.
export LD_PRELOAD="$APIR_BUILD/tests/libapir_load_backends.so" APIR_TEST_FLUSH_ONLY=1

out=$(GGML_BACKEND_PATH="$APIR_PLUGIN" apir_stock "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || {
  echo "FAIL: llama-cli --list-devices exited non-zero"; echo "$out"; exit 1; }
echo "$out"
if echo "$out" | grep -q 'APIR[0-9]'; then echo "FAIL: an APIR device is listed"; exit 1; fi
n=$(echo "$out" | grep -c 'ggml-apir: ' || true)
[ "$n" = 1 ] || { echo "FAIL: expected exactly one ggml-apir line, got $n"; exit 1; }
echo "$out" | grep -q 'ggml-apir: no APIR devices: no apir-hostd at' || {
  echo "FAIL: the line does not say why"; exit 1; }
# Also the socket path exists but nobody listens (a stale socket file).
: >"$APIR_SOCKET"
out=$(GGML_BACKEND_PATH="$APIR_PLUGIN" apir_stock "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || {
  echo "FAIL: exit non-zero with a stale socket"; exit 1; }
echo "$out" | grep -q 'APIR[0-9]' && { echo "FAIL: device listed with a stale socket"; exit 1; }
# Something listens but never answers: the handshake times out, the tool still exits 0.
"$APIR_BUILD/tests/silent_server" "$APIR_SOCKET" 30 &
silent=$!
for _ in $(seq 1 50); do [ -S "$APIR_SOCKET" ] && break; sleep 0.1; done
start=$(date +%s)
out=$(GGML_BACKEND_PATH="$APIR_PLUGIN" apir_stock timeout 20 "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || {
  echo "FAIL: exit non-zero (or hung) with a silent listener"; echo "$out"; exit 1; }
kill $silent 2>/dev/null || true
took=$(($(date +%s) - start))
echo "$out" | grep 'ggml-apir: '
echo "$out" | grep -q 'APIR[0-9]' && { echo "FAIL: device listed with a silent listener"; exit 1; }
n=$(echo "$out" | grep -c 'ggml-apir: ' || true)
[ "$n" = 1 ] || { echo "FAIL: expected one ggml-apir line with a silent listener, got $n"; exit 1; }
[ "$took" -le 10 ] || { echo "FAIL: took ${took}s to give up"; exit 1; }
echo "no_host: 3 passed, 0 failed"
