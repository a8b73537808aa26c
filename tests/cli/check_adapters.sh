#!/usr/bin/env bash
# adamconf check against adapters that are wrong or misbehave: a readable
# failure report, a one-line verdict, and never a hang.
# usage: check_adapters.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"

# The minimal adapter passes.
"$adamconf" check --impl "$python $src/adapters/template/minimal_adapter.py" --preset kingma-ba --dtype float64 >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "the minimal adapter fails"; }
echo "minimal adapter: $(tail -1 "$tmp/out")"

# A planted bug: exit 1, a report naming the property, the claim, the values in ulps, the inputs, the replay.
"$adamconf" check --impl "$python $src/tests/adapters/buggy_adapter.py" --preset kingma-ba --dtype float64 \
  --junit "$tmp/junit.xml" --json "$tmp/report.json" >"$tmp/out" 2>&1
[ $? -eq 1 ] || fail "the buggy adapter does not fail the check"
grep -qE -- "expected -?0x" "$tmp/out" || { cat "$tmp/out"; fail "the failure report lacks the expected value in hex"; }
for needle in "FAIL  trajectory-agrees-with-reference" "claim: every step" "ulps, allowed" "inputs:" \
              "replay: adamconf check --impl" "--seed 1" "--property trajectory-agrees-with-reference"; do
  grep -qF -- "$needle" "$tmp/out" || { cat "$tmp/out"; fail "the failure report lacks '$needle'"; }
done
grep -q '<failure message="step 1, element 0: theta' "$tmp/junit.xml" || fail "the JUnit XML lacks the failure"
"$python" -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r['passed'] or not any(p['status']=='fail' for p in r['properties']))" "$tmp/report.json" ||
  fail "the JSON report does not record the failure"
sed -n '3,12p' "$tmp/out"
"$adamconf" identify --impl "$python $src/tests/adapters/buggy_adapter.py" >"$tmp/out" 2>&1
grep -q "but without bias correction of v" "$tmp/out" || { cat "$tmp/out"; fail "identify does not find the missing bias correction of v"; }
echo "identify on the buggy adapter: $(grep 'convention of' "$tmp/out")"

# Misbehaving adapters: the verdict, the exit status, and the time (--timeout 2, --start-timeout 2).
expect() {  # mode, expected exit status, text the output must contain
  local mode=$1 want=$2 text=$3
  # a one-tensor and a structured property: a 2^20-element case takes a Python adapter longer than --timeout 2
  local small_properties=(--property trajectory-agrees-with-reference --property repeated-runs-are-identical
                          --property structured-trajectory-agrees-with-reference)
  local start=$(date +%s)
  "$adamconf" check --impl "$python $src/tests/adapters/misbehaving_adapter.py --mode $mode" --preset kingma-ba \
    --dtype float64 --cases 5 --timeout 2 --start-timeout 2 "${small_properties[@]}" >"$tmp/out" 2>&1
  local status=$? seconds=$(( $(date +%s) - start ))
  [ $status -eq $want ] || { cat "$tmp/out"; fail "$mode: exit $status, expected $want"; }
  grep -qE -- "$text" "$tmp/out" || { cat "$tmp/out"; fail "$mode: the output lacks /$text/"; }
  # a guard against hangs (each request has --timeout 2), not a timing: a loaded CI machine shrinking a
  # failure through a Python adapter took 17 s
  [ $seconds -le 60 ] || fail "$mode: took $seconds s (a hang?)"
  echo "$mode: exit $status in ${seconds} s: $(grep -m1 -E -- "$text" "$tmp/out" | sed 's/^ *//' | cut -c1-150)"
}
expect crash-at-hello 1 "exited with status 3 before answering hello; stderr: something went badly wrong"
expect hang-at-hello 1 "did not answer hello within 2 s"
# --timeout bounds each answer, --start-timeout (120 s by default) the hello: a slow import is not a hang.
"$adamconf" check --impl "$python $src/tests/adapters/misbehaving_adapter.py --mode hang-at-hello" --preset kingma-ba \
  --dtype float64 --timeout 1 --start-timeout 3 >"$tmp/out" 2>&1
grep -q "did not answer hello within 3 s" "$tmp/out" || { cat "$tmp/out"; fail "--start-timeout does not bound the hello"; }
expect garbage-at-hello 1 "answered hello with something that is not JSON"
expect crash-on-run 1 "exited with status 3 before answering request 1"
expect hang-on-run 1 "did not answer request 1 within 2 s"
expect garbage-on-run 1 "answered request 1 with something that is not JSON"
expect noise-on-stdout 1 "not JSON: 'step done!'"
expect wrong-length 1 "adapter answered [0-9]+ steps for [0-9]+"
expect wrong-id 1 "answered request 1 with id 2"
expect nan 1 "theta => nan"
expect error 1 'adapter reported: CUDA error: out of memory'
expect segfault 1 "killed by signal 11, Segmentation fault"
expect stderr-flood 0 "passed, 0 failed"
grep -q "not run: the adapter failed" <("$adamconf" check --impl "$python $src/tests/adapters/misbehaving_adapter.py --mode hang-on-run" \
  --preset kingma-ba --dtype float64 --timeout 1 2>&1) || fail "after a hang the other properties are not marked 'not run'"

# Bad input: exit 2 and one line on stderr.
bad() {
  "$adamconf" "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$?
  [ $status -eq 2 ] || fail "'$*' exits $status, expected 2"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "'$*': expected one line on stderr: $(cat "$tmp/err")"
  echo "bad input: $(cat "$tmp/err")"
}
bad check --impl builtin:float --preset pytorch_adamw
bad check --impl builtin:float --preset kingma-ba --dtype float8
bad check --impl builtin:float --preset kingma-ba --set beta2=1.5
bad check --impl builtin:float --preset kingma-ba --set weight_decay=0.1
bad check --impl "$python $src/adapters/template/minimal_adapter.py" --preset kingma-ba --dtype float32
bad check --impl "$python $src/adapters/template/minimal_adapter.py" --preset pytorch-adam
bad check --impl builtin:float --preset kingma-ba --property no-such-property
echo "adapters: all checks passed"
