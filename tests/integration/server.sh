#!/usr/bin/env bash
# llama-server end to end: stock llama-server with the APIR backend (-dev APIR0) against our
# host answers /completion with greedy sampling over loopback with the same text as a native
# llama-server, and 4 concurrent requests (4 slots) all complete with that text. HTTP is spoken
# with bash's /dev/tcp so that no client package is needed.
. "$(dirname "$0")/lib.sh"

model="$APIR_TMP/model-q8.gguf"
"$APIR_BUILD/apir-mkmodel" --out "$model" --type q8_0 >/dev/null
apir_start_host --device CPU

SERVER_PIDS=()
trap 'for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; apir_cleanup' EXIT

# http METHOD PORT PATH [BODY]: prints the response body; fails on no answer or non-200.
http() {
  local method=$1 port=$2 path=$3 body=${4:-} resp
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' "$method" "$path" >&3
  printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body" >&3
  resp=$(timeout 120 cat <&3) || { exec 3<&-; return 1; }
  exec 3<&-
  case "${resp%%$'\r'*}" in *" 200 "*) ;; *) echo "${resp%%$'\r'*}" >&2; return 1 ;; esac
  printf '%s' "${resp#*$'\r\n\r\n'}"
}

# start_server NAME PORT-FILE ARGS...: llama-server on a free port (tried until one binds).
start_server() {
  local name=$1; shift
  local port pid
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 30000))
    "$@" "$LLAMA_CPP_BIN/llama-server" -m "$model" --host 127.0.0.1 --port "$port" -np 4 \
      -c 2048 -t 2 --no-webui -lv 4 >"$APIR_TMP/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      if http GET "$port" /health >/dev/null 2>&1; then
        SERVER_PIDS+=("$pid")
        eval "${name}_port=$port"
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "FAIL: llama-server ($name) did not start"; tail -20 "$APIR_TMP/$name.log"; return 1
}

# The extra words before llama-server: environment for the APIR one.
start_server native env -u GGML_BACKEND_PATH LLAMA_ARG_DEVICE=none
start_server apir env GGML_BACKEND_PATH="$APIR_PLUGIN" LD_PRELOAD="$(apir_stock_preload ${APIR_GUEST_PRELOAD:-})" \
  LLAMA_ARG_DEVICE=APIR0 LLAMA_ARG_N_GPU_LAYERS=99
# The server logs through llama.cpp's asynchronous queue: its thread may write the line a little
# after /health answers when the machine is busy.
for _ in $(seq 1 100); do grep -q "APIR0 model buffer size" "$APIR_TMP/apir.log" && break; sleep 0.1; done
grep -q "APIR0 model buffer size" "$APIR_TMP/apir.log" || { echo "FAIL: llama-server did not use APIR0"; exit 1; }

# The generated text, from /completion's JSON "content" (escapes kept: compared as-is).
completion() { # PORT PROMPT
  local body="{\"prompt\":\"$2\",\"n_predict\":32,\"temperature\":0,\"top_k\":1,\"seed\":1,\"cache_prompt\":false}"
  http POST "$1" /completion "$body" | sed -n 's/.*"content":"\(\([^"\\]\|\\.\)*\)".*/\1/p'
}

failures=0
prompts=("Once upon a time" "The quick brown fox" "In a galaxy far away" "Hello world")
declare -A want
for p in "${prompts[@]}"; do
  want[$p]=$(completion "$native_port" "$p")
  [ -n "${want[$p]}" ] || { echo "FAIL: native server gave no text for '$p'"; exit 1; }
done
got=$(completion "$apir_port" "${prompts[0]}")
echo "native: ${want[${prompts[0]}]}"
echo "apir:   $got"
[ "$got" = "${want[${prompts[0]}]}" ] || { echo "FAIL: one request: text differs"; failures=1; }

# Four requests at once, one per slot.
# (waits for these four only: apir-hostd and the servers are children too)
pids=()
for i in 0 1 2 3; do
  completion "$apir_port" "${prompts[$i]}" >"$APIR_TMP/concurrent.$i" &
  pids+=($!)
done
wait "${pids[@]}"
for i in 0 1 2 3; do
  if [ "$(cat "$APIR_TMP/concurrent.$i")" = "${want[${prompts[$i]}]}" ]; then
    echo "ok: concurrent request $i"
  else
    echo "FAIL: concurrent request $i: '$(cat "$APIR_TMP/concurrent.$i")'"; failures=$((failures + 1))
  fi
done
kill -0 "${SERVER_PIDS[1]}" || { echo "FAIL: the APIR llama-server died"; failures=$((failures + 1)); }
[ "$failures" = 0 ] || { tail -30 "$APIR_TMP/apir.log"; echo "server: $failures failed"; exit 1; }
echo "server: passed"
