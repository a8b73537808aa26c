#!/usr/bin/env bash
# PyTorch's Adam and AdamW pass their presets through the adapter, on both the
# single-tensor and the foreach path; identify names their conventions. (No
# timing is asserted: a loaded machine is no failure. The wall time is printed.)  usage: check_torch.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
adapter="$python $src/adapters/python/torch_adapter.py"

for path in "" "--foreach"; do
  for run in "pytorch-adam float32" "pytorch-adam float64 --amsgrad" "pytorch-adamw float32 --maximize" "pytorch-adamw float64"; do
    set -- $run
    preset=$1 dtype=$2
    shift 2
    start=$(date +%s.%N)
    "$adamconf" check --impl "$adapter $path" --preset "$preset" --dtype "$dtype" "$@" --junit "$tmp/junit.xml" >"$tmp/out" 2>&1
    status=$?
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    [ $status -eq 0 ] || { cat "$tmp/out"; fail "torch $preset $dtype $* ${path:-single-tensor} exits $status"; }
    grep -q 'failures="0"' "$tmp/junit.xml" || fail "the JUnit report shows failures"
    echo "pass: torch $preset $dtype $* ${path:-single-tensor}: $(tail -1 "$tmp/out") ($seconds s wall)"
  done
done

"$adamconf" identify --impl "$adapter" >"$tmp/out" 2>&1 || fail "identify exits non-zero: $(cat "$tmp/out")"
cat "$tmp/out"
awk '/^torch.optim.Adam \(/,/^$/' "$tmp/out" | grep -q "convention of: pytorch-adam (" || fail "identify does not name pytorch-adam for torch.optim.Adam"
awk '/^torch.optim.AdamW \(/,/^$/' "$tmp/out" | grep -q "convention of: pytorch-adamw (" || fail "identify does not name pytorch-adamw for torch.optim.AdamW"
grep -q "AMSGrad option: max over raw v" "$tmp/out" || fail "identify does not find PyTorch's AMSGrad over raw v"
grep -q "weight decay: L2 through the gradient" "$tmp/out" || fail "identify does not find Adam's L2 decay"
grep -q "weight decay: decoupled, theta (1 - lr wd), before the update" "$tmp/out" || fail "identify does not find AdamW's decay"
echo "torch: all checks passed"
