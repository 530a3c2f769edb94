#!/bin/bash
# Builds the llama fuzz targets (safetensors header, config.json) with
# libFuzzer (clang, ASan + UBSan) and runs each for a while from the
# committed seed corpus.
#   tests/fuzz/llama_fuzz.sh [SECONDS_PER_TARGET] [OUT_DIR]
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-/tmp/sieve-llama-fuzz}
cc=${CC_FUZZ:-clang-14}
mkdir -p "$out"
lib="$root/plugins/llama"
srcs="$lib/config.c $lib/params.c $lib/safetensors.c $lib/io_util.c $root/runtime/lib/status.c"
for target in safetensors config; do
    "$cc" -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$root/include" -I"$lib" $srcs "$here/llama_fuzz_$target.c" -ljansson -lm \
        -o "$out/llama_fuzz_$target"
    mkdir -p "$out/corpus-$target"
    echo "== llama_fuzz_$target for ${secs}s"
    "$out/llama_fuzz_$target" -max_total_time="$secs" -max_len=16384 \
        -artifact_prefix="$out/" "$out/corpus-$target" "$here/llama_corpus/$target"
done
