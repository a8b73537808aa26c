#!/usr/bin/env bash
# The sanitizer build: clang with AddressSanitizer and UndefinedBehaviorSanitizer
# (any report is fatal) and the libFuzzer targets, in build-sanitize/; then the
# test suite in it. Left out there: the Python-only tests (they do not run
# adamconf), the torch:MODULE:CLASS checks (PyTorch through Python, as
# cli.check_torch), the conformance matrix (the 2022 and the 2026 libraries: the
# process paths of cli.robustness, ten minutes and more of Python under ASan), the pytest integration (Python reading adamconf's JSON report;
# the report is written under ASan in cli.html_report), the shard cover check
# (eight builtin runs of the same code paths), the PyTorch checks (5 minutes under ASan), the full suites through
# the shipped and the deliberately broken adapters (cli.check_adapters: 4.4 minutes
# under ASan; the adapter process paths, hangs, crashes and garbage included, run
# in cli.robustness and Protocol.*), and the parameterized sweeps of the float implementations' source
# and re-ordered arithmetic over every preset (the same code paths, 2-4x slower
# under ASan: 10 minutes), of which one preset runs (optax-amsgrad: AMSGrad over
# v_hat, decoupled decay; pytorch-adamw's took 157 s there, the longest test); and the large case classes
# (LargeCases, the mutant hunt that reaches them: 2^20-element cases, 3-5x slower
# under ASan), whose verifier and threads run in Structure.* at 70000 elements;
# the mixed-precision mutant hunt (107 s under ASan: the code paths of
# StoragePrecision), and of StoragePrecision the pytorch-adam half (every
# convention runs in the pytorch-adamw half, 72 s).
# usage: scripts/sanitize.sh [--build-only]
set -euo pipefail
cd "$(dirname "$0")/.."
CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DADAMCONF_SANITIZE=ON \
  -DADAMCONF_FUZZ=ON -DADAMCONF_BENCH=OFF >/dev/null
cmake --build build-sanitize -j "$(nproc)"
[ "${1:-}" = --build-only ] && exit 0
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Two selections at once (ctest has no "all but these, plus those"): the
# preset sweep runs beside the rest instead of after it.
ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" -R '^Presets/SourceOrdering.*/optax_amsgrad$' \
  >build-sanitize/sweeps.log 2>&1 &
sweeps=$!
ctest --test-dir build-sanitize --output-on-failure -j "$(nproc)" -E '^python\.|^integration\.pytest|^cli\.conformance_matrix$|^cli\.conformance_matrix_2026$|^cli\.check_bfloat16$|^cli\.shards$|^cli\.check_torch$|^cli\.check_torch_class$|^cli\.check_adapters$|^Variants/|^Presets/SourceOrdering|^LargeCases\.|^MutantZoo\.|^Presets/StoragePrecision.*/pytorch_adam$' || status=$?
wait $sweeps || status=$?
cat build-sanitize/sweeps.log
exit "${status:-0}"
