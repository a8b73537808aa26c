#!/usr/bin/env bash
# bfloat16 storage: PyTorch 1.13's CPU bfloat16 Adam and AdamW pass under the
# precision convention they follow (every operation rounded to bfloat16,
# scalar operands in bfloat16 or float32); a planted bug fails in bfloat16; a
# property whose bounds all outgrow the format is skipped as "nothing judged",
# not passed; an implementation without bfloat16 is told so.
# usage: check_bfloat16.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
export ADAMCONF_PYTHON=$python PYTHONPATH=$src/tests/adapters
quick=(--dtype bfloat16 --cases 10 --skip-property large-tensors-agree-with-reference --skip-property long-trajectory-agrees-with-reference)
for spec in "torch:torch.optim:AdamW pytorch-adamw" "torch:torch.optim:Adam pytorch-adam" "torch:torch.optim:Adam:foreach=True pytorch-adam"; do
  set -- $spec
  "$adamconf" check "${quick[@]}" --impl "$1" --preset "$2" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "$1 fails in bfloat16"; }
  grep -q "as $2 --step-counter float32, bfloat16" "$tmp/out" || { head -3 "$tmp/out"; fail "the header does not name bfloat16"; }
  echo "$1 bfloat16: $(tail -1 "$tmp/out")"
done

"$adamconf" check "${quick[@]}" --impl torch:user_optimizers:ForgetfulAdamW --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q '^  FAIL  trajectory-agrees-with-reference' "$tmp/out" || { cat "$tmp/out"; fail "the buggy class passes in bfloat16"; }
echo "ForgetfulAdamW bfloat16: $(tail -1 "$tmp/out")"

# A long bfloat16 run: PyTorch forms 1 - beta and 1 - beta^t in double (complements_in_double), so
# its early steps stay judged and pass; under Kingma & Ba's convention a storage implementation may
# hold beta2 = 0.999 as 1, every accumulated bound outgrows the format, and the property is skipped
# as "nothing judged", not passed.
"$adamconf" check --impl torch:torch.optim:AdamW --preset pytorch-adamw --dtype bfloat16 --cases 2 \
  --property long-trajectory-agrees-with-reference >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the long bfloat16 run fails"; }
grep -qE "^  pass  long-trajectory-agrees-with-reference .*, [0-9]+ of [0-9]+ values with a bound beyond the format \(not judged\)" "$tmp/out" ||
  { cat "$tmp/out"; fail "PyTorch's long bfloat16 run does not pass with part of it judged"; }
"$adamconf" check --impl builtin:float --preset kingma-ba --dtype bfloat16 --cases 2 \
  --property long-trajectory-agrees-with-reference >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the long kingma-ba bfloat16 run fails"; }
grep -qE "^  skip  long-trajectory-agrees-with-reference nothing judged: every one of the [0-9]+ values compared had an error bound beyond bfloat16's largest finite value" "$tmp/out" ||
  { cat "$tmp/out"; fail "a long bfloat16 run whose bounds outgrow the format is not reported as nothing judged"; }

# builtin:float computes bfloat16 under both precision conventions and passes both;
# PyTorch CPU (every operation rounded to bfloat16, scalars like 0.9 rounded too)
# must fail float32-opmath, whose hyperparameters are float32.
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bfloat16 --precision float32-opmath --cases 10 >"$tmp/out" 2>&1
[ $? -eq 0 ] && grep -q "pytorch-adamw --precision float32-opmath, bfloat16" "$tmp/out" || { cat "$tmp/out"; fail "builtin:float float32-opmath bfloat16 does not pass"; }
"$adamconf" check --impl torch:torch.optim:AdamW --preset pytorch-adamw --dtype bfloat16 --precision float32-opmath \
  --cases 10 --property each-step-agrees-with-reference >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "FAIL  each-step-agrees-with-reference" "$tmp/out" || { cat "$tmp/out"; fail "PyTorch CPU bfloat16 passes float32-opmath"; }
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bfloat16 --precision fused >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "expected storage, float32-opmath, master-weights, stochastic-rounding, kahan-summation, storage-kahan or promoted" "$tmp/out" || { cat "$tmp/out"; fail "--precision fused is not refused"; }

# Master weights: PyTorch's AdamW stepping a float32 master, its bfloat16 copy
# master.to(bfloat16), passes; compared in float32 ulps, the copy bit for bit.
"$adamconf" check "${quick[@]}" --impl "$python $src/adapters/torch/torch_adapter.py --master-weights" --preset pytorch-adamw \
  --property trajectory-agrees-with-reference --property structured-trajectory-agrees-with-reference >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "torch AdamW with float32 master weights fails master-weights"; }
grep -q "errors in ulps of float32 (the master weights; the bfloat16 copy is compared bit for bit)" "$tmp/out" &&
  grep -q "precision master-weights, as the adapter's hello states" "$tmp/out" || { head -5 "$tmp/out"; fail "the header does not say master weights"; }
# An adapter that answers master-weights without the copy is told so, in one line.
"$adamconf" check --impl torch:torch.optim:AdamW --preset pytorch-adamw --dtype bfloat16 --precision master-weights --cases 2 \
  --property trajectory-agrees-with-reference >"$tmp/out" 2>&1
[ $? -ne 0 ] && grep -q "steps of theta_copy for .* (master-weights needs the model copy every step)" "$tmp/out" ||
  { cat "$tmp/out"; fail "a master-weights answer without theta_copy is not named"; }
# Stochastic rounding: builtin:float passes the binomial property (the mutant zoo has the ones that fail).
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bfloat16 --precision stochastic-rounding --cases 10 \
  --property stochastic-rounding-rounds-up-in-proportion --property trajectory-agrees-with-reference >"$tmp/out" 2>&1 &&
  grep -q "^  pass  stochastic-rounding-rounds-up-in-proportion 10 cases" "$tmp/out" || { cat "$tmp/out"; fail "builtin:float fails stochastic-rounding"; }
# Kahan summation: the states carry the compensation, theta + compensation is compared.
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bfloat16 --precision kahan-summation --cases 10 \
  --property each-step-agrees-with-reference --property resume-equals-uninterrupted >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "builtin:float fails kahan-summation"; }
# identify names a convention the hello states, and checks it against a probe.
"$adamconf" identify --impl "$python $src/adapters/torch/torch_adapter.py --master-weights" --dtype bfloat16 >"$tmp/out" 2>&1 &&
  grep -q "precision: master-weights, as its hello states (the probe fits it" "$tmp/out" ||
  { cat "$tmp/out"; fail "identify does not name master weights"; }
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bf16 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "expected float32, float64, bfloat16 or float16" "$tmp/out" || { cat "$tmp/out"; fail "an unknown dtype is not named"; }
# State formats: float32 m and v beside bfloat16 theta (builtin:float), bfloat16 states beside PyTorch's float32
# master (stated in the hello), each value compared in its own format; a float32 state under storage arithmetic is refused.
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bfloat16 --precision float32-opmath --state-format float32 \
  --cases 10 --property each-step-agrees-with-reference --property structured-trajectory-agrees-with-reference >"$tmp/out" 2>&1 &&
  grep -q "errors in ulps of bfloat16; m in float32, v in float32, vmax in float32" "$tmp/out" ||
  { cat "$tmp/out"; fail "builtin:float with float32 states fails, or the header does not name the state formats"; }
"$adamconf" check "${quick[@]}" --impl "$python $src/adapters/torch/torch_adapter.py --master-weights --state-format bfloat16" \
  --preset pytorch-adamw --property each-step-agrees-with-reference --property resume-equals-uninterrupted >"$tmp/out" 2>&1 &&
  grep -q "state formats m=bfloat16, v=bfloat16, vmax=bfloat16, as the adapter's hello states" "$tmp/out" ||
  { cat "$tmp/out"; fail "torch AdamW with a float32 master and bfloat16 states fails, or the hello's state formats are not named"; }
"$adamconf" check --impl builtin:float --preset pytorch-adam --dtype bfloat16 --state-format float32 --cases 2 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "m in float32 is wider than the bfloat16 arithmetic of bfloat16 under precision storage: not modelled" "$tmp/out" &&
  [ "$(wc -l <"$tmp/out")" -eq 1 ] || { cat "$tmp/out"; fail "a float32 state under storage arithmetic is not refused in one line"; }
"$adamconf" identify --impl "$python $src/adapters/torch/torch_adapter.py --master-weights --state-format bfloat16" --dtype bfloat16 >"$tmp/out" 2>&1 &&
  grep -q "state formats: m=bfloat16, v=bfloat16, vmax=bfloat16, as its hello states" "$tmp/out" ||
  { cat "$tmp/out"; fail "identify does not name the state formats"; }
echo "bfloat16: all checks passed"
