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

# identify names the quantized state formats whose codes fit (a probe of 8192 elements): torchao's 4-bit
# maps for AdamW4bit, as its hello states; bitsandbytes' CPU 8-bit codes fit no map's nearest code
# (finding bnb-8bit-cpu-not-nearest).
quantized() {  # class, the line identify must print
  "$adamconf" identify --impl "torch:$1" --dtype float32 >"$tmp/out" 2>&1 || fail "identify --impl torch:$1: exit $?: $(cat "$tmp/out")"
  grep -qF "    quantized states: $2" "$tmp/out" || fail "identify --impl torch:$1: $(grep 'quantized states' "$tmp/out" || cat "$tmp/out")"
  echo "$(head -1 "$tmp/out") $(grep 'quantized states' "$tmp/out")"
}
quantized torchao.optim:AdamW4bit "m: its codes fit torchao-dynamic4-signed (torchao-dynamic4-signed as its hello states); v: its codes fit torchao-linear4-unsigned (torchao-linear4-unsigned as its hello states)"
quantized bitsandbytes.optim:AdamW8bit "m: no known quantized format fits its codes (bnb-dynamic8-signed as its hello states: "

# --dtype picks the optimizers that offer it: HeavyBall's adapter offers one per dtype.
"$adamconf" identify --impl "$venv $src/adapters/heavyball/adapter.py" --dtype bfloat16 >"$tmp/out" 2>&1 || fail "identify heavyball --dtype bfloat16: $(cat "$tmp/out")"
[ "$(grep -c 'probed in' "$tmp/out")" = 1 ] && grep -q '^heavyball.AdamW:bfloat16 .*probed in bfloat16' "$tmp/out" ||
  fail "identify --dtype bfloat16 did not probe HeavyBall's bfloat16 optimizer alone: $(grep 'probed in' "$tmp/out")"
grep -q "stochastic-rounding, as its hello states (the probe fits it" "$tmp/out" || fail "HeavyBall bfloat16 precision: $(grep precision: "$tmp/out")"

# Low-precision dtypes are offered where the class's arithmetic is modelled: optimi's default, Kahan summation over
# bfloat16 parameters, is storage-kahan (its hello says so, and kahan_comp travels as the compensation); with
# kahan_sum=False optimi steps in storage arithmetic.
optimi="$venv $src/adapters/torch/torch_optim_adapter.py optimi:AdamW --preset optimi-adamw"
"$adamconf" check --impl "$optimi" --preset optimi-adamw --dtype bfloat16 --cases 10 \
  --property trajectory-agrees-with-reference --property each-step-agrees-with-reference >"$tmp/out" 2>&1 ||
  fail "optimi's default in bfloat16: $(cat "$tmp/out")"
grep -q "precision storage-kahan, as the adapter's hello states" "$tmp/out" || fail "optimi's Kahan not stated: $(head -5 "$tmp/out")"
[ "$(grep -cE '^  pass  (trajectory|each-step)-agrees-with-reference ' "$tmp/out")" = 2 ] ||
  fail "optimi kahan_sum bfloat16: $(cat "$tmp/out")"
echo "optimi bfloat16, kahan_sum (storage-kahan): $(tail -1 "$tmp/out")"
# tinygrad's float16 step: native float16 products, stated by its own entry as precision promoted, which
# check picks for --dtype float16 (the entry offering it) and passes.
tinygrad="$venv $src/adapters/tinygrad/adapter.py"
"$adamconf" check --impl "$tinygrad" --preset tinygrad-adamw --dtype float16 --cases 2 --timeout 600 >"$tmp/out" 2>&1 ||
  fail "tinygrad float16: $(cat "$tmp/out")"
grep -q "^adamconf check: tinygrad.nn.optim.AdamW (float16 parameters) .* --precision promoted" "$tmp/out" &&
  grep -q "precision promoted, as the adapter's hello states" "$tmp/out" || fail "tinygrad float16 entry: $(head -4 "$tmp/out")"
echo "tinygrad float16 (promoted): $(tail -1 "$tmp/out")"
"$adamconf" check --impl "$optimi --args kahan_sum=False" --preset optimi-adamw --dtype bfloat16 --step-counter int32 --cases 10 \
  --property step-one-closed-form --property trajectory-agrees-with-reference >"$tmp/out" 2>&1 ||
  fail "optimi kahan_sum=False in bfloat16: $(cat "$tmp/out")"
grep -qE '^  pass  trajectory-agrees-with-reference ' "$tmp/out" || fail "optimi kahan_sum=False bfloat16 trajectory: $(cat "$tmp/out")"
echo "optimi bfloat16, kahan_sum=False (storage): $(tail -1 "$tmp/out")"
