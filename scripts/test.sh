#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test;
# then the sanitizer build (clang, ASan + UBSan) runs the suite again, and the
# fuzz campaign runs every loader (scripts/fuzz.sh). `scripts/test.sh --quick`
# runs only the first part.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
[ "${1:-}" = --quick ] && exit 0
echo "== sanitizer build (ASan + UBSan): the test suite again"
scripts/sanitize.sh
echo "== fuzz campaign"
scripts/fuzz.sh "${ADAMCONF_FUZZ_INPUTS:-50000}"
