#!/bin/bash
# Builds the tokenizer fuzz targets with libFuzzer (clang, ASan + UBSan) and
# runs each for a while from the committed seed corpus.
#   tests/fuzz/tokenizer_fuzz.sh [SECONDS_PER_TARGET] [OUT_DIR]
# New inputs are kept in OUT_DIR/corpus-<target>; crashes land in OUT_DIR.
set -eu
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-/tmp/sieve-tokenizer-fuzz}
cc=${CC_FUZZ:-clang-14}
mkdir -p "$out"
lib="$root/plugins/tokenizer"
srcs="$lib/tok_wire.c $lib/tok_load.c $lib/tok_normalize.c $lib/tok_encode.c $lib/tok_decode.c
      $lib/tok_write.c $root/runtime/lib/status.c"
for target in model encode; do
    "$cc" -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$root/include" -I"$lib" -I"$here" $srcs "$here/tokenizer_fuzz_$target.c" \
        -o "$out/tokenizer_fuzz_$target"
    mkdir -p "$out/corpus-$target"
    echo "== tokenizer_fuzz_$target for ${secs}s"
    SIEVE_SHARED_DATA=${SIEVE_SHARED_DATA:-$root/../shared/data} \
        "$out/tokenizer_fuzz_$target" -max_total_time="$secs" -max_len=8192 \
        -artifact_prefix="$out/" "$out/corpus-$target" "$here/tokenizer_corpus/$target"
done
