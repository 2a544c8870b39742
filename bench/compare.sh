#!/usr/bin/env bash
# Side-by-side comparison in one run: native ggml (CPU) vs ggml-apir (APIR0, apir-hostd serving
# the same CPU) vs ggml-rpc (RPC0, ggml-rpc-server on loopback) vs ggml-apir through
# virglrenderer (vtest), on four generated llama models: two Q8_0 ones — ~20 M parameters
# (n_embd 256, 4 layers, n_ff 768) where per-token overhead shows most, and ~270 M (n_embd
# 1024, 16 layers, n_ff 2816) — and two in the quantizations people run, whose weights ggml-cpu
# repacks (CPU_REPACK): the 1 B TinyLlama shape in Q4_0 (apir-mkmodel) and the ~270 M shape in
# Q4_K_M (llama-quantize of the Q8_0 one). Prints llama-bench pp/tg as ratios to native (rounds
# interleaved, so a passing disturbance does not land on one configuration only), model load
# time native vs APIR, and APIR's round trips and bytes per generated token. The last line is
#   RESULT tg_ratio=.. pp_ratio=.. rpc_tg_ratio=.. rpc_pp_ratio=.. vtest_tg_ratio=.. vtest_pp_ratio=.. load_ratio=..
#          bytes_per_token=.. roundtrips_per_token=..     (for the ~20 M model)
#          q4_pp_ratio=.. q4_tg_ratio=.. q4_vtest_tg_ratio=.. q4k_tg_ratio=..  (1 B Q4_0; Q4_K_M)
#          index_copy_pct=..  (the share of apir-hostd's graph time spent copying and checking
#          index tensors, docs/security.md "Indices")
#   bench/compare.sh [BUILD]; env: APIR_BENCH_ROUNDS (2), APIR_BENCH_THREADS (nproc),
#   APIR_BENCH_PP (512), APIR_BENCH_TG (128) for the Q8_0 models, APIR_BENCH_Q4_PP (128),
#   APIR_BENCH_Q4_TG (32) for the Q4 ones, APIR_BENCH_Q4=0 (skip the Q4 models), APIR_BENCH_SVG
#   (docs/compare.svg: the ratios as a bar chart, drawn when gnuplot is installed)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
rounds=${APIR_BENCH_ROUNDS:-2}
threads=${APIR_BENCH_THREADS:-$(nproc)}
pp=${APIR_BENCH_PP:-512}
tg=${APIR_BENCH_TG:-128}
q4pp=${APIR_BENCH_Q4_PP:-128}
q4tg=${APIR_BENCH_Q4_TG:-32}
models_dir=${XDG_CACHE_HOME:-$HOME/.cache}/ggml-apir/models
mkdir -p "$models_dir"
for size in tiny medium; do
  m="$models_dir/bench-$size-q8_0.gguf"
  [ -f "$m" ] || "$BUILD/apir-mkmodel" --out "$m" --type q8_0 --size "$size" >/dev/null
done
sizes="tiny medium"
if [ "${APIR_BENCH_Q4:-1}" != 0 ]; then
  sizes="tiny medium q4 q4k"
  m="$models_dir/bench-1b-q4_0.gguf"
  [ -f "$m" ] || "$BUILD/apir-mkmodel" --out "$m" --type q4_0 --size 1b >/dev/null
fi
model() { # size -> its file
  case $1 in
    q4) echo "$models_dir/bench-1b-q4_0.gguf" ;;
    q4k) echo "$models_dir/bench-medium-q4_k_m.gguf" ;;
    *) echo "$models_dir/bench-$1-q8_0.gguf" ;;
  esac
}

. "$(dirname "$0")/lib.sh"
apir_bench_servers "$BUILD" "$threads"
plugin="$BUILD/libggml-apir.so"
q4k=$(model q4k)
if [ "${APIR_BENCH_Q4:-1}" != 0 ] && [ ! -f "$q4k" ]; then
  "$BIN/llama-quantize" --allow-requantize "$(model medium)" "$q4k.tmp" Q4_K_M 2 >/dev/null 2>&1
  mv "$q4k.tmp" "$q4k"
fi

bench() { # size, name, then llama-bench arguments; appends "size name test tps" lines
  local size=$1 name=$2 p=$pp n=$tg; shift 2
  case $size in q4*) p=$q4pp n=$q4tg ;; esac
  "$BIN/llama-bench" -m "$(model "$size")" -p "$p" -n "$n" -r 2 \
    -t "$threads" -o csv "$@" 2>>"$tmp/bench.err" |
    awk -F, -v name="$name" -v size="$size" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      { gsub(/"/, ""); t = $col["n_prompt"] > 0 ? "pp" : "tg"; print size, name, t, $col["avg_ts"] }' \
      >>"$tmp/results"
}
gen() { # size, device, n: apir-generate's output
  "$BUILD/apir-generate" -m "$(model "$1")" -d "$2" -n "$3" -t "$threads"
}
for _ in $(seq 1 "$rounds"); do
  for size in $sizes; do
    bench "$size" native -dev none -ngl 0
    GGML_BACKEND_PATH="$plugin" bench "$size" apir -dev APIR0 -ngl 99
    bench "$size" rpc --rpc "127.0.0.1:$port" -dev RPC0 -ngl 99
    [ -z "$VTEST_SOCK" ] || APIR_TRANSPORT=vtest APIR_VTEST_SOCKET="$VTEST_SOCK" \
      GGML_BACKEND_PATH="$plugin" bench "$size" vtest -dev APIR0 -ngl 99
    # Model load, warm page cache: native (mmap) vs APIR (copied into shared memory).
    case $size in q4*) continue ;; esac
    echo "$size native $(gen "$size" none 2 2>/dev/null | sed -n 's/^load_ms: //p')" >>"$tmp/load"
    echo "$size apir $(GGML_BACKEND_PATH="$plugin" gen "$size" APIR0 2 2>/dev/null |
      sed -n 's/^load_ms: //p')" >>"$tmp/load"
  done
done

# Per generated token on the wire: the difference between a 48- and a 16-token run, so
# model load and prompt processing cancel out.
wire() { # n -> "calls bytes" of the TOTAL line
  APIR_STATS=1 GGML_BACKEND_PATH="$plugin" gen tiny APIR0 "$1" 2>&1 >/dev/null |
    awk '/stats: TOTAL/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         print v["calls"], v["out"] + v["in"] }'
}
read -r c16 b16 <<<"$(wire 16)"
read -r c48 b48 <<<"$(wire 48)"

# What the index-copy policy cost (docs/security.md, "Indices"): each session's last log line
# counts its graphs' time and the time spent copying and checking index tensors.
read -r idx_runs idx_ms idx_copies idx_us idx_segs <<<"$(sed -n \
  's/.*graphs: \([0-9]*\) runs, \([0-9.]*\) ms; index checks: \([0-9]*\) copies, \([0-9.]*\) us .*, \([0-9]*\) extra segments.*/\1 \2 \3 \4 \5/p' \
  "$tmp/hostd.log" | awk '{ r += $1; m += $2; c += $3; u += $4; s += $5 }
  END { printf "%d %.1f %d %.1f %d\n", r, m, c, u, s }')"
idx_share=$(awk -v u="$idx_us" -v m="$idx_ms" 'BEGIN { printf "%.4f", (m > 0 ? u / 10 / m : 0) }')
echo "index checks (apir-hostd, every APIR run above): $idx_copies copies in $idx_us us over $idx_runs graphs of $idx_ms ms: $idx_share% of graph time, $idx_segs extra segments"

echo "threads: $threads, rounds: $rounds, llama-bench pp$pp / tg$tg (Q4 models: pp$q4pp / tg$q4tg; tokens/s, mean of rounds)"
awk -v rtk="$(( (c48 - c16) ))" -v btk="$(( (b48 - b16) ))" '
  FILENAME ~ /load$/ { ls[$1 " " $2] += $3; ln[$1 " " $2]++; next }
  { s[$1 " " $2 " " $3] += $4; n[$1 " " $2 " " $3]++ }
  function avg(k) { return n[k] ? s[k] / n[k] : 0 }
  function ratio(a, b) { return b > 0 ? a / b : 0 }
  END {
    printf "%-7s %-4s %10s %10s %10s %10s %9s %9s %9s\n", "model", "test", "native", "apir", "rpc", "vtest", "apir/nat", "rpc/nat", "vtest/nat"
    ns = split(sizelist, sizes, " "); split("pp tg", tests, " ")
    label["tiny"] = "20M"; label["medium"] = "270M"; label["q4"] = "1B-Q4_0"; label["q4k"] = "270M-Q4_K"
    for (i = 1; i <= ns; i++) for (j = 1; j <= 2; j++) {
      k = sizes[i] " %s " tests[j]
      nat = avg(sprintf(k, "native")); ap = avg(sprintf(k, "apir")); rp = avg(sprintf(k, "rpc"))
      vt = avg(sprintf(k, "vtest"))
      printf "%-7s %-4s %10.1f %10.1f %10.1f %10.1f %9.3f %9.3f %9.3f\n", sizes[i], tests[j], nat, ap, rp, vt, ratio(ap, nat), ratio(rp, nat), ratio(vt, nat)
      r[sizes[i] tests[j] "apir"] = ratio(ap, nat); r[sizes[i] tests[j] "rpc"] = ratio(rp, nat)
      r[sizes[i] tests[j] "vtest"] = ratio(vt, nat)
      printf "%s-%s %.3f %.3f %.3f\n", label[sizes[i]], tests[j], ratio(ap, nat), ratio(rp, nat), ratio(vt, nat) > chart
    }
    for (i = 1; i <= 2; i++) {
      ln_ = ls[sizes[i] " native"] / ln[sizes[i] " native"]; la = ls[sizes[i] " apir"] / ln[sizes[i] " apir"]
      printf "load %-7s native %.1f ms, apir %.1f ms, ratio %.2f\n", sizes[i], ln_, la, ratio(la, ln_)
      lr[sizes[i]] = ratio(la, ln_)
    }
    printf "per generated token (tiny, APIR): %.2f round trips, %.0f bytes\n", rtk / 32, btk / 32
    printf "RESULT tg_ratio=%.3f pp_ratio=%.3f rpc_tg_ratio=%.3f rpc_pp_ratio=%.3f vtest_tg_ratio=%.3f vtest_pp_ratio=%.3f load_ratio=%.2f bytes_per_token=%.0f roundtrips_per_token=%.2f q4_pp_ratio=%.3f q4_tg_ratio=%.3f q4_vtest_tg_ratio=%.3f q4k_tg_ratio=%.3f index_copy_pct=%s\n",
      r["tinytgapir"], r["tinyppapir"], r["tinytgrpc"], r["tinypprpc"], r["tinytgvtest"], r["tinyppvtest"], lr["tiny"], btk / 32, rtk / 32,
      r["q4ppapir"], r["q4tgapir"], r["q4tgvtest"], r["q4ktgapir"], idx
  }' chart="$tmp/chart.dat" sizelist="$sizes" idx="$idx_share" "$tmp/load" "$tmp/results"

# The same ratios drawn (bench/chart.sh, gnuplot): APIR_BENCH_SVG, default docs/compare.svg.
svg=${APIR_BENCH_SVG:-$(dirname "$0")/../docs/compare.svg}
if command -v gnuplot >/dev/null; then
  bash "$(dirname "$0")/chart.sh" "$tmp/chart.dat" "$svg" "$threads threads, $rounds rounds" &&
    echo "chart: $svg"
else
  echo "chart: skipped (no gnuplot; apt-get install gnuplot-nox)"
fi
