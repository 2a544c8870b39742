#!/usr/bin/env bash
# apir-bench in one run: native CPU vs ggml-apir (apir-hostd on this machine's CPU) vs
# ggml-rpc (ggml-rpc-server on loopback): null call, one-node graph, set/get throughput.
#   bench/micro.sh [BUILD] [apir-bench options]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
shift || true
. "$(dirname "$0")/lib.sh"
apir_bench_servers "$BUILD" "$(nproc)"
GGML_BACKEND_PATH="$BUILD/libggml-apir.so" "$BUILD/apir-bench" --rpc "127.0.0.1:$port" "$@" 2>/dev/null
if [ -n "$VTEST_SOCK" ]; then
  echo
  echo "ggml-apir through virglrenderer's APIR context (vtest transport; the APIR0 column):"
  APIR_TRANSPORT=vtest APIR_VTEST_SOCKET="$VTEST_SOCK" GGML_BACKEND_PATH="$BUILD/libggml-apir.so" \
    "$BUILD/apir-bench" "$@" 2>/dev/null
fi
