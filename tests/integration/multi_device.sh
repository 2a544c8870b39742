#!/usr/bin/env bash
# Several host devices behind one APIR connection, one of them a ggml-rpc device: the host
# serves its CPU and the devices of a real ggml-rpc-server on 127.0.0.1 (chaining to a ggml-rpc
# cluster). Stock llama-completion splits the model over APIR0,APIR1 and its greedy text must
# equal the native run's. Also: the device options' errors are clear and fail at start.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model-q8.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null

RPC_PID=""
# A free port is found by trying: ggml-rpc-server exits when it cannot bind.
start_rpc_server() {
  local port
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 30000))
    "$LLAMA_CPP_BIN/ggml-rpc-server" -H 127.0.0.1 -p "$port" -t 1 >"$APIR_TMP/rpc.log" 2>&1 &
    RPC_PID=$!
    for _ in $(seq 1 50); do
      kill -0 "$RPC_PID" 2>/dev/null || break
      # Our server must be the one that accepts: a foreign listener on the port would
      # otherwise pass for it (ggml-rpc-server binds only after loading its backends).
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        for _ in $(seq 1 20); do
          grep -q "Accepted client connection" "$APIR_TMP/rpc.log" && { RPC_PORT=$port; return 0; }
          sleep 0.05
        done
        break
      fi
      sleep 0.1
    done
    kill "$RPC_PID" 2>/dev/null || true
    wait "$RPC_PID" 2>/dev/null || true
  done
  echo "FAIL: ggml-rpc-server did not start"; cat "$APIR_TMP/rpc.log"; return 1
}
trap 'kill "$RPC_PID" 2>/dev/null || true; apir_cleanup' EXIT
start_rpc_server
echo "ggml-rpc-server on 127.0.0.1:$RPC_PORT"

# Runs stock llama-completion greedily; stdout: the text. llama-completion writes the text
# through llama.cpp's log queue, which upstream never drains at exit: under load its tail was
# lost (2 of 8 runs beside two busy processes). The flush shim (lib.sh) drains it.
complete() {
  apir_flushed "$LLAMA_CPP_BIN/llama-completion" -m "$model" -p "Once upon a time" -n 32 \
    --temp 0 -no-cnv -t 2 -lv 4 "$@"
}

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Start-up errors: each option mistake ends apir-hostd with one clear line, before listening.
if [ "${APIR_IT_TRANSPORT:-socket}" = socket ]; then
  hostd_error() { # expected message, then apir-hostd arguments
    local want=$1; shift
    if env -u GGML_BACKEND_PATH timeout 60 "$APIR_BUILD/apir-hostd" \
        --socket "$APIR_TMP/err.sock" "$@" >"$APIR_TMP/err.log" 2>&1; then
      fail "apir-hostd $* started"
    elif ! grep -q "$want" "$APIR_TMP/err.log"; then
      fail "apir-hostd $*: no '$want'"; cat "$APIR_TMP/err.log"
    else
      echo "ok: apir-hostd $* -> $(grep "$want" "$APIR_TMP/err.log" | head -1)"
    fi
  }
  hostd_error "no servable ggml device named NOPE" --device NOPE
  hostd_error "named twice" --device CPU --device CPU
  hostd_error "no servable ggml device named RPC0" --device RPC0
  # A closed port: ggml-rpc aborts inside the start-up probe, which says so.
  closed=$((RPC_PORT == 65000 ? 65001 : 65000))
  hostd_error "unreachable --rpc server" --rpc "127.0.0.1:$closed"
fi

native=$(complete -dev none 2>"$APIR_TMP/native.err") || { cat "$APIR_TMP/native.err"; exit 1; }
echo "native: $native"
[ -n "$native" ] || { echo "FAIL: no native text"; exit 1; }

if [ "${APIR_IT_TRANSPORT:-socket}" = socket ]; then
  apir_start_host --device CPU --rpc "127.0.0.1:$RPC_PORT"
  grep -q "serving device 0: CPU" "$APIR_TMP/hostd.log" &&
    grep -q "serving device 1: RPC0" "$APIR_TMP/hostd.log" ||
    fail "apir-hostd does not serve CPU then RPC0: $(cat "$APIR_TMP/hostd.log")"
else
  # virglrenderer's APIR context reads the same choice from its config (environment here).
  export APIR_HOST_DEVICE=CPU APIR_HOST_RPC="127.0.0.1:$RPC_PORT"
  apir_start_host
fi

err="$APIR_TMP/apir.err"
apir=$(apir_guest complete -dev APIR0,APIR1 -ngl 99 2>"$err") || { cat "$err"; exit 1; }
echo "apir:   $apir"
[ "$apir" = "$native" ] || fail "greedy text over APIR0,APIR1 differs from native"
# The split really used both remote devices: llama.cpp put weights on each.
for d in APIR0 APIR1; do
  size=$(sed -n "s/.*load_tensors: *$d model buffer size = *\([0-9.]*\) MiB.*/\1/p" "$err")
  if [ -z "$size" ] || [ "$size" = 0.00 ]; then
    fail "no model weights on $d"; grep -n "buffer size\|APIR" "$err" | head -20
  else
    echo "ok: $d holds $size MiB of weights"
  fi
done
grep -q "Accepted client connection" "$APIR_TMP/rpc.log" || fail "ggml-rpc-server saw no client"
[ "$failures" = 0 ] || { echo "multi_device: $failures failed"; exit 1; }
echo "multi_device: passed"
