#!/usr/bin/env bash
# pack -> train end to end (sieve run, a tiny model):
# - pack: none then train on its tensors ends with the weights of train on the
#   same records and settings, byte for byte (same rows, same order, same code);
# - every tensor pack emits crosses to train and is released exactly
#   once (a counting tap between them; the ASan build runs this too);
# - pack: greedy fills rows with more real tokens and its first step's loss
#   equals the unpacked one's within 1e-5 (document masking is exact);
# - train refuses a stream that is not tokens, targets, positions, and data
#   params (pack's) set on train beside pack's tensors.
# usage: pack_train.sh TAP_PLUGIN_DIR
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
export SIEVE_PLUGIN_PATH="$SIEVE_PLUGIN_PATH:$1"

tiny_id_model "$T/m0" 3 || bad make_model
id_pairs "$T/data.jsonl" 40 7 2 12 2 30

COMMON="lr: 3e-3, warmup_ratio: 0.1, micro_batch_size: 3, threads: 2, save_every: 0"
cat >"$T/records.yaml" <<Y
pipeline: rec
stages:
  data: {plugin: jsonl-read, params: {path: $T/data.jsonl}}
  sft: {plugin: train, input: data, params: {model: $T/m0, output: "{run}/model", epochs: 3,
        batch_size: 8, max_len: 40, seed: 5, $COMMON}}
Y
packed_yaml() { # packed_yaml NAME MODE EPOCHS
    cat >"$T/$1.yaml" <<Y
pipeline: $1
stages:
  data: {plugin: jsonl-read, params: {path: $T/data.jsonl}}
  pack: {plugin: pack, input: data, params: {model: $T/m0, seq_len: 40, batch_size: 8,
         epochs: $3, seed: 5, pack: $2}}
  tap: {plugin: test-tensor-tap, input: pack}
  sft: {plugin: train, input: tap, params: {model: $T/m0, output: "{run}/model", $COMMON}}
Y
}
packed_yaml none none 3
packed_yaml greedy greedy 3

"$SIEVE" run -q "$T/records.yaml" --runs-dir "$T/r" || bad records_run
"$SIEVE" run -q "$T/none.yaml" --runs-dir "$T/n" 2>"$T/none.err" || bad none_run "$(tail -5 "$T/none.err")"
"$SIEVE" run -q "$T/greedy.yaml" --runs-dir "$T/g" 2>"$T/greedy.err" || bad greedy_run "$(tail -5 "$T/greedy.err")"
R=$(echo "$T"/r/rec/*) N=$(echo "$T"/n/none/*) G=$(echo "$T"/g/greedy/*)

if [ -f "$R/model/model.safetensors" ] && cmp -s "$R/model/model.safetensors" "$N/model/model.safetensors"; then
    ok pack_none_then_train_on_tensors_gives_train_on_records_weights_byte_for_byte
else
    bad pack_none_then_train_on_tensors_gives_train_on_records_weights_byte_for_byte
fi

# every tensor pack emitted passed the tap and was released once
emitted=$(grep -o '"tensors": [0-9]*' "$N/metrics.jsonl" | head -1 | grep -o '[0-9]*$')
if [ -n "$emitted" ] && [ "$emitted" -gt 0 ] &&
   grep -q "tensor-tap: tensors passed $emitted released $emitted\$" "$T/none.err"; then
    ok tensors_from_pack_released_exactly_once_by_train
else
    bad tensors_from_pack_released_exactly_once_by_train "pack emitted ${emitted:-?}" "$(grep tensor-tap "$T/none.err")"
fi

$PY - "$N/metrics.jsonl" "$G/metrics.jsonl" <<'P' && ok greedy_packing_fills_rows_and_keeps_the_first_step_loss \
    || bad greedy_packing_fills_rows_and_keeps_the_first_step_loss
import json, sys
def load(p):
    rows = [json.loads(l) for l in open(p)]
    pk = [r for r in rows if "non_padding_share" in r][0]
    steps = [r for r in rows if "step" in r and "loss" in r]
    return pk, steps
pn, sn = load(sys.argv[1])
pg, sg = load(sys.argv[2])
print(f"     non-padding share: none {pn['non_padding_share']:.4f}, greedy {pg['non_padding_share']:.4f}"
      f"; rows {pn['rows']} -> {pg['rows']}; first loss {sn[0]['loss']:.6f} vs {sg[0]['loss']:.6f}")
assert pg["non_padding_share"] > pn["non_padding_share"] and pg["rows"] < pn["rows"]
assert abs(pn["non_padding_share_none"] - pn["non_padding_share"]) < 1e-9
assert len(sn) == len(sg) and sn[0]["targets"] == sg[0]["targets"]
assert abs(sn[0]["loss"] - sg[0]["loss"]) <= 1e-5
P

# a stream that is not (tokens, targets, positions) is refused with its name
cat >"$T/bad.yaml" <<Y
pipeline: bad
stages:
  nums: {plugin: test-count, params: {n: 10}}
  ids: {plugin: test-tensor-out, input: nums}
  sft: {plugin: train, input: ids, params: {model: $T/m0, output: "{run}/model"}}
Y
if [ -f "$SIEVE_BUILD_DIR/test-plugins/testkit.so" ]; then
    SIEVE_PLUGIN_PATH="$SIEVE_PLUGIN_PATH:$SIEVE_BUILD_DIR/test-plugins" \
        "$SIEVE" run -q "$T/bad.yaml" --runs-dir "$T/b" 2>"$T/bad.err"
    st=$?
    if [ $st -ne 0 ] && grep -q "expected tensor 'tokens'" "$T/bad.err"; then
        ok train_refuses_a_stream_of_other_tensors
    else
        bad train_refuses_a_stream_of_other_tensors "status $st" "$(tail -3 "$T/bad.err")"
    fi
fi

# data params belong to pack when train takes its tensors
sed 's/save_every: 0}}/save_every: 0, epochs: 2}}/' "$T/none.yaml" >"$T/both.yaml"
if "$SIEVE" run -q "$T/both.yaml" --runs-dir "$T/both" 2>"$T/both.err"; then
    bad train_refuses_data_params_beside_packs_tensors "it ran"
elif grep -q "params 'epochs' are pack's" "$T/both.err"; then
    ok train_refuses_data_params_beside_packs_tensors
else
    bad train_refuses_data_params_beside_packs_tensors "$(tail -3 "$T/both.err")"
fi

finish
