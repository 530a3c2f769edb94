/* concat: fan-in of several record streams. With order=inputs the output is
 * every record of the first input, then of the second, and so on, whatever
 * the threads' timing: the first input streams through, the others wait in
 * memory until the end. With order=arrival records go on as they come. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct concat {
    bool by_inputs;
    sieve_batch **held;   /* per producer, in order=inputs mode */
    int n_held;
} concat;

sieve_status sieve_core_concat_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    (void)ctx;
    const char *order = sieve_param_str(p, "order");
    if (strcmp(order, "inputs") && strcmp(order, "arrival"))
        return sieve_fail(err, "parameter 'order': '%s' is not one of inputs, arrival", order);
    concat *c = calloc(1, sizeof *c);
    if (!c)
        return sieve_fail(err, "out of memory");
    c->by_inputs = !strcmp(order, "inputs");
    *state = c;
    return SIEVE_OK;
}

sieve_status sieve_core_concat_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    concat *c = state;
    sieve_batch *b = in->batch;
    if (!c->by_inputs || in->producer == 0)
        return sieve_core_emit_moved(io, 0, b->recs, b->n_recs, b->n_recs ? b->n_recs : 1, err);
    if (in->producer >= c->n_held) {
        sieve_batch **nh = realloc(c->held, (size_t)(in->producer + 1) * sizeof *nh);
        if (!nh)
            return sieve_fail(err, "out of memory");
        for (int k = c->n_held; k <= in->producer; k++)
            nh[k] = NULL;
        c->held = nh;
        c->n_held = in->producer + 1;
    }
    if (!c->held[in->producer] && !(c->held[in->producer] = sieve_batch_new(0)))
        return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < b->n_recs; i++)
        if (sieve_batch_push(c->held[in->producer], &b->recs[i]))
            return sieve_fail(err, "out of memory");
    return SIEVE_OK;
}

sieve_status sieve_core_concat_flush(void *state, sieve_io *io, sieve_err *err)
{
    concat *c = state;
    for (int k = 1; k < c->n_held; k++) {
        sieve_batch *h = c->held[k];
        if (!h)
            continue;
        sieve_status st = sieve_core_emit_moved(io, 0, h->recs, h->n_recs, 256, err);
        h->n_recs = 0;
        if (st != SIEVE_OK)
            return st;
    }
    return SIEVE_OK;
}

void sieve_core_concat_destroy(void *state)
{
    concat *c = state;
    for (int k = 0; k < c->n_held; k++)
        sieve_batch_free(c->held[k]);
    free(c->held);
    free(c);
}
