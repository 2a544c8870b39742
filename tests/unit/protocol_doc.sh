#!/usr/bin/env bash
# docs/protocol.md matches include/apir/protocol.h: the version in its title, one command-table
# row per command (id and name as the header's table), every status with its value, every
# feature bit, limit and flag name; and field by field, each line of the kind and command tables
# that apir-info --protocol prints from the definition itself (src/proto/msg.h).
# Usage: protocol_doc.sh SOURCE_DIR APIR_INFO
set -euo pipefail
root=${1:?source dir} info=${2:?apir-info}
h="$root/include/apir/protocol.h" doc="$root/docs/protocol.md"
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

major=$(sed -n 's/^#define APIR_PROTO_MAJOR \([0-9]*\).*/\1/p' "$h")
minor=$(sed -n 's/^#define APIR_PROTO_MINOR \([0-9]*\).*/\1/p' "$h")
head -1 "$doc" | grep -q "(v$major\.$minor)" || fail "title is not v$major.$minor"

n=0
while read -r id name; do
  n=$((n + 1))
  grep -q "^| $id | $name |" "$doc" || fail "command $id $name has no row '| $id | $name |'"
done < <(sed -n 's/^ *X(\([0-9]*\), \([A-Z_]*\),.*/\1 \2/p' "$h")
[ "$n" -gt 20 ] || fail "read only $n commands from the header"
rows=$(grep -c '^| [0-9]* | [A-Z_]* |' "$doc")
[ "$rows" = "$n" ] || fail "$rows command rows in the doc, $n commands in the header"

while read -r name value; do
  grep -q "^| \`$name\` | $value |" "$doc" || fail "status $name = $value not in the doc's table"
done < <(sed -n 's/^ *\(APIR_\(OK\|E_[A-Z_]*\)\) = \([0-9]*\).*/\1 \3/p' "$h")

for name in $(grep -o 'APIR_\(FEAT\|MAX\|DEV_CAP\|BUFT\|BUF\)_[A-Z_]*' "$h" | sort -u); do
  case $name in APIR_FEAT_NONE|APIR_FEAT_*SUPPORTED*) continue ;; esac
  grep -q "$name" "$doc" || fail "$name is not documented"
done
nl=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  nl=$((nl + 1))
  grep -qxF -- "$line" "$doc" || fail "the doc lacks the line of the definition: $line"
done < <("$info" --protocol)
[ "$nl" -gt "$n" ] || fail "apir-info --protocol printed only $nl lines"

[ "$failed" = 0 ] || exit 1
echo "protocol doc: v$major.$minor, $n commands field by field, statuses and constants all documented"
