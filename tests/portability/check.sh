#!/usr/bin/env bash
# Portability of the host library (issue #9): src/host, src/proto and the ring layout compile
# with __linux__ undefined, against a header set without Linux-only or socket interfaces
# (poison.h forced first; deny/ shadows the headers), so they build for macOS (krunkit with
# Metal) or a BSD. Linux-only code lives in src/platform (one file per OS), src/sock and
# src/hostd. Usage: check.sh LLAMA_CPP_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ggml="${1:?LLAMA_CPP_DIR}"
cc=${CC:-cc}
files=("$root"/src/host/*.c "$root"/src/proto/*.c "$root/src/shm/ring_layout.c"
  "$root/src/platform/platform_other.c")
failed=0
for f in "${files[@]}"; do
  if ! "$cc" -std=c11 -fsyntax-only -Wall -Wextra -Werror -Wno-unused-parameter \
      -D_GNU_SOURCE -U__linux__ -U__linux -Ulinux -U__gnu_linux__ \
      -include "$here/poison.h" -I "$here/deny" -I "$root/include" -I "$root/src" \
      -isystem "$ggml/ggml/include" -isystem "$ggml/ggml/src" "$f"; then
    echo "FAIL: ${f#"$root"/} uses an interface the host library may not"
    failed=$((failed + 1))
  fi
done
# The check itself must bite: the Linux file does not pass it.
if "$cc" -std=c11 -fsyntax-only -D_GNU_SOURCE -U__linux__ -include "$here/poison.h" \
    -I "$here/deny" -I "$root/src" "$root/src/platform/platform_linux.c" 2>/dev/null; then
  echo "FAIL: the check accepts src/platform/platform_linux.c (it should not)"
  failed=$((failed + 1))
fi
[ "$failed" = 0 ] || exit 1
echo "portability: ${#files[@]} files compile without Linux-only or socket interfaces"
