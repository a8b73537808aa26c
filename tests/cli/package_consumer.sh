#!/usr/bin/env bash
# The CMake package as a user consumes it: `cmake --install` into a fresh
# prefix, then a separate project (examples/gtest) configured against it with
# find_package(adamconf), built, and its GoogleTest property tests run by ctest.
# usage: package_consumer.sh BUILD_DIR SOURCE_DIR
build=$1
source "$(dirname "$0")/common.sh" "" "$2"
src=$(cd "$src" && pwd)
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install failed"; }
for f in bin/adamconf lib/cmake/adamconf/adamconfConfig.cmake lib/cmake/adamconf/adamconfTargets.cmake \
         include/adamconf/gtest_properties.hpp include/adamconf/reference_adam.hpp include/adamconf/property.hpp \
         share/adamconf/golden/traces/index.json share/adamconf/python/adamconf_pytest.py share/adamconf/adapters/template/minimal_adapter.py share/adamconf/adapters/common/adamconf_adapter.py; do
  [ -e "$prefix/$f" ] || fail "the installed tree lacks $f"
done
! grep -rqF "$src" "$prefix/lib/cmake/adamconf" || fail "the installed package refers to the source tree: $(grep -rlF "$src" "$prefix/lib/cmake/adamconf")"

# The installed command finds its golden files without being told where.
(cd "$tmp" && "$prefix/bin/adamconf" golden verify) >"$tmp/verify" 2>&1 || { cat "$tmp/verify"; fail "the installed adamconf golden verify fails"; }
grep -q "share/adamconf/golden/traces" "$tmp/verify" || { cat "$tmp/verify"; fail "golden verify did not use the installed golden files"; }

# --impl torch:... runs the installed torch_optim_adapter.py.
(cd "$tmp" && "$prefix/bin/adamconf" check --impl torch:torch.optim:AdamW --preset pytorch-adamw --cases 3 \
   --property trajectory-agrees-with-reference) >"$tmp/torch" 2>&1 || { cat "$tmp/torch"; fail "the installed adamconf cannot check torch:torch.optim:AdamW"; }

cmake -S "$src/examples/gtest" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "the consumer project does not configure against the installed package"; }
cmake --build "$tmp/consumer" -j "$(nproc)" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "the consumer project does not build"; }
ctest --test-dir "$tmp/consumer" -j "$(nproc)" >"$tmp/ctest.log" 2>&1 || { cat "$tmp/ctest.log"; fail "the consumer's property tests fail"; }
grep -q "MyAdamW_float32.trajectory_agrees_with_reference .*Passed" "$tmp/ctest.log" || { cat "$tmp/ctest.log"; fail "no passing MyAdamW_float32.trajectory_agrees_with_reference"; }
grep -q "installed_command .*Passed" "$tmp/ctest.log" || { cat "$tmp/ctest.log"; fail "adamconf::adamconf did not run"; }
echo "consumer project: $(grep -E 'tests passed' "$tmp/ctest.log")"
grep -E "Passed|Skipped|Not Run" "$tmp/ctest.log" | sed -n '1,4p'
