#!/usr/bin/python3
"""Writes a generated table into a README between its markers.

    scripts/splice_readme.py NAME TABLE_FILE README

The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` is replaced by
TABLE_FILE's, through a temporary file and a rename: an interrupted run loses
nothing. Exit status 2, with one line, when the README lacks the markers.
Used by scripts/conformance-matrix.sh (conformance-matrix) and
bench/run_benchmarks.py (benchmarks)."""
import os
import sys


def splice(name, table, readme):
    text = open(readme).read()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text or text.index(begin) > text.index(end):
        sys.stderr.write(f"splice_readme: {readme} has no {begin} ... {end} markers\n")
        sys.exit(2)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    tmp = readme + ".tmp"
    with open(tmp, "w") as out:
        out.write(head + begin + "\n" + table.rstrip("\n") + "\n" + end + tail)
    os.replace(tmp, readme)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    splice(sys.argv[1], open(sys.argv[2]).read(), sys.argv[3])
