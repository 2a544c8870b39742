#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into BUILD/fuzz and runs each one.
#   tests/fuzz/run.sh BUILD LLAMA_CPP_DIR smoke     a short run of each (ctest: fuzz.smoke)
#   tests/fuzz/run.sh BUILD LLAMA_CPP_DIR SECONDS   each target for SECONDS (make fuzz)
#   FUZZ_TARGETS="ring trace": only these targets
# Corpora live in BUILD/fuzz/corpus/<target> (seeded with valid requests); a crash leaves its
# input in BUILD/fuzz/crashes/ and fails the run: once fixed, the input is kept in
# tests/fuzz/regressions/<target>/ and replayed by every run, the smoke included. Exit 77 (SKIPPED) without clang's libFuzzer.
set -euo pipefail
build=$(cd "$1" && pwd) llama=$2 mode=$3
src=$(cd "$(dirname "$0")" && pwd)
out="$build/fuzz"
command -v clang >/dev/null || { echo "SKIPPED: no clang (apt-get install clang libclang-rt-14-dev)"; exit 77; }
[ -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ] ||
  { echo "SKIPPED: clang has no libFuzzer (libclang-rt-14-dev)"; exit 77; }
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$src" -B "$out" "${gen[@]}" -DCMAKE_C_COMPILER=clang -DLLAMA_CPP_DIR="$llama" >/dev/null
cmake --build "$out" -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
mkdir -p "$out/crashes"
rc=0
# fuzz_trace's seeds are recorded from real traffic (record.sh), once per build dir.
traces="$out/corpus/trace"
if [ ! -d "$traces" ] || [ -z "$(ls -A "$traces")" ]; then
  bash "$src/record.sh" "$build" "$llama/build/bin" "$traces"
fi
for t in ${FUZZ_TARGETS:-codec dispatch virgl ring trace}; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus"
  # dispatch writes its seeds (valid requests) into its corpus; the others start from them too.
  args=(-timeout=20 -rss_limit_mb=4096 -artifact_prefix="$out/crashes/$t-" -print_final_stats=1)
  # A trace input replays a whole session: the smoke runs fewer of them.
  runs=3000
  [ "$t" = trace ] && runs=300
  if [ "$mode" = smoke ]; then args+=(-runs=$runs); else args+=(-max_total_time="$mode"); fi
  [ "$t" = codec ] && cp -n "$out/corpus/dispatch/"* "$corpus/" 2>/dev/null || true
  # Kept inputs (tests/fuzz/regressions/<target>: every crash found, once fixed) run first, each
  # time; libFuzzer adds new inputs to the first directory only, the build's corpus.
  dirs=("$corpus")
  [ -d "$src/regressions/$t" ] && dirs+=("$src/regressions/$t")
  seeds="$out/corpus/dispatch"
  [ "$t" = ring ] || [ "$t" = virgl ] && seeds="$corpus"
  # APIR_LOG=error: the host's info and warn lines (a session per virgl context, a refused
  # protocol version) would be written for every input.
  APIR_LOG=error APIR_FUZZ_SEEDS="$seeds" "$out/fuzz_$t" "${args[@]}" "${dirs[@]}" \
    >"$out/$t.log" 2>&1 || rc=1
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
  echo "fuzz_$t: ${execs:-?} executions, $( [ $rc = 0 ] && echo "no crash" || echo "CRASH: see $out/$t.log")"
  [ $rc = 0 ] || { grep -E "ERROR|SUMMARY|runtime error" "$out/$t.log" | head -5; exit 1; }
done
