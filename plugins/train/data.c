/* The order of training: per epoch a seeded shuffle of the examples, then
 * length grouping as Hugging Face's LengthGroupedSampler does it (megabatches
 * of up to 50 batches, each sorted longest first, the longest example of the
 * epoch in the first batch), cut into batches of batch_size. Micro-batches
 * are consecutive runs inside a batch, so they hold examples of similar
 * length and little padding. Depends only on the lengths and the seed. */
#include "train.h"

#include <stdlib.h>
#include <string.h>

/* splitmix64: a small, fixed, well-mixed generator for the shuffles. */
static uint64_t mix_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct { int64_t idx; int len; int64_t rank; } item;

/* Longest first; ties keep the shuffled order. */
static int by_len_desc(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

sieve_status trn_plan_make(const trn_example *ex, int64_t n_ex, int epochs, int batch_size,
                           uint64_t seed, int group_by_length, trn_plan *plan,
                           sieve_err *err)
{
    memset(plan, 0, sizeof *plan);
    if (n_ex < 1 || epochs < 1 || batch_size < 1)
        return sieve_fail(err, "train: nothing to train (%lld examples, %d epochs)",
                          (long long)n_ex, epochs);
    int64_t per_epoch = (n_ex + batch_size - 1) / batch_size;
    plan->n_steps = per_epoch * epochs;
    plan->batch_size = batch_size;
    plan->order = malloc((size_t)(plan->n_steps * batch_size) * sizeof *plan->order);
    item *it = malloc((size_t)n_ex * sizeof *it);
    if (!plan->order || !it) {
        free(it);
        trn_plan_free(plan);
        return sieve_fail(err, "train: out of memory");
    }
    for (int64_t i = 0; i < plan->n_steps * batch_size; i++) plan->order[i] = -1;
    for (int e = 0; e < epochs; e++) {
        uint64_t st = seed * 0x100000001b3ull + (uint64_t)e;
        for (int64_t i = 0; i < n_ex; i++) it[i] = (item){i, ex[i].len, i};
        for (int64_t i = n_ex - 1; i > 0; i--) {   /* Fisher-Yates */
            int64_t j = (int64_t)(mix_next(&st) % (uint64_t)(i + 1));
            item t = it[i];
            it[i] = it[j];
            it[j] = t;
        }
        for (int64_t i = 0; i < n_ex; i++) it[i].rank = i;
        if (group_by_length) {
            int64_t mult = n_ex / ((int64_t)batch_size * 4);
            mult = mult > 50 ? 50 : mult < 1 ? 1 : mult;
            int64_t mega = mult * batch_size;
            for (int64_t i = 0; i < n_ex; i += mega) {
                int64_t n = n_ex - i < mega ? n_ex - i : mega;
                qsort(it + i, (size_t)n, sizeof *it, by_len_desc);
            }
            /* The longest example to the front, so memory runs out (if it
             * does) at the first step rather than hours in. */
            int64_t best = 0;
            for (int64_t i = 0; i < n_ex; i += mega)
                if (it[i].len > it[best].len) best = i;
            item t = it[0];
            it[0] = it[best];
            it[best] = t;
        }
        int64_t *o = plan->order + (size_t)e * per_epoch * batch_size;
        for (int64_t i = 0; i < n_ex; i++) o[i / batch_size * batch_size + i % batch_size] = it[i].idx;
    }
    free(it);
    return SIEVE_OK;
}

void trn_plan_free(trn_plan *plan)
{
    free(plan->order);
    plan->order = NULL;
}
