#!/usr/bin/env bash
# --impl torch:MODULE:CLASS[:ARGS]: any class with the torch.optim API, with
# no adapter written by the user: PyTorch's own Adam and AdamW on both paths,
# a user's class (its own names for the betas, no state export: those
# properties are skipped with the reason), a user's buggy class (fails), and
# a class or argument that does not exist (a one-line verdict).
# usage: check_torch_class.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
export ADAMCONF_PYTHON=$python PYTHONPATH=$src/tests/adapters
quick=(--cases 10 --skip-property large-tensors-agree-with-reference --skip-property long-trajectory-agrees-with-reference)
passes() {  # what, then check's arguments
  local what=$1
  shift
  "$adamconf" check "${quick[@]}" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "$what fails"; }
  echo "$what: $(tail -1 "$tmp/out")"
}
passes "torch.optim.AdamW, single-tensor, float32" --impl torch:torch.optim:AdamW --preset pytorch-adamw --dtype float32
grep -q "^adamconf check: torch.optim.AdamW (torch 1" "$tmp/out" || { head -2 "$tmp/out"; fail "the header does not name torch.optim.AdamW"; }
grep -qE '^  pass  trajectory-agrees-with-reference \[amsgrad\]' "$tmp/out" || fail "amsgrad, read from AdamW's signature, was not checked"
passes "torch.optim.Adam, foreach, float64" --impl torch:torch.optim:Adam:foreach=True --preset pytorch-adam --dtype float64
grep -q "foreach=True" "$tmp/out" || fail "the constructor argument foreach=True is not in the report"
grep -qE '^  pass  each-step-agrees-with-reference ' "$tmp/out" || fail "the state export (exp_avg, exp_avg_sq, step) was not found"

# The float32 step count is real: checked as an integer count, PyTorch fails
# where a case crosses 2^24, and the report says what the count was.
"$adamconf" check --impl torch:torch.optim:AdamW --preset pytorch-adamw --step-counter integer --cases 40 \
  --property large-step-counts-agree-with-reference >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q '^  FAIL  large-step-counts-agree-with-reference' "$tmp/out" &&
  grep -qE 'the exported step count is 16777216, expected 1677721[78]|from a state at step 1677721[4-7]$' "$tmp/out" ||
  { cat "$tmp/out"; fail "torch AdamW passes as an integer step count across 2^24"; }
echo "torch.optim.AdamW --step-counter integer: $(tail -1 "$tmp/out") (the float32 count found)"

passes "user_optimizers.PlainAdamW" --impl torch:user_optimizers:PlainAdamW --preset pytorch-adamw
grep -qE '^  skip  each-step-agrees-with-reference +needs state read/write' "$tmp/out" || fail "PlainAdamW's state is not PyTorch's, yet it was not skipped"
grep -qE '^  pass  structured-trajectory-agrees-with-reference ' "$tmp/out" || fail "parameter groups through beta1=/beta2= did not pass"

"$adamconf" check "${quick[@]}" --impl torch:user_optimizers:ForgetfulAdamW --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q '^  FAIL  trajectory-agrees-with-reference' "$tmp/out" || { cat "$tmp/out"; fail "the buggy class passes"; }
echo "user_optimizers.ForgetfulAdamW: $(tail -1 "$tmp/out")"

"$adamconf" check --impl torch:torch.optim:Nope --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "the adapter reported: torch:torch.optim:Nope: AttributeError: module 'torch.optim' has no attribute 'Nope'" "$tmp/out" ||
  { cat "$tmp/out"; fail "a missing class is not named"; }
"$adamconf" check --impl torch:torch.optim:AdamW:foreach=True,colour=1 --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "takes no argument 'colour'" "$tmp/out" || { cat "$tmp/out"; fail "an unknown constructor argument is not named"; }
"$adamconf" check --impl torch:AdamW --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "expected torch:MODULE:CLASS" "$tmp/out" || { cat "$tmp/out"; fail "torch:AdamW is not refused with the expected form"; }
echo "a missing class, an unknown argument and a malformed --impl: one-line verdicts"
