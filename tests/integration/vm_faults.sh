#!/usr/bin/env bash
# The VM transports against the real virgl_test_server, when things go wrong:
#  - no APIR capset (a server without APIR), no host library configured, no virtio-gpu node:
#    (with APIR_IT_ROUTE=1, everything here runs on the Venus route: lib.sh)
#    a stock llama.cpp tool lists no APIR device, says why in one line, and exits 0;
#  - a guest killed in the middle of its graphs: its context goes away, a guest running beside
#    it finishes with the right tokens, and the next guest is served;
#  - the context's render worker killed in the middle of a guest's graphs (as when the host
#    library aborts): the guest's call fails within seconds, not at its 60 s timeout, with one
#    line, and the next guest is served.
. "$(dirname "$0")/lib.sh"
apir_start_host # vtest: the real server, with APIR and our host library

vb=$VIRGL_BUILD_DIR
fake="$APIR_BUILD/tests/libapir_fake_virtgpu_node.so"
passed=0

# One line, zero devices, exit 0; $1: what the line must say; the rest: env for the guest.
expect_no_devices() {
  local want=$1 out
  shift
  out=$(apir_flushed "$@" GGML_BACKEND_PATH="$APIR_PLUGIN" timeout 60 \
    "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || {
    echo "FAIL: llama-cli exited non-zero ($*)"; echo "$out"; exit 1; }
  echo "$out" | grep 'ggml-apir: '
  echo "$out" | grep -q 'APIR[0-9]' && { echo "FAIL: an APIR device is listed ($*)"; exit 1; }
  [ "$(echo "$out" | grep -c 'ggml-apir: ')" = 1 ] || {
    echo "FAIL: expected exactly one ggml-apir line ($*)"; echo "$out"; exit 1; }
  echo "$out" | grep -q "$want" || { echo "FAIL: the line does not say '$want'"; exit 1; }
  passed=$((passed + 1))
}

# A server whose build has no APIR context running (no --venus): capset 10 is not offered.
plain="$APIR_TMP/plain.sock"
setsid "$vb/vtest/virgl_test_server" --no-virgl --socket-path "$plain" >"$APIR_TMP/plain.log" 2>&1 &
plain_pid=$!
APIR_KILL_GROUPS+=("$plain_pid")
for _ in $(seq 1 50); do [ -S "$plain" ] && break; sleep 0.1; done
expect_no_devices 'has no APIR context' APIR_TRANSPORT=vtest APIR_VTEST_SOCKET="$plain"
expect_no_devices 'has no APIR context' APIR_TRANSPORT= LD_PRELOAD="$(apir_stock_preload "$fake")" \
  APIR_FAKE_VTEST_SOCKET="$plain"
kill -- -"$plain_pid" 2>/dev/null || true

# APIR runs but nobody told virglrenderer which library to load.
nolib="$APIR_TMP/nolib.sock"
# shellcheck disable=SC2046 # the route variable (APIR_IT_ROUTE) is one word or none
env -u VIRGL_APIR_BACKEND_LIBRARY $(apir_route_env) RENDER_SERVER_EXEC_PATH="$vb/server/virgl_render_server" \
  setsid "$vb/vtest/virgl_test_server" --no-virgl --venus --socket-path "$nolib" \
  >"$APIR_TMP/nolib.log" 2>&1 &
nolib_pid=$!
APIR_KILL_GROUPS+=("$nolib_pid")
for _ in $(seq 1 50); do [ -S "$nolib" ] && break; sleep 0.1; done
expect_no_devices 'no library configured' APIR_TRANSPORT=vtest APIR_VTEST_SOCKET="$nolib"
kill -- -"$nolib_pid" 2>/dev/null || true

# Not in a VM: no virtio-gpu render node.
expect_no_devices 'no virtio-gpu render node' APIR_TRANSPORT=virtgpu

# A guest killed mid-graph, with another guest generating beside it.
model="$APIR_TMP/model.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null
gen() { "$APIR_BUILD/apir-generate" -m "$model" -n 32 -t 1 "$@"; }
native=$(gen -d none 2>/dev/null | sed -n 's/^tokens: //p')
destroyed_before=$(grep -c 'APIR context destroyed' "$APIR_TMP/vtest.log" || true)
# Started directly (not through a function) so that $! is the guest itself.
GGML_BACKEND_PATH="$APIR_PLUGIN" LD_PRELOAD="$(apir_stock_preload)" \
  "$LLAMA_CPP_BIN/test-backend-ops" perf -b APIR0 -o MUL_MAT \
  >"$APIR_TMP/victim.log" 2>&1 &
victim=$!
for _ in $(seq 1 100); do grep -q 'MUL_MAT' "$APIR_TMP/victim.log" && break; sleep 0.1; done
(apir_guest gen -d APIR0 2>"$APIR_TMP/beside.err" | sed -n 's/^tokens: //p' >"$APIR_TMP/beside") &
beside=$!
sleep 1
kill -9 "$victim" 2>/dev/null || { echo "FAIL: the victim was not running"; cat "$APIR_TMP/victim.log"; exit 1; }
wait "$victim" 2>/dev/null || true
wait "$beside" || true
[ "$(cat "$APIR_TMP/beside")" = "$native" ] || {
  echo "FAIL: the guest beside the killed one got other tokens"; cat "$APIR_TMP/beside.err"; exit 1; }
passed=$((passed + 1))
after=$(apir_guest gen -d APIR0 2>"$APIR_TMP/after.err" | sed -n 's/^tokens: //p')
[ "$after" = "$native" ] || { echo "FAIL: a guest after the kill was not served"; cat "$APIR_TMP/after.err"; exit 1; }
kill -0 "$VTEST_PID" || { echo "FAIL: virgl_test_server died"; exit 1; }
# Every guest's context went away with it: the per-client process of virgl_test_server, the
# render server it started and the worker of the context exit; only the server remains. The
# killed guest's last graph is not interrupted (ggml cannot abort one): its context ends when
# that graph is done.
for _ in $(seq 1 600); do
  [ "$(apir_marked_pids | wc -l)" = 1 ] && break
  sleep 0.1
done
echo "the server was alone again $SECONDS s into the test"
[ "$(apir_marked_pids | wc -l)" = 1 ] || {
  echo "FAIL: processes of finished guests remain"; apir_marked_pids | xargs -r ps -o pid,args -p; exit 1; }
passed=$((passed + 1))
# The worker of a guest's context killed while the guest waits for a reply: nothing in the VM
# path tells the guest, so its waits probe the context (src/guest/vm.c, apir_vm_probe).
GGML_BACKEND_PATH="$APIR_PLUGIN" LD_PRELOAD="$(apir_stock_preload)" APIR_TIMEOUT_S=60 \
  "$LLAMA_CPP_BIN/test-backend-ops" perf -b APIR0 -o MUL_MAT >"$APIR_TMP/orphan.log" 2>&1 &
orphan=$!
for _ in $(seq 1 100); do grep -q 'MUL_MAT' "$APIR_TMP/orphan.log" && break; sleep 0.1; done
# The render server's worker for the context: the one marked process that maps the library.
worker=""
for p in $(apir_marked_pids); do grep -q libapir-host "/proc/$p/maps" 2>/dev/null && worker=$p; done
[ -n "$worker" ] || { echo "FAIL: no render worker maps libapir-host"; exit 1; }
sleep 1
kill -9 "$worker"
killed_at=$SECONDS
for _ in $(seq 1 300); do kill -0 "$orphan" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$orphan" 2>/dev/null; then
  kill -9 "$orphan"
  echo "FAIL: the guest still waits 30 s after its context's worker died"; exit 1
fi
wait "$orphan" 2>/dev/null || true
echo "the guest noticed its dead context within $((SECONDS - killed_at)) s"
grep 'ggml-apir: ' "$APIR_TMP/orphan.log"
[ "$(grep -c 'ggml-apir: lost the host' "$APIR_TMP/orphan.log")" = 1 ] || {
  echo "FAIL: expected one 'lost the host' line"; tail -20 "$APIR_TMP/orphan.log"; exit 1; }
passed=$((passed + 1))
after=$(apir_guest gen -d APIR0 2>"$APIR_TMP/after2.err" | sed -n 's/^tokens: //p')
[ "$after" = "$native" ] || {
  echo "FAIL: a guest after the dead context was not served"; cat "$APIR_TMP/after2.err"; exit 1; }
passed=$((passed + 1))
echo "vm_faults: $passed passed, 0 failed"
