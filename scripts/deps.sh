#!/usr/bin/env bash
# Fetch and build the pinned llama.cpp (ggml + tools) once, into a cache outside the repo.
# Prints the tree's path on the last line of stdout.
#   LLAMA_CPP_DIR=/path   use a user's own, already built tree instead (build/ inside it).
set -euo pipefail

PIN=de3ff815ea7d559ee917f063901b8986f038abc6
NPM_PKG=node-llama-cpp@3.22.1
NPM_SHA512='bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw=='
TARGETS="ggml ggml-base ggml-cpu ggml-rpc llama test-backend-ops llama-bench llama-cli
 llama-completion llama-server ggml-rpc-server llama-quantize test-llama-archs"

log() { printf 'deps: %s\n' "$*" >&2; }

if [ -n "${LLAMA_CPP_DIR:-}" ]; then
  [ -d "$LLAMA_CPP_DIR/ggml/include" ] || { log "LLAMA_CPP_DIR=$LLAMA_CPP_DIR has no ggml/include"; exit 1; }
  echo "$LLAMA_CPP_DIR"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ggml-apir"
src="$cache/$PIN"
stamp="$src/.apir-built"

# The stamp records the target list: a tree built before a target was added gets it built
# (incrementally) instead of being taken as complete.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TARGETS" ]; then
  echo "$src"
  exit 0
fi

mkdir -p "$cache"
if [ ! -d "$src/.git" ]; then
  work=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "fetching $NPM_PKG (carries llama.cpp $PIN as a git bundle)"
  (cd "$work" && npm pack --silent "$NPM_PKG" >/dev/null)
  tgz=$(ls "$work"/*.tgz)
  got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  if [ "$got" != "$NPM_SHA512" ]; then
    log "integrity mismatch for $tgz: got sha512-$got"
    exit 1
  fi
  tar -xzf "$tgz" -C "$work" package/llama/gitRelease.bundle
  rm -rf "$src"
  git clone -q "$work/package/llama/gitRelease.bundle" "$src"
  git -C "$src" -c advice.detachedHead=false checkout -q "$PIN"
fi

head=$(git -C "$src" rev-parse HEAD)
[ "$head" = "$PIN" ] || { log "tree at $head, expected $PIN"; exit 1; }

log "building llama.cpp subset in $src/build (about 10 minutes on 2 cores)"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$src" -B "$src/build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_RPC=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=ON >&2
avail=""
for t in $TARGETS; do
  if cmake --build "$src/build" --target help 2>/dev/null | grep -qE "(^|[ :])$t(:|$| )"; then
    avail="$avail $t"
  else
    log "target $t not in this tree, skipped"
  fi
done
# shellcheck disable=SC2086
cmake --build "$src/build" -j "$(nproc)" --target $avail >&2
printf '%s' "$TARGETS" >"$stamp"
echo "$src"
