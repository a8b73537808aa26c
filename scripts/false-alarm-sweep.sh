#!/usr/bin/env bash
# The false-alarm sweep: correct implementations against their presets over
# random seeds. Every preset x float32/float64, and x bfloat16/float16 under
# every precision convention (storage, float32-opmath, master-weights,
# stochastic-rounding, kahan-summation), with the built-in float
# implementation, then PyTorch's Adam and AdamW on the single-tensor and
# foreach paths (float32, float64 and bfloat16), then every shipped adapter of
# scripts/conformance-matrix.sh (libtorch, TF.js, scikit-learn, dlib). A failure is printed with its replay line; the summary counts
# runs, properties and failures. Not part of the test suite (it takes a while);
# run it before a release or after touching the reference or the error model.
# SWEEP=state-formats runs the state-format part alone; SWEEP=peers runs the
# real peers of the conformance matrix alone (every row and dtype of
# scripts/conformance-matrix.rows, PEERS=REGEX to keep some libraries), one
# matrix run per round at a seed drawn and printed here.
# BUILD=DIR takes adamconf and the C++ adapters from DIR instead of build/ (a copy, so that a long
# sweep is not disturbed by rebuilding build/).
#   usage: scripts/false-alarm-sweep.sh [CASES] [ROUNDS]   (default 100 cases, 1 round)
set -uo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100}
rounds=${2:-1}
build=${BUILD:-build}
adamconf=$build/adamconf
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=0 properties=0 failed=0
check() {  # a description, then adamconf check's arguments
  local what=$1
  shift
  "$adamconf" check --seed random --cases "$cases" "$@" >"$work/out" 2>&1
  local status=$?
  runs=$((runs + 1))
  properties=$((properties + $(grep -cE '^  (pass|FAIL|ERROR) ' "$work/out")))
  if [ $status -ne 0 ]; then
    failed=$((failed + 1))
    echo "FAILED ($status): $what"
    grep -E '^  (FAIL|ERROR) |replay|--seed' "$work/out" | head -8
  fi
  echo "$what: $(tail -1 "$work/out")"
}
# State tensors in formats of their own (TransformerEngine FusedAdam's exp_avg_dtype): float32 states beside
# bfloat16 theta, bfloat16 states beside a float32 master of float16 theta, a bfloat16 v beside float32 theta.
state_formats() {
  for preset in $("$adamconf" presets | grep -E '^[a-z]' | awk '{print $1}'); do
    check "builtin:float $preset bfloat16 float32-opmath, float32 states" --impl builtin:float --preset "$preset" \
      --dtype bfloat16 --precision float32-opmath --state-format float32 --skip-property large-tensors-agree-with-reference
    check "builtin:float $preset float16 master-weights, bfloat16 states" --impl builtin:float --preset "$preset" \
      --dtype float16 --precision master-weights --state-format bfloat16 --skip-property large-tensors-agree-with-reference
    check "builtin:float $preset float32, bfloat16 v" --impl builtin:float --preset "$preset" --dtype float32 \
      --v-format bfloat16 --vmax-format bfloat16 --skip-property large-tensors-agree-with-reference
  done
  for path in "" "--foreach"; do
    for preset in pytorch-adam pytorch-adamw; do
      check "torch ${path:-single-tensor} master weights, bfloat16 states $preset bfloat16" \
        --impl "$python adapters/torch/torch_adapter.py $path --master-weights --state-format bfloat16" \
        --preset "$preset" --dtype bfloat16 --skip-property large-tensors-agree-with-reference
      check "torch ${path:-single-tensor} bfloat16 states $preset float32" \
        --impl "$python adapters/torch/torch_adapter.py $path --state-format bfloat16" \
        --preset "$preset" --dtype float32 --skip-property large-tensors-agree-with-reference
    done
  done
}
# The real peers: one matrix run per round at a seed drawn here (printed, so a failure replays with
# scripts/conformance-matrix.sh --seed S); a row counts as a false alarm when it fails without its documented
# finding, or errors; a finding that stops reproducing is counted too (the matrix fails on it).
peers() {
  local seed=$(( (RANDOM << 15 | RANDOM) + 1 ))
  scripts/conformance-matrix.sh --build "$build" --cases "$cases" --seed "$seed" --skip-property large-tensors-agree-with-reference \
    ${PEERS:+--library "$PEERS"} --out "$work/matrix.md" >"$work/matrix.log" 2>&1
  local status=$?
  local rows=$(grep -cE '^\| [^-]' "$work/matrix.md")
  local missing=$(grep -c '| not installed |' "$work/matrix.md")
  rows=$((rows - 1 - missing))  # the header, and rows whose library is not installed
  runs=$((runs + rows))
  properties=$((properties + $(awk -F'|' 'NR > 2 && $7 ~ /[0-9]+ \/ [0-9]+ \/ [0-9]+/ {split($7, c, "/"); n += c[1] + c[2] + c[3]} END {print n + 0}' "$work/matrix.md")))
  local bad=$(grep -E '^\| ' "$work/matrix.md" | grep -E '\| (FAIL \||ERROR|pass \(finding)' )
  if [ $status -ne 0 ] || [ -n "$bad" ]; then
    failed=$((failed + $(grep -c . <<< "${bad:-x}")))
    echo "FAILED: peers at --seed $seed (scripts/conformance-matrix.sh --seed $seed --cases $cases${PEERS:+ --library '$PEERS'})"
    echo "${bad:-$(tail -3 "$work/matrix.log")}"
  fi
  echo "peers at --seed $seed: $rows rows run ($missing not installed), matrix exit $status"
}
if [ "${SWEEP:-all}" = peers ]; then
  for round in $(seq "$rounds"); do peers; done
  echo "sweep: $runs runs of $cases cases per property, $properties property runs, $failed runs failed"
  [ "$failed" -eq 0 ]
  exit
fi
if [ "${SWEEP:-all}" = state-formats ]; then  # SWEEP=state-formats: that part alone
  for round in $(seq "$rounds"); do state_formats; done
  echo "sweep: $runs runs of $cases cases per property, $properties property runs, $failed runs failed"
  [ "$failed" -eq 0 ]
  exit
fi
for round in $(seq "$rounds"); do
  state_formats
  for preset in $("$adamconf" presets | grep -E '^[a-z]' | awk '{print $1}'); do
    for dtype in float32 float64; do
      check "builtin:float $preset $dtype" --impl builtin:float --preset "$preset" --dtype "$dtype"
    done
    # The storage formats under both precision conventions (the large classes take minutes in StorageFloat).
    for dtype in bfloat16 float16; do
      for precision in storage float32-opmath master-weights stochastic-rounding kahan-summation; do
        check "builtin:float $preset $dtype $precision" --impl builtin:float --preset "$preset" --dtype "$dtype" \
          --precision "$precision" --skip-property large-tensors-agree-with-reference
      done
    done
  done
  for path in "" "--foreach"; do
    for preset in pytorch-adam pytorch-adamw; do
      for dtype in bfloat16 float16; do  # PyTorch's optimizers on a float32 master, the copy master.to(dtype)
        check "torch ${path:-single-tensor} master weights $preset $dtype" \
          --impl "$python adapters/torch/torch_adapter.py $path --master-weights" \
          --preset "$preset" --dtype "$dtype" --skip-property large-tensors-agree-with-reference
      done
      for dtype in float32 float64 bfloat16; do
        # The 2^20-element class through JSON and Python takes minutes; check_torch.sh runs it.
        check "torch ${path:-single-tensor} $preset $dtype" --impl "$python adapters/torch/torch_adapter.py $path" \
          --preset "$preset" --dtype "$dtype" --skip-property large-tensors-agree-with-reference
      done
    done
  done
  lib=build/adapters/libtorch/libadamconf_libtorch_adam.so
  for dtype in float32 float64; do
    check "libtorch Adam $dtype" --impl "lib:$lib" --optimizer torch::optim::Adam --preset pytorch-adam --dtype "$dtype"
    check "libtorch AdamW $dtype" --impl "lib:$lib" --optimizer torch::optim::AdamW --preset pytorch-adamw --dtype "$dtype"
    check "sklearn $dtype" --impl "$python adapters/sklearn/sklearn_adapter.py" --preset sklearn-adam --dtype "$dtype" \
      --skip-property large-tensors-agree-with-reference
  done
  check "tfjs float32" --impl "node adapters/tfjs/adapter.js" --preset tfjs-adam --skip-property large-tensors-agree-with-reference
  check "dlib float32" --impl lib:build/adapters/dlib/libadamconf_dlib_adam.so --preset dlib-adam
done
echo "sweep: $runs runs of $cases cases per property, $properties property runs, $failed runs failed"
[ "$failed" -eq 0 ]
