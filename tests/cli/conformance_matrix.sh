#!/usr/bin/env bash
# The conformance matrix: every shipped adapter of a real implementation
# passes its source's preset in every dtype it supports (or fails with its
# documented finding), and the table has a row for each (none "not
# installed": scripts/install-deps.sh and scripts/build.sh install and build
# them all). Then --readme writes it between the markers.
# usage: conformance_matrix.sh ADAMCONF SOURCE_DIR PYTHON [LIBRARY_REGEX [--first-dtype] [--implementation REGEX] [--cases N]]
#   LIBRARY_REGEX picks the rows of scripts/conformance-matrix.rows by library;
#   --first-dtype runs each in its first dtype, --implementation keeps the rows
#   whose implementation label matches (any case), --cases sets the cases per
#   property (6 by default): the 2026 libraries' short CI matrix uses all three.
source "$(dirname "$0")/common.sh" "$1" "$2" "$3"
library=${4:-.}
first="" implementation="" cases=6
shift $(($# < 4 ? $# : 4))
while (($#)); do
  case "$1" in
    --first-dtype) first=--first-dtype; shift ;;
    --implementation) implementation=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    *) fail "unknown argument '$1'" ;;
  esac
done
build=$(dirname "$adamconf")
# The 2^20-element class is left out here (CI time): it runs through JSON in
# cli.check_torch (PyTorch) and cli.check_adapters (the minimal adapter), in
# process in cli.check_library; through the other adapters only in the full
# matrix (scripts/conformance-matrix.sh) and the false-alarm sweep.
ADAMCONF_PYTHON=$python "$src/scripts/conformance-matrix.sh" --build "$build" --cases "$cases" --out "$tmp/table.md" \
  --skip-property large-tensors-agree-with-reference --library "$library" ${implementation:+--implementation "$implementation"} \
  $first >"$tmp/out" 2>&1
status=$?
cat "$tmp/table.md" 2>/dev/null || cat "$tmp/out"
[ $status -eq 0 ] || { cat "$tmp/out"; fail "the matrix exits $status"; }
# One table row per (row, dtype) of the rows file: its dtypes, or the first of them.
expected=$(grep -vE '^(#|[[:space:]]*$)' "$src/scripts/conformance-matrix.rows" | grep -E "^[^|]*($library)" |
  grep -iE "^[^|]*\|[^|]*(${implementation:-.})" |
  awk -F'|' -v first="$first" '{ n = split($6, d, " "); total += (first == "" ? n : 1) } END { print total + 0 }')
rows=$(grep -cE '^\| [A-Za-z].* \| (pass|pass \([a-z0-9-]+ reproduces at some seeds only\)|FAIL: finding [a-z0-9-]+) \| ' "$tmp/table.md")
[ "$expected" -gt 0 ] || fail "no rows match '$library'"
[ "$rows" -eq "$expected" ] || fail "$rows rows pass (or fail with their finding), expected $expected (every implementation x dtype)"
grep -qE 'not installed|\| FAIL \||ERROR|no longer reproduces' "$tmp/table.md" && fail "a row is not installed, fails, or has a stale finding"
if grep -q dlib <<< "$library"; then
  grep -qF '| dlib-adam (step counter float32) | float32 | pass' "$tmp/table.md" ||
    fail "dlib's row lacks its float32 counter"
fi
# --readme: the table lands between the markers, the rest of the file unchanged.
printf 'before\n<!-- conformance-matrix:begin -->\nold\n<!-- conformance-matrix:end -->\nafter\n' >"$tmp/README.md"
ADAMCONF_PYTHON=$python "$src/scripts/conformance-matrix.sh" --splice "$tmp/table.md" --readme "$tmp/README.md" ||
  fail "--splice --readme exits non-zero"
head -2 "$tmp/README.md" | grep -q '^before$' && tail -1 "$tmp/README.md" | grep -q '^after$' && ! grep -q '^old$' "$tmp/README.md" &&
  grep -q '^| library | implementation' "$tmp/README.md" || { cat "$tmp/README.md"; fail "--readme did not replace the table"; }
echo "conformance matrix ($library${implementation:+, implementations matching $implementation}${first:+, first dtypes}, $cases cases): $rows rows pass"
