#!/usr/bin/env bash
# What an adapter's hello says it cannot do is honoured: a hyperparameter it
# fixes is never varied and the claims that need it varied are skipped with
# the reason; a request it refuses with {"error"} fails that property only.
# usage: held_and_refused.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
adapter="$python $src/tests/adapters/held_adapter.py"

# eps fixed at 1e-8: passes; gradient-scale-invariance is skipped with the reason; the header names the held value.
"$adamconf" check --impl "$adapter fixed-eps" --preset kingma-ba --dtype float64 --cases 20 >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "the fixed-eps adapter fails"; }
grep -qE '^  skip  gradient-scale-invariance +needs eps free to scale it, and the implementation fixes it at 1e-8$' "$tmp/out" ||
  { cat "$tmp/out"; fail "gradient-scale-invariance is not skipped with the reason"; }
grep -q 'held, as the implementation takes no other value: eps=1e-8' "$tmp/out" || { head -4 "$tmp/out"; fail "the header does not name the held eps"; }
grep -qE '^  pass  trajectory-agrees-with-reference ' "$tmp/out" || fail "the trajectory property did not run"
echo "fixed eps: $(tail -1 "$tmp/out")"

# Asking for another value of what it fixes is refused, in one line.
"$adamconf" check --impl "$adapter fixed-eps" --preset kingma-ba --dtype float64 --set eps=1e-6 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "fixes eps at 1e-8: --set eps=1e-6 cannot apply" "$tmp/out" || { cat "$tmp/out"; fail "--set eps against a fixed eps is not refused"; }

# identify probes with the fixed value, and says so.
"$adamconf" identify --impl "$adapter fixed-eps" --dtype float64 >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "identify fails on the fixed-eps adapter"; }
grep -q "it fixes eps at 1e-8: the probes use that value" "$tmp/out" || { cat "$tmp/out"; fail "identify does not say it probed with the fixed eps"; }

# A malformed fixed value is a one-line hello error.
"$adamconf" check --impl "$adapter bad-fixed" --preset kingma-ba --dtype float64 >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "\"hyperparameters\": 'eps=abc': the fixed value is not a decimal number" "$tmp/out" ||
  { cat "$tmp/out"; fail "a malformed fixed value is not named"; }

# Refusals fail their property, and the check goes on: no property is "not run".
"$adamconf" check --impl "$adapter refuse-state" --preset kingma-ba --dtype float64 --cases 10 \
  --skip-property large-tensors-agree-with-reference --skip-property long-trajectory-agrees-with-reference >"$tmp/out" 2>&1
[ $? -eq 1 ] || { cat "$tmp/out"; fail "refusals do not fail the check"; }
grep -qE '^  ERROR each-step-agrees-with-reference ' "$tmp/out" || { cat "$tmp/out"; fail "the refused property is not an ERROR"; }
grep -q "adapter reported: this optimizer cannot export or import a state" "$tmp/out" || fail "the refusal is not quoted"
grep -qi "not run" "$tmp/out" && { cat "$tmp/out"; fail "a refusal stopped the later properties"; }
grep -qE '^  pass  translation-invariance ' "$tmp/out" && grep -qE '^  pass  splitting-a-tensor-changes-no-value ' "$tmp/out" ||
  { cat "$tmp/out"; fail "the properties after a refusal did not run and pass"; }
echo "refusals: $(tail -1 "$tmp/out")"
# Two optimizers claiming the preset: the one offering --dtype is chosen; where none or both
# offer it, the choice is the user's, said in one line (exit 2).
"$adamconf" check --impl "$adapter per-dtype" --preset kingma-ba --dtype float64 --cases 5 \
  --property trajectory-agrees-with-reference --property each-step-agrees-with-reference >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "the optimizer offering float64 was not the one chosen"; }
grep -qE '^  pass  trajectory-agrees-with-reference ' "$tmp/out" || { cat "$tmp/out"; fail "the float64 optimizer's check did not pass"; }
"$adamconf" check --impl "$adapter per-dtype" --preset kingma-ba --dtype float16 --cases 5 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "several optimizers for preset kingma-ba (adam, adam-float32; none offers float16): name one with --optimizer" "$tmp/out" ||
  { cat "$tmp/out"; fail "two optimizers and neither offering the dtype is not refused in one line"; }
echo "one optimizer per dtype: chosen by --dtype"
echo "held and refused: all checks passed"
