/* Fuzz target: the safetensors parser (plugins/llama/safetensors.c) on any
 * bytes as a whole file. Whatever it accepts must be safe to read: every
 * entry's bytes lie inside the buffer (ASan checks the reads below) and
 * match its shape and dtype.
 * Built by tests/fuzz/llama_fuzz.sh with libFuzzer, and replayed over the
 * corpus by ctest (llama_replay.c). */
#include <stdint.h>
#include <stdlib.h>

#include "llama_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_entry *ents = NULL;
    int n = 0;
    size_t off = 0;
    sieve_err err = {{0}};
    if (st_parse(data, size, "fuzz.safetensors", &ents, &n, &off, &err) != SIEVE_OK) {
        if (!err.msg[0]) abort();   /* every failure says why */
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int i = 0; i < n; i++) {
        if (off + ents[i].end > size || ents[i].begin > ents[i].end) abort();
        for (uint64_t b = ents[i].begin; b < ents[i].end; b++) sink ^= data[off + b];
    }
    (void)sink;
    st_entries_free(ents, n);
    return 0;
}
