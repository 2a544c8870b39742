#!/usr/bin/env bash
# A rootless container on a Linux host reaches apir-hostd with no VM and no virtio-gpu: only the
# daemon's socket is bind-mounted in. The guest runs in new user, mount, network and PID
# namespaces, as `podman run --network=none` runs a rootless container: its root is the host
# user (uid map "0 <host uid> 1"), its /tmp is its own, its model is its own copy, its network
# is loopback only, it is PID 1's child of its own PID namespace.
#  - generation through the bind-mounted socket equals native;
#  - the peer-credential rule holds across the user namespace: the daemon sees the host user,
#    the guest sees the daemon as its own root;
#  - another user's container, given the socket (file modes opened up, so that only the
#    peer-credential rule stands in the way), is refused by the daemon and gets no device.
# As root the host user is an unprivileged uid (setpriv), so nothing here runs with root's
# rights that a real rootless container would not have; as another user, that user.
set -euo pipefail
if [ "$(id -u)" = 0 ] && [ -z "${APIR_CT_PRIVATE:-}" ]; then
  # Root's files under /root (the pinned llama.cpp) are closed to other users: in a mount
  # namespace of this test only, /root is an open directory holding just .cache (the real one,
  # bound), so that the unprivileged host user can run the same binaries.
  exec env APIR_CT_PRIVATE=1 unshare --mount --propagation private -- bash -c '
    mount -t tmpfs -o mode=755 apir-ct /mnt && mkdir /mnt/cache &&
    mount --bind /root/.cache /mnt/cache && mount -t tmpfs -o mode=755 apir-ct /root &&
    mkdir /root/.cache && mount --bind /mnt/cache /root/.cache && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
passed=0
fail() { echo "FAIL: $*"; tail -n 20 "$APIR_TMP"/*.log 2>/dev/null || true; exit 1; }
check() { if eval "$2"; then passed=$((passed + 1)); else fail "$1"; fi; }
command -v unshare >/dev/null || fail "unshare (util-linux) is needed"

# Commands that run as the host user and as another user (arrays: the daemon is started
# through them directly, so that $! is the daemon).
if [ "$(id -u)" = 0 ]; then
  host_uid=4242
  other_uid=4343
  as_host=(setpriv --reuid=$host_uid --regid=$host_uid --clear-groups)
  as_other=(setpriv --reuid=$other_uid --regid=$other_uid --clear-groups)
else
  host_uid=$(id -u)
  other_uid=""
  as_host=(env)
fi
chmod 711 "$APIR_TMP"
hostdir="$APIR_TMP/host" # the host user's runtime directory
mkdir -m 700 "$hostdir"
[ "$(id -u)" = 0 ] && chown "$host_uid:$host_uid" "$hostdir"
sock="$hostdir/apir.sock"
model="$APIR_TMP/model.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null
chmod 644 "$model"
gen() { "$APIR_BUILD/apir-generate" -m "$1" -n 32 -t 1 "${@:2}"; }
native=$(gen "$model" -d none 2>/dev/null | sed -n 's/^tokens: //p')
[ -n "$native" ] || fail "no native tokens"

"${as_host[@]}" env -u GGML_BACKEND_PATH "$APIR_BUILD/apir-hostd" --device CPU --socket "$sock" \
  >"$APIR_TMP/hostd.log" 2>&1 &
HOSTD_PID=$!
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "apir-hostd did not start"
check "the daemon runs as the host user" '[ "$(stat -c %u /proc/$HOSTD_PID)" = "$host_uid" ]'

# The container: what runs inside, as its root. $1: the host socket to bind in; then the
# command. Its own tmpfs holds the model copy and the socket's mount point; then /tmp is
# covered, so the host's socket directory and this test's files are out of sight.
container() { # host|other, host-socket, command...
  local -n runner="as_$1"
  local hsock=$2
  shift 2
  "${runner[@]}" unshare --user --map-root-user --mount --net --pid --fork --mount-proc -- \
    bash -c '
      set -e
      mount -t tmpfs apir-ct /srv
      cp "$1" /srv/model.gguf
      touch /srv/apir.sock
      mount --bind "$2" /srv/apir.sock
      mount -t tmpfs apir-ct /tmp
      shift 2
      exec "$@"' container "$model" "$hsock" "$@"
}
inside() { # what a process in the container sees of itself
  echo "uid $(id -u) map $(tr -s " " <"/proc/self/uid_map" | sed "s/^ //")"
  echo "pid $$"
  echo "net $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
  echo "hostsock $([ -e "$1" ] && echo visible || echo hidden)"
}
export -f inside
out=$(container host "$sock" bash -c 'inside "$0"' "$sock")
echo "$out"
check "in the container: root mapped to the host user" 'echo "$out" | grep -qx "uid 0 map 0 $host_uid 1"'
check "... its own PID namespace" 'echo "$out" | grep -qx "pid 1"'
check "... loopback only" '[ "$(echo "$out" | sed -n "s/^net //p")" = "lo " ]'
check "... the host socket directory out of sight" 'echo "$out" | grep -qx "hostsock hidden"'

apir=$(container host "$sock" env APIR_SOCKET=/srv/apir.sock GGML_BACKEND_PATH="$APIR_PLUGIN" \
  "$APIR_BUILD/apir-generate" -m /srv/model.gguf -n 32 -t 1 -d APIR0 2>"$APIR_TMP/ct.err" |
  sed -n 's/^tokens: //p') || true
check "generation in the container equals native ($(head -c 300 "$APIR_TMP/ct.err"))" \
  '[ "$apir" = "$native" ]'
check "the daemon served uid $host_uid (the container's root)" \
  '! grep -q "refused a connection" "$APIR_TMP/hostd.log"'

if [ -n "$other_uid" ]; then
  # Another user's container, with the socket's modes opened so that the file system lets it
  # through: the daemon's SO_PEERCRED check is what must refuse it.
  chmod 755 "$hostdir"
  chmod 666 "$sock"
  out=$(container other "$sock" env APIR_SOCKET=/srv/apir.sock GGML_BACKEND_PATH="$APIR_PLUGIN" \
    APIR_TEST_FLUSH_ONLY=1 LD_PRELOAD="$(apir_stock_preload "$APIR_FLUSH_SHIM")" \
    "$LLAMA_CPP_BIN/llama-cli" --list-devices 2>&1) || fail "llama-cli in the other container: $out"
  chmod 700 "$hostdir"
  chmod 600 "$sock"
  echo "$out" | grep 'ggml-apir: ' || true
  check "another user's container gets no device" '! echo "$out" | grep -q "APIR[0-9]"'
  check "... its guest says why in one line" \
    '[ "$(echo "$out" | grep -c "ggml-apir: ")" = 1 ] && echo "$out" | grep -q "served by uid"'
  check "... and the daemon refused uid $other_uid" \
    'grep -q "refused a connection from uid $other_uid" "$APIR_TMP/hostd.log"'
else
  echo "(not root: the other user's container is not tried)"
fi
echo "container: $passed passed, 0 failed"
