#!/usr/bin/env bash
# Configures and builds adamconf into build/ (Release), then the Rust adapters
# (adapters/candle, adapters/burn) with cargo from their committed Cargo.lock
# (--locked: the versions the lock file pins, nothing newer). Without cargo the
# Rust adapters are left out, and the conformance matrix says "not installed".
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
if command -v cargo >/dev/null 2>&1; then
  for adapter in adapters/candle adapters/burn; do
    echo "adamconf: cargo build --release --locked in $adapter"
    (cd "$adapter" && cargo build --release --locked --quiet)
  done
else
  echo "adamconf: no cargo: the Rust adapters (adapters/candle, adapters/burn) are not built"
fi
