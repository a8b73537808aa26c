#!/usr/bin/env bash
# The reliability findings of issue 13, each as the user met it: data loss in
# regenerate, crashes on crafted input, inputs accepted then failed, raw
# library messages, adapters that outlive adamconf. Every command runs under
# `timeout` (a hang fails), and bad input must give exit 2 and one line.
# usage: robustness.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
misbehaving="$python $src/tests/adapters/misbehaving_adapter.py --mode"

# run WANT_STATUS ARGS...: runs adamconf (at most 120 s), checks the status;
# for status 2, exactly one line on stderr of at most 400 characters, with no
# raw library text in it.
run() {
  local want=$1
  shift
  timeout 120 "$adamconf" "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$?
  [ $status -ne 124 ] || fail "'$*' hangs"
  [ $status -eq "$want" ] || { cat "$tmp/out" "$tmp/err" | cut -c1-300; fail "'${*:0:8}' exits $status, expected $want"; }
  if [ "$want" -eq 2 ]; then
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || { head -c 600 "$tmp/err"; fail "'${*:0:8}': expected one line on stderr"; }
    [ "$(wc -c <"$tmp/err")" -le 400 ] || fail "'${*:0:8}': a $(wc -c <"$tmp/err")-character message"
    ! grep -qE 'json\.exception|bad_alloc|filesystem error|terminate called' "$tmp/err" || fail "raw library text: $(cat "$tmp/err")"
  fi
}
said() { grep -qF -- "$1" "$tmp/out" "$tmp/err" || { cat "$tmp/out" "$tmp/err" | cut -c1-300; fail "the output lacks '$1'"; }; }

## An unknown command is one line naming the known ones, exit 2, with or without --help (a script probing
## for a command must not believe it exists).
for args in "review" "review --help" "golden bogus --help"; do
  run 2 $args
  said "unknown command '${args% --help}'"
  said "known"
done
said "regenerate, verify, check"
run 0 check --help
echo "unknown commands: one line, exit 2: $(cat "$tmp/err")"

## Data loss: regenerate writes only into a golden directory, removes only what its index listed.
cp -r "$src/golden" "$tmp/golden"
echo '{"mine": true}' >"$tmp/golden/notes.json"
before=$(find "$tmp/golden" -type f | sort | xargs md5sum)
run 2 golden regenerate --dir "$tmp/golden"
said "not a golden directory"
[ "$(find "$tmp/golden" -type f | sort | xargs md5sum)" = "$before" ] || fail "regenerate one level too high changed files"
echo "regenerate one level too high: refused, nothing changed: $(cat "$tmp/err")"
run 2 golden regenerate --dir ""
said "--dir is empty"
mkdir "$tmp/cwd" && (cd "$tmp/cwd" && timeout 60 "$adamconf" golden regenerate --dir "" >/dev/null 2>&1)
[ -z "$(ls -A "$tmp/cwd")" ] || fail "--dir '' wrote into the current directory"

traces=$tmp/golden/traces
echo '{"mine": true}' >"$traces/notes.json"
"$python" - "$traces/index.json" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
index["files"].append({"file": "retired-preset/float32-random.json"})
index["files"].append({"file": "../notes.json"})  # an index cannot reach outside its directory
json.dump(index, open(sys.argv[1], "w"))
PY
mkdir -p "$traces/retired-preset"
echo '{}' >"$traces/retired-preset/float32-random.json"
echo 'half' >"$traces/kingma-ba/float32-random.json.tmp.12345"  # what kill -9 left
run 1 golden verify --dir "$traces"
said "kingma-ba/float32-random.json.tmp.12345: a temporary file left by an interrupted write"
run 0 golden regenerate --dir "$traces"
said "removed $traces/kingma-ba/float32-random.json.tmp.12345, a temporary file"
said "removed $traces/retired-preset/float32-random.json, listed by the previous index"
[ -f "$traces/notes.json" ] && [ -f "$tmp/golden/notes.json" ] || fail "regenerate removed a file its index did not list"
[ ! -e "$traces/retired-preset/float32-random.json" ] || fail "a file the previous index listed was kept"
run 1 golden verify --dir "$traces"  # notes.json is foreign: reported, not removed
said "notes.json: not produced by the reference"
echo "regenerate: removed the stale listed file and the temporary, kept notes.json"

# kill -9 in the middle of regenerate: no torn file; the next run cleans up and verifies clean.
mkdir "$tmp/killed"
for delay in 0.15 0.3 0.45 0.6 0.75; do
  "$adamconf" golden regenerate --dir "$tmp/killed" >/dev/null 2>&1 &
  sleep "$delay"
  kill -9 $! 2>/dev/null
  wait $! 2>/dev/null
  for f in $(find "$tmp/killed" -name '*.json'); do
    "$python" -c "import json,sys; json.load(open(sys.argv[1]))" "$f" 2>/dev/null || fail "a torn file after kill -9: $f"
  done
done
run 0 golden regenerate --dir "$tmp/killed"
run 0 golden verify --dir "$tmp/killed"
[ -z "$(find "$tmp/killed" -name '*.tmp.*')" ] || fail "temporaries left after a clean regenerate"
echo "kill -9 during regenerate (5 times): no torn file; regenerate then verify clean"

## Vacuous passes: a golden file recording no step is malformed.
g=$src/golden/traces/pytorch-adamw/float32-random.json
"$python" - "$g" "$tmp/empty.json" "$tmp/results.json" <<'PY'
import json, sys
golden = json.load(open(sys.argv[1]))
golden["recorded_steps"], golden["trace"] = [], []
json.dump(golden, open(sys.argv[2], "w"))
json.dump({"format": "adamconf-results/1", "golden": golden["name"],
           "theta": [[0.0] * golden["elements"] for _ in range(golden["steps"])]}, open(sys.argv[3], "w"))
PY
run 2 golden check "$tmp/empty.json" --results "$tmp/results.json"
said "recorded_steps: empty"

## Crafted input: deep nesting, huge decimals, huge numbers, non-regular files.
"$python" - "$g" "$tmp" <<'PY'
import json, sys
golden = json.load(open(sys.argv[1]))
nest = "[" * 100000 + "]" * 100000
text = json.dumps(golden)
open(sys.argv[2] + "/deep.json", "w").write(text.replace('"preset":', '"deep": ' + nest + ', "preset":', 1))
golden["hyperparameters"]["beta1"] = "0." + "9" * 30000
open(sys.argv[2] + "/digits.json", "w").write(json.dumps(golden))
open(sys.argv[2] + "/huge.json", "w").write(text.replace('"steps":', '"big": 1e999, "steps":', 1))
open(sys.argv[2] + "/long-value.json", "w").write(text.replace('"name": "', '"name": "' + "x\\n" * 500000, 1))
open(sys.argv[2] + "/brackets.json", "w").write("[" * (20 << 20))
PY
for f in deep digits huge long-value brackets; do
  run 2 golden check "$tmp/$f.json" --results "$tmp/results.json"
  echo "golden check $f.json: $(cut -c1-160 "$tmp/err")"
done
said "$tmp/brackets.json:1:33: JSON nested more than 32 levels deep"
mkdir -p "$tmp/verify/pytorch-adamw"
cp -r "$src/golden/traces/." "$tmp/verify/"
cp "$tmp/deep.json" "$tmp/verify/pytorch-adamw/float32-random.json"
run 1 golden verify --dir "$tmp/verify"
said "cannot be read as JSON (JSON nested more than 32 levels deep"
run 2 golden check "$g" --results "$tmp/deep.json"
run 2 golden check "$g" --results /dev/zero
said "/dev/zero: is not a regular file"
mkfifo "$tmp/fifo"
run 2 golden check "$g" --results "$tmp/fifo"
said "is not a regular file"
echo '{"format": "adamconf-results/1", "golden": "pytorch-adamw/float32-random", "theta": [[1]]}' >"$tmp/short.json"
run 2 golden check "$g" --results "$tmp/short.json"
said "$tmp/short.json: theta: has 1 steps"
echo "results files: /dev/zero, a FIFO and a wrong shape give one line naming the file"

long=$(printf '1%.0s' $(seq 1 30000))
for option in "--set lr=0.$long" "--theta0 0.$long" "--grads 0.$long" "--lrs 0.$long"; do
  set -- $option
  run 2 trace --preset pytorch-adamw $([ "$1" = --set ] || echo "--theta0 1 --grads 1") "$1" "$2"
done
run 2 check --impl builtin:float --preset pytorch-adamw --set "lr=0.$long"
said "characters"
echo "a 30000-digit decimal: $(cut -c1-140 "$tmp/err")"

## Inputs accepted, then failed: now judged or rejected with the reason.
run 0 check --impl builtin:float --preset pytorch-adamw --dtype float32 --set lr=0.001 --cases 20 --property updates-scale-with-lr --property trajectory-agrees-with-reference
grep -E "skip +updates-scale-with-lr +needs lr free" "$tmp/out" >/dev/null || fail "a pinned lr does not skip updates-scale-with-lr"
run 2 check --impl builtin:float --preset pytorch-adamw --set eps=0
said "eps = 0 with eps_root = 0"
run 2 check --impl builtin:float --preset pytorch-adamw --dtype float32 --set lr=1e300
said "lr = 1e300 overflows float32"
run 2 check --impl builtin:float --preset pytorch-adamw --set lr=1e999999999
run 2 check --impl builtin:float --preset pytorch-adamw --set lr=2.5 --set weight_decay=1
said "makes every trajectory diverge"
for timeout in nan 1e20 0 -1 abc; do run 2 check --impl builtin:float --preset kingma-ba --timeout "$timeout"; done
said "expected"
echo "rejected with the reason: eps=0, lr=1e300 in float32, lr=1e999999999, lr*wd=2.5, --timeout nan/1e20/0/-1/abc"
# The reported false alarm: equal infinities and no diverging generated runs.
run 0 check --impl builtin:float --preset pytorch-adamw --dtype float32 --seed 400053738 --cases 200 \
  --property trajectory-agrees-with-reference --property each-step-agrees-with-reference --property zero-gradient-only-decays
echo "seed 400053738: $(tail -1 "$tmp/out")"

## Every option the adapter offers is checked by default.
amsgrad="$python $src/tests/adapters/amsgrad_adapter.py"
run 0 check --impl "$amsgrad" --preset pytorch-adam --dtype float64 --cases 50
said "trajectory-agrees-with-reference [amsgrad]"
for bug in no-max max-of-g2; do
  run 1 check --impl "$amsgrad --bug $bug" --preset pytorch-adam --dtype float64 --cases 50
  said "FAIL  trajectory-agrees-with-reference [amsgrad]"
  said "--amsgrad --seed 1"
done
echo "AMSGrad bugs (max not kept, max over g^2) fail a plain check"

## Messages: the command line, adapters' hello and answers.
run 2 check --impl builtin:float --preset kingma-ba --cases abc
run 2 no-such-command
run 2 check --preset kingma-ba
run 0 --help
run 1 check --impl "$misbehaving hello-unknown-preset" --preset kingma-ba --dtype float64
said 'adapter hello: optimizers[0]: "presets": unknown preset'
run 1 check --impl "$misbehaving hello-bad-state" --preset kingma-ba --dtype float64
said 'adapter hello: optimizers[0]: "state" is "yes", not true or false'
run 1 check --impl "$misbehaving huge-number" --preset kingma-ba --dtype float64 --cases 5
[ "$(grep -c '^  ERROR' "$tmp/out")" -eq 1 ] && [ "$(grep -c '^  FAIL' "$tmp/out")" -eq 0 ] || fail "1e999 in an answer is not one adapter ERROR"
said "a number beyond the range of float64"
for mode in empty-results short-elements wrong-length early-answer huge-number; do
  run 1 identify --impl "$misbehaving $mode" --timeout 10
  said "the adapter failed while probed"
done
echo "identify checks each answer's shape: $(cut -c1-120 "$tmp/out")"

## Processes: an adapter exiting while a child holds its stdout; nothing outlives adamconf.
start=$(date +%s)
run 1 check --impl "$misbehaving exit-child-holds-stdout" --preset kingma-ba --dtype float64 --timeout 60
said "adapter exited with status 5 before answering request 1"
echo "exit while a child holds stdout: status 5 reported in $(( $(date +%s) - start )) s (timeout 60)"
export ADAMCONF_TEST_PIDS=$tmp/pids
run 0 check --impl "$misbehaving spawn-children" --preset kingma-ba --dtype float64 --cases 5 --property trajectory-agrees-with-reference
sleep 0.5
for pid in $(cat "$tmp/pids"); do
  state=$(ps -o stat= -p "$pid" 2>/dev/null)
  [ -z "$state" ] || fail "process $pid (a child or setsid grandchild of the adapter) outlived adamconf: state $state"
done
echo "the adapter's child and setsid grandchild ended with adamconf"
echo "robustness: all checks passed"
