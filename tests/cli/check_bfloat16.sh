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

"$adamconf" check --impl torch:torch.optim:AdamW --preset pytorch-adamw --dtype bfloat16 --cases 2 \
  --property long-trajectory-agrees-with-reference >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the long bfloat16 run fails"; }
grep -qE "^  skip  long-trajectory-agrees-with-reference nothing judged: every one of the [0-9]+ values compared had an error bound beyond bfloat16's largest finite value" "$tmp/out" ||
  { cat "$tmp/out"; fail "a long bfloat16 run whose bounds outgrow the format is not reported as nothing judged"; }

"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bfloat16 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "does not offer bfloat16 (it offers: float32 float64)" "$tmp/out" || { cat "$tmp/out"; fail "builtin:float in bfloat16 is not refused"; }
"$adamconf" check --impl builtin:float --preset pytorch-adamw --dtype bf16 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "expected float32, float64, bfloat16 or float16" "$tmp/out" || { cat "$tmp/out"; fail "an unknown dtype is not named"; }
echo "bfloat16: all checks passed"
