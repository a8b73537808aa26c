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
echo "golden CLI: all checks passed"
