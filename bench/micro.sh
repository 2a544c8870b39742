#!/usr/bin/env bash
# apir-bench in one run: native CPU vs ggml-apir (apir-hostd on this machine's CPU) vs
# ggml-rpc (ggml-rpc-server on loopback): null call, one-node graph, set/get throughput.
#   bench/micro.sh [BUILD] [apir-bench options]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
shift || true
BIN=$(sed -n 's/^LLAMA_CPP_BIN:PATH=//p' "$BUILD/CMakeCache.txt")
tmp=$(mktemp -d /tmp/apir-micro.XXXXXX)
export APIR_SOCKET="$tmp/apir.sock"
port=$((50000 + RANDOM % 10000))
"$BUILD/apir-hostd" --socket "$APIR_SOCKET" --device CPU >"$tmp/hostd.log" 2>&1 &
hostd=$!
"$BIN/ggml-rpc-server" -H 127.0.0.1 -p "$port" -t "$(nproc)" >"$tmp/rpc.log" 2>&1 &
rpc=$!
trap 'kill $hostd $rpc 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do [ -S "$APIR_SOCKET" ] && break; sleep 0.1; done
sleep 1 # ggml-rpc-server has no readiness signal
GGML_BACKEND_PATH="$BUILD/libggml-apir.so" "$BUILD/apir-bench" --rpc "127.0.0.1:$port" "$@" 2>/dev/null
