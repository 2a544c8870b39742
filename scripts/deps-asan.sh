#!/usr/bin/env bash
# Build ggml's host-side libraries (ggml-base, ggml, the CPU and RPC backends) from the pinned
# llama.cpp tree with AddressSanitizer + UndefinedBehaviorSanitizer, once, into <pin>/build-asan,
# for `make test-asan`: the host side (apir-hostd, its session processes, libapir-host, the unit
# tests) runs instrumented against an instrumented CPU backend, so a bad index or extent that
# slips past our validation shows up as a report where the kernel touches memory.
# Prints that tree's bin directory on the last line of stdout.
#
# clang, like our own sanitizer build, with the shared runtime (-shared-libasan): one copy for
# every instrumented object in a process, the executables and the dlopen()ed CPU backend alike.
# clang rather than gcc: gcc's UBSan runtime is a library apart from its ASan one and writes
# its reports to stderr whatever log_path says, where reports from background processes are
# lost; clang's runtime holds both and honours log_path (tests/sanitize/run.sh relies on it).
# OpenMP off: ggml's own thread pool, instrumented, instead of an uninstrumented libomp that a
# fresh machine may not have anyway. ggml-rpc for the hosts chained to a ggml-rpc-server
# (multi_device). Only these four targets: llama.cpp's tools keep using the stock build.
set -euo pipefail

log() { printf 'deps-asan: %s\n' "$*" >&2; }
src=$(bash "$(dirname "$0")/deps.sh" | tail -n 1)
[ -d "$src/.git" ] || { log "$src is not the pinned git tree (LLAMA_CPP_DIR?): build it yourself"; exit 1; }
out="$src/build-asan"
stamp="$out/.apir-built"

command -v clang >/dev/null || { log "needs clang (scripts/install-deps.sh installs it)"; exit 1; }
rt=$(clang -print-runtime-dir)
[ -f "$rt/libclang_rt.asan-x86_64.so" ] || { log "no $rt/libclang_rt.asan-x86_64.so (libclang-rt-14-dev)"; exit 1; }
# UBSan's checks built recoverable here (ASan's are not), only so that the few findings in
# ggml's own code that tests/sanitize/ubsan.supp lists with their reasons can be suppressed by
# name (suppressions apply to recoverable checks only); UBSAN_OPTIONS=halt_on_error=1 keeps
# any other report fatal, and our own code is built with every check fatal.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize-recover=undefined"
# No -fsanitize=function (C++ calls through a pointer of another function type): the CPU
# backend's kernel tables hold C functions cast to one type-erased signature by design
# (ggml_vec_dot_f16 as ggml_vec_dot_t, ...); the check fires on that design, which no input
# can steer, and on nothing else. Our code is C, where clang 14 does not check it anyway.
# No -fsanitize=vptr either: its runtime check probes the object's memory through a pipe,
# which a session's seccomp filter denies, so inside a sandboxed session every checked C++
# member call was reported (ggml-cpu traits.cpp ggml_cpu_extra_work_size, from the host's
# ggml_graph_plan); outside the sandbox the same calls passed it.
SAN="$SAN -fno-sanitize=function,vptr -fno-omit-frame-pointer -g1 -shared-libasan"
LINK="$SAN -Wl,-rpath,$rt"
TARGETS="ggml-base ggml ggml-cpu ggml-rpc"
# The stamp records flags and targets: a change rebuilds instead of reusing a stale tree.
want="clang|$LINK|$TARGETS"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$out/bin"
  exit 0
fi

log "building $TARGETS with ASan+UBSan in $out (about 5 minutes on 2 cores)"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# Same options as the stock build (scripts/deps.sh) apart from the sanitizers and what is built.
cmake -S "$src" -B "$out" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="$SAN" -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="$LINK" -DCMAKE_SHARED_LINKER_FLAGS="$LINK" \
  -DCMAKE_MODULE_LINKER_FLAGS="$LINK" -DGGML_OPENMP=OFF \
  -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_RPC=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=ON >&2
# shellcheck disable=SC2086
cmake --build "$out" -j "$(nproc)" --target $TARGETS >&2
printf '%s' "$want" >"$stamp"
echo "$out/bin"
