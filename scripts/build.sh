#!/usr/bin/env bash
# Configures and builds adamconf into build/ (Release), then the Rust adapters
# (adapters/candle, adapters/burn) with cargo from their committed Cargo.lock
# (--locked: the versions the lock file pins, nothing newer; compiled crates in
# ~/.cache/adamconf/cargo-target, ADAMCONF_CARGO_TARGET_DIR to move them). Without cargo the
# Rust adapters are left out, and the conformance matrix says "not installed".
set -euo pipefail
cd "$(dirname "$0")/.."
# ADAMCONF_NATIVE=ON builds for this machine's processor: audits 2.6 times as
# fast with AVX-512, the property suite about a fifth slower (CMakeLists.txt).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DADAMCONF_NATIVE="${ADAMCONF_NATIVE:-OFF}" >/dev/null
cmake --build build -j "$(nproc)"
if command -v cargo >/dev/null 2>&1; then
  # Compiled crates are kept outside the checkout, like pip's cache (a clean
  # checkout on a machine that built them once rebuilds only the adapters:
  # seconds, where burn's 613 crates take 12 minutes on 2 cores); the binaries
  # are copied to adapters/NAME/target/release/, where the matrix runs them.
  # One target folder per adapter: two lock files' builds merged into one
  # folder left rlibs that rustc refused (E0463, "can't find crate").
  cargo_target=${ADAMCONF_CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/adamconf/cargo-target}
  for adapter in candle burn; do
    echo "adamconf: cargo build --release --locked in adapters/$adapter (compiled crates in $cargo_target/$adapter)"
    (cd "adapters/$adapter" && CARGO_TARGET_DIR="$cargo_target/$adapter" cargo build --release --locked --quiet)
    install -D "$cargo_target/$adapter/release/adamconf-$adapter" "adapters/$adapter/target/release/adamconf-$adapter"
  done
else
  echo "adamconf: no cargo: the Rust adapters (adapters/candle, adapters/burn) are not built"
fi
