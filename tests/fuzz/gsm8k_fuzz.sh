#!/bin/bash
# Builds the gsm8k fuzz targets (evaluator, extractor) with libFuzzer and
# ASan + UBSan, and runs each for a while from the committed seed corpus.
#   tests/fuzz/gsm8k_fuzz.sh [SECONDS_PER_TARGET] [OUT_DIR]
# New inputs land in OUT_DIR/corpus-<target>, crashes in OUT_DIR.
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-/tmp/sieve-gsm8k-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out"
lib="$root/plugins/gsm8k"
srcs="$lib/pyfloat.c $lib/calc.c $lib/answer.c"
for target in calc extract; do
    "$cc" -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$lib" $srcs "$here/gsm8k_fuzz_$target.c" -lm -o "$out/gsm8k_fuzz_$target"
    mkdir -p "$out/corpus-$target"
    echo "== gsm8k_fuzz_$target for ${secs}s"
    "$out/gsm8k_fuzz_$target" -max_total_time="$secs" -max_len=4096 -timeout=2 \
        -artifact_prefix="$out/" "$out/corpus-$target" "$here/gsm8k_corpus/$target"
done
