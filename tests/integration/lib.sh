# Shared by the integration tests: start a private apir-hostd and stop it on exit.
# Needs APIR_BUILD (our build dir) and LLAMA_CPP_BIN (the pinned llama.cpp's bin dir).
set -euo pipefail
: "${APIR_BUILD:?}" "${LLAMA_CPP_BIN:?}"

APIR_TMP=$(mktemp -d /tmp/apir-it.XXXXXX)
# The host side's ggml (the sanitizer build under make test-asan) and, there, the sanitizer
# runtime that stock uninstrumented processes loading our code need loaded first (apir_stock).
APIR_HOST_GGML_BIN=${APIR_HOST_GGML_BIN:-$LLAMA_CPP_BIN}
APIR_SANITIZE_RUNTIME=${APIR_SANITIZE_RUNTIME:-}
export APIR_SOCKET="$APIR_TMP/apir.sock"
APIR_PLUGIN="$APIR_BUILD/libggml-apir.so"
HOSTD_PID=""

VTEST_PID=""
# Process groups a test started on its own (setsid), ended on exit however the test ends: a
# check that fails between a server's start and its kill must not leave the server running.
APIR_KILL_GROUPS=()

apir_cleanup() {
  local g
  for g in "${APIR_KILL_GROUPS[@]}"; do kill -- -"$g" 2>/dev/null || true; done
  if [ -n "$HOSTD_PID" ]; then kill "$HOSTD_PID" 2>/dev/null || true; wait "$HOSTD_PID" 2>/dev/null || true; fi
  # virgl_test_server forks a process per client, which starts a render server (in a session
  # of its own) with a worker per context: everything that carries our mark.
  if [ -n "$VTEST_PID" ]; then
    kill -- -"$VTEST_PID" 2>/dev/null || true
    wait "$VTEST_PID" 2>/dev/null || true
    apir_marked_pids | xargs -r kill -9 2>/dev/null || true
  fi
  rm -rf "$APIR_TMP"
}
trap apir_cleanup EXIT

# Starts apir-hostd with any extra arguments and waits for its socket.
apir_start_hostd() {
  # Ready when a socket is at the path that is not the one there before (a killed daemon's
  # stale socket is replaced by a new file, with a new change time): not a log line, which
  # APIR_LOG may filter.
  local stale
  stale=$(stat -c "%i %z" "$APIR_SOCKET" 2>/dev/null || echo none)
  env -u GGML_BACKEND_PATH "$APIR_BUILD/apir-hostd" --socket "$APIR_SOCKET" "$@" \
    >"$APIR_TMP/hostd.log" 2>&1 &
  HOSTD_PID=$!
  for _ in $(seq 1 100); do
    [ -S "$APIR_SOCKET" ] && [ "$(stat -c "%i %z" "$APIR_SOCKET" 2>/dev/null)" != "$stale" ] && return 0
    kill -0 "$HOSTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "apir-hostd did not start:"; cat "$APIR_TMP/hostd.log"; return 1
}

# Runs a llama.cpp tool (after env assignments, as env takes them) whose log lines a test
# judges: llama.cpp logs through an asynchronous queue that upstream never drains at exit, so
# under load its last lines (the plugin's included, as any backend's) can be lost. The test
# shim flushes the queue at exit (tests/integration/load_backends.c, flush only); an
# LD_PRELOAD among the assignments is kept before it.
APIR_FLUSH_SHIM="$APIR_BUILD/tests/libapir_load_backends.so"
apir_flushed() {
  local shim="$APIR_FLUSH_SHIM" args=() a found=""
  for a in "$@"; do
    case $a in
      LD_PRELOAD=*) [ -n "$found" ] || { a="LD_PRELOAD=$(apir_stock_preload "${a#LD_PRELOAD=}" "$shim")"; found=1; } ;;
    esac
    args+=("$a")
  done
  [ -n "$found" ] || args=("LD_PRELOAD=$(apir_stock_preload ${LD_PRELOAD:-} "$shim")" "${args[@]}")
  env APIR_TEST_FLUSH_ONLY=1 "${args[@]}"
}

# ctest's SKIP_RETURN_CODE: the test could not run here, and says why. Never a pass.
apir_skip() { echo "SKIPPED: $*"; exit 77; }

# The host side for the test's transport (APIR_IT_TRANSPORT): apir-hostd for socket (the
# arguments go to it); for vtest and virtgpu, the real virgl_test_server whose APIR context
# loads our libapir-host.so with ggml's CPU backend. virtgpu reaches it through the fake render
# node (TEST DOUBLE, tests/doubles/fake_virtgpu_node.c), found by the plugin's default
# transport choice: APIR_TRANSPORT is left unset.
apir_start_host() {
  case "${APIR_IT_TRANSPORT:-socket}" in
    socket) apir_start_hostd "$@" ;;
    vtest|virtgpu) apir_start_vtest ;;
    *) echo "unknown APIR_IT_TRANSPORT=$APIR_IT_TRANSPORT"; return 1 ;;
  esac
}

# APIR_IT_ROUTE=1: the deployed route instead (virglrenderer's VIRGL_ROUTE_VENUS_TO_APIR=1: APIR
# served on the Venus capset 4). The vtest guest is told to use capset 4 (the server offers
# 10 too); the fake render node offers only capset 4, as QEMU and libkrun do, so the guest's
# automatic choice is what is tested there. apir_route_env: the server's variable, or nothing.
apir_route_env() { [ "${APIR_IT_ROUTE:-}" = 1 ] && echo VIRGL_ROUTE_VENUS_TO_APIR=1 || true; }
if [ "${APIR_IT_ROUTE:-}" = 1 ]; then
  case "${APIR_IT_TRANSPORT:-}" in
    vtest) export APIR_VIRTGPU_CAPSET=venus ;;
    virtgpu) export APIR_FAKE_CAPSET_IDS=4 ;;
  esac
fi

apir_start_vtest() {
  local vb=${VIRGL_BUILD_DIR:-}
  [ -n "$vb" ] && [ -x "$vb/vtest/virgl_test_server" ] ||
    apir_skip "no virglrenderer APIR build (../shared/deps absent and VIRGLRENDERER_DIR unset)"
  VTEST_SOCKET="$APIR_TMP/vtest.sock"
  # Not through apir_stock: the server must stay this job's own process, its group's leader.
  # shellcheck disable=SC2046 # the route variable is one word or none
  env -u GGML_BACKEND_PATH LD_PRELOAD="$(apir_stock_preload)" $(apir_route_env) \
    RENDER_SERVER_EXEC_PATH="$vb/server/virgl_render_server" \
    APIR_IT_MARK="$APIR_TMP" VIRGL_APIR_BACKEND_LIBRARY="$APIR_BUILD/libapir-host.so" \
    APIR_LLAMA_CPP_GGML_LIBRARY_PATH="$APIR_HOST_GGML_BIN/libggml-cpu.so" \
    setsid "$vb/vtest/virgl_test_server" --no-virgl --venus --socket-path "$VTEST_SOCKET" \
    >"$APIR_TMP/vtest.log" 2>&1 &
  VTEST_PID=$!
  for _ in $(seq 1 100); do
    [ -S "$VTEST_SOCKET" ] && break
    kill -0 "$VTEST_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -S "$VTEST_SOCKET" ] || { echo "virgl_test_server did not start:"; cat "$APIR_TMP/vtest.log"; return 1; }
  if [ "$APIR_IT_TRANSPORT" = vtest ]; then
    export APIR_TRANSPORT=vtest APIR_VTEST_SOCKET="$VTEST_SOCKET"
  else
    unset APIR_TRANSPORT
    export APIR_FAKE_VTEST_SOCKET="$VTEST_SOCKET"
    APIR_GUEST_PRELOAD="$APIR_BUILD/tests/libapir_fake_virtgpu_node.so"
  fi
}

# The processes of this test's virgl_test_server (the server, per-client processes, render
# servers and their workers), found by the mark in their environment.
apir_marked_pids() {
  grep -l -z -x "APIR_IT_MARK=$APIR_TMP" /proc/[0-9]*/environ 2>/dev/null |
    sed 's|/proc/\([0-9]*\)/environ|\1|' || true
}

# Runs a stock (uninstrumented) program that loads our code: llama.cpp's tools with the guest
# plugin, virgl_test_server with libapir-host. Under make test-asan the sanitizer runtime must
# come first in such a process; elsewhere this runs the program as it is.
apir_stock() { LD_PRELOAD="$(apir_stock_preload ${LD_PRELOAD:-})" "$@"; }
# The LD_PRELOAD value for such a process that is to preload the libraries given, if any.
apir_stock_preload() { echo "${APIR_SANITIZE_RUNTIME:+$APIR_SANITIZE_RUNTIME }$*"; }

# Runs a guest program with the APIR plugin (and, for virtgpu, the fake node) loaded.
apir_guest() {
  local pre="${APIR_GUEST_PRELOAD:-}"
  [ -n "${LD_PRELOAD:-}" ] && pre="${pre:+$pre }$LD_PRELOAD"
  GGML_BACKEND_PATH="$APIR_PLUGIN" LD_PRELOAD="$pre" apir_stock "$@"
}
