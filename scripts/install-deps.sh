#!/usr/bin/env bash
# Installs the Debian 12 packages the build needs, only those missing. Root or sudo.
set -euo pipefail
need=()
for p in build-essential cmake ninja-build git npm ca-certificates openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing ${need[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
