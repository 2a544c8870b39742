#!/usr/bin/env bash
# Every installed program's --help exits 0 on stdout and names every option its code parses
# (each "-x"/"--xyz" literal compared with strcmp) and every variable it reads (getenv or
# apir_*env*("NAME")) in its own sources.
#   help.sh SOURCE_DIR BINARY=SRC[:SRC...] ...
set -euo pipefail
src=$1
shift
passed=0
fail() { echo "FAIL: $*"; exit 1; }
for spec in "$@"; do
  bin=${spec%%=*}
  name=$(basename "$bin")
  IFS=: read -r -a files <<<"${spec#*=}"
  paths=()
  for f in "${files[@]}"; do paths+=("$src/$f"); done
  help=$("$bin" --help 2>/dev/null) || fail "$name --help exited non-zero"
  [ -n "$help" ] || fail "$name --help printed nothing on stdout"
  opts=$(grep -ho 'strcmp([^,]*, *"-[-a-z0-9]*")' "${paths[@]}" | grep -o '"-[-a-z0-9]*"' | tr -d '"' | sort -u)
  vars=$(grep -hoE '(getenv|env_num)\("[A-Z][A-Z0-9_]*"\)' "${paths[@]}" | grep -oE '"[A-Z0-9_]+"' | tr -d '"' | sort -u || true)
  [ -n "$opts" ] || fail "$name: no option found in its sources (${files[*]}): the scan is broken"
  for o in $opts $vars; do
    # The option as a word of its own (so --n-head does not count for --n-head-kv).
    echo "$help" | grep -qE -- "(^|[^-a-zA-Z0-9_])$o([^-a-zA-Z0-9_]|\$)" || fail "$name --help does not mention $o"
    passed=$((passed + 1))
  done
  echo "$name: --help names" $opts $vars
done
echo "help: $passed passed, 0 failed"
