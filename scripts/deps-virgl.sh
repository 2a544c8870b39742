#!/usr/bin/env bash
# Build virglrenderer with its APIR context (the branch pinned in ../shared/deps) once, into
# the cache, for the vtest and fake-node tests. Fetches nothing: the source is the checked
# tarball beside the repository. Prints the build directory (holding vtest/virgl_test_server
# and server/virgl_render_server) on the last line of stdout, or nothing when no source is
# available (the tests then report SKIPPED with the reason logged here).
#   VIRGLRENDERER_DIR=/path   a tree already built into /path/build (meson) instead
#   APIR_SHARED_DIR=/path     where deps/ lives (default: ../shared beside the repository)
set -euo pipefail

NAME=virglrenderer-apir-c62e4b08
log() { printf 'deps-virgl: %s\n' "$*" >&2; }
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ -n "${VIRGLRENDERER_DIR:-}" ]; then
  for b in "$VIRGLRENDERER_DIR/build" "$VIRGLRENDERER_DIR"; do
    [ -x "$b/vtest/virgl_test_server" ] && { echo "$b"; exit 0; }
  done
  log "VIRGLRENDERER_DIR=$VIRGLRENDERER_DIR has no build/vtest/virgl_test_server"
  exit 0
fi

shared=${APIR_SHARED_DIR:-$repo/../shared}
tarball="$shared/deps/$NAME.tar.xz"
if [ ! -f "$tarball" ] || [ ! -f "$shared/deps/SHA256SUMS" ]; then
  log "no $tarball: vtest tests will be skipped (set VIRGLRENDERER_DIR to a built tree)"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ggml-apir/$NAME"
stamp="$cache/.apir-built"
if [ -f "$stamp" ] && [ -x "$cache/build/vtest/virgl_test_server" ]; then
  echo "$cache/build"
  exit 0
fi

# Debian packages the build needs (virglrenderer's meson build, venus and APIR enabled).
pkgs=(meson ninja-build pkg-config libepoxy-dev libdrm-dev libvulkan-dev)
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  log "installing ${need[*]}"
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
    "${need[@]}" >&2
fi

(cd "$shared/deps" && grep " $NAME.tar.xz\$" SHA256SUMS | sha256sum -c --quiet -) >&2 ||
  { log "checksum mismatch for $tarball"; exit 1; }
log "building $NAME into $cache (about 10 s)"
rm -rf "$cache"
mkdir -p "$cache"
tar -xJf "$tarball" -C "$cache" --strip-components=1
meson setup "$cache/build" "$cache" -Dapir=true -Dvenus=true -Dtests=false \
  -Dminigbm_allocation=false --buildtype=release >&2
ninja -C "$cache/build" vtest/virgl_test_server server/virgl_render_server >&2
touch "$stamp"
echo "$cache/build"
