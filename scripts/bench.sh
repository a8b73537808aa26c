#!/usr/bin/env bash
# The benchmark table: installs what is missing, builds, runs bench/run_benchmarks.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec /usr/bin/python3 bench/run_benchmarks.py "$@"
