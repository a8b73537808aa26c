#!/usr/bin/env bash
# check --shard I/N: N shards together run each case of the whole run exactly
# once: the same case indices per property, disjoint, the same number of values
# compared, the same worst error (the same cases give the same comparisons).
# usage: shards.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
args=(--impl builtin:float --preset pytorch-adamw --cases 12 --skip-property large-tensors-agree-with-reference)
"$adamconf" check "${args[@]}" --json "$tmp/whole.json" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the whole run fails"; }
for n in 3 5; do
  for ((i = 1; i <= n; i++)); do
    "$adamconf" check "${args[@]}" --shard "$i/$n" --json "$tmp/shard-$n-$i.json" >"$tmp/out" 2>&1 ||
      { cat "$tmp/out"; fail "shard $i/$n fails"; }
    grep -q "shard $i/$n" "$tmp/out" || fail "shard $i/$n does not say which shard it is"
  done
  "$python" - "$tmp/whole.json" "$tmp"/shard-$n-*.json <<'PY' || fail "the $n shards are not the whole run"
import json, sys
whole, shards = json.load(open(sys.argv[1])), [json.load(open(f)) for f in sys.argv[2:]]
key = lambda p: p["id"] + "/" + p.get("variant", "")
total_cases = 0
for w in whole["properties"]:
    parts = [p for s in shards for p in s["properties"] if key(p) == key(w)]
    assert len(parts) == len(shards), key(w) + ": not reported by every shard"
    if w["status"] == "skip" and w.get("case_indices") == []:
        assert all(p["status"] == "skip" for p in parts), key(w)
        continue
    indices = sorted(i for p in parts for i in p["case_indices"])
    assert indices == sorted(w["case_indices"]), "%s: shards ran cases %s, the whole run %s" % (key(w), indices, w["case_indices"])
    assert sum(p["values_compared"] for p in parts) == w["values_compared"], key(w) + ": values compared differ"
    ran = [p for p in parts if p["case_indices"]]
    assert max(p["worst_ratio"] for p in ran) == w["worst_ratio"], key(w) + ": worst error differs"
    total_cases += len(indices)
sizes = [sum(len(p["case_indices"]) for p in s["properties"]) for s in shards]
assert max(sizes) - min(sizes) <= len(whole["properties"]), "unbalanced shards: %s" % sizes
print("%d shards: %s cases each, %d in all, each case of the whole run exactly once" % (len(shards), sizes, total_cases))
PY
done
"$adamconf" check "${args[@]}" --shard 4/3 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q -- "--shard 4/3: expected I/N" "$tmp/out" || { cat "$tmp/out"; fail "--shard 4/3 is not refused with a one-line error"; }
