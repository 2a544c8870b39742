#!/usr/bin/env bash
# Every model architecture llama.cpp can build runs through APIR: llama.cpp's own
# test-llama-archs builds a random-weight model of each architecture and compares its logits on
# every device with the local CPU's, then saves and reloads it. With apir-hostd serving the
# CPU, each architecture that runs on the local CPU must also run on APIR0 with the same
# result (NMSE <= 1e-4; 0 expected, the kernels are the same) and the same roundtrip verdict.
. "$(dirname "$0")/lib.sh"

# Fixed by default so a CI failure reproduces; APIR_ARCHS_SEED picks another model draw.
seed=${APIR_ARCHS_SEED:-20261124}
shim="$APIR_BUILD/tests/libapir_load_backends.so"
apir_start_host --device CPU

rc=0
LD_PRELOAD="$shim" apir_guest \
  "$LLAMA_CPP_BIN/test-llama-archs" -s "$seed" >"$APIR_TMP/archs.log" 2>&1 || rc=$?
sed 's/\x1b\[[0-9;]*m//g' "$APIR_TMP/archs.log" >"$APIR_TMP/archs.txt"

fail() { echo "FAIL: $*"; tail -30 "$APIR_TMP/archs.txt"; exit 1; }
[ "$rc" = 0 ] || fail "test-llama-archs exited with $rc (seed $seed)"
grep -q '^Summary: all [0-9]* test(s) passed' "$APIR_TMP/archs.txt" || fail "no passing summary"
if grep -q 'ggml-apir: ' "$APIR_TMP/archs.txt"; then
  grep 'ggml-apir: ' "$APIR_TMP/archs.txt" | sort | uniq -c | head
  fail "the APIR plugin logged errors (a refusal is a model that does not run)"
fi

# Rows: |arch|device|config|NMSE verdict (value)|roundtrip|. The local CPU row decides whether
# an architecture runs here; the APIR row must then agree with it.
awk -F'|' '
  function verdict(s) { gsub(/^ +| +$/, "", s); sub(/ .*/, "", s); return s }
  NF >= 6 && $4 ~ /(Dense|MoE)/ {
    key = $2 "|" $4
    if ($3 ~ /via ggml-apir/)      { apir_n[key] = verdict($5); apir_r[key] = verdict($6) }
    else if ($3 !~ /^ *Meta *$/)   { cpu_n[key] = verdict($5);  cpu_r[key] = verdict($6) }
  }
  END {
    passed = 0; failed = 0; skipped = 0
    for (k in cpu_n) {
      if (cpu_n[k] != "OK") { skipped++; continue }
      if (apir_n[k] == "OK" && apir_r[k] == cpu_r[k]) { passed++; continue }
      failed++
      printf "mismatch %s: cpu %s/%s, apir %s/%s\n", k, cpu_n[k], cpu_r[k], apir_n[k], apir_r[k]
    }
    printf "archs: %d passed, %d failed, %d skipped (not run on the local CPU either)\n",
      passed, failed, skipped
    exit (failed > 0 || passed < 100) ? 1 : 0
  }' "$APIR_TMP/archs.txt" || fail "an architecture that runs on the CPU did not run the same on APIR0"
