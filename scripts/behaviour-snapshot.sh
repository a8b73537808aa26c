#!/usr/bin/env bash
# A snapshot of what adamconf reports, to show that a change which should not
# alter behaviour (a refactor) does not: `check --json` reports on fixed seeds
# with the timings removed, for builtin:float on every preset in float32 and
# float64, PyTorch's Adam and AdamW (Debian's python3-torch), a bfloat16 run and
# two master-weights runs; `identify` on the PyTorch adapter; and `golden verify`
# (the committed golden files byte-identical to what the reference writes now).
#
#   scripts/behaviour-snapshot.sh OUT_DIR [BUILD_DIR]
#   diff -r BEFORE_DIR AFTER_DIR      # empty when nothing changed
set -euo pipefail
out=${1:?usage: scripts/behaviour-snapshot.sh OUT_DIR [BUILD_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build}
adamconf="$build/adamconf"
python=${ADAMCONF_PYTHON:-/usr/bin/python3}
cases=${SNAPSHOT_CASES:-15}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"

# The JSON report without what depends on the clock or the machine.
normalise() {
  "$python" - "$1" <<'PY'
import json, sys
path = sys.argv[1]
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("seconds", "threads", "date")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
data = strip(json.load(open(path)))
json.dump(data, open(path, "w"), indent=1, sort_keys=True)
PY
}

run() {  # name, then check's arguments
  local name=$1
  shift
  "$adamconf" check "$@" --seed 7 --cases "$cases" --json "$out/$name.json" \
    | sed -E 's/\([0-9.]+ s\)//; s/ in [0-9.]+ s$//' >"$out/$name.txt" || true
  normalise "$out/$name.json"
}

for preset in $("$adamconf" presets | grep -E '^[a-z]'); do
  for dtype in float32 float64; do
    run "builtin-$preset-$dtype" --impl builtin:float --preset "$preset" --dtype "$dtype"
  done
done
run builtin-pytorch-adamw-bfloat16 --impl builtin:float --preset pytorch-adamw --dtype bfloat16
run builtin-pytorch-adam-bfloat16-master --impl builtin:float --preset pytorch-adam --dtype bfloat16 --precision master-weights
run torch-adam-float32 --impl torch:torch.optim:Adam --preset pytorch-adam --skip-property large-tensors-agree-with-reference
run torch-adamw-float32 --impl torch:torch.optim:AdamW --preset pytorch-adamw --skip-property large-tensors-agree-with-reference
run torch-adamw-bfloat16-master --impl "$python adapters/torch/torch_adapter.py --master-weights" --preset pytorch-adamw \
  --dtype bfloat16 --skip-property large-tensors-agree-with-reference
for dtype in float32 float64 bfloat16; do
  "$adamconf" identify --impl "$python adapters/torch/torch_adapter.py" --dtype $dtype >"$out/identify-torch-$dtype.txt" 2>&1 || true
done
"$adamconf" presets >"$out/presets.txt"
"$adamconf" properties >"$out/properties.txt"
{ "$adamconf" golden verify 2>&1 || echo "golden verify: exit $?"; } | sed -E 's/ \([0-9.]+ s\)$//' >"$out/golden-verify.txt"
echo "behaviour-snapshot: $(ls "$out" | wc -l) files in $out"
