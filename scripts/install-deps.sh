#!/usr/bin/env bash
# Installs the Debian 12 packages the build needs, for each tool that is missing. A tool that
# is present from elsewhere (a nodesource npm, say) is left alone: installing Debian's package
# over it can conflict.
set -euo pipefail
need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
want cc build-essential
want c++ g++
want make make
want cmake cmake
want ninja ninja-build
want git git
want npm npm
want openssl openssl
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
# virglrenderer's build (scripts/deps-virgl.sh, for the vtest tests): here too, so that a fresh
# machine runs apt-get update once.
# libFuzzer (tests/fuzz): clang and its runtime.
want clang clang
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'install ok installed' ||
  need+=(libclang-rt-14-dev)
want meson meson
want pkg-config pkg-config
for p in libepoxy-dev libdrm-dev libvulkan-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing ${need[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
