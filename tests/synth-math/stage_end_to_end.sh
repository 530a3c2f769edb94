#!/bin/bash
# `sieve stage synth-math` end to end: records pass the Python reference
# checker; the output does not depend on batch boundaries (one run of 600
# equals two runs of 300 with offset); the same seed repeats exactly;
# paths=K gives K records per problem with distinct equation lists; the
# splits share no question; bad parameters fail with a message.
set -euo pipefail
sieve=${SIEVE_BIN:?}
ref="$SIEVE_SOURCE_DIR/tools/synth_reference.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { "$sieve" stage synth-math "$@" </dev/null 2>"$tmp/stderr"; }

run --param n=600 --param seed=5 > "$tmp/all.jsonl"
[ "$(wc -l < "$tmp/all.jsonl")" -eq 600 ] || { echo "expected 600 records"; exit 1; }
/usr/bin/python3 "$ref" "$tmp/all.jsonl"

run --param n=300 --param seed=5 > "$tmp/parts.jsonl"
run --param n=300 --param seed=5 --param offset=300 >> "$tmp/parts.jsonl"
cmp "$tmp/all.jsonl" "$tmp/parts.jsonl" || { echo "output depends on batch boundaries"; exit 1; }

run --param n=600 --param seed=5 > "$tmp/again.jsonl"
cmp "$tmp/all.jsonl" "$tmp/again.jsonl" || { echo "same seed, different output"; exit 1; }
run --param n=600 --param seed=6 > "$tmp/other.jsonl"
if cmp -s "$tmp/all.jsonl" "$tmp/other.jsonl"; then echo "seed has no effect"; exit 1; fi

run --param n=200 --param seed=5 --param paths=4 --param min_steps=3 \
    --param max_steps=4 --param order=canonical > "$tmp/paths.jsonl"
/usr/bin/python3 "$ref" "$tmp/paths.jsonl"
run --param n=200 --param seed=5 --param paths=1 --param min_steps=3 \
    --param max_steps=4 --param order=canonical > "$tmp/one.jsonl"
run --param n=200 --param seed=5 --param paths=3 > "$tmp/random3.jsonl"
/usr/bin/python3 - "$tmp/paths.jsonl" "$tmp/one.jsonl" "$tmp/random3.jsonl" "$tmp/all.jsonl" <<'PY'
import json, sys, collections
recs = lambda f: [json.loads(l) for l in open(f)]
# Path 0 does not depend on how many paths were asked for.
first = [r for r in recs(sys.argv[1]) if r["path"] == 0]
assert first == recs(sys.argv[2]), "canonical path 0 changes with paths"
first = [r for r in recs(sys.argv[3]) if r["path"] == 0]
assert first == recs(sys.argv[4])[:200], "random path 0 changes with paths"
per = collections.Counter(json.loads(l)["qid"] for l in open(sys.argv[1]))
# Every problem has 2 or more paths; a few small ones have fewer than 4.
assert len(per) == 200 and set(per.values()) <= {2, 3, 4}, per.most_common(3)
assert sum(v == 4 for v in per.values()) >= 180, collections.Counter(per.values())
PY

run --param n=600 --param seed=5 --param split=test > "$tmp/test.jsonl"
/usr/bin/python3 "$ref" "$tmp/test.jsonl"
/usr/bin/python3 "$ref" --disjoint "$tmp/all.jsonl" "$tmp/test.jsonl"

# n_paths is at least the number of distinct paths the stage can write.
run --param n=50 --param seed=5 --param paths=8 --param count_paths=1000 > "$tmp/counted.jsonl"
/usr/bin/python3 - "$tmp/counted.jsonl" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
per = collections.Counter(r["qid"] for r in recs)
for r in recs:
    assert r["n_paths"] >= 2 and per[r["qid"]] == min(8, r["n_paths"]), r
PY

run --param n=100 --param templates=shop,savings > "$tmp/some.jsonl"
/usr/bin/python3 - "$tmp/some.jsonl" <<'PY'
import json, sys
used = {json.loads(l)["template"] for l in open(sys.argv[1])}
assert used == {"shop", "savings"}, used
PY
if run --param templates=poetry > /dev/null; then echo "templates=poetry accepted"; exit 1; fi
grep -q "unknown template 'poetry'" "$tmp/stderr" || { cat "$tmp/stderr"; exit 1; }

if run --param split=dev > /dev/null; then echo "split=dev accepted"; exit 1; fi
grep -q "neither train nor test" "$tmp/stderr" || { cat "$tmp/stderr"; exit 1; }
if run --param max_steps=9 > /dev/null; then echo "max_steps=9 accepted"; exit 1; fi
echo "stage end to end: ok"
