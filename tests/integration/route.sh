#!/usr/bin/env bash
# The Venus route (virglrenderer's VIRGL_ROUTE_VENUS_TO_APIR=1: APIR served on capset 4), what
# every VMM deployed today carries, with the render node offering only capset 4 (QEMU >= 9.2,
# libkrun): the fake render node (TEST DOUBLE, tests/doubles/fake_virtgpu_node.c) in front of
# the real virgl_test_server.
#  - a libdrm-based guest (tests/integration/drm_guest.c, the way llama.cpp's ggml-virtgpu
#    talks) gets kernel answers from the double (drmGetVersion, the 64-byte EXECBUFFER,
#    RING_IDX on a context with rings) and the APIR outer protocol on capset 4;
#  - the plugin chooses capset 4 itself and says so in its info line; APIR_VIRTGPU_CAPSET=apir
#    refuses it, and a mistyped value is named;
#  - a plain Venus server (no route: capset 4 is Vulkan's) gives zero devices and one line
#    naming the cause, through the node and through vtest, and no APIR command reaches a
#    Venus context: the server logs what a Venus context makes of one (the control: drm_guest
#    feeds it one on purpose), and no such line appears before the control.
. "$(dirname "$0")/lib.sh"
[ "${APIR_IT_ROUTE:-}" = 1 ] && [ "${APIR_IT_TRANSPORT:-}" = virtgpu ] || {
  echo "route.sh runs with APIR_IT_TRANSPORT=virtgpu APIR_IT_ROUTE=1"; exit 1; }
apir_start_host # the routed server; the fake node offers capset 4 only
[ -x "$APIR_BUILD/tests/drm_guest" ] || { echo "FAIL: tests/drm_guest not built (libdrm missing?)"; exit 1; }
vb=$VIRGL_BUILD_DIR
fake="$APIR_BUILD/tests/libapir_fake_virtgpu_node.so"
node=/dev/dri/renderD128
passed=0
fail() { echo "FAIL: $*"; exit 1; }
check() { if eval "$2"; then passed=$((passed + 1)); else fail "$1"; fi; }

rc=0
LD_PRELOAD="$(apir_stock_preload "$fake")" "$APIR_BUILD/tests/drm_guest" "$node" routed \
  >"$APIR_TMP/drm.out" 2>&1 || rc=$?
cat "$APIR_TMP/drm.out"
check "a libdrm-based guest on the route through the node (rc $rc)" \
  '[ "$rc" = 0 ] && grep -q "^drm_guest: passed" "$APIR_TMP/drm.out"'

out=$(APIR_LOG=info apir_guest "$APIR_BUILD/apir-info" --verbose --calls 0 2>&1) || fail "apir-info: $out"
check "the plugin chose capset 4 and says so" \
  'echo "$out" | grep -q "^ggml-apir: connected to $node over virtgpu (capset 4, Venus routed to APIR)"'

# A plain Venus server: virglrenderer with APIR, without the route variable.
plain="$APIR_TMP/plain.sock"
env -u GGML_BACKEND_PATH -u VIRGL_ROUTE_VENUS_TO_APIR LD_PRELOAD="$(apir_stock_preload)" \
  RENDER_SERVER_EXEC_PATH="$vb/server/virgl_render_server" \
  VIRGL_APIR_BACKEND_LIBRARY="$APIR_BUILD/libapir-host.so" \
  APIR_LLAMA_CPP_GGML_LIBRARY_PATH="$APIR_HOST_GGML_BIN/libggml-cpu.so" \
  setsid "$vb/vtest/virgl_test_server" --no-virgl --venus --socket-path "$plain" \
  >"$APIR_TMP/plain.log" 2>&1 &
APIR_KILL_GROUPS+=("$!")
for _ in $(seq 1 50); do [ -S "$plain" ] && break; sleep 0.1; done
want="its Venus capset (4) is Vulkan's, not routed to APIR (start virglrenderer with VIRGL_ROUTE_VENUS_TO_APIR=1)"
refused() { # what, then env for the guest: zero devices, exactly one plugin line, $want
  local what=$1 out
  shift
  out=$(apir_flushed "$@" GGML_BACKEND_PATH="$APIR_PLUGIN" timeout 60 \
    "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || fail "$what: llama-cli exited non-zero: $out"
  echo "$out" | grep 'ggml-apir: ' || true
  check "$what: no APIR device" '! echo "$out" | grep -q "APIR[0-9]"'
  check "$what: one line naming the cause" \
    '[ "$(echo "$out" | grep -c "ggml-apir: ")" = 1 ] && echo "$out" | grep -qF "$want"'
}
refused "plain Venus, node (automatic choice)" LD_PRELOAD="$(apir_stock_preload "$fake")" \
  APIR_FAKE_VTEST_SOCKET="$plain"
refused "plain Venus, vtest (APIR_VIRTGPU_CAPSET=venus)" APIR_TRANSPORT=vtest \
  APIR_VTEST_SOCKET="$plain" APIR_VIRTGPU_CAPSET=venus
# The override, against the routed server: capset 10 alone is not there; a typo is named.
want="/dev/dri/renderD128 offers no APIR capset (10) (APIR_VIRTGPU_CAPSET=apir)"
refused "APIR_VIRTGPU_CAPSET=apir on a node with capset 4 only" \
  LD_PRELOAD="$(apir_stock_preload "$fake")" APIR_VIRTGPU_CAPSET=apir
want="APIR_VIRTGPU_CAPSET=vulkan is none of auto, apir, venus"
refused "APIR_VIRTGPU_CAPSET=vulkan" LD_PRELOAD="$(apir_stock_preload "$fake")" \
  APIR_VIRTGPU_CAPSET=vulkan
want="its Venus capset (4) is Vulkan's, not routed to APIR (start virglrenderer with VIRGL_ROUTE_VENUS_TO_APIR=1)"
rc=0
APIR_FAKE_VTEST_SOCKET="$plain" apir_guest "$APIR_BUILD/apir-info" >"$APIR_TMP/out" 2>"$APIR_TMP/err" || rc=$?
cat "$APIR_TMP/err"
check "plain Venus: apir-info exits 1 with one line" \
  '[ "$rc" = 1 ] && [ ! -s "$APIR_TMP/out" ] && [ "$(wc -l <"$APIR_TMP/err")" = 1 ] &&
   grep -qF "$want" "$APIR_TMP/err"'
# What a Venus context logs when an APIR command reaches it, read before and after the control.
fed='vkr: submit_cmd: vn_dispatch_command failed'
sleep 1 # the server's lines of the guests above are written
check "no APIR command reached a Venus context" '! grep -q "$fed" "$APIR_TMP/plain.log"'
LD_PRELOAD="$(apir_stock_preload "$fake")" APIR_FAKE_VTEST_SOCKET="$plain" \
  "$APIR_BUILD/tests/drm_guest" "$node" venus >"$APIR_TMP/control.out" 2>&1 ||
  { cat "$APIR_TMP/control.out"; fail "the control guest"; }
for _ in $(seq 1 50); do grep -q "$fed" "$APIR_TMP/plain.log" && break; sleep 0.1; done
check "the control: one APIR command fed to a Venus context on purpose is logged" \
  'grep -q "$fed" "$APIR_TMP/plain.log"'
grep 'vkr' "$APIR_TMP/plain.log"
echo "route: $passed passed, 0 failed"
