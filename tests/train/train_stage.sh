#!/usr/bin/env bash
# The train stage end to end (sieve run / sieve stage, tiny models):
# - kill -9 at a random step, then `sieve run --resume`: final weights
#   byte-identical to an uninterrupted run;
# - a tiny model learns 32 fixed examples to near-zero loss, measured by the
#   llama plugin's `score` stage on the training data;
# - gradient accumulation (micro-batches of 1) gives the losses and weights of
#   one big micro-batch;
# - the learning rate follows Hugging Face's warmup + cosine schedule;
# - text records: the Alpaca prompt is masked, the response and EOS carry the
#   loss (token counts from the sentencepiece library itself).
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"

tiny_id_model "$T/m0" 3 || bad make_model
id_pairs "$T/data.jsonl" 32 5 3 10 2 12

# ---- kill -9 at a random step, resume, compare bytes ----
cat >"$T/p.yaml" <<Y
pipeline: tr
stages:
  data: {plugin: jsonl-read, params: {path: $T/data.jsonl}}
  sft: {plugin: train, input: data, params: {model: $T/m0, output: "{run}/model", epochs: 80,
        batch_size: 8, micro_batch_size: 3, lr: 3e-3, warmup_ratio: 0.05, save_every: 16,
        threads: 2}}
Y
"$SIEVE" run -q "$T/p.yaml" --runs-dir "$T/a" || bad uninterrupted_run
A=$(echo "$T"/a/tr/*)
total=$(grep -c '"step"' "$A/metrics.jsonl")
kill_at=$((20 + RANDOM % 260))
"$SIEVE" run -q "$T/p.yaml" --runs-dir "$T/b" &
pid=$!
for _ in $(seq 1 3000); do
    n=$(grep -c '"step"' "$T"/b/tr/*/metrics.jsonl 2>/dev/null || echo 0)
    [ "${n:-0}" -ge "$kill_at" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
B=$(echo "$T"/b/tr/*)
before=$(grep -c '"step"' "$B/metrics.jsonl")
echo "     killed at step $before of $total (aimed at $kill_at)"
"$SIEVE" run -q --resume "$B" || bad resume_run
if [ "$before" -lt "$total" ] && grep -q 'resuming from the checkpoint' "$B/log.txt" \
    && cmp "$A/model/model.safetensors" "$B/model/model.safetensors"; then
    ok train_resumed_after_kill_equals_uninterrupted_run
else
    bad train_resumed_after_kill_equals_uninterrupted_run "killed at $before of $total"
fi

# ---- a resume over other data refuses to continue ----
"$SIEVE" run -q "$T/p.yaml" --runs-dir "$T/c" &
pid=$!
for _ in $(seq 1 3000); do
    n=$(grep -c '"step"' "$T"/c/tr/*/metrics.jsonl 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 20 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
cp "$T/data.jsonl" "$T/data.orig"
sed -i '1s/"response_ids": \[/"response_ids": [7, /' "$T/data.jsonl"
"$SIEVE" run -q --resume "$(echo "$T"/c/tr/*)" 2>"$T/c.err" && bad resume_over_other_data_is_refused "it ran" \
    || { grep -q 'made for other data' "$T/c.err" && ok resume_over_other_data_is_refused \
         || bad resume_over_other_data_is_refused "$(cat "$T/c.err")"; }
cp "$T/data.orig" "$T/data.jsonl"

# ---- bad records name the record and what is missing ----
printf '{"query": "a", "response": "b"}\n{"prompt_ids": [1, 2]}\n' >"$T/badrec.jsonl"
(cd "$T" && "$SIEVE" stage train --param model="$T/m0" --param output="$T/bad" <"$T/badrec.jsonl" \
    >/dev/null 2>"$T/bad.err") && bad bad_record_is_reported "it ran" \
    || { grep -q 'record 0: text input needs .*tokenizer.model' "$T/bad.err" \
         && ok bad_record_is_reported || bad bad_record_is_reported "$(cat "$T/bad.err")"; }
printf '{"prompt_ids": [1, 2], "response_ids": [3, 99]}\n' >"$T/badid.jsonl"
(cd "$T" && "$SIEVE" stage train --param model="$T/m0" --param output="$T/bad" <"$T/badid.jsonl" \
    >/dev/null 2>"$T/bad.err") && bad out_of_vocabulary_id_is_reported "it ran" \
    || { grep -q 'record 0: token 3 = 99 is outside the vocabulary \[0, 50)' "$T/bad.err" \
         && ok out_of_vocabulary_id_is_reported || bad out_of_vocabulary_id_is_reported "$(cat "$T/bad.err")"; }

# ---- overfitting, judged by `score` on the training data ----
$PY -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(json.dumps({"ids": r["prompt_ids"] + r["response_ids"] + [2], "np": len(r["prompt_ids"])}))
' "$T/data.jsonl" >"$T/ids.jsonl"
"$SIEVE" stage score --param model="$A/model" --param threads=2 <"$T/ids.jsonl" >"$T/scored.jsonl" \
    2>"$T/score.err" || bad score_stage "$(cat "$T/score.err")"
$PY - "$T/scored.jsonl" "$A/metrics.jsonl" <<'P' && ok tiny_model_overfits_32_examples || bad tiny_model_overfits_32_examples
import json, sys
nll = n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    lp = r["logprobs"][r["np"] - 1:]        # predictions of response tokens and EOS
    nll -= sum(lp); n += len(lp)
first = json.loads(open(sys.argv[2]).readline())["loss"]
print(f"     response NLL per token: first step {first:.4f}, trained model {nll / n:.5f}")
assert first > 3.0 and nll / n < 0.02
P

# ---- gradient accumulation equals one big micro-batch ----
run_stage() { # run_stage DIR micro
    "$SIEVE" stage train --param model="$T/m0" --param output="$T/$1" --param epochs=2 \
        --param batch_size=8 --param micro_batch_size="$2" --param lr=1e-3 \
        --param warmup_ratio=0.2 --param max_grad_norm=0.5 --param threads=2 \
        --param save_every=0 <"$T/data.jsonl" >"$T/$1.out" 2>"$T/$1.err"
}
mkdir -p "$T/st1" "$T/st8"
(cd "$T/st1" && run_stage acc1 1) && (cd "$T/st8" && run_stage acc8 8) || bad accumulation_runs "$(cat "$T"/*.err)"
$PY - "$SRC/tools" "$T" <<'P' && ok gradient_accumulation_equals_one_big_batch || bad gradient_accumulation_equals_one_big_batch
import json, sys
sys.path.insert(0, sys.argv[1])
import oracle
t = sys.argv[2]
a, b = oracle.read_model_tensors(t + "/acc1"), oracle.read_model_tensors(t + "/acc8")
worst = max((a[k] - b[k]).abs().max().item() for k in a)
print(f"     weights after 8 steps, micro-batch 1 vs 8: max |diff| {worst:.3g}")
assert worst < 1e-5
assert json.loads(open(t + "/acc1.out").read()) == {"model": t + "/acc1"}
P

# ---- schedule: HF get_cosine_schedule_with_warmup, warmup = ceil(ratio * steps) ----
$PY - "$A/metrics.jsonl" <<'P' && ok lr_follows_hf_warmup_cosine_schedule || bad lr_follows_hf_warmup_cosine_schedule
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
total, base = len(rows), 3e-3
warm = math.ceil(total * 0.05)
for r in rows:
    s = r["step"] - 1
    if s < warm:
        f = s / max(1, warm)
    else:
        f = max(0.0, 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    assert abs(r["lr"] - base * f) <= 1e-6 * base, (s, r["lr"], base * f)
P

# ---- text records with the Alpaca template and the LLaMA-2 tokenizer ----
TOKM=${SIEVE_SHARED_DATA:?}/tokenizer/llama2/tokenizer.model
cat >"$T/cfg2.json" <<'J'
{"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
 "vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2}
J
$PY "$SRC/tools/oracle.py" make-model --config "$T/cfg2.json" --out "$T/mt" --seed 1 && cp "$TOKM" "$T/mt/"
head -n 6 "${SIEVE_SHARED_DATA}/gsm8k/train.jsonl" >"$T/gsm6.jsonl"
cat >"$T/p2.yaml" <<Y
pipeline: txt
stages:
  data: {plugin: jsonl-read, params: {path: $T/gsm6.jsonl}}
  sft: {plugin: train, input: data, params: {model: $T/mt, epochs: 1, batch_size: 1,
        micro_batch_size: 1, threads: 2, save_every: 0}}
Y
"$SIEVE" run -q "$T/p2.yaml" --runs-dir "$T/txt" 2>"$T/txt.err" || bad text_run "$(cat "$T/txt.err")"
$PY - "$T"/txt/txt/*/metrics.jsonl "$T/gsm6.jsonl" "$TOKM" <<'P' && ok text_records_mask_alpaca_prompt_and_learn_response_and_eos || bad text_records_mask_alpaca_prompt_and_learn_response_and_eos
import json, sys
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[3])
tmpl = ("Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\n{q}\n\n### Response:")
want = []
for l in open(sys.argv[2]):
    r = json.loads(l)
    p = tmpl.format(q=r["question"])
    n_prompt = 1 + len(sp.encode(p))
    n_all = 1 + len(sp.encode(p + r["answer"])) + 1
    want.append((n_all, n_all - n_prompt))
rows = [json.loads(l) for l in open(sys.argv[1])]
got = sorted((r["tokens"], r["targets"]) for r in rows)
assert got == sorted(want), (got, sorted(want))
P

# ---- pipelines/sft.yaml, with the data and model swapped for tiny ones ----
(cd "$SRC" && "$SIEVE" run -q pipelines/sft.yaml --runs-dir "$T/sft" --set train_q.path="$T/gsm6.jsonl" \
    --set sft.model="$T/mt" --set sft.epochs=1 --set sft.batch_size=2 --set sft.micro_batch_size=2 \
    --set sft.threads=2 2>"$T/sft.err") \
    && ls "$T"/sft/sft/*/model/model.safetensors "$T"/sft/sft/*/model/tokenizer.model >/dev/null \
    && [ "$(grep -c '"step"' "$T"/sft/sft/*/metrics.jsonl)" -eq 3 ] \
    && ok sft_pipeline_trains_gsm8k_records_into_a_checkpoint || bad sft_pipeline_trains_gsm8k_records_into_a_checkpoint "$(cat "$T/sft.err")"

finish
