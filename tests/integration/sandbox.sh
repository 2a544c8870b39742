#!/usr/bin/env bash
# apir-hostd's session limits (docs/security.md): a CPU work buffer beyond the session quota is
# refused with an error reply and the session goes on.
. "$(dirname "$0")/lib.sh"

passed=0
check() { if eval "$2"; then passed=$((passed + 1)); else echo "FAIL: $1"; cat "$APIR_TMP/hostd.log"; exit 1; fi; }

# The CPU work buffer counts against the quota: 64 MiB asked under 32 MiB is refused, then the
# same session computes a small one.
apir_start_hostd --device CPU --max-session-mib 32
check "a work buffer past the quota is refused, then a small one served" \
  'timeout 60 "$APIR_BUILD/tests/hostile_client" "$APIR_SOCKET" workbuf'

echo "sandbox: $passed passed, 0 failed"
