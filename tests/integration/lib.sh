# Shared by the integration tests: start a private apir-hostd and stop it on exit.
# Needs APIR_BUILD (our build dir) and LLAMA_CPP_BIN (the pinned llama.cpp's bin dir).
set -euo pipefail
: "${APIR_BUILD:?}" "${LLAMA_CPP_BIN:?}"

APIR_TMP=$(mktemp -d /tmp/apir-it.XXXXXX)
export APIR_SOCKET="$APIR_TMP/apir.sock"
APIR_PLUGIN="$APIR_BUILD/libggml-apir.so"
HOSTD_PID=""

apir_cleanup() {
  if [ -n "$HOSTD_PID" ]; then kill "$HOSTD_PID" 2>/dev/null || true; wait "$HOSTD_PID" 2>/dev/null || true; fi
  rm -rf "$APIR_TMP"
}
trap apir_cleanup EXIT

# Starts apir-hostd with any extra arguments and waits for its socket.
apir_start_hostd() {
  env -u GGML_BACKEND_PATH "$APIR_BUILD/apir-hostd" --socket "$APIR_SOCKET" "$@" \
    >"$APIR_TMP/hostd.log" 2>&1 &
  HOSTD_PID=$!
  for _ in $(seq 1 100); do
    [ -S "$APIR_SOCKET" ] && return 0
    kill -0 "$HOSTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "apir-hostd did not start:"; cat "$APIR_TMP/hostd.log"; return 1
}
