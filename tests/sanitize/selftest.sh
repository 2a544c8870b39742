#!/usr/bin/env bash
# tests/sanitize/run.sh judged on files it must judge: make test-asan trusts it to fail a test
# on any sanitizer report from any process, and to pass one whose files hold only the
# runtime's own notes. Each case writes a file where run.sh collects reports
# ($APIR_SANITIZE_LOGS), as a sanitizer runtime would, and exits with a code of its own.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
failures=0
# A command for run.sh: writes $1 (if any) as one process's report file, then exits with $2.
report='[ -z "$1" ] || printf "%s\n" "$1" >"$APIR_SANITIZE_LOGS/report.$$"; exit "$2"'
expect() { # expected exit code, name, report text ('' for none), the command's exit code
  local want=$1 name=$2 text=$3 code=$4 rc=0
  bash "$here/run.sh" bash -c "$report" _ "$text" "$code" >/dev/null 2>&1 || rc=$?
  if [ "$rc" = "$want" ]; then
    echo "ok: $name"
  else
    echo "FAIL: $name: exit $rc, want $want"
    failures=$((failures + 1))
  fi
}
expect 0 "no report, exit 0" "" 0
expect 3 "no report: the command's own exit code" "" 3
expect 1 "an ASan report fails a passing test" \
  "==12==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011" 0
expect 1 "a UBSan report fails it" "x.c:3:5: runtime error: signed integer overflow" 0
expect 1 "a leak fails it" "==7==ERROR: LeakSanitizer: detected memory leaks" 0
expect 0 "the runtime's warning that it cannot reach the symbolizer is a note" \
  "==9==WARNING: Can't read from symbolizer at fd 8" 0
# LeakSanitizer, at exit of a process whose thread is ending as it stops the world, cannot read
# that thread's registers: it says so and scans the thread's whole stack instead (no finding).
expect 0 "LeakSanitizer's note that a thread's registers were out of reach is a note" \
  "==32223==Unable to get registers from thread 32067." 0
expect 1 "... but not with a leak after it" \
  "$(printf '%s\n' "==5==Unable to get registers from thread 6." \
    "==5==ERROR: LeakSanitizer: detected memory leaks")" 0
[ "$failures" = 0 ] && echo "sanitize_wrap: passed" || exit 1
