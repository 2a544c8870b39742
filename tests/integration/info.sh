#!/usr/bin/env bash
# apir-info over the test's transport (APIR_IT_TRANSPORT: socket, vtest, virtgpu; APIR_IT_ROUTE=1:
# on virglrenderer's Venus route, lib.sh):
#  - against a running host it lists every device the host serves, with the host's names and
#    the memory the host's CPU backend reports, the VM context's capset (10, or 4 routed), and
#    --json is well-formed with the same facts;
#  - with nothing reachable it exits 1 with exactly one line on stderr (nothing on stdout)
#    naming the cause: no socket, permission denied, protocol version mismatch (version_server,
#    a TEST DOUBLE host of another major), no virtio-gpu node; over vtest, a server without
#    the APIR capset;
#  - APIR_LOG filters the plugin's lines (through ggml's log callback) and apir-hostd's
#    (which name their session).
. "$(dirname "$0")/lib.sh"
tr=${APIR_IT_TRANSPORT:-socket}
proto_h="$(dirname "$0")/../../include/apir/protocol.h"
major=$(sed -n 's/^#define APIR_PROTO_MAJOR \([0-9]*\)/\1/p' "$proto_h")
minor=$(sed -n 's/^#define APIR_PROTO_MINOR \([0-9]*\)/\1/p' "$proto_h")
passed=0
fail() { echo "FAIL ($tr): $*"; exit 1; }
check() { if eval "$2"; then passed=$((passed + 1)); else fail "$1"; fi; }
info() { apir_guest "$APIR_BUILD/apir-info" "$@"; }

apir_start_host --device CPU
# What the host serves: apir-hostd says so; virglrenderer's context is given libggml-cpu.so.
if [ "$tr" = socket ]; then
  served=$(sed -n 's/^apir-hostd: serving device [0-9]*: //p' "$APIR_TMP/hostd.log")
else
  served=CPU
fi
n_served=$(echo "$served" | wc -l)
# ggml's CPU backend reports physical memory as total (and free): sysconf, as getconf reads it.
cpu_total=$(($(getconf _PHYS_PAGES) * $(getconf PAGESIZE)))

rc=0
info >"$APIR_TMP/out" 2>"$APIR_TMP/err" || rc=$?
cat "$APIR_TMP/out"
check "exit 0 with a host (rc $rc: $(cat "$APIR_TMP/err"))" '[ "$rc" = 0 ]'
check "transport named" 'grep -q "^transport *$tr, " "$APIR_TMP/out"'
# The VM context's capset: 4 on the Venus route (APIR_IT_ROUTE=1, lib.sh), else APIR's 10.
capset=null
if [ "$tr" != socket ]; then
  capset=10
  [ "${APIR_IT_ROUTE:-}" = 1 ] && capset=4
  check "capset $capset named" \
    'grep -Eq "^capset *$capset \((APIR|Venus, routed to APIR by VIRGL_ROUTE_VENUS_TO_APIR)\)$" "$APIR_TMP/out"'
else
  check "no capset over the socket" '! grep -q "^capset" "$APIR_TMP/out"'
fi
check "both protocol versions" \
  'grep -q "^protocol *host $major\.$minor, plugin $major\.$minor$" "$APIR_TMP/out"'
check "a round trip timed" 'grep -Eq "^round trip *[0-9.]+ us median of 16 calls" "$APIR_TMP/out"'
check "the device count the host serves ($n_served)" \
  'grep -q "^devices *$n_served$" "$APIR_TMP/out"'
i=0
while read -r name; do
  check "APIR$i is the host's $name" \
    'grep -A1 "^APIR$i: " "$APIR_TMP/out" | grep -q "^  on the host *$name ("'
  i=$((i + 1))
done <<<"$served"
check "CPU memory as the host's backend reports it ($cpu_total)" \
  'grep -q "^  memory .*($cpu_total / $cpu_total bytes)" "$APIR_TMP/out"'
check "buffer type with alignment and max size" \
  'grep -Eq "^  buffer type *APIR0: alignment [0-9]+, max size (unlimited|[0-9]+)" "$APIR_TMP/out"'

rc=0
info --json --calls 4 >"$APIR_TMP/json" 2>"$APIR_TMP/err" || rc=$?
check "--json exits 0" '[ "$rc" = 0 ]'
check "--json is well-formed JSON" '"$APIR_BUILD/tests/json_check" "$APIR_TMP/json"'
check "--json facts" 'grep -q "\"connected\": true" "$APIR_TMP/json" &&
  grep -q "\"transport\": \"$tr\"" "$APIR_TMP/json" &&
  grep -q "\"capset\": $capset," "$APIR_TMP/json" &&
  grep -q "\"protocol\": {\"plugin\": \"$major.$minor\", \"host\": \"$major.$minor\"}" "$APIR_TMP/json" &&
  grep -q "\"round_trip_us\": {\"calls\": 4," "$APIR_TMP/json" &&
  grep -q "\"host\": {\"name\": \"CPU\", " "$APIR_TMP/json" &&
  grep -q "\"memory_total\": $cpu_total," "$APIR_TMP/json" &&
  [ "$(grep -c "{\"name\": \"APIR[0-9]*\", \"description\"" "$APIR_TMP/json")" = "$n_served" ]'

# Nothing usable: exit 1, stdout empty, one line on stderr that says why. $1: a name for the
# case, $2: what the line must say; the rest: the command.
expect_diagnosis() {
  local what=$1 want=$2 rc=0
  shift 2
  "$@" >"$APIR_TMP/out" 2>"$APIR_TMP/err" || rc=$?
  cat "$APIR_TMP/err"
  check "$what: exit 1 (got $rc)" '[ "$rc" = 1 ]'
  check "$what: nothing on stdout" '[ ! -s "$APIR_TMP/out" ]'
  check "$what: exactly one line on stderr" '[ "$(wc -l <"$APIR_TMP/err")" = 1 ]'
  check "$what: the line says '$want'" 'grep -q "^apir-info: .*$want" "$APIR_TMP/err"'
}

if [ "$tr" = socket ]; then
  expect_diagnosis "missing socket" "no apir-hostd at $APIR_TMP/none.sock (No such file" \
    env APIR_SOCKET="$APIR_TMP/none.sock" "$APIR_BUILD/apir-info"
  rc=0
  APIR_SOCKET="$APIR_TMP/none.sock" "$APIR_BUILD/apir-info" --json >"$APIR_TMP/json" 2>/dev/null || rc=$?
  check "missing socket --json: exit 1, well-formed, says why" '[ "$rc" = 1 ] &&
    "$APIR_BUILD/tests/json_check" "$APIR_TMP/json" && grep -q "\"connected\": false" "$APIR_TMP/json" &&
    grep -q "\"error\": \"no APIR host reachable over socket: no apir-hostd at" "$APIR_TMP/json" &&
    grep -q "\"devices\": \[\]" "$APIR_TMP/json"'

  # A live listener behind a directory this user may not enter. Root passes any permission
  # check, so as root the tool runs without the capabilities that let it (uid unchanged).
  mkdir "$APIR_TMP/locked"
  "$APIR_BUILD/tests/silent_server" "$APIR_TMP/locked/apir.sock" 30 &
  locked=$!
  for _ in $(seq 1 50); do [ -S "$APIR_TMP/locked/apir.sock" ] && break; sleep 0.1; done
  chmod 000 "$APIR_TMP/locked"
  nocap=()
  [ "$(id -u)" = 0 ] && nocap=(setpriv --bounding-set=-dac_override,-dac_read_search)
  expect_diagnosis "permission denied" "permission denied connecting to apir-hostd" \
    env APIR_SOCKET="$APIR_TMP/locked/apir.sock" "${nocap[@]}" "$APIR_BUILD/apir-info"
  chmod 700 "$APIR_TMP/locked"
  kill "$locked" 2>/dev/null || true

  for mode in refuse 2.0; do
    "$APIR_BUILD/tests/version_server" "$APIR_TMP/v.sock" "$mode" 30 &
    vs=$!
    for _ in $(seq 1 50); do [ -S "$APIR_TMP/v.sock" ] && break; sleep 0.1; done
    want="protocol version mismatch: the host at $APIR_TMP/v.sock"
    [ "$mode" = 2.0 ] && want="$want speaks 2.0, this plugin $major.$minor"
    expect_diagnosis "version mismatch ($mode)" "$want" \
      env APIR_SOCKET="$APIR_TMP/v.sock" "$APIR_BUILD/apir-info"
    kill "$vs" 2>/dev/null || true
    rm -f "$APIR_TMP/v.sock"
  done

  # Not in a VM: the virtgpu transport finds no render node (no fake node preloaded here).
  expect_diagnosis "no virtio-gpu node" "over virtgpu: no virtio-gpu render node" \
    env APIR_TRANSPORT=virtgpu "$APIR_BUILD/apir-info"
elif [ "$tr" = vtest ]; then
  # A virgl_test_server whose APIR context is not running (no --venus): no capset 10.
  plain="$APIR_TMP/plain.sock"
  setsid "$VIRGL_BUILD_DIR/vtest/virgl_test_server" --no-virgl --socket-path "$plain" \
    >"$APIR_TMP/plain.log" 2>&1 &
  plain_pid=$!
  APIR_KILL_GROUPS+=("$plain_pid")
  for _ in $(seq 1 50); do [ -S "$plain" ] && break; sleep 0.1; done
  expect_diagnosis "no APIR capset" "over vtest: virgl_test_server at $plain has no APIR context" \
    env APIR_VTEST_SOCKET="$plain" "$APIR_BUILD/apir-info"
  kill -- -"$plain_pid" 2>/dev/null || true
fi

if [ "$tr" = socket ]; then
  # The plugin's lines through ggml's log callback (apir-info --verbose forwards them; a
  # stock program's default callback prints them), filtered by APIR_LOG.
  lines() { # APIR_LOG value, then the program: its 'ggml-apir: ' lines
    local lvl=$1
    shift
    APIR_LOG=$lvl GGML_BACKEND_PATH="$APIR_PLUGIN" apir_stock "$@" 2>&1 >/dev/null | grep 'ggml-apir: ' || true
  }
  v=("$APIR_BUILD/apir-info" --verbose --calls 0)
  check "default (warn): a working connection logs nothing" '[ -z "$(lines "" "${v[@]}")" ]'
  check "APIR_LOG=error: nothing either" '[ -z "$(lines error "${v[@]}")" ]'
  check "APIR_LOG=info: the one connected line" \
    '[ "$(lines info "${v[@]}" | grep -c "^ggml-apir: connected to $APIR_SOCKET over socket")" = 1 ] &&
     ! lines info "${v[@]}" | grep -q "^ggml-apir: APIR0: "'
  check "APIR_LOG=debug: the device lines too" \
    'lines debug "${v[@]}" | grep -q "^ggml-apir: APIR0: CPU (.*) via ggml-apir, alignment [0-9]*, max size"'
  check "a mistyped APIR_LOG is said once, and the default applies" \
    '[ "$(lines loud "${v[@]}")" = "ggml-apir: APIR_LOG=loud is none of error, warn, info, debug: ignored" ]'
  check "APIR_LOG=error still shows an error" \
    'APIR_SOCKET="$APIR_TMP/none.sock" lines error "${v[@]}" | grep -q "ggml-apir: no APIR devices: no apir-hostd"'
  check "a stock program (test-backend-ops, ggml's default callback) at info" \
    'lines info "$LLAMA_CPP_BIN/test-backend-ops" support -b APIR0 -o ADD | grep -q "ggml-apir: connected to"'
  check "... and at error" \
    '[ -z "$(lines error "$LLAMA_CPP_BIN/test-backend-ops" support -b APIR0 -o ADD)" ]'

  # apir-hostd's lines name their session; APIR_LOG filters them too.
  check "default (info): session lines with number and pid" \
    'grep -Eq "^apir-hostd: session [0-9]+ \(pid [0-9]+\): started" "$APIR_TMP/hostd.log"'
  check "... not debug ones" '! grep -q "handshake:" "$APIR_TMP/hostd.log"'
  kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
  HOSTD_PID=""
  for lvl in error debug; do
    APIR_LOG=$lvl apir_start_hostd --device CPU
    mv "$APIR_TMP/hostd.log" "$APIR_TMP/hostd.$lvl.log"
    "$APIR_BUILD/apir-info" --calls 0 >/dev/null 2>&1 || fail "no host at APIR_LOG=$lvl"
    kill "$HOSTD_PID"; wait "$HOSTD_PID" 2>/dev/null || true
    HOSTD_PID=""
  done
  check "apir-hostd at APIR_LOG=error: no line of a working session" \
    '! grep "apir-hostd: " "$APIR_TMP/hostd.error.log"'
  check "apir-hostd at APIR_LOG=debug: the handshake, named by its session" \
    'grep -Eq "^apir-hostd: session 1 \(pid [0-9]+\): handshake: guest protocol $major\.$minor" "$APIR_TMP/hostd.debug.log"'
fi
echo "info ($tr): $passed passed, 0 failed"
