#!/bin/bash
# synth-math's answers through the gsm8k plugin's own implementation of the
# paper's rules: every generated path is marked correct with valid
# equations by gsm8k-check, and dedup (equation-list key) keeps every one of
# the K paths written per problem. Skipped (77) while those stages are absent.
set -euo pipefail
sieve=${SIEVE_BIN:?}
stages=$("$sieve" plugins 2>/dev/null || true)
grep -q '^gsm8k-check ' <<<"$stages" || { echo "no gsm8k-check: skipped"; exit 77; }
grep -q '^dedup ' <<<"$stages" || { echo "no dedup: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$sieve" stage synth-math --param n=300 --param paths=8 --param seed=9 </dev/null 2>/dev/null \
    > "$tmp/paths.jsonl"
"$sieve" stage gsm8k-check --param field=answer < "$tmp/paths.jsonl" 2>/dev/null > "$tmp/checked.jsonl"
"$sieve" stage dedup --param field=answer < "$tmp/checked.jsonl" 2>/dev/null > "$tmp/kept.jsonl"
/usr/bin/python3 - "$tmp/paths.jsonl" "$tmp/checked.jsonl" "$tmp/kept.jsonl" <<'PY'
import json, sys
paths, checked, kept = ([json.loads(l) for l in open(f)] for f in sys.argv[1:4])
assert len(checked) == len(paths), (len(checked), len(paths))
bad = [r for r in checked if not (r["correct"] and r["equations_valid"])]
assert not bad, bad[0]
assert len(kept) == len(paths), f"dedup kept {len(kept)} of {len(paths)} distinct paths"
print(f"{len(paths)} paths of 300 problems: all correct, all valid, all kept by dedup")
PY
