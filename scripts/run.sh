#!/usr/bin/env bash
# The main job: start apir-hostd with the CPU backend, make a small model once, generate the
# same greedy text through APIR and natively, and print one RESULT line comparing them.
set -euo pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
LLAMA_CPP_BIN=$(sed -n 's/^LLAMA_CPP_BIN:PATH=//p' "$BUILD/CMakeCache.txt")
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ggml-apir"
model="$cache/models/apir-demo-f16.gguf"
N=${APIR_RUN_TOKENS:-64}
THREADS=${APIR_RUN_THREADS:-$(nproc)}

if [ ! -f "$model" ]; then
  mkdir -p "$(dirname "$model")"
  "$BUILD/apir-mkmodel" --out "$model.tmp" --type f16 >/dev/null
  mv "$model.tmp" "$model"
fi

tmp=$(mktemp -d /tmp/apir-run.XXXXXX)
export APIR_SOCKET="$tmp/apir.sock"
"$BUILD/apir-hostd" --socket "$APIR_SOCKET" --device CPU >"$tmp/hostd.log" 2>&1 &
hostd=$!
trap 'kill $hostd 2>/dev/null; wait $hostd 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do [ -S "$APIR_SOCKET" ] && break; sleep 0.1; done
[ -S "$APIR_SOCKET" ] || { cat "$tmp/hostd.log"; exit 1; }

gen() { "$BUILD/apir-generate" -m "$model" -n "$N" -t "$THREADS" "$@" 2>"$tmp/gen.err" || {
  cat "$tmp/gen.err" >&2; exit 1; }; }
field() { printf '%s\n' "$1" | sed -n "s/^$2: //p"; }
# Three alternating runs each, median speed: these machines are noisy, and alternating keeps
# a passing disturbance from landing on one side only.
ntps_all=() atps_all=()
match=yes
for _ in 1 2 3; do
  native=$(gen -d none)
  apir=$(GGML_BACKEND_PATH="$BUILD/libggml-apir.so" gen -d APIR0)
  ntps_all+=("$(field "$native" tps)")
  atps_all+=("$(field "$apir" tps)")
  [ "$(field "$native" tokens)" = "$(field "$apir" tokens)" ] || match=no
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
echo "model: $model ($N tokens, greedy)"
echo "native text: $(field "$native" text)"
echo "apir   text: $(field "$apir" text)"
ntps=$(median "${ntps_all[@]}")
atps=$(median "${atps_all[@]}")
ratio=$(awk -v a="$atps" -v n="$ntps" 'BEGIN { printf "%.3f", (n > 0 ? a / n : 0) }')
echo "RESULT tokens_match=$match native_tps=$ntps apir_tps=$atps ratio=$ratio"
