#!/usr/bin/env bash
# The README's generated tables: each sits between markers that its script
# writes (scripts/splice_readme.py, used by scripts/conformance-matrix.sh and
# bench/run_benchmarks.py), carries the date and the machine it was measured
# on, and the splice replaces only what is between the markers, atomically,
# or refuses in one line.
# usage: readme_tables.sh SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "" "$1" "$2"
readme="$src/README.md"
for name in conformance-matrix benchmarks; do
  block=$(sed -n "/<!-- $name:begin -->/,/<!-- $name:end -->/p" "$readme")
  [ "$(wc -l <<<"$block")" -gt 5 ] || fail "README.md: no generated $name table between its markers"
done
sed -n '/<!-- benchmarks:begin -->/,/<!-- benchmarks:end -->/p' "$readme" | grep -qE '^Measured [0-9]{4}-[0-9]{2}-[0-9]{2} on .*cores' ||
  fail "README.md: the benchmark table names no date and machine"
sed -n '/<!-- benchmarks:begin -->/,/<!-- benchmarks:end -->/p' "$readme" | grep -q 'error model in double' ||
  fail "README.md: the benchmark table lacks what a check runs (the error model in double)"

printf 'before\n<!-- t:begin -->\nold\n<!-- t:end -->\nafter\n' >"$tmp/README.md"
printf '| new | table |\n' >"$tmp/table.md"
"$python" "$src/scripts/splice_readme.py" t "$tmp/table.md" "$tmp/README.md" || fail "splice_readme.py failed"
[ "$(cat "$tmp/README.md")" = "$(printf 'before\n<!-- t:begin -->\n| new | table |\n<!-- t:end -->\nafter')" ] ||
  { cat "$tmp/README.md"; fail "the splice changed more, or less, than the block"; }
cp "$tmp/README.md" "$tmp/kept"
"$python" "$src/scripts/splice_readme.py" other "$tmp/table.md" "$tmp/README.md" 2>"$tmp/err" && fail "no markers: exit 0"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "no <!-- other:begin -->" "$tmp/err" || { cat "$tmp/err"; fail "no markers: not one line naming them"; }
cmp -s "$tmp/README.md" "$tmp/kept" || fail "a refused splice changed the README"
[ -z "$(ls "$tmp" | grep '\.tmp$')" ] || fail "a temporary file left behind"
echo "README tables: both generated blocks present, the benchmark block dated; splice replaces only its block"
