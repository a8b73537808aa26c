#!/usr/bin/env bash
# The conformance matrix: every shipped adapter of a real implementation
# installed here passes its source's preset in every dtype it supports, and
# the table has a row for each (20) (none "not installed": scripts/install-deps.sh
# installs them all). Then --readme writes it between the markers.
# usage: conformance_matrix.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
build=$(dirname "$adamconf")
# The 2^20-element class is left out here (CI time): it runs through JSON in
# cli.check_torch (PyTorch) and cli.check_adapters (the minimal adapter), in
# process in cli.check_library; through the TF.js, scikit-learn and dlib
# adapters only in the full matrix (scripts/conformance-matrix.sh) and the
# false-alarm sweep.
ADAMCONF_PYTHON=$python "$src/scripts/conformance-matrix.sh" --build "$build" --cases 6 --out "$tmp/table.md" \
  --skip-property large-tensors-agree-with-reference >"$tmp/out" 2>&1
status=$?
cat "$tmp/table.md" 2>/dev/null || cat "$tmp/out"
[ $status -eq 0 ] || { cat "$tmp/out"; fail "the matrix exits $status"; }
rows=$(grep -c '^| [A-Za-z].* | pass | ' "$tmp/table.md")
[ "$rows" -eq 20 ] || fail "$rows rows pass, expected 20 (every implementation x dtype)"
grep -qE 'not installed|FAIL|ERROR' "$tmp/table.md" && fail "a row is not installed or fails"
grep -q '^| dlib adam solver | dlib-adam (step counter float32) | float32 | pass' "$tmp/table.md" || fail "dlib's row lacks its float32 counter"
# --readme: the table lands between the markers, the rest of the file unchanged.
printf 'before\n<!-- conformance-matrix:begin -->\nold\n<!-- conformance-matrix:end -->\nafter\n' >"$tmp/README.md"
ADAMCONF_PYTHON=$python "$src/scripts/conformance-matrix.sh" --splice "$tmp/table.md" --readme "$tmp/README.md" ||
  fail "--splice --readme exits non-zero"
head -2 "$tmp/README.md" | grep -q '^before$' && tail -1 "$tmp/README.md" | grep -q '^after$' && ! grep -q '^old$' "$tmp/README.md" &&
  grep -q '^| implementation | preset | dtype | verdict' "$tmp/README.md" || { cat "$tmp/README.md"; fail "--readme did not replace the table"; }
echo "conformance matrix: $rows rows pass"
