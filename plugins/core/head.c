/* head: the first n records; the rest of the stream is consumed and dropped. */
#include <stdlib.h>

#include "core.h"

typedef struct head { int64_t left; } head;

sieve_status sieve_core_head_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    (void)ctx;
    int64_t n = sieve_param_int(p, "n");
    if (n < 0)
        return sieve_fail(err, "parameter 'n' must be >= 0, got %lld", (long long)n);
    head *h = malloc(sizeof *h);
    if (!h)
        return sieve_fail(err, "out of memory");
    h->left = n;
    *state = h;
    return SIEVE_OK;
}

sieve_status sieve_core_head_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    head *h = state;
    if (h->left <= 0)
        return SIEVE_OK;
    size_t take = in->batch->n_recs < (size_t)h->left ? in->batch->n_recs : (size_t)h->left;
    h->left -= (int64_t)take;
    return sieve_core_emit_moved(io, 0, in->batch->recs, take, take, err);
}

sieve_status sieve_core_head_flush(void *state, sieve_io *io, sieve_err *err)
{
    (void)state, (void)io, (void)err;
    return SIEVE_OK;
}

void sieve_core_head_destroy(void *state) { free(state); }
