#!/usr/bin/env bash
# Side-by-side llama-bench on one machine, in one run: native ggml (CPU), ggml-apir (APIR0,
# apir-hostd serving the same CPU) and ggml-rpc (RPC0, ggml-rpc-server on loopback).
# Prints tokens/s and the ratio to native. Rounds are interleaved so a passing disturbance
# on this noisy machine does not land on one configuration only.
#   bench/generate.sh [BUILD] ; env: APIR_BENCH_MODEL (default: the make-run demo model),
#   APIR_BENCH_ROUNDS (2), APIR_BENCH_THREADS (nproc)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
model=${APIR_BENCH_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/ggml-apir/models/apir-demo-f16.gguf}
rounds=${APIR_BENCH_ROUNDS:-2}
threads=${APIR_BENCH_THREADS:-$(nproc)}
if [ ! -f "$model" ]; then
  mkdir -p "$(dirname "$model")"
  "$BUILD/apir-mkmodel" --out "$model" --type f16 >/dev/null
fi

. "$(dirname "$0")/lib.sh"
apir_bench_servers "$BUILD" "$threads"

bench() { # name, then llama-bench arguments; appends "name test tps" lines
  local name=$1; shift
  "$BIN/llama-bench" -m "$model" -p 128 -n 64 -r 3 -t "$threads" -o csv "$@" 2>>"$tmp/bench.err" |
    awk -F, -v name="$name" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      { gsub(/"/, ""); t = $col["n_prompt"] > 0 ? "pp" $col["n_prompt"] : "tg" $col["n_gen"];
        print name, t, $col["avg_ts"] }' >>"$tmp/results"
}
for _ in $(seq 1 "$rounds"); do
  bench native -dev none -ngl 0
  GGML_BACKEND_PATH="$BUILD/libggml-apir.so" bench apir -dev APIR0 -ngl 99
  bench rpc --rpc "127.0.0.1:$port" -dev RPC0 -ngl 99
done

echo "model: $model, threads: $threads, rounds: $rounds (tokens/s, mean of rounds)"
awk '{ sum[$1 " " $2] += $3; n[$1 " " $2]++ }
  END {
    split("pp128 tg64", tests, " ");
    printf "%-6s %12s %12s %12s %10s %10s\n", "test", "native", "apir", "rpc", "apir/nat", "rpc/nat";
    for (k = 1; k <= 2; k++) {
      t = tests[k]; nat = sum["native " t] / n["native " t];
      ap = sum["apir " t] / n["apir " t]; rp = sum["rpc " t] / n["rpc " t];
      printf "%-6s %12.1f %12.1f %12.1f %10.3f %10.3f\n", t, nat, ap, rp, ap / nat, rp / nat;
    }
  }' "$tmp/results"
