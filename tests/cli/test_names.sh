#!/usr/bin/env bash
# ctest's names stay readable: no GoogleTest parameter printed into them (a
# typed suite used to carry a 200-character Boost type, a parameterized one
# "# GetParam() = 56-byte object <...>"), so that no name, and no padded line
# of ctest's output, runs past 120 columns.
# usage: test_names.sh BUILD_DIR
set -u
names=$(ctest --test-dir "$1" -N | sed -n 's/^ *Test *#[0-9]*: //p')
[ -n "$names" ] || { echo "FAIL: ctest -N listed no test"; exit 1; }
longest=$(awk '{ if (length($0) > n) { n = length($0); s = $0 } } END { print n ": " s }' <<<"$names")
bad=$(grep -E 'boost::|GetParam|TypeParam|# ' <<<"$names" | head -3)
[ -z "$bad" ] || { echo "FAIL: a printed parameter in a test name: $bad"; exit 1; }
[ "${longest%%:*}" -le 120 ] || { echo "FAIL: a test name of ${longest}"; exit 1; }
echo "$(wc -l <<<"$names") test names, the longest ${longest}"
