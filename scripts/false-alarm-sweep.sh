#!/usr/bin/env bash
# The false-alarm sweep: correct implementations against their presets over
# random seeds. Every preset x float32/float64 with the built-in float
# implementation, then PyTorch's Adam and AdamW on the single-tensor and
# foreach paths. A failure is printed with its replay line; the summary counts
# runs, properties and failures. Not part of the test suite (it takes a while);
# run it before a release or after touching the reference or the error model.
#   usage: scripts/false-alarm-sweep.sh [CASES] [ROUNDS]   (default 100 cases, 1 round)
set -uo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100}
rounds=${2:-1}
adamconf=build/adamconf
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=0 properties=0 failed=0 known=0
check() {  # a description, then adamconf check's arguments
  local what=$1
  shift
  "$adamconf" check --seed random --cases "$cases" "$@" >"$work/out" 2>&1
  local status=$?
  runs=$((runs + 1))
  properties=$((properties + $(grep -cE '^  (pass|FAIL|ERROR) ' "$work/out")))
  if [ $status -eq 1 ] && [[ $what == torch* ]] && [ "$(grep -cE '^  (FAIL|ERROR) ' "$work/out")" -eq 1 ] &&
    grep -qE '^  FAIL  large-step-counts-agree-with-reference' "$work/out" &&
    grep -qE 'from a state at step 1677721[4-7]$' "$work/out"; then
    known=$((known + 1))  # PyTorch 1.13's float32 state['step'] stops at 2^24: a true finding
    echo "known finding: $what: the float32 step count stops at 2^24"
  elif [ $status -ne 0 ]; then
    failed=$((failed + 1))
    echo "FAILED ($status): $what"
    grep -E '^  (FAIL|ERROR) |replay|--seed' "$work/out" | head -8
  fi
  echo "$what: $(tail -1 "$work/out")"
}
for round in $(seq "$rounds"); do
  for preset in $("$adamconf" presets | grep -E '^[a-z]' | awk '{print $1}'); do
    for dtype in float32 float64; do
      check "builtin:float $preset $dtype" --impl builtin:float --preset "$preset" --dtype "$dtype"
    done
  done
  for path in "" "--foreach"; do
    for preset in pytorch-adam pytorch-adamw; do
      for dtype in float32 float64; do
        # The 2^20-element class through JSON and Python takes minutes; check_torch.sh runs it.
        check "torch ${path:-single-tensor} $preset $dtype" --impl "$python adapters/python/torch_adapter.py $path" \
          --preset "$preset" --dtype "$dtype" --skip-property large-tensors-agree-with-reference
      done
    done
  done
done
echo "sweep: $runs runs of $cases cases per property, $properties property runs, $failed runs failed," \
  "$known with only PyTorch's known 2^24 step-count finding"
[ "$failed" -eq 0 ]
