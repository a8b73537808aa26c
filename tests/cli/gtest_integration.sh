#!/usr/bin/env bash
# adamconf::gtest as a user runs it: one GoogleTest test per property; the
# correct implementation passes, the mutant fails with the claim, the seed and
# a replay line that reproduces the failure; GoogleTest's sharding splits the
# tests so that the shards together run each test exactly once.
# usage: gtest_integration.sh DEMO_BINARY SOURCE_DIR
demo=$1
source "$(dirname "$0")/common.sh" "$demo" "$2"

"$demo" --gtest_list_tests --gtest_filter='CorrectFloat.*' | grep -c '^  ' >"$tmp/n"
n=$(cat "$tmp/n")
[ "$n" -ge 25 ] || fail "CorrectFloat has $n tests, expected one per property (at least 25)"
grep -q 'trajectory_agrees_with_reference_amsgrad' <("$demo" --gtest_list_tests) ||
  fail "no test for the agreement property under the amsgrad option the implementation offers"

"$demo" --gtest_filter='CorrectFloat.*' >"$tmp/whole" 2>&1 || { cat "$tmp/whole"; fail "the correct implementation fails"; }
grep -E '^\[ +(OK|SKIPPED) +\] [^ ]+ \([0-9]+ ms\)' "$tmp/whole" | sed -E 's/^\[[^]]*\] ([^ ]*).*/\1/' | sort >"$tmp/whole.names"
echo "correct implementation: $(grep -c . "$tmp/whole.names") tests run (passed or skipped with a reason), none failed"
grep -q 'CorrectFloat.each_step_agrees_with_reference' "$tmp/whole.names" || fail "each_step_agrees_with_reference did not run"

"$demo" --gtest_filter='DecayNotScaledByLr.*' >"$tmp/bug" 2>&1 && fail "the mutant passes"
for needle in "[  FAILED  ] DecayNotScaledByLr.trajectory_agrees_with_reference" "claim: every step" "ulps, allowed" \
              "inputs:" "RapidCheck seed 1" "replay: ADAMCONF_SEED=1 ADAMCONF_CASES=10"; do
  grep -qF -- "$needle" "$tmp/bug" || { cat "$tmp/bug"; fail "the mutant's failure lacks '$needle'"; }
done
replay=$(grep -m1 -o 'replay: ADAMCONF_SEED=.*--gtest_filter=DecayNotScaledByLr.trajectory_agrees_with_reference' "$tmp/bug")
replay=${replay#replay: }
env $replay >"$tmp/replayed" 2>&1 && fail "the replay line passes: $replay"
first=$(grep -m1 'step .*theta =>' "$tmp/bug")
grep -qF -- "$first" "$tmp/replayed" || { cat "$tmp/replayed"; fail "the replay does not reproduce '$first'"; }
echo "mutant: $(grep -c '^\[  FAILED  \] DecayNotScaledByLr\.[a-z_]* ' "$tmp/bug") tests fail; the replay reproduces: $first"

# GoogleTest's sharding: 3 shards, each test in exactly one, their union the whole run.
: >"$tmp/shards.names"
for i in 0 1 2; do
  GTEST_TOTAL_SHARDS=3 GTEST_SHARD_INDEX=$i "$demo" --gtest_filter='CorrectFloat.*' >"$tmp/shard$i" 2>&1 ||
    { cat "$tmp/shard$i"; fail "shard $i fails"; }
  grep -E '^\[ +(OK|SKIPPED) +\] [^ ]+ \([0-9]+ ms\)' "$tmp/shard$i" | sed -E 's/^\[[^]]*\] ([^ ]*).*/\1/' >>"$tmp/shards.names"
done
sort "$tmp/shards.names" >"$tmp/shards.sorted"
cmp -s "$tmp/shards.sorted" "$tmp/whole.names" || { diff "$tmp/shards.sorted" "$tmp/whole.names"; fail "the shards do not cover the whole run exactly"; }
echo "3 GoogleTest shards ran $(grep -c . "$tmp/shards.sorted") tests, each once: the whole run"
