#!/usr/bin/env bash
# adamconf golden from the command line: exit codes, what verify names, one-line errors.
# usage: golden_cli.sh ADAMCONF SOURCE_DIR
source "$(dirname "$0")/common.sh" "$@"

"$adamconf" golden verify --dir "$src/golden/traces" >"$tmp/out" 2>"$tmp/err" ||
  fail "verify of the committed files exits non-zero: $(cat "$tmp/out")"
grep -q "match the reference" "$tmp/out" || fail "verify does not say the files match"

# One digit changed: exit 1, the file, its line and the field named.
cp -r "$src/golden/traces" "$tmp/traces"
perl -0pi -e 's/(\{"t":3,"theta":\["-?\d\.)(\d)/$1.($2 == 9 ? 0 : $2 + 1)/e' "$tmp/traces/keras-adamw/float64-eps-regime.json"
"$adamconf" golden verify --dir "$tmp/traces" >"$tmp/out" 2>"$tmp/err"
status=$?
[ $status -eq 1 ] || fail "verify after an edit exits $status, expected 1"
grep -q 'keras-adamw/float64-eps-regime.json:[0-9]*: trace\[2\].theta\[0\]: committed' "$tmp/out" ||
  fail "verify does not name the edited file and field: $(cat "$tmp/out")"
echo "verify after a one-digit edit: $(head -1 "$tmp/out")"

# Malformed input: exit 2 and exactly one line on stderr naming the file and field.
head -c 500 "$src/golden/traces/kingma-ba/float32-random.json" >"$tmp/truncated.json"
sed 's/"elements": 3/"elements": "three"/' "$src/golden/traces/kingma-ba/float32-random.json" >"$tmp/elements.json"
echo '{"format": "adamconf-results/1", "golden": "kingma-ba/float32-random", "theta": [[1, 2]]}' >"$tmp/results.json"
for broken in truncated elements; do
  "$adamconf" golden check "$tmp/$broken.json" --results "$tmp/results.json" >"$tmp/out" 2>"$tmp/err"
  status=$?
  [ $status -eq 2 ] || fail "check of a $broken file exits $status, expected 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "check of a $broken file: expected one line on stderr, got: $(cat "$tmp/err")"
  grep -q "adamconf: error: $tmp/$broken.json" "$tmp/err" || fail "the error does not name the file: $(cat "$tmp/err")"
  echo "$broken: $(cat "$tmp/err")"
done
grep -q 'elements: expected an integer' <("$adamconf" golden check "$tmp/elements.json" --results "$tmp/results.json" 2>&1) ||
  fail "the error does not name the field"

# Results of the wrong shape: exit 2 with what is wrong.
"$adamconf" golden check "$src/golden/traces/kingma-ba/float32-random.json" --results "$tmp/results.json" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] || fail "results with 1 step for a 12-step file must exit 2"
echo "wrong shape: $(cat "$tmp/err")"
# A quantized-steps file, run through --impl: builtin:float passes it; one code moved fails, naming block and element.
quantized="$src/golden/traces/bitsandbytes-adamw8bit/float32-quantized-steps.json"
"$adamconf" golden check "$quantized" --impl builtin:float --save-results "$tmp/q.json" >"$tmp/out" 2>&1 ||
  fail "builtin:float fails the quantized-steps file: $(cat "$tmp/out")"
grep -q "one step from each given quantized state): [1-9][0-9]* values compared" "$tmp/out" || fail "no count: $(cat "$tmp/out")"
grep -q '"m_codes":\[\[[0-9]' "$tmp/q.json" || fail "the saved results hold no m codes"
"$adamconf" golden check "$quantized" --results "$tmp/q.json" >"$tmp/out" 2>&1 || fail "the saved results fail: $(cat "$tmp/out")"
perl -pi -e 's/"m_codes":\[\[(\d+)/'"'"'"m_codes":[['"'"'.(($1 + 128) % 256)/e' "$tmp/q.json"
"$adamconf" golden check "$quantized" --results "$tmp/q.json" >"$tmp/out" 2>&1
[ $? -eq 1 ] || fail "a code moved by 128 must fail: $(cat "$tmp/out")"
grep -q "m codes .* 1 codes not acceptable; first: block 0 element 0 => code [0-9]*  expected code" "$tmp/out" ||
  fail "the failure does not name block, element and codes: $(cat "$tmp/out")"
echo "quantized steps, one code moved: $(grep FAIL "$tmp/out" | head -1)"
# --results and --impl together, or neither: exit 2, one line.
for args in "--results $tmp/q.json --impl builtin:float" ""; do
  "$adamconf" golden check "$quantized" $args >"$tmp/out" 2>"$tmp/err"
  status=$?
  [ $status -eq 2 ] || fail "golden check with '$args' exits $status, expected 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "golden check with '$args': expected one line, got: $(cat "$tmp/err")"
  echo "golden check '$args': $(cat "$tmp/err")"
done
echo "golden CLI: all checks passed"
