#!/usr/bin/env bash
# --impl lib:PATH.so: the C ABI's examples (C: PyTorch's AdamW; C++: PyTorch's
# Adam with AMSGrad and maximize) pass every property in both formats, in
# process, the 2^20-element class included; the C one with a planted bug
# fails; a library that is missing or is no adapter gets a one-line verdict.
# usage: check_library.sh ADAMCONF SOURCE_DIR C_LIBRARY CPP_LIBRARY BUGGY_C_LIBRARY [full|quick]
# (quick, for the sanitizer build: float32 only, 10 cases)
c_lib=$3 cpp_lib=$4 bug_lib=$5
source "$(dirname "$0")/common.sh" "$1" "$2"
dtypes=(float32 float64) cases=50
[ "${6:-full}" = quick ] && dtypes=(float32) cases=10
for dtype in "${dtypes[@]}"; do
  "$adamconf" check --impl "lib:$c_lib" --preset pytorch-adamw --dtype $dtype --cases $cases >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "the C example fails in $dtype"; }
  grep -qE '^  pass  large-tensors-agree-with-reference' "$tmp/out" || fail "the 2^20-element class did not run in process"
  echo "C example (pytorch-adamw, $dtype): $(tail -1 "$tmp/out")"
  "$adamconf" check --impl "lib:$cpp_lib" --preset pytorch-adam --dtype $dtype --cases $cases >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "the C++ example fails in $dtype"; }
  grep -qE '^  pass  trajectory-agrees-with-reference \[amsgrad\]' "$tmp/out" || fail "the C++ example's amsgrad was not checked"
  echo "C++ example (pytorch-adam, $dtype): $(tail -1 "$tmp/out")"
done
"$adamconf" check --impl "lib:$bug_lib" --preset pytorch-adamw --cases $cases >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q '^  FAIL  trajectory-agrees-with-reference' "$tmp/out" || { cat "$tmp/out"; fail "the planted bug passes"; }
echo "C example with v not bias-corrected: $(tail -1 "$tmp/out")"
"$adamconf" identify --impl "lib:$c_lib" >"$tmp/out" 2>&1 && grep -q "convention of: pytorch-adamw" "$tmp/out" ||
  { cat "$tmp/out"; fail "identify does not name the C example's convention"; }
"$adamconf" check --impl "lib:$tmp/missing.so" --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "lib:$tmp/missing.so: cannot load it" "$tmp/out" || { cat "$tmp/out"; fail "a missing library is not named"; }
"$adamconf" check --impl "lib:$(ldd "$adamconf" | grep -o '/[^ ]*libm\.so[^ ]*' | head -1)" --preset pytorch-adamw >"$tmp/out" 2>&1
[ $? -eq 1 ] && grep -q "exports no adamconf_adapter_v1" "$tmp/out" || { cat "$tmp/out"; fail "a library that is no adapter is not named"; }
echo "a missing library and one that is no adapter: one-line verdicts"
