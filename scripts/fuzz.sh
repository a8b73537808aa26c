#!/usr/bin/env bash
# The fuzz campaign: every loader (golden and results files, adapter hello and
# answers, decimals, safetensors files, audit manifests and reports) under libFuzzer with AddressSanitizer and UBSan, a bounded
# number of inputs each, from the seed corpora in tests/fuzz/corpus/. Then the
# command itself on the inputs the fuzzer kept: every exit status must be 0,
# 1 or 2. A crash, a sanitizer report, an input slower than 10 s, or another
# exit status fails.   usage: scripts/fuzz.sh [INPUTS_PER_TARGET] (default 20000; scripts/test.sh runs 50000)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20000}
scripts/sanitize.sh --build-only
build=build-sanitize
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0
for target in golden_files:golden adapter_messages:adapter decimals:decimals safetensors:safetensors audit_files:audit; do
  name=${target%%:*} seeds=${target##*:}
  mkdir -p "$work/$seeds"
  cp tests/fuzz/corpus/"$seeds"/* "$work/$seeds/"
  start=$(date +%s)
  "$build/tests/fuzz/fuzz_$name" "$work/$seeds" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    -seed=1 -print_final_stats=1 >"$work/$name.log" 2>&1 || { tail -40 "$work/$name.log"; echo "fuzz: fuzz_$name FAILED"; exit 1; }
  done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$')
  total=$((total + done_runs))
  echo "fuzz: fuzz_$name: $done_runs inputs in $(( $(date +%s) - start )) s, corpus $(ls "$work/$seeds" | wc -l) files, no finding"
done
# The command on what the fuzzer kept: golden check, the results as both files.
checked=0
for f in $(ls "$work/golden" | head -300); do
  status=0
  timeout 60 "$build/adamconf" golden check "$work/golden/$f" --results "$work/golden/$f" >/dev/null 2>"$work/err" || status=$?
  case $status in
    0 | 1 | 2) ;;
    *) echo "fuzz: adamconf golden check $work/golden/$f exits $status: $(head -c 300 "$work/err")"; exit 1 ;;
  esac
  checked=$((checked + 1))
done
echo "fuzz: adamconf golden check on $checked kept inputs: every exit status 0, 1 or 2"
# The audit command on what the fuzzer kept: each kept safetensors input as both files of a step.
checked=0
for f in $(ls "$work/safetensors" | head -300); do
  printf '{"adamconf_audit": 1, "preset": "pytorch-adamw", "dtype": "float32", "before": "%s", "after": "%s"}' \
    "$work/safetensors/$f" "$work/safetensors/$f" >"$work/manifest.json"
  status=0
  timeout 60 "$build/adamconf" audit "$work/manifest.json" >/dev/null 2>"$work/err" || status=$?
  case $status in
    0 | 1 | 2) ;;
    *) echo "fuzz: adamconf audit of $work/safetensors/$f exits $status: $(head -c 300 "$work/err")"; exit 1 ;;
  esac
  checked=$((checked + 1))
done
echo "fuzz: adamconf audit on $checked kept safetensors inputs: every exit status 0, 1 or 2"
echo "fuzz: $total inputs across 5 loaders, no crash, hang or sanitizer report"
