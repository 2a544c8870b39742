#!/usr/bin/env bash
# The graph cache through the real plugin and daemon (tests/integration/graph_cache_client.c):
# results right after in-place changes, posted recomputes read back in order, an event, and
# exactly the expected mix of full graphs and recomputes on the wire.
. "$(dirname "$0")/lib.sh"

apir_start_hostd --device CPU
rc=0
APIR_STATS=1 GGML_BACKEND_PATH="$APIR_PLUGIN" "$APIR_BUILD/tests/graph_cache_client" \
  >"$APIR_TMP/out" 2>"$APIR_TMP/err" || rc=$?
cat "$APIR_TMP/out"
[ "$rc" = 0 ] || { echo "FAIL: client exit $rc"; cat "$APIR_TMP/err"; exit 1; }
calls() { sed -n "s/^ggml-apir stats: $1 *calls=\([0-9]*\).*/\1/p" "$APIR_TMP/err"; }
full=$(calls GRAPH_COMPUTE) again=$(calls GRAPH_RECOMPUTE)
echo "wire: GRAPH_COMPUTE=$full GRAPH_RECOMPUTE=$again (expected 3 and 23)"
[ "$full" = 3 ] && [ "$again" = 23 ] || { echo "FAIL: wrong use of the cache"; cat "$APIR_TMP/err"; exit 1; }
echo "graph_cache (wire): 1 passed, 0 failed"
