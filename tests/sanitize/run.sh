#!/usr/bin/env bash
# make test-asan runs every ctest command through this: tests/sanitize/run.sh COMMAND [ARGS...]
# Sets the sanitizers' options for every process the test starts, then fails the test on any
# report. Reports go to files (log_path), one per process, because many processes a test starts
# are not the one whose exit code it checks: apir-hostd in the background, its forked session
# processes, the virglrenderer render server, a guest the test expects to fail. A report in
# any of them fails the test here, with the report printed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d "${TMPDIR:-/tmp}/apir-san.XXXXXX")
chmod 1733 "$logs" # a process a test runs as another user (sockets.sh) can report too
trap 'rm -rf "$logs"' EXIT

# halt_on_error with recovery compiled out (-fno-sanitize-recover=all): the first finding ends
# the process. allocator_may_return_null: a failed allocation returns NULL as glibc's malloc
# does, so the paths that handle it run as in production instead of the run stopping there.
# detect_leaks stays on; tests/sanitize/lsan.supp lists, each with its reason, the leaks that
# are not ours.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:allocator_may_return_null=1:log_path=$logs/report${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp:log_path=$logs/report${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Sandboxed session processes open their report file before their seccomp filter denies it
# (src/hostd/sanitize_hook.c): same directory, same name.
export APIR_SANITIZE_LOGS="$logs"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

"$@"
rc=$?
# A file holding only the runtime's own notes is no finding: the render server's processes
# cannot always talk to the external symbolizer ("WARNING: Can't read from symbolizer"), and
# LeakSanitizer, stopping a process at exit while one of its threads is ending (llama-server),
# cannot read that thread's registers ("Unable to get registers from thread N."; it then scans
# the thread's whole stack: no finding, and a leak would still be reported after it; git's
# test-lib ignores the line for the same reason). They are shown; anything else in any file
# fails (checked by tests/sanitize/selftest.sh).
note='==[0-9]+==(WARNING: .*|Unable to get registers from thread [0-9]+\.)'
reports="" notes=""
for f in $(find "$logs" -type f -size +0 | sort); do
  if grep -qvE "^($note)?\$" "$f"; then reports="$reports $f"; else notes="$notes $f"; fi
done
for f in $notes; do sed "s/^/sanitizer note (${f##*/}): /" "$f" | grep -v ': $'; done
if [ -n "$reports" ]; then
  echo "=== sanitizer reports ($(echo $reports | wc -w)) ==="
  for f in $reports; do
    echo "--- ${f##*/}"
    cat "$f"
  done
  echo "FAILED: sanitizer report (the test itself exited $rc)"
  exit 1
fi
exit "$rc"
