#!/usr/bin/env bash
# gpu-check.sh: everything about the CUDA backend that needs a GPU, in one
# command, on a machine with an NVIDIA GPU, nvcc and cuBLAS (run from the repo
# root; writes only build-gpu/ and a temp dir). What it checks, in order:
#  1. build: cmake + nvcc (sm_80, sm_90) build kernels-cuda.so, the runtime,
#     kernels-cpu, llama, core and the tests of tests/kernels-cuda.
#  2. parity (ctest -L cuda; each must PASS, a skip counts as a failure here):
#     - test_kernels_cuda_parity: every vtable kernel, forward and backward
#       (matmul, add, rmsnorm, rope, attention, swiglu, embedding, log_softmax,
#       cross_entropy, AdamW), equals kernels-cpu within 1e-4 relative
#       (max|cuda-cpu| / max|cpu|) on GQA, KV-cache, decode and odd shapes, head
#       sizes 12..256; GPU rows are bitwise batch-invariant and repeatable; the
#       bf16 / tf32 matmul modes stay within their rounding; an unsupported
#       head size is reported (NaN + error), not returned as numbers.
#     - test_llama_cuda_parity: through sieve_llama on three test models
#       (GQA, tied embeddings, odd sizes): forward logits, score logprobs and
#       KV-cache decode within 1e-4 relative of the CPU backend; 24 greedy
#       tokens equal the CPU backend's; training loss and every parameter's
#       gradient within 1e-4 relative; in bf16 mode 100 AdamW steps give a
#       loss curve within 1% of f32's at every step.
#     - the *_emu variants: the same two tests on the CPU emulator build (what CI
#       runs without a GPU; they pass here too).
#     - cuda_backend: `sieve plugins` lists kernels-cuda, a `backend: cuda`
#       score stage validates, and `sieve stage score --param backend=cuda`
#       gives the CPU's logprobs within 1e-4 relative.
#  3. speed (skip with --quick), on a ~1.1B LLaMA config (TinyLlama shape:
#     D 2048, F 5632, 22 layers, 32 heads, 4 KV heads, V 32000):
#     - training steps (forward + loss + backward + AdamW, B 4 x T 1024) in
#       f32 and bf16 GEMM mode: MFU = 6 N tokens / time / bf16 dense peak of
#       the card (target: >= 0.40 in bf16 mode);
#     - greedy decoding of 64 sequences (32-token prompts, 128 new tokens, KV
#       cache, argmax on the host: sampling kernels are not in the vtable yet)
#       against Hugging Face `generate` (greedy, f32, same weights, same
#       prompts) in the same run (target: >= 5x its tokens/s); also the share
#       of sequences whose greedy tokens equal HF's. Skipped, and said so,
#       when transformers is not importable.
# Ends with exactly one JSON line: the numbers above, what failed, what was skipped.
# usage: tools/gpu-check.sh [--quick]     (SIEVE_GPU_BUILD=dir: another build directory)
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
BUILD=${SIEVE_GPU_BUILD:-build-gpu}   # the build directory (default build-gpu)
W=$(mktemp -d /tmp/sieve-gpu-XXXXXX)
trap 'rm -rf "$W"' EXIT
skipped=()
failed=()
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
[ -n "$gpu" ] || gpu="none"
case "$gpu" in
    *H100*PCIe*) peak=756 ;;
    *H100*NVL*) peak=835 ;;
    *H100*|*H200*|*GH200*) peak=989 ;;
    *A100*) peak=312 ;;
    *L40S*) peak=362 ;;
    *) peak=${SIEVE_PEAK_TFLOPS:-989} ;;
esac
echo "== GPU: $gpu (bf16 dense peak used for MFU: $peak TFLOPS)"

# ---- 1. build ----
echo "== build ($BUILD)"
export PATH=$PATH:/usr/local/cuda/bin
build_ok=false
if cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIEVE_WERROR=OFF >"$W/cmake.log" 2>&1 &&
   cmake --build "$BUILD" -j "$(nproc)" --target sieve plugin-core plugin-kernels-cpu \
       plugin-kernels-cuda plugin-llama kcuda_probe test_kernels_cuda_parity \
       test_llama_cuda_parity bench_llama_cuda kernels-cudaemu cublas_emu >"$W/build.log" 2>&1; then
    build_ok=true
else
    tail -40 "$W/cmake.log" "$W/build.log"
    failed+=("build")
fi

# ---- 2. parity tests ----
tests_passed=0 tests_failed=0 tests_skipped=0
if $build_ok; then
    echo "== parity tests (ctest -L cuda)"
    (cd "$BUILD" && ctest -L cuda --output-on-failure -V --timeout 600) 2>&1 | tee "$W/ctest.log" \
        | grep -E "rel |greedy|loss f32|ok   |FAIL|SKIP|check failed|Passed|Failed|Skipped|tests passed"
    tests_passed=$(grep -cE "Test +#[0-9]+: .* Passed" "$W/ctest.log")
    tests_failed=$(grep -cE "Test +#[0-9]+: .*(Failed|Timeout|Exception)" "$W/ctest.log")
    tests_skipped=$(grep -cE "Test +#[0-9]+: .*Skipped" "$W/ctest.log")
    [ "$tests_failed" -eq 0 ] || failed+=("parity tests")
    [ "$tests_skipped" -eq 0 ] || failed+=("parity tests skipped: no GPU seen by the plugin")
fi

# ---- 3. speed ----
train_f32=null train_bf16=null sample_ours=null sample_ours_bf16=null hf=null speedup=null match=null
export SIEVE_PLUGIN_PATH=$PWD/$BUILD/plugins
B=$BUILD/tests/kernels-cuda/bench_llama_cuda
field() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]).get(sys.argv[2])))' "$1" "$2" 2>/dev/null || echo null; }
if [ "$QUICK" = 1 ]; then
    skipped+=("speed checks (--quick)")
elif $build_ok && ! "$BUILD/tests/kernels-cuda/kcuda_probe" >"$W/probe" 2>&1; then
    skipped+=("speed checks: $(tail -1 "$W/probe")")
elif $build_ok; then
    cat >"$W/1b.json" <<'J'
{"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
 "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
 "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
J
    for mode in f32 bf16; do
        echo "== training steps, ~1.1B model, $mode GEMMs"
        line=$(SIEVE_CUDA_MATMUL=$mode timeout 300 "$B" train "$W/1b.json" 4 1024 3 "$peak" 2>"$W/train-$mode.err" | grep '^{' | tail -1)
        tail -3 "$W/train-$mode.err"
        echo "$line"
        if [ -n "$line" ]; then
            [ "$mode" = f32 ] && train_f32=$line || train_bf16=$line
        else
            failed+=("train bench $mode")
        fi
    done
    echo "== greedy decoding, 64 sequences, vs Hugging Face generate"
    if timeout 200 "$B" save "$W/1b.json" "$W/model" >"$W/save.out" 2>&1; then
        sample_ours=$(timeout 200 "$B" sample "$W/model" 64 32 128 "$W/ours.txt" 2>"$W/sample.err" | grep '^{' | tail -1)
        echo "$sample_ours"
        [ -n "$sample_ours" ] || { failed+=("sample bench"); sample_ours=null; tail -3 "$W/sample.err"; }
        sample_ours_bf16=$(SIEVE_CUDA_MATMUL=bf16 timeout 200 "$B" sample "$W/model" 64 32 128 "$W/ours-bf16.txt" 2>>"$W/sample.err" | grep '^{' | tail -1)
        echo "$sample_ours_bf16"
        [ -n "$sample_ours_bf16" ] || sample_ours_bf16=null
        if python3 -c "import transformers, torch; assert torch.cuda.is_available()" 2>/dev/null; then
            hf=$(timeout 300 python3 - "$W/model" "$W/ours.txt" <<'P' 2>"$W/hf.err" | tail -1
import json, sys, time, torch
from transformers import LlamaForCausalLM
model_dir, ours = sys.argv[1], sys.argv[2]
rows = [l.strip().split("|") for l in open(ours)]
prompts = torch.tensor([[int(x) for x in r[0].split(",")] for r in rows], device="cuda")
mine = [[int(x) for x in r[1].split(",")] for r in rows]
new = len(mine[0])
torch.backends.cuda.matmul.allow_tf32 = False
m = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).cuda().eval()
mask = torch.ones_like(prompts)
kw = dict(attention_mask=mask, do_sample=False, pad_token_id=0, eos_token_id=None)
with torch.no_grad():
    m.generate(prompts, max_new_tokens=4, **kw)
    torch.cuda.synchronize()
    t = time.time()
    out = m.generate(prompts, max_new_tokens=new, min_new_tokens=new, **kw)
    torch.cuda.synchronize()
    dt = time.time() - t
gen = out[:, prompts.shape[1]:].tolist()
same = sum(1 for a, b in zip(gen, mine) if a == b) / len(mine)
print(json.dumps({"hf_tokens_per_s": len(mine) * new / dt, "seconds": dt, "greedy_match": same}))
P
)
            if [ -n "$hf" ]; then
                echo "$hf"
                match=$(field "$hf" greedy_match)
                hf_tps=$(field "$hf" hf_tokens_per_s)
                ours_tps=$(field "$sample_ours" tokens_per_s)
                speedup=$(python3 -c "print(round($ours_tps / $hf_tps, 3))" 2>/dev/null || echo null)
            else
                tail -5 "$W/hf.err"
                failed+=("hf generate")
                hf=null
            fi
        else
            skipped+=("Hugging Face generate comparison: transformers or CUDA torch not importable")
        fi
    else
        tail -5 "$W/save.out"
        failed+=("saving the 1.1B model")
    fi
fi

skipped_json=$(python3 -c 'import json,sys; print(json.dumps([s for s in sys.argv[1:] if s]))' "${skipped[@]}")
failed_json=$(python3 -c 'import json,sys; print(json.dumps([s for s in sys.argv[1:] if s]))' "${failed[@]}")
echo "{\"gpu\": $(json_str "$gpu"), \"peak_bf16_tflops\": $peak, \"build\": $build_ok," \
     "\"parity_tests\": {\"passed\": $tests_passed, \"failed\": $tests_failed, \"skipped\": $tests_skipped}," \
     "\"train_f32\": $train_f32, \"train_bf16\": $train_bf16," \
     "\"train_mfu_bf16\": $(field "$train_bf16" mfu), \"train_mfu_target\": 0.40," \
     "\"sample_f32\": $sample_ours, \"sample_bf16\": $sample_ours_bf16, \"hf_generate\": $hf," \
     "\"sample_speedup_vs_hf\": $speedup, \"sample_speedup_target\": 5, \"greedy_match_hf\": $match," \
     "\"failed\": $failed_json, \"skipped\": $skipped_json}"
[ ${#failed[@]} -eq 0 ]
