#!/usr/bin/env bash
# score's second output port: with tensors: true, one f32 [1, n-1] tensor
# named "logprobs" per record, in record order, holding exactly the record's
# logprobs (which tests/llama checks against the PyTorch oracle); tensors
# crossing to the consumer are released once (counting tap).
# usage: score_logprobs.sh TEST_PLUGIN_DIR
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
export SIEVE_PLUGIN_PATH="$SIEVE_PLUGIN_PATH:$1"
cat >"$T/cfg.json" <<'J'
{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "vocab_size": 40}
J
$PY "$SRC/tools/oracle.py" make-model --config "$T/cfg.json" --out "$T/m" --seed 4 || exit 1
$PY - "$T/data.jsonl" <<'P'
import json, random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    for n in [5, 1, 17, 9, 30, 2, 12]:
        f.write(json.dumps({"k": n, "ids": [r.randrange(40) for _ in range(n)]}) + "\n")
P
cat >"$T/p.yaml" <<Y
pipeline: st
stages:
  data: {plugin: jsonl-read, params: {path: $T/data.jsonl}}
  score: {plugin: score, input: data, params: {model: $T/m, batch: 3, tensors: true, threads: 1}}
  recs: {plugin: jsonl-write, input: score.out, params: {path: $T/recs.jsonl}}
  tap: {plugin: test-tensor-tap, input: score.logprobs}
  dump: {plugin: test-tensor-dump, input: tap}
  tens: {plugin: jsonl-write, input: dump, params: {path: $T/tens.jsonl}}
Y
"$SIEVE" run -q "$T/p.yaml" --runs-dir "$T/runs" 2>"$T/err" || { echo "FAIL run"; cat "$T/err"; exit 1; }
$PY - "$T/recs.jsonl" "$T/tens.jsonl" <<'P' || exit 1
import json, struct, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
tens = [json.loads(l) for l in open(sys.argv[2])]
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
assert len(recs) == len(tens) == 7, (len(recs), len(tens))
for r, t in zip(recs, tens):
    n = len(r["ids"])
    assert t["tensor"] == "logprobs" and t["shape"] == [1, n - 1], (t["shape"], n)
    assert [f32(v) for v in r["logprobs"]] == t["values"], r["k"]
print("ok   score_emits_logprob_tensors_equal_to_its_records_in_order")
P
if grep -q "tensor-tap: tensors passed 7 released 7$" "$T/err"; then
    echo "ok   score_logprob_tensors_released_exactly_once"
else
    echo "FAIL score_logprob_tensors_released_exactly_once: $(grep tensor-tap "$T/err")"
    exit 1
fi
