#!/usr/bin/env bash
# The quantized-steps golden files against the real libraries (.venv): torchao's three low-bit AdamW classes
# pass theirs; bitsandbytes' CPU AdamW8bit passes theta and every block's scale, and fails only codes, its
# finding bnb-8bit-cpu-not-nearest (README, "Quantized states").
# usage: golden_quantized_peers.sh ADAMCONF SOURCE_DIR
source "$(dirname "$0")/common.sh" "$@"
traces="$src/golden/traces"
[ -x "$src/.venv/bin/python" ] || fail "$src/.venv is missing: scripts/install-deps.sh installs torchao and bitsandbytes there"
unset ADAMCONF_PYTHON  # torch: runs the .venv's Python, where torchao and bitsandbytes are
for pair in torchao-adamw8bit:AdamW8bit torchao-adamw4bit:AdamW4bit torchao-adamw-fp8:AdamWFp8; do
  preset=${pair%%:*}
  "$adamconf" golden check "$traces/$preset/float32-quantized-steps.json" --impl "torch:torchao.optim:${pair#*:}" \
    --start-timeout 300 --timeout 300 >"$tmp/out" 2>&1 || fail "torchao ${pair#*:} fails $preset's quantized steps: $(cat "$tmp/out")"
  grep -q "values compared" "$tmp/out" || fail "nothing compared: $(cat "$tmp/out")"
  echo "torchao ${pair#*:}: $(tail -1 "$tmp/out")"
done
"$adamconf" golden check "$traces/bitsandbytes-adamw8bit/float32-quantized-steps.json" \
  --impl torch:bitsandbytes.optim:AdamW8bit --start-timeout 300 --timeout 300 >"$tmp/out" 2>&1
[ $? -eq 1 ] || fail "bitsandbytes' CPU AdamW8bit was expected to fail its codes (bnb-8bit-cpu-not-nearest): $(cat "$tmp/out")"
! grep FAIL "$tmp/out" | grep -v "codes not acceptable" | grep -v "^FAIL: " ||
  fail "bitsandbytes fails more than codes: $(cat "$tmp/out")"
grep -q "codes not acceptable" "$tmp/out" || fail "no code failures reported: $(cat "$tmp/out")"
echo "bitsandbytes AdamW8bit: codes only ($(grep -c 'codes not acceptable' "$tmp/out") step rows), theta and scales pass"
echo "quantized golden peers: all checks passed"
