#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then everything from there:
#  - the libraries (libapir-host with its SONAME), headers, daemon, tools, guest plugin,
#    CMake package, pkg-config file and systemd user units are in place; installed binaries
#    find libapir-host in the prefix, never in the build tree;
#  - the installed apir-hostd runs as its installed unit would start it, socket-activated on
#    $XDG_RUNTIME_DIR/apir.sock (tests/integration/activate_exec.c plays systemd);
#  - an out-of-tree C program (tests/install/consumer.c) built with find_package(ggml-apir) and
#    again with pkg-config creates a host with the installed libapir-host (the CPU is served)
#    and loads the installed plugin through ggml (an APIR device, from the installed daemon);
#  - a stock llama.cpp tool finds the installed plugin through GGML_BACKEND_PATH.
# Needs APIR_BUILD, LLAMA_CPP_DIR, LLAMA_CPP_BIN, APIR_LIBDIR (CMAKE_INSTALL_LIBDIR) and
# APIR_TOOLS (the installed tools, APIR_INSTALL_TOOLS).
. "$(dirname "$0")/../integration/lib.sh"
: "${LLAMA_CPP_DIR:?}" "${APIR_LIBDIR:?}" "${APIR_TOOLS:?}"
here=$(cd "$(dirname "$0")" && pwd)
passed=0
# grep -q may end a pipe early: its writer's SIGPIPE must not fail the check (pipefail).
check() { if (set +o pipefail; eval "$2"); then passed=$((passed + 1)); else echo "FAIL: $1"; tail -n 20 "$APIR_TMP"/*.log 2>/dev/null; exit 1; fi; }

prefix="$APIR_TMP/prefix"
cmake --install "$APIR_BUILD" --prefix "$prefix" >"$APIR_TMP/install.log"
lib="$prefix/$APIR_LIBDIR"
plugin="$lib/ggml-apir/libggml-apir.so"
tools=(apir-hostd $APIR_TOOLS)
for f in "${tools[@]/#/bin/}" "$APIR_LIBDIR/libapir-host.so" "$APIR_LIBDIR/ggml-apir/libggml-apir.so" \
    include/apir/host.h include/apir/protocol.h include/ggml-apir.h \
    "$APIR_LIBDIR/cmake/ggml-apir/ggml-apirConfig.cmake" \
    "$APIR_LIBDIR/cmake/ggml-apir/ggml-apirConfigVersion.cmake" \
    "$APIR_LIBDIR/pkgconfig/ggml-apir.pc" \
    lib/systemd/user/apir-hostd.service lib/systemd/user/apir-hostd.socket; do
  check "installed: $f" '[ -e "$prefix/$f" ]'
done
check "libapir-host has a SONAME, and the link name points at it" \
  'readelf -d "$lib/libapir-host.so" | grep -q "SONAME.*\[libapir-host.so.0\]" && [ -e "$lib/libapir-host.so.0" ]'
for b in bin/apir-hostd bin/apir-generate "$APIR_LIBDIR/libapir-host.so"; do
  check "$b: no run path into the build tree" \
    '! readelf -d "$prefix/$b" | grep -E "R(UN)?PATH" | grep -qF "$APIR_BUILD"'
done
check "the installed daemon loads the installed libapir-host" \
  'ldd "$prefix/bin/apir-hostd" | grep -q "libapir-host.so.0 => $prefix/bin/../$APIR_LIBDIR/"'
for t in "${tools[@]}"; do
  check "installed $t --help exits 0" '"$prefix/bin/$t" --help >/dev/null'
done

# The units: ExecStart names the installed daemon; the socket is the guests' default path.
unit="$prefix/lib/systemd/user/apir-hostd.service"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
check "ExecStart runs the installed apir-hostd" '[ "${exec_start%% *}" = "$prefix/bin/apir-hostd" ]'
check "the socket unit listens on %t/apir.sock, mode 0600" \
  'grep -qx "ListenStream=%t/apir.sock" "$prefix/lib/systemd/user/apir-hostd.socket" &&
   grep -qx "SocketMode=0600" "$prefix/lib/systemd/user/apir-hostd.socket"'
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify accepts the units" \
    'systemd-analyze verify "$unit" "$prefix/lib/systemd/user/apir-hostd.socket" >"$APIR_TMP/verify.log" 2>&1'
else
  echo "note: systemd-analyze not installed: the units were not verified by systemd"
fi

# Start the installed daemon as the units would: ExecStart with %t and $APIR_HOSTD_ARGS
# expanded, the socket bound at %t/apir.sock and handed over as fd 3.
rt="$APIR_TMP/runtime"
mkdir -m 700 "$rt"
read -r -a words <<<"${exec_start//%t/$rt}"
argv=()
for w in "${words[@]}"; do # $APIR_HOSTD_ARGS split into words, as systemd does
  if [ "$w" = '$APIR_HOSTD_ARGS' ]; then argv+=(--device CPU); else argv+=("$w"); fi
done
(exec env -u GGML_BACKEND_PATH -u APIR_SOCKET "$APIR_BUILD/tests/activate_exec" ok "$rt/apir.sock" \
  "${argv[@]}" >"$APIR_TMP/hostd.log" 2>&1) &
HOSTD_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$APIR_TMP/hostd.log" 2>/dev/null && break; sleep 0.1; done
check "the installed daemon serves the activated socket" \
  'grep -q "listening on $rt/apir.sock (socket activation)" "$APIR_TMP/hostd.log"'
# (apir_stock_preload: under make test-asan the consumers, built uninstrumented by cc, load the
# instrumented libapir-host and plugin, which need the sanitizer runtime first.)
guest() {
  env -u APIR_SOCKET -u GGML_BACKEND_PATH XDG_RUNTIME_DIR="$rt" LD_PRELOAD="$(apir_stock_preload)" "$@"
}

# find_package(ggml-apir)
cmake -S "$here/consumer" -B "$APIR_TMP/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DLLAMA_CPP_DIR="$LLAMA_CPP_DIR" >"$APIR_TMP/consumer-configure.log" 2>&1 ||
  { cat "$APIR_TMP/consumer-configure.log"; exit 1; }
cmake --build "$APIR_TMP/consumer" >"$APIR_TMP/consumer-build.log" 2>&1 ||
  { cat "$APIR_TMP/consumer-build.log"; exit 1; }
out=$(guest "$APIR_TMP/consumer/apir-consumer" "$LLAMA_CPP_BIN" 2>&1) || true
echo "$out" | grep -E "^(host|guest|plugin|consumer)" || true
check "find_package consumer: the installed host library serves the CPU" \
  'echo "$out" | grep -q "^host device 0: CPU$"'
check "find_package consumer: the package's plugin is the installed one, and shows APIR0" \
  'echo "$out" | grep -q "^plugin $plugin: registry APIR$" && echo "$out" | grep -q "^guest device APIR0: " &&
   echo "$out" | grep -q "^consumer: ok$"'

# pkg-config
export PKG_CONFIG_PATH="$lib/pkgconfig"
pc_plugin=$(pkg-config --variable=plugin ggml-apir)
check "pkg-config names the installed plugin and daemon" \
  '[ "$pc_plugin" = "$plugin" ] && [ "$(pkg-config --variable=hostd ggml-apir)" = "$prefix/bin/apir-hostd" ]'
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$APIR_TMP/consumer-pc" \
  -DAPIR_CONSUMER_PLUGIN="\"$pc_plugin\"" $(pkg-config --cflags --libs ggml-apir) \
  -I"$LLAMA_CPP_DIR/ggml/include" -L"$LLAMA_CPP_BIN" -lggml -lggml-base \
  -Wl,-rpath,"$(pkg-config --variable=libdir ggml-apir)" -Wl,-rpath,"$LLAMA_CPP_BIN" \
  >"$APIR_TMP/consumer-pc.log" 2>&1 || { cat "$APIR_TMP/consumer-pc.log"; exit 1; }
out=$(guest "$APIR_TMP/consumer-pc" "$LLAMA_CPP_BIN" 2>&1) || true
check "pkg-config consumer: CPU served, APIR0 listed" \
  'echo "$out" | grep -q "^host device 0: CPU$" && echo "$out" | grep -q "^guest device APIR0: " &&
   echo "$out" | grep -q "^consumer: ok$"'
check "pkg-config consumer runs the installed libapir-host" \
  'ldd "$APIR_TMP/consumer-pc" | grep -q "libapir-host.so.0 => $lib/"'

# A stock llama.cpp tool, the documented way.
out=$(guest GGML_BACKEND_PATH="$pc_plugin" "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || true
check "llama-cli lists APIR0 with GGML_BACKEND_PATH=<prefix>/$APIR_LIBDIR/ggml-apir/libggml-apir.so" \
  'echo "$out" | grep -q "APIR0"'
echo "install: $passed passed, 0 failed"
