#!/usr/bin/env bash
# Installs the Debian packages adamconf needs, only those missing.
set -euo pipefail
packages=(cmake make g++ libboost-dev libmpfr-dev libgmp-dev libgtest-dev librapidcheck-dev
          nlohmann-json3-dev libcli11-dev libbenchmark-dev zlib1g-dev python3 python3-numpy python3-torch python3-mpmath python3-gmpy2
          python3-venv  # .venv: the PyPI peers (adapters/requirements.txt)
          python3-pytest chromium  # the pytest integration; rendering the HTML report (tests/cli/html_report.sh)
          clang libclang-rt-14-dev  # clang: the sanitizer build and libFuzzer (scripts/sanitize.sh, scripts/fuzz.sh)
          libtorch-dev libdlib-dev python3-sklearn)  # the shipped adapters (scripts/conformance-matrix.sh)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)  # the TF.js adapter (a machine may have Node.js from elsewhere)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "adamconf: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The TF.js adapter's packages (adapters/tfjs/package-lock.json), from npm.
tfjs="$(cd "$(dirname "$0")/.." && pwd)/adapters/tfjs"
if [ ! -d "$tfjs/node_modules/@tensorflow/tfjs-core" ]; then
  echo "adamconf: npm ci in adapters/tfjs"
  (cd "$tfjs" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The PyPI peers (adapters/requirements.txt, exact versions) in .venv/, made
# from Debian's python3 without its dist-packages: reinstalled only when the
# requirements change. ADAMCONF_PYPI=0 skips them (the checks that need them
# then say "not installed"). A fresh install downloads about 3.8 GB.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ "${ADAMCONF_PYPI:-1}" != 0 ]; then
  want="$(sha256sum "$root/adapters/requirements.txt" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "adamconf: installing the PyPI peers into .venv (adapters/requirements.txt; about 3.8 GB to download)"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$root/adapters/requirements.txt"
    echo "$want" >"$venv/.requirements.sha256"
  fi
fi
