/* shuffle: buffers the stream, then emits it in a seeded random order. The
 * permutation is a Fisher-Yates shuffle driven by hash(seed, step), so the
 * same seed and input give the same order on every machine. */
#include <stdlib.h>

#include "core.h"

typedef struct shuffle {
    uint64_t seed;
    size_t batch_size;
    sieve_batch *all;
} shuffle;

sieve_status sieve_core_shuffle_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    (void)ctx;
    shuffle *s = calloc(1, sizeof *s);
    if (!s || !(s->all = sieve_batch_new(0)))
        return free(s), sieve_fail(err, "out of memory");
    s->seed = (uint64_t)sieve_param_int(p, "seed");
    int64_t bs = sieve_param_int(p, "batch_size");
    s->batch_size = bs > 0 ? (size_t)bs : 256;
    *state = s;
    return SIEVE_OK;
}

sieve_status sieve_core_shuffle_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    shuffle *s = state;
    for (size_t i = 0; i < in->batch->n_recs; i++)
        if (sieve_batch_push(s->all, &in->batch->recs[i]))
            return sieve_fail(err, "out of memory");
    return SIEVE_OK;
}

sieve_status sieve_core_shuffle_flush(void *state, sieve_io *io, sieve_err *err)
{
    shuffle *s = state;
    sieve_record *r = s->all->recs;
    for (size_t i = s->all->n_recs; i > 1; i--) {
        size_t j = (size_t)(sieve_core_hash(s->seed, i) % i);
        sieve_record t = r[i - 1];
        r[i - 1] = r[j];
        r[j] = t;
    }
    sieve_status st = sieve_core_emit_moved(io, 0, r, s->all->n_recs, s->batch_size, err);
    s->all->n_recs = 0;
    return st;
}

void sieve_core_shuffle_destroy(void *state)
{
    shuffle *s = state;
    sieve_batch_free(s->all);
    free(s);
}
