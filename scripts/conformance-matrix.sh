#!/usr/bin/env bash
# The conformance matrix: runs `adamconf check` on every shipped adapter of a
# real implementation installed here (the rows of scripts/conformance-matrix.rows:
# library x implementation x preset x dtype) and prints the table: the
# implementation as it names itself (its version), verdict, properties
# passed/failed/skipped, the worst fraction of the allowed error over the
# properties that compare values against a bound, and the time.
#
#   scripts/conformance-matrix.sh [--cases N] [--seed S] [--build DIR] [--readme README.md] [--out TABLE.md] [--library REGEX] [--implementation REGEX] [--first-dtype]
#   scripts/conformance-matrix.sh --splice TABLE.md --readme README.md   (only writes a table made before)
#
# --library REGEX keeps the rows whose library matches (extended regex);
# --implementation REGEX keeps the rows whose implementation label matches
# (extended regex, any case: --implementation adamw, CI's one row per library);
# --first-dtype runs each row in its first dtype only (CI's short matrix).
# --readme replaces the table between the README's conformance-matrix markers
# (written to a temporary file and renamed: an interrupted run loses nothing).
# Exit status 1 when a row fails without its documented finding, fails a property its finding does not reach
# (scripts/conformance-findings), or passes with one (a stale finding); a row whose library is not installed is
# listed as "not installed", not failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cases=20 seed=1 build="$root/build" readme="" out="" splice="" skips=() library_filter="" implementation_filter="" first_dtype=0
while (($#)); do
  case "$1" in
    --cases) cases=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --readme) readme=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --splice) splice=$2; shift 2 ;;
    --skip-property) skips+=(--skip-property "$2"); shift 2 ;;
    --library) library_filter=$2; shift 2 ;;
    --implementation) implementation_filter=$2; shift 2 ;;
    --first-dtype) first_dtype=1; shift ;;
    *) echo "conformance-matrix: unknown argument '$1' (--cases N --seed S --build DIR --readme FILE --out FILE --splice FILE --skip-property P --library REGEX --implementation REGEX --first-dtype)" >&2; exit 2 ;;
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

venv="$root/.venv/bin/python"
# (tests point these at rows and findings of their own)
rows_file="${ADAMCONF_MATRIX_ROWS:-$root/scripts/conformance-matrix.rows}"
findings_file="${ADAMCONF_MATRIX_FINDINGS:-$root/scripts/conformance-findings}"
mapfile -t rows < <(grep -vE '^(#|[[:space:]]*$)' "$rows_file" | { [ -n "$library_filter" ] && grep -E "^[^|]*($library_filter)" || cat; } |
  { [ -n "$implementation_filter" ] && grep -iE "^[^|]*\|[^|]*($implementation_filter)" || cat; })
expand() { eval "echo \"$1\""; }  # $build, $root, $python, $venv in a row's fields

table="$work/table.md"
{
  echo "| library | implementation, as it names itself | preset | dtype | verdict | passed / failed / skipped | worst of allowed (trajectory median) | time |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table"
failed=0 n=0
total=0
first_of() { ((first_dtype)) && echo "${1%% *}" || echo "$1"; }
for row in "${rows[@]}"; do
  IFS='|' read -r _ _ _ _ _ dtypes _ <<< "$row"
  total=$((total + $(wc -w <<< "$(first_of "$dtypes")")))
done
for row in "${rows[@]}"; do
  IFS='|' read -r library label impl optimizer preset dtypes needs <<< "$row"
  impl=$(expand "$impl") optimizer=$(expand "$optimizer") needs=$(expand "$needs")
  for entry in $(first_of "$dtypes"); do
    dtype=${entry%%:*} finding="" optional=""
    [ "$entry" != "$dtype" ] && finding=${entry#*:}
    # FINDING? : a finding the row's cases reach at some seeds only (either verdict is expected)
    [[ $finding == *\? ]] && finding=${finding%\?} optional=1
    n=$((n + 1))
    if ! (eval "$needs") >/dev/null 2>&1; then
      echo "| $library | $label | $preset | $dtype | not installed | | | |" >> "$table"
      echo "conformance-matrix: [$n/$total] $library $label $dtype: not installed" >&2
      continue
    fi
    echo "conformance-matrix: [$n/$total] $library $label as $preset, $dtype ..." >&2
    # --timeout 600: eager Python adapters (Keras on JAX) take minutes over a 10^4-step case on a loaded machine
    args=(check --impl "$impl" --preset "$preset" --dtype "$dtype" --cases "$cases" --seed "$seed" --json "$work/r.json"
          --timeout 600)
    [ -n "$optimizer" ] && args+=(--optimizer "$optimizer")
    ((${#skips[@]})) && args+=("${skips[@]}")
    start=$(date +%s.%N)
    "$adamconf" "${args[@]}" > "$work/out.txt" 2>&1
    status=$?
    end=$(date +%s.%N)
    if [ ! -s "$work/r.json" ]; then
      line=$(grep -m1 -E "error|FAIL" "$work/out.txt" | cut -c1-160)
      echo "| $library | $label | $preset | $dtype | ERROR: ${line:-exit $status} | | | |" >> "$table"
      failed=1
      continue
    fi
    # the properties the finding may fail (scripts/conformance-findings); none: an undocumented finding
    reach=$(grep -v '^#' "$findings_file" | awk -v f="$finding" 'index($0, f "|") == 1 { print substr($0, length(f) + 2) }')
    if [ -n "$finding" ] && [ -z "$reach" ]; then
      echo "conformance-matrix: finding $finding has no line in scripts/conformance-findings" >&2
      failed=1
    fi
    "$python" - "$work/r.json" "$library" "$finding" "$start" "$end" "$optional" "$reach" >> "$table" <<'EOF2'
import json, re, sys
r = json.load(open(sys.argv[1]))
library, finding, optional, reach = sys.argv[2], sys.argv[3], sys.argv[6] == "1", sys.argv[7]
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
if r["passed"]:
    verdict = "pass" + (f" ({finding} reproduces at some seeds only)" if optional else
                        f" (finding {finding} no longer reproduces)" if finding else "")
else:
    verdict = f"FAIL: finding {finding}" if finding else "FAIL"
    # a property the finding does not reach: a failure of its own, which the finding must not hide
    beyond = sorted({p["id"] for p in r["properties"] if p["status"] not in ("pass", "skip")
                     and finding and not re.search(reach or "^$", p["id"])})
    if beyond:
        verdict += ", and " + ", ".join(beyond) + " beyond it"
        open(sys.argv[1] + ".beyond", "w").write(" ".join(beyond))
o = r["options"]
flags = "".join(f" --{k.replace('_', '-')}" for k in ("amsgrad", "maximize") if o.get(k))
notes = [f"step counter {o['step_counter']}"] if o.get("step_counter", "integer") != "integer" else []
if o.get("precision", "storage") != "storage" and r["dtype"] in ("bfloat16", "float16"):
    notes.append(o["precision"])
if o.get("subnormals", "gradual") != "gradual":
    notes.append("subnormals " + o["subnormals"])
if o.get("scalars", "working") != "working" and r["dtype"] == "float64":
    notes.append("scalars " + o["scalars"])
where = {"m_decay": "b1 m in m's format", "v_decay": "b2 v in v's format", "direction": "direction in the moments' format"}
formats = {k: v for k, v in o.get("state_formats", {}).items() if v and v != r["dtype"] and k not in where}
if formats:
    notes.append("states " + ", ".join(f"{k} {v}" for k, v in formats.items()))
notes += [text for k, text in where.items() if o.get("state_formats", {}).get(k) == "in-format"]
preset = r["preset"] + flags + (f" ({'; '.join(notes)})" if notes else "")
print(f"| {library} | {r['implementation']} | {preset} | {r['dtype']} | {verdict} | "
      f"{counts['pass']} / {counts['fail']} / {counts['skip']} | "
      f"{'-' if worst is None else f'{worst:.3g}'}{f' ({max(medians):.2g})' if medians else ''} | "
      f"{float(sys.argv[5]) - float(sys.argv[4]):.1f} s |")
EOF2
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "conformance-matrix: $library $label $dtype: its report could not be read" >&2; failed=1; }
    # a failure with its documented finding is expected; a stale finding, or any other failure, fails the matrix
    if [ -e "$work/r.json.beyond" ]; then
      echo "conformance-matrix: $library $label $dtype fails $(cat "$work/r.json.beyond"), beyond finding $finding" >&2
      failed=1
    fi
    if [ -n "$optional" ]; then
      :  # either verdict
    elif [ -n "$finding" ]; then
      [ "$status" -ne 0 ] || failed=1
    else
      [ "$status" -eq 0 ] || failed=1
    fi
    rm -f "$work/r.json" "$work/r.json.beyond"
  done
done
echo >> "$table"
skipped=""
((${#skips[@]})) && skipped=" ${skips[*]}"
((first_dtype)) && skipped="$skipped, each row in its first dtype (--first-dtype)"
echo "adamconf check --cases $cases --seed $seed$skipped --timeout 600 on each (rows: scripts/conformance-matrix.rows). \"worst of allowed\" is the largest observed/allowed error over the passing properties (1: at the bound, which correct implementations reach where the dominant error is one the bound charges in full, such as beta2 rounded to the format); in brackets the median ratio of trajectory-agrees-with-reference, the bulk's headroom (docs/reading-reports.md). A \"finding\" is a documented deviation of the library from the convention it documents (the README's Findings section, with the replay line) A row marked \"reproduces at some seeds only\" passed where its finding needs a case this seed did not draw." >> "$table"

cat "$table"
[ -n "$out" ] && cp "$table" "$out.tmp" && mv "$out.tmp" "$out"
[ -n "$readme" ] && splice_into_readme "$table"
exit $failed
