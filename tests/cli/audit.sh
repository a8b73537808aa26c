#!/usr/bin/env bash
# `adamconf audit` as a user runs it: real PyTorch AdamW steps recorded by
# recorders/adamconf_torch_recorder.py on every CPU path and two planted bugs
# (examples/audit/train_and_audit.py asserts their verdicts), then the
# command's reports (JSON, JUnit, HTML), shards and their merge, and its
# one-line errors (exit 2) that leave no report behind.
source "$(dirname "$0")/common.sh" "$@"
venv="$src/.venv/bin/python"
[ -x "$venv" ] || fail "$venv is missing: scripts/install-deps.sh installs PyTorch 2 and safetensors there"
"$venv" "$src/examples/audit/train_and_audit.py" "$adamconf" "$tmp/steps" --steps 2 --bitsandbytes --torchao >"$tmp/example.txt" 2>&1 ||
  { cat "$tmp/example.txt"; fail "examples/audit/train_and_audit.py"; }
tail -1 "$tmp/example.txt"
# torchao's four AdamW classes in float32 and bfloat16, two steps each, and its planted quantizer bug
[ "$(grep -c '^torchao .* exit 0: verdict: PASS' "$tmp/example.txt")" -eq 16 ] || fail "torchao's steps: $(grep '^torchao' "$tmp/example.txt")"
grep -q "^planted torchao-codes-off-by-one .*: True" "$tmp/example.txt" || fail "torchao's planted bug: $(cat "$tmp/example.txt")"
# The recorder refuses, before any step, what the audit cannot judge: torchao's quantized AMSGrad maximum, and
# its stochastic rounding of bfloat16 parameters.
"$venv" - "$src/recorders" >"$tmp/refused" 2>&1 <<'PY' || fail "torchao AdamW8bit with amsgrad: $(cat "$tmp/refused")"
import sys, torch
sys.path.insert(0, sys.argv[1])
from adamconf_torch_recorder import StepRecorder
import torchao.optim

def refused(model, optimizer, reason):
    try:
        StepRecorder(optimizer, "unused", model=model)
    except ValueError as e:
        assert reason in str(e), e
    else:
        raise AssertionError(f"no error: {reason}")

model, bf16 = torch.nn.Linear(64, 64), torch.nn.Linear(64, 64).to(torch.bfloat16)
refused(model, torchao.optim.AdamW8bit(model.parameters(), amsgrad=True),
        "max_exp_avg_sq quantized, which adamconf does not model yet")
refused(bf16, torchao.optim.AdamW8bit(bf16.parameters(), bf16_stochastic_round=True),
        "rounds them stochastically, which no torchao preset models yet")
# _AdamW (block_size inf: nothing quantized) takes amsgrad: recorded as torchao-adamw
assert StepRecorder(torchao.optim._AdamW(model.parameters(), amsgrad=True), "unused", model=model).preset == "torchao-adamw"
PY
"$venv" "$src/examples/audit/optax_train_and_audit.py" "$adamconf" "$tmp/optax" >"$tmp/optax.txt" 2>&1 ||
  { cat "$tmp/optax.txt"; fail "examples/audit/optax_train_and_audit.py"; }
tail -1 "$tmp/optax.txt"
step="$tmp/steps/mlp-fused-bfloat16/step-000002/manifest.json"

## Reports: a pass writes all three; the JSON says pass over every value.
"$adamconf" audit "$step" --jobs 2 --json "$tmp/r.json" --junit "$tmp/r.xml" --html "$tmp/r.html" >"$tmp/out" 2>"$tmp/err" ||
  fail "a correct fused bfloat16 step: exit $?: $(cat "$tmp/out" "$tmp/err")"
grep -q '^verdict: PASS: 4 tensors, 136714 elements, 410142 values judged, 0 failures' "$tmp/out" || fail "verdict: $(cat "$tmp/out")"
# Progress off a terminal: a line as each quarter of the elements is passed (windows of 4096 at a time), the last at the end.
[ "$(grep -c '^audit: elements [0-9]*/136714$' "$tmp/err")" -eq 4 ] && grep -q '^audit: elements 136714/136714$' "$tmp/err" ||
  fail "progress lines: $(cat "$tmp/err")"
"$python" - "$tmp/r.json" "$tmp/r.xml" "$tmp/r.html" <<'PY' || fail "reports"
import json, sys, xml.etree.ElementTree as ET
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "pass" and r["values"] == 410142 and r["failures"] == 0, r
# The fast exact path decides most of a real PyTorch step; the rest (and the values that may be the worst) in MPFR.
assert r["fast_values"] + r["mpfr_values"] == 410142 and r["fast_values"] >= 0.99 * 410142, r
assert [t["name"] for t in r["tensors"]] == ["0.weight", "0.bias", "2.weight", "2.bias"], r["tensors"]
suite = ET.parse(sys.argv[2]).getroot().find("testsuite")
assert suite.get("tests") == "4" and suite.get("failures") == "0", suite.attrib
assert "PASS" in open(sys.argv[3]).read()
PY

grep -q '^  decided by the fast exact path: [0-9]* values; in MPFR: [0-9]*' "$tmp/out" || fail "no fast-path line: $(cat "$tmp/out")"
## Every value in MPFR: the same verdict, the same worst value.
"$adamconf" audit "$step" --jobs 2 --no-fast-path --json "$tmp/exact.json" >"$tmp/out-exact" 2>&1 || fail "--no-fast-path: exit $?"
"$python" - "$tmp/r.json" "$tmp/exact.json" <<'PY' || fail "--no-fast-path disagrees"
import json, sys
fast, exact = (json.load(open(f)) for f in sys.argv[1:])
assert exact["fast_values"] == 0 and exact["mpfr_values"] == exact["values"] == fast["values"], exact
for a, b in zip(fast["tensors"], exact["tensors"]):
    assert a["verdict"] == b["verdict"] and a["statistics"]["worst_ratio"] == b["statistics"]["worst_ratio"], (a, b)
PY

## Shards: three tasks and their merge give the whole verdict; a missing or repeated shard is no verdict.
for i in 1 2 3; do
  "$adamconf" audit "$step" --shard $i/3 --json "$tmp/s$i.json" >/dev/null 2>&1 || fail "shard $i/3: exit $?"
done
"$adamconf" audit merge "$tmp/s1.json" "$tmp/s2.json" "$tmp/s3.json" --json "$tmp/merged.json" >"$tmp/out" 2>&1 || fail "merge: $(cat "$tmp/out")"
grep -q '^verdict: PASS: 4 tensors, 136714 elements, 410142 values judged' "$tmp/out" || fail "merged verdict: $(cat "$tmp/out")"
status=0; "$adamconf" audit merge "$tmp/s1.json" "$tmp/s3.json" >"$tmp/out" 2>"$tmp/err" || status=$?
[ $status = 2 ] && grep -q "shard 2/3 missing" "$tmp/err" || fail "merge without shard 2: exit $status: $(cat "$tmp/err")"
status=0; "$adamconf" audit merge "$tmp/s1.json" "$tmp/s1.json" "$tmp/s2.json" "$tmp/s3.json" >"$tmp/out" 2>"$tmp/err" || status=$?
[ $status = 2 ] && grep -q "s1.json: shard 1/3 is in an earlier report too" "$tmp/err" || fail "shard twice: exit $status: $(cat "$tmp/err")"

## The same steps as NumPy .npz archives (np.savez, and np.savez_compressed, whose entries are inflated into a
## temporary file; bfloat16 as ml_dtypes saves it): the same verdict over the same values.
for case in mlp-for-loop-float32 mlp-fused-bfloat16 mlp-fused-mixed; do
  for save in savez savez_compressed; do
    "$venv" - "$tmp/steps/$case/step-000002" "$tmp/npz-$case-$save" "$save" <<'PY' || fail "np.$save of $case"
import json, os, sys
import ml_dtypes  # noqa: F401  (NumPy learns bfloat16)
import numpy as np
from safetensors.numpy import load_file
src, dst, save = sys.argv[1], sys.argv[2], getattr(np, sys.argv[3])
os.makedirs(dst)
for f in ("before", "after"):
    save(os.path.join(dst, f + ".npz"), **load_file(os.path.join(src, f + ".safetensors")))
m = json.load(open(os.path.join(src, "manifest.json")))
m["before"], m["after"] = "before.npz", "after.npz"
json.dump(m, open(os.path.join(dst, "manifest.json"), "w"))
PY
    "$adamconf" audit "$tmp/npz-$case-$save/manifest.json" >"$tmp/out" 2>/dev/null || fail "$case by np.$save: exit $?: $(cat "$tmp/out")"
    grep -q '^verdict: PASS: 4 tensors, 136714 elements, 410142 values judged, 0 failures' "$tmp/out" ||
      fail "$case by np.$save: $(tail -1 "$tmp/out")"
  done
done

## A real step gone wrong: PyTorch 2.15's for-loop AdamW, the first step of a fresh process, whose sqrt ran in a
## low-accuracy oneMKL VML kernel on one thread's chunk (pytorch/pytorch#188792; tests/data/pytorch-vml-race/README.md).
## Its 64 "corrupted" elements' updates are off by 1.0e-7 to 3.2e-7 (a float32 step's honest error is below 9e-9 there:
## a few roundings of |theta| <= 0.0625 and lr = 0.001, u = 2^-24); its 64 "clean" ones, of the other chunk, by at most 3.7e-9.
status=0
"$adamconf" audit "$src/tests/data/pytorch-vml-race/manifest.json" --json "$tmp/race.json" >"$tmp/out" 2>&1 || status=$?
[ $status = 1 ] || fail "the VML race step: exit $status, expected 1: $(cat "$tmp/out")"
"$python" - "$tmp/race.json" <<'PY' || fail "the VML race step: $(cat "$tmp/out")"
import json, sys
r = json.load(open(sys.argv[1]))
failures = {t["name"]: t["failures"] for t in r["tensors"]}
assert failures == {"corrupted": 64, "clean": 0}, failures
PY

## A planted bug: exit 1, and the JUnit report carries the failure naming tensor and element.
status=0
"$adamconf" audit "$tmp/steps/planted-stale-state/step-000002/manifest.json" --junit "$tmp/bug.xml" >"$tmp/out" 2>&1 || status=$?
[ $status = 1 ] || fail "stale state: exit $status"
grep -q "0.weight element 65536: m (from theta" "$tmp/bug.xml" || fail "the JUnit report lacks the element"

## Bad input: one line, exit 2, no report written.
cp -r "$tmp/steps/mlp-for-loop-float32/step-000002" "$tmp/broken"
truncate -s -1000 "$tmp/broken/after.safetensors"
for case in "$tmp/broken/manifest.json:broken/after.safetensors: tensor '.*run past the data's" \
            "$tmp/none.json:none.json: cannot open"; do
  manifest=${case%%:*} expected=${case#*:}
  status=0
  "$adamconf" audit "$manifest" --json "$tmp/never.json" >"$tmp/out" 2>"$tmp/err" || status=$?
  [ $status = 2 ] || fail "$manifest: exit $status, expected 2"
  [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$manifest: not one line: $(cat "$tmp/err")"
  grep -q "$expected" "$tmp/err" || fail "$manifest: the error does not say '$expected': $(cat "$tmp/err")"
  [ ! -e "$tmp/never.json" ] || fail "$manifest: a report was written"
  echo "bad input, one line: $(cat "$tmp/err")"
done
echo "audit: recorded steps, reports, shards and bad input as expected"
