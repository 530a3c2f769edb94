#!/usr/bin/env bash
# The CUDA backend as the runtime sees it: `sieve plugins` lists kernels-cuda;
# without a GPU a stage with `backend: cuda` fails at `sieve validate` with a
# message naming the stage and the backend, while the same pipeline on the
# CPU validates; with a GPU it validates, and `sieve stage score` gives the
# CPU backend's log-probabilities within 1e-4 relative. Without a GPU but with
# the CPU-emulated build (EMU_SO), the GPU half runs against that build,
# installed as kernels-cuda.so in a plugin directory searched first.
# usage: cuda_backend.sh PROBE [EMU_SO]   (PROBE: the kcuda_probe executable)
. "${SIEVE_SOURCE_DIR:?run under ctest}/tests/testlib/testlib.sh"
PROBE=$1
EMU_SO=${2:-}
[ -e "$SIEVE_PLUGIN_PATH/kernels-cuda.so" ] || { echo "SKIP: kernels-cuda was not built (no nvcc)"; exit 77; }

"$SIEVE" plugins >"$T/plugins" 2>&1
grep -q "^kernels-cuda  (kernel backend" "$T/plugins" && ok plugins_lists_kernels_cuda \
    || bad plugins_lists_kernels_cuda "$(cat "$T/plugins" | tail -5)"

gpu_checks() { # gpu_checks TAG: TAG names where kernels-cuda runs (gpu, emulator)
    [ "$rc" -eq 0 ] && ok "cuda_stage_validates_on_$1" || bad "cuda_stage_validates_on_$1" "$(cat "$T/err")"
    cat >"$T/cfg.json" <<'J'
{"hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 8,
 "num_key_value_heads": 2, "vocab_size": 256, "initializer_range": 0.1}
J
    echo '{}' | "$SIEVE" stage model-init --param config="$T/cfg.json" --param out="$T/model" \
        --param seed=3 >/dev/null 2>"$T/err" || bad model_init "$(cat "$T/err")"
    python3 -c 'import random; random.seed(5)
for n in (3, 17, 40, 64): print("{\"ids\": [%s]}" % ", ".join(str(random.randrange(256)) for _ in range(n)))' >"$T/in.jsonl"
    for b in cpu cuda; do
        "$SIEVE" stage score --param model="$T/model" --param backend=$b <"$T/in.jsonl" \
            >"$T/score-$b.jsonl" 2>"$T/err-$b" || bad "score_on_${b}_$1" "$(cat "$T/err-$b")"
    done
    python3 - "$T/score-cpu.jsonl" "$T/score-cuda.jsonl" <<'P' && ok "score_stage_cuda_matches_cpu_on_$1" || bad "score_stage_cuda_matches_cpu_on_$1"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 4, (len(a), len(b))
for x, y in zip(a, b):
    mag = max(abs(v) for v in x["logprobs"])
    d = max(abs(u - v) for u, v in zip(x["logprobs"], y["logprobs"]))
    print("  score rel %.3g" % (d / mag))
    assert d <= 1e-4 * mag, d
P
}

"$PROBE" >"$T/probe" 2>&1
gpu=$?
for b in cuda cpu; do
    cat >"$T/$b.yaml" <<Y
pipeline: score-$b
stages:
  ids: {plugin: jsonl-read, params: {path: $T/in.jsonl}}
  score: {plugin: score, input: ids, params: {model: $T/model}, backend: $b}
Y
done
"$SIEVE" validate "$T/cpu.yaml" >"$T/out" 2>"$T/err" && ok cpu_pipeline_validates_beside_cuda_plugin \
    || bad cpu_pipeline_validates_beside_cuda_plugin "$(cat "$T/err")"
"$SIEVE" validate "$T/cuda.yaml" >"$T/out" 2>"$T/err"
rc=$?
if [ "$gpu" -eq 77 ]; then
    echo "(no GPU here: $(tail -1 "$T/probe"))"
    want="cuda.yaml:4:3: stage 'score': backend 'cuda' cannot be used: backend 'cuda' is not available on this machine"
    if [ "$rc" -ne 0 ] && grep -qF "$want" "$T/err"; then ok cuda_stage_fails_validate_without_gpu
    else bad cuda_stage_fails_validate_without_gpu "exit $rc" "stderr: $(cat "$T/err")"; fi
elif [ "$gpu" -eq 0 ]; then
    gpu_checks gpu
else
    bad probe "$(cat "$T/probe")"
fi
if [ "$gpu" -eq 77 ] && [ -n "$EMU_SO" ] && [ -e "$EMU_SO" ]; then
    echo "(the same checks on the CPU-emulated kernels-cuda)"
    mkdir -p "$T/emu-plugins"
    ln -s "$EMU_SO" "$T/emu-plugins/kernels-cuda.so"
    export SIEVE_PLUGIN_PATH="$T/emu-plugins:$SIEVE_PLUGIN_PATH"
    "$SIEVE" validate "$T/cuda.yaml" >"$T/out" 2>"$T/err"
    rc=$?
    gpu_checks emulator
fi
finish
