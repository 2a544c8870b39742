#!/usr/bin/env bash
# Shared memory through the real daemon, honest and hostile (see each client's header):
# tests/integration/region_client.c (regions, memfds) and ring_client.c (the command ring).
. "$(dirname "$0")/lib.sh"

# A small descriptor table, so a host that leaked the client's flood of passed descriptors
# (1500) would run out and fail the attaches after it.
ulimit -n 512
apir_start_hostd --device CPU
rc=0
"$APIR_BUILD/tests/region_client" "$APIR_SOCKET" || rc=$?
"$APIR_BUILD/tests/ring_client" "$APIR_SOCKET" || rc=$?
kill -0 "$HOSTD_PID" || { echo "FAIL: apir-hostd died"; exit 1; }
if grep -q "ended by signal" "$APIR_TMP/hostd.log"; then
  echo "FAIL: the session process died:"; cat "$APIR_TMP/hostd.log"; exit 1
fi
exit $rc
