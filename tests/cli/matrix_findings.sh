#!/usr/bin/env bash
# A finding row of the conformance matrix fails the matrix when it fails a property its finding does not
# reach (scripts/conformance-findings): a documented finding never hides a new failure.
# usage: matrix_findings.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
# The test adapter whose v is not bias-corrected fails step-one-closed-form and the trajectories.
echo "test|buggy adapter|$python $src/tests/adapters/buggy_adapter.py||kingma-ba|float64:planted-bug|true" >"$tmp/rows"
run() {  # findings line; prints the matrix's output, returns its status
  echo "$1" >"$tmp/findings"
  ADAMCONF_MATRIX_ROWS="$tmp/rows" ADAMCONF_MATRIX_FINDINGS="$tmp/findings" "$src/scripts/conformance-matrix.sh" \
    --build "$(dirname "$adamconf")" --cases 2 --seed 1 --out "$tmp/table.md" >"$tmp/out" 2>&1
}
run "planted-bug|.*" || fail "a finding that reaches every property must accept the row: $(cat "$tmp/out")"
grep -q "FAIL: finding planted-bug |" "$tmp/table.md" || fail "no finding row: $(cat "$tmp/table.md")"
run "planted-bug|^step-one-closed-form$" && fail "failures beyond the finding were accepted: $(cat "$tmp/table.md")"
grep -q "beyond finding planted-bug" "$tmp/out" || fail "the matrix does not say which failures lie beyond: $(cat "$tmp/out")"
grep -q "FAIL: finding planted-bug, and .*trajectory-agrees-with-reference.* beyond it" "$tmp/table.md" ||
  fail "the row does not name them: $(cat "$tmp/table.md")"
echo "beyond: $(grep 'beyond finding' "$tmp/out")"
run "other-finding|.*" && fail "a finding with no line in the findings file was accepted"
grep -q "planted-bug has no line" "$tmp/out" || fail "the missing line is not named: $(cat "$tmp/out")"
echo "matrix findings: all checks passed"
