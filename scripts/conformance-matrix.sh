#!/usr/bin/env bash
# The conformance matrix: runs `adamconf check` on every shipped adapter of a
# real implementation installed here (implementation x preset x dtype) and
# prints the table: verdict, properties passed/failed/skipped, the worst
# fraction of the allowed error over the properties that compare values
# against a bound, and the time.
#
#   scripts/conformance-matrix.sh [--cases N] [--seed S] [--build DIR] [--readme README.md] [--out TABLE.md]
#   scripts/conformance-matrix.sh --splice TABLE.md --readme README.md   (only writes a table made before)
#
# --readme replaces the table between the README's conformance-matrix markers
# (written to a temporary file and renamed: an interrupted run loses nothing).
# Exit status 1 when any row fails; a row whose library is not installed is
# listed as "not installed", not failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cases=20 seed=1 build="$root/build" readme="" out="" splice="" skips=()
while (($#)); do
  case "$1" in
    --cases) cases=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --readme) readme=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --splice) splice=$2; shift 2 ;;
    --skip-property) skips+=(--skip-property "$2"); shift 2 ;;
    *) echo "conformance-matrix: unknown argument '$1' (--cases N --seed S --build DIR --readme FILE --out FILE --splice FILE --skip-property P)" >&2; exit 2 ;;
  esac
done
python=${ADAMCONF_PYTHON:-/usr/bin/python3}
splice_into_readme() {  # table file: between the README's markers, through a temporary file and a rename
  "$python" "$root/scripts/splice_readme.py" conformance-matrix "$1" "$readme" || exit 2
}
if [ -n "$splice" ]; then
  [ -n "$readme" ] || { echo "conformance-matrix: --splice needs --readme" >&2; exit 2; }
  [ -f "$splice" ] || { echo "conformance-matrix: --splice $splice: no such file" >&2; exit 2; }
  splice_into_readme "$splice"
  exit 0
fi
adamconf="$build/adamconf"
[ -x "$adamconf" ] || { echo "conformance-matrix: no adamconf at $adamconf (build first, or pass --build DIR)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# implementation | --impl | --optimizer | preset | dtypes | what must exist
rows=(
  "PyTorch torch.optim.Adam (single-tensor)|torch:torch.optim:Adam||pytorch-adam|float32 float64 bfloat16|$python -c 'import torch'"
  "PyTorch torch.optim.Adam (foreach)|torch:torch.optim:Adam:foreach=True||pytorch-adam|float32 float64 bfloat16|$python -c 'import torch'"
  "PyTorch torch.optim.AdamW (single-tensor)|torch:torch.optim:AdamW||pytorch-adamw|float32 float64 bfloat16|$python -c 'import torch'"
  "PyTorch torch.optim.AdamW (foreach)|torch:torch.optim:AdamW:foreach=True||pytorch-adamw|float32 float64 bfloat16|$python -c 'import torch'"
  "libtorch C++ torch::optim::Adam|lib:$build/adapters/libtorch/libadamconf_libtorch_adam.so|torch::optim::Adam|pytorch-adam|float32 float64|test -f $build/adapters/libtorch/libadamconf_libtorch_adam.so"
  "libtorch C++ torch::optim::AdamW|lib:$build/adapters/libtorch/libadamconf_libtorch_adam.so|torch::optim::AdamW|pytorch-adamw|float32 float64|test -f $build/adapters/libtorch/libadamconf_libtorch_adam.so"
  "TensorFlow.js tfjs-core AdamOptimizer (cpu)|node $root/adapters/tfjs/adapter.js||tfjs-adam|float32|test -d $root/adapters/tfjs/node_modules/@tensorflow/tfjs-core"
  "scikit-learn AdamOptimizer|$python $root/adapters/sklearn/sklearn_adapter.py||sklearn-adam|float32 float64|$python -c 'import sklearn'"
  "dlib adam solver|lib:$build/adapters/dlib/libadamconf_dlib_adam.so||dlib-adam|float32|test -f $build/adapters/dlib/libadamconf_dlib_adam.so"
)

table="$work/table.md"
{
  echo "| implementation | preset | dtype | verdict | passed / failed / skipped | worst of allowed (trajectory median) | time |"
  echo "|---|---|---|---|---|---|---|"
} > "$table"
failed=0 n=0
total=0
for row in "${rows[@]}"; do
  IFS='|' read -r _ _ _ _ dtypes _ <<< "$row"
  total=$((total + $(wc -w <<< "$dtypes")))
done
for row in "${rows[@]}"; do
  IFS='|' read -r label impl optimizer preset dtypes needs <<< "$row"
  for dtype in $dtypes; do
    n=$((n + 1))
    if ! (eval "$needs") >/dev/null 2>&1; then
      echo "| $label | $preset | $dtype | not installed | | | |" >> "$table"
      echo "conformance-matrix: [$n/$total] $label $dtype: not installed" >&2
      continue
    fi
    echo "conformance-matrix: [$n/$total] $label as $preset, $dtype ..." >&2
    args=(check --impl "$impl" --preset "$preset" --dtype "$dtype" --cases "$cases" --seed "$seed" --json "$work/r.json")
    [ -n "$optimizer" ] && args+=(--optimizer "$optimizer")
    ((${#skips[@]})) && args+=("${skips[@]}")
    start=$(date +%s.%N)
    "$adamconf" "${args[@]}" > "$work/out.txt" 2>&1
    status=$?
    end=$(date +%s.%N)
    if [ ! -s "$work/r.json" ]; then
      line=$(grep -m1 -E "error|FAIL" "$work/out.txt" | cut -c1-160)
      echo "| $label | $preset | $dtype | ERROR: ${line:-exit $status} | | | |" >> "$table"
      failed=1
      continue
    fi
    "$python" - "$work/r.json" "$label" "$start" "$end" >> "$table" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
counts = {"pass": 0, "fail": 0, "skip": 0}
worst = None
medians = []
for p in r["properties"]:
    s = p["status"]
    counts["pass" if s == "pass" else "skip" if s == "skip" else "fail"] += 1
    if s == "pass" and "worst_ratio" in p:
        worst = p["worst_ratio"] if worst is None else max(worst, p["worst_ratio"])
        if p["id"] == "trajectory-agrees-with-reference" and not p.get("variant") and "ratio_median" in p:
            medians.append(p["ratio_median"])
verdict = "pass" if r["passed"] else "FAIL"
flags = "".join(f" --{k.replace('_', '-')}" for k in ("amsgrad", "maximize") if r["options"].get(k))
counter = r["options"].get("step_counter", "integer")
preset = r["preset"] + flags + (f" (step counter {counter})" if counter != "integer" else "")
print(f"| {sys.argv[2]} | {preset} | {r['dtype']} | {verdict} | {counts['pass']} / {counts['fail']} / {counts['skip']} | "
      f"{'-' if worst is None else f'{worst:.3g}'}{f' ({max(medians):.2g})' if medians else ''} | "
      f"{float(sys.argv[4]) - float(sys.argv[3]):.1f} s |")
EOF
    [ "$status" -eq 0 ] || failed=1
    rm -f "$work/r.json"
  done
done
echo >> "$table"
echo "adamconf check --cases $cases --seed $seed on each. \"worst of allowed\" is the largest observed/allowed error over the passing properties (1: at the bound, which correct implementations reach where the dominant error is one the bound charges in full, such as beta2 rounded to the format); in brackets the median ratio of trajectory-agrees-with-reference, the bulk's headroom (docs/reading-reports.md)." >> "$table"

cat "$table"
[ -n "$out" ] && cp "$table" "$out.tmp" && mv "$out.tmp" "$out"
[ -n "$readme" ] && splice_into_readme "$table"
exit $failed
