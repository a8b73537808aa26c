#!/usr/bin/env bash
# PyTorch's Adam and AdamW pass their presets through the adapter, on both the
# single-tensor and the foreach path; identify names their conventions. (No
# timing is asserted: a loaded machine is no failure. The wall time is printed.)
# PyTorch 1.13 keeps state['step'] as a float32 tensor, so its step count
# stops at 2^24 (16777216 + 1 rounds back); the adapter states it in its hello
# ("step_counter=float32") and the check models that count. Nothing may fail.
# usage: check_torch.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
adapter="$python $src/adapters/torch/torch_adapter.py"

# The large case classes (2^20 elements, 10^4 steps: a minute through JSON and
# Python) run on one configuration; the other runs skip them. Every path x
# preset x dtype runs in the conformance matrix (tests/cli/conformance_matrix.sh,
# 10 cases); here the options given explicitly, the JUnit report and identify.
large_classes="large-tensors-agree-with-reference long-trajectory-agrees-with-reference"
for path in "" "--foreach"; do
  if [ -z "$path" ]; then runs=("pytorch-adamw float64 --maximize")
  else runs=("pytorch-adam float64 --amsgrad" "pytorch-adamw float32 --maximize +large"); fi
  for run in "${runs[@]}"; do
    set -- $run
    preset=$1 dtype=$2
    shift 2
    skips=()
    if [ "${*: -1}" = "+large" ]; then
      set -- "${@:1:$#-1}"
    else
      for p in $large_classes; do skips+=(--skip-property "$p"); done
    fi
    start=$(date +%s.%N)
    "$adamconf" check --impl "$adapter $path" --preset "$preset" --dtype "$dtype" "$@" "${skips[@]}" --junit "$tmp/junit.xml" \
      >"$tmp/out" 2>&1
    status=$?
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    what="torch $preset $dtype $* ${path:-single-tensor}${skips[*]:+ (large classes skipped)}"
    [ $status -eq 0 ] || { cat "$tmp/out"; fail "$what exits $status"; }
    grep -q 'failures="0"' "$tmp/junit.xml" || fail "the JUnit report shows failures"
    grep -q "step counter float32, as the adapter's hello states" "$tmp/out" || fail "$what: the header does not name the float32 step counter"
    echo "done: $what: $(tail -1 "$tmp/out") ($seconds s wall)"
  done
done

"$adamconf" identify --impl "$adapter" >"$tmp/out" 2>&1 || fail "identify exits non-zero: $(cat "$tmp/out")"
cat "$tmp/out"
awk '/^torch.optim.Adam \(/,/^$/' "$tmp/out" | grep -Eq "convention of: ([a-z0-9-]+, )*pytorch-adam[ ,]" || fail "identify does not name pytorch-adam for torch.optim.Adam"
awk '/^torch.optim.AdamW \(/,/^$/' "$tmp/out" | grep -Eq "convention of: ([a-z0-9-]+, )*pytorch-adamw[ ,]" || fail "identify does not name pytorch-adamw for torch.optim.AdamW"
grep -q "AMSGrad option: max over raw v" "$tmp/out" || fail "identify does not find PyTorch's AMSGrad over raw v"
grep -q "weight decay: L2 through the gradient" "$tmp/out" || fail "identify does not find Adam's L2 decay"
grep -q "weight decay: decoupled, theta (1 - lr wd), before the update" "$tmp/out" || fail "identify does not find AdamW's decay"
echo "torch: all checks passed"
