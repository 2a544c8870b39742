# Shared by the bench scripts: start apir-hostd (serving this machine's CPU) and
# ggml-rpc-server (on loopback) side by side, and stop both on exit.
#   apir_bench_servers BUILD THREADS  — sets BIN, tmp, APIR_SOCKET, port
apir_bench_servers() {
  BIN=$(sed -n 's/^LLAMA_CPP_BIN:PATH=//p' "$1/CMakeCache.txt")
  tmp=$(mktemp -d /tmp/apir-bench.XXXXXX)
  export APIR_SOCKET="$tmp/apir.sock"
  port=$((50000 + RANDOM % 10000))
  "$1/apir-hostd" --socket "$APIR_SOCKET" --device CPU >"$tmp/hostd.log" 2>&1 &
  apir_bench_hostd=$!
  "$BIN/ggml-rpc-server" -H 127.0.0.1 -p "$port" -t "$2" >"$tmp/rpc.log" 2>&1 &
  apir_bench_rpc=$!
  # virglrenderer's APIR context through vtest, when the build found one (scripts/deps-virgl.sh).
  local vb
  vb=$(sed -n 's/^VIRGL_BUILD_DIR:PATH=//p' "$1/CMakeCache.txt")
  VTEST_SOCK=""
  apir_bench_vtest=""
  if [ -n "$vb" ] && [ -x "$vb/vtest/virgl_test_server" ]; then
    VTEST_SOCK="$tmp/vtest.sock"
    env -u GGML_BACKEND_PATH RENDER_SERVER_EXEC_PATH="$vb/server/virgl_render_server" \
      VIRGL_APIR_BACKEND_LIBRARY="$1/libapir-host.so" \
      APIR_LLAMA_CPP_GGML_LIBRARY_PATH="$BIN/libggml-cpu.so" \
      setsid "$vb/vtest/virgl_test_server" --no-virgl --venus --socket-path "$VTEST_SOCK" \
      >"$tmp/vtest.log" 2>&1 &
    apir_bench_vtest=$!
  fi
  trap 'kill $apir_bench_hostd $apir_bench_rpc 2>/dev/null; [ -z "$apir_bench_vtest" ] || kill -- -$apir_bench_vtest 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
  for _ in $(seq 1 100); do [ -z "$VTEST_SOCK" ] || [ -S "$VTEST_SOCK" ] && break; sleep 0.1; done
  for _ in $(seq 1 100); do [ -S "$APIR_SOCKET" ] && break; sleep 0.1; done
  sleep 1 # ggml-rpc-server has no readiness signal
}
