#!/usr/bin/env bash
# identify tells what the exported state holds, which theta cannot: PyTorch's
# Adam holds m and v, optimi's and HeavyBall's the moments bias-corrected.
# Their theta are one arithmetic in exact numbers, so without the state probe
# optimi-adam and pytorch-adam were named together for either.
source "$(dirname "$0")/common.sh" "$@"
venv="$src/.venv/bin/python"
[ -x "$venv" ] || fail "$venv is missing: scripts/install-deps.sh installs PyTorch 2, torch-optimi and HeavyBall there"
expect() {  # impl, the presets identify must name (exactly), the state line
  "$adamconf" identify --impl "$1" >"$tmp/out" 2>&1 || fail "identify --impl $1: exit $?: $(cat "$tmp/out")"
  grep -q "^  convention of: $2 (" "$tmp/out" || fail "identify --impl $1 names: $(grep 'convention of' "$tmp/out")"
  grep -q "^    state: $3" "$tmp/out" || fail "identify --impl $1: $(grep 'state:' "$tmp/out")"
  echo "$(head -1 "$tmp/out") $(grep 'convention of' "$tmp/out")"
}
expect "$venv $src/adapters/torch/torch_optim_adapter.py torch.optim:Adam --preset pytorch-adam" "pytorch-adam, burn-adam" \
  "the moments m and v"
expect "$venv $src/adapters/torch/torch_optim_adapter.py optimi:Adam --preset optimi-adam" "optimi-adam" \
  "the moments held bias-corrected"
expect "$venv $src/adapters/heavyball/adapter.py" "heavyball-adamw" "the moments held bias-corrected"
