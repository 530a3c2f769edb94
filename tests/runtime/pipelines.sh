#!/usr/bin/env bash
# Pipelines end to end: GSM8K read -> write reproduces every JSON value; shuffle
# and split are deterministic for a seed; fan-out and fan-in; tensors through
# the rings; kill -9 then --resume loses and duplicates nothing.
# usage: pipelines.sh TEST_PLUGIN_DIR
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
export SIEVE_PLUGIN_PATH="$SIEVE_PLUGIN_PATH:$1"
GSM=${SIEVE_SHARED_DATA:?}/gsm8k/train.jsonl
PY=/usr/bin/python3

same_values() { # same_values A B: the files hold the same JSON values, line for line
    $PY - "$1" "$2" <<'P'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(0 if a == b and len(a) > 0 else 1)
P
}

cat >"$T/pass.yaml" <<Y
pipeline: pass
stages:
  read: {plugin: jsonl-read, params: {path: $GSM}}
  write: {plugin: jsonl-write, input: read, params: {path: "{run}/out.jsonl"}}
Y
"$SIEVE" run -q "$T/pass.yaml" --runs-dir "$T/runs" && same_values "$GSM" "$T"/runs/pass/*/out.jsonl \
    && ok gsm8k_read_write_reproduces_every_value || bad gsm8k_read_write_reproduces_every_value
ls "$T"/runs/pass/*/pipeline.yaml "$T"/runs/pass/*/manifest.json "$T"/runs/pass/*/log.txt >/dev/null \
    && grep -q 'batch_size: "256"' "$T"/runs/pass/*/pipeline.yaml \
    && ok run_dir_has_resolved_pipeline_manifest_log || bad run_dir_has_resolved_pipeline_manifest_log

cat >"$T/sub.yaml" <<Y
pipeline: sub
stages:
  read: {plugin: jsonl-read, params: {path: $GSM}}
  mix: {plugin: shuffle, input: read, params: {seed: 7}}
  cut: {plugin: split, input: mix, params: {fraction: 0.25, seed: 3, key: question}}
  train: {plugin: jsonl-write, input: cut.rest, params: {path: "{run}/train.jsonl"}}
  test: {plugin: jsonl-write, input: cut.selected, params: {path: "{run}/test.jsonl"}}
Y
for k in 1 2; do "$SIEVE" run -q "$T/sub.yaml" --runs-dir "$T/sub$k" || bad "sub_run_$k"; done
cmp -s "$T"/sub1/sub/*/train.jsonl "$T"/sub2/sub/*/train.jsonl && cmp -s "$T"/sub1/sub/*/test.jsonl "$T"/sub2/sub/*/test.jsonl \
    && ok shuffle_split_is_deterministic_for_a_seed || bad shuffle_split_is_deterministic_for_a_seed
"$SIEVE" run -q "$T/sub.yaml" --runs-dir "$T/sub3" --set mix.seed=8 || bad sub_run_3
cmp -s "$T"/sub1/sub/*/train.jsonl "$T"/sub3/sub/*/train.jsonl && bad another_seed_gives_another_order || ok another_seed_gives_another_order
$PY - "$GSM" "$T"/sub1/sub/*/train.jsonl "$T"/sub1/sub/*/test.jsonl <<'P' && ok split_is_a_partition_near_the_fraction || bad split_is_a_partition_near_the_fraction
import json, sys
src = sorted(l for l in open(sys.argv[1]))
tr = [l for l in open(sys.argv[2])]; te = [l for l in open(sys.argv[3])]
norm = lambda ls: sorted(json.dumps(json.loads(l), sort_keys=True) for l in ls)
assert norm(src) == norm(tr + te)
assert abs(len(te) / len(src) - 0.25) < 0.03, len(te)
P
"$SIEVE" run -q "$T/sub.yaml" --runs-dir "$T/sub4" --set cut.fraction=0.1 || bad sub_run_4
$PY - "$T"/sub4/sub/*/test.jsonl "$T"/sub1/sub/*/test.jsonl <<'P' && ok smaller_fraction_is_a_subset || bad smaller_fraction_is_a_subset
import sys
small = set(open(sys.argv[1])); big = set(open(sys.argv[2]))
assert small and small <= big
P

cat >"$T/fan.yaml" <<Y
pipeline: fan
stages:
  read: {plugin: jsonl-read, params: {path: $GSM, batch_size: 64}}
  first: {plugin: head, input: read, params: {n: 1000}}
  copy1: {plugin: jsonl-write, input: read, params: {path: "{run}/a.jsonl"}}
  copy2: {plugin: jsonl-write, input: read, params: {path: "{run}/b.jsonl"}}
  both: {plugin: concat, input: [first, read]}
  out: {plugin: jsonl-write, input: both, params: {path: "{run}/c.jsonl"}}
Y
"$SIEVE" run -q "$T/fan.yaml" --runs-dir "$T/fan" || bad fan_run
d=$(echo "$T"/fan/fan/*)
same_values "$GSM" "$d/a.jsonl" && same_values "$GSM" "$d/b.jsonl" && ok fan_out_gives_every_consumer_everything || bad fan_out_gives_every_consumer_everything
(head -n 1000 "$GSM"; cat "$GSM") >"$T/expect_c.jsonl"
same_values "$T/expect_c.jsonl" "$d/c.jsonl" && ok concat_keeps_input_order || bad concat_keeps_input_order

cat >"$T/tensor.yaml" <<Y
pipeline: tensors
stages:
  nums: {plugin: test-count, params: {n: 25000}}
  ids: {plugin: test-tensor-out, input: nums}
  sum: {plugin: test-tensor-in, input: ids}
  out: {plugin: jsonl-write, input: sum, params: {path: "{run}/sum.jsonl"}}
Y
"$SIEVE" run -q "$T/tensor.yaml" --runs-dir "$T/tens" || bad tensor_run
# 25000 rows x 3 values counting 0..74999: sum = 74999*75000/2
grep -q '{"rows": 25000, "sum": 2812462500}' "$T"/tens/tensors/*/sum.jsonl && ok tensors_travel_the_rings_intact \
    || bad tensors_travel_the_rings_intact "$(cat "$T"/tens/tensors/*/sum.jsonl)"

# Fan-out of tensors: each consumer gets every value; every tensor made is
# released exactly once (the producer plugin counts its release callbacks).
cat >"$T/tensor2.yaml" <<Y
pipeline: tensors2
stages:
  nums: {plugin: test-count, params: {n: 25000}}
  ids: {plugin: test-tensor-out, input: nums}
  sum1: {plugin: test-tensor-in, input: ids}
  sum2: {plugin: test-tensor-in, input: ids}
  out1: {plugin: jsonl-write, input: sum1, params: {path: "{run}/sum1.jsonl"}}
  out2: {plugin: jsonl-write, input: sum2, params: {path: "{run}/sum2.jsonl"}}
Y
"$SIEVE" run -q "$T/tensor2.yaml" --runs-dir "$T/tens2" 2>"$T/tens2.err" || bad tensor_fanout_run
d=$(echo "$T"/tens2/tensors2/*)
grep -q '"sum": 2812462500' "$d/sum1.jsonl" && grep -q '"sum": 2812462500' "$d/sum2.jsonl" \
    && ok tensor_fan_out_reaches_every_consumer || bad tensor_fan_out_reaches_every_consumer
grep -q "testkit: tensors made 250 released 250" "$T/tens2.err" && ok tensors_released_exactly_once \
    || bad tensors_released_exactly_once "$(cat "$T/tens2.err")"
"$SIEVE" plugins test-tensor-out | grep -q "tensor(i32,2)" && ok plugins_shows_tensor_ports || bad plugins_shows_tensor_ports

# after: a stage starts once another has finished, and still takes its
# input from a producer it shares with that stage (no deadlock at 200 batches
# against rings of 16).
cat >"$T/after.yaml" <<Y
pipeline: after
stages:
  nums: {plugin: test-count, params: {n: 20000}}
  first: {plugin: jsonl-write, input: nums, params: {path: "{run}/first.jsonl"}}
  second: {plugin: jsonl-write, input: nums, after: first, params: {path: "{run}/second.jsonl"}}
Y
timeout 60 "$SIEVE" run "$T/after.yaml" --runs-dir "$T/after" 2>"$T/after.err" || bad after_run "$(tail -3 "$T/after.err")"
d=$(echo "$T"/after/after/*)
[ "$(wc -l <"$d/second.jsonl")" -eq 20000 ] && cmp -s "$d/first.jsonl" "$d/second.jsonl" \
    && grep -n "wrote" "$T/after.err" | head -1 | grep -q "\[first\]" \
    && ok after_waits_and_holds_shared_input || bad after_waits_and_holds_shared_input "$(cat "$T/after.err")"
"$SIEVE" graph "$T/after.yaml" | grep -q '"first" -> "second" \[style=dashed' && ok graph_shows_after || bad graph_shows_after

# Kill -9 mid-run, then resume: nothing lost, nothing duplicated.
cat >"$T/slow.yaml" <<Y
pipeline: slow
stages:
  nums: {plugin: test-count, params: {n: 3000, sleep_us: 400}}
  out: {plugin: jsonl-write, input: nums, params: {path: "{run}/n.jsonl"}}
Y
"$SIEVE" run -q "$T/slow.yaml" --runs-dir "$T/slow" &
pid=$!
sleep 0.6
kill -9 $pid
wait $pid 2>/dev/null
d=$(echo "$T"/slow/slow/*)
before=$(cat "$d/n.jsonl.partial" 2>/dev/null | wc -l)
"$SIEVE" run -q --resume "$d" || bad resume_run
$PY - "$d/n.jsonl" <<'P' && [ "$before" -gt 0 ] && [ "$before" -lt 3000 ] && ok resume_after_kill_loses_and_duplicates_nothing || bad resume_after_kill_loses_and_duplicates_nothing "lines before resume: $before"
import json, sys
got = [json.loads(l)["i"] for l in open(sys.argv[1])]
assert got == list(range(3000)), (len(got), got[:5])
P
grep -q '"status": "done"' "$d/manifest.json" && ok manifest_done_after_resume || bad manifest_done_after_resume

"$SIEVE" graph "$T/fan.yaml" >"$T/g.dot" && grep -q '"read" -> "both" \[label="out: records"\]' "$T/g.dot" \
    && ok graph_prints_dot_with_port_types || bad graph_prints_dot_with_port_types "$(cat "$T/g.dot")"
finish
