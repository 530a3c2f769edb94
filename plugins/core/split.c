/* split: a seeded subset and the rest. Each record gets a score, the hash of
 * (seed, its key): the key field's JSON text, or the whole record's. With
 * `fraction`, a record is selected when its score falls below that share of
 * the hash range: streaming, order-free, and subsets of one seed nest (the
 * 10% subset contains the 5% one), which data-amount ablations need. With
 * `n`, the n records of lowest score are selected, after buffering. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct split {
    uint64_t seed;
    double fraction;
    int64_t n;
    const char *key;
    sieve_batch *all;     /* n mode: everything, with scores */
    uint64_t *scores;
    size_t cap_scores;
    char *buf;
    size_t cap;
} split;

static uint64_t score(split *s, const sieve_record *r)
{
    size_t len = 0;
    if (*s->key) {
        const sieve_field *f = sieve_record_get(r, s->key);
        sieve_record one = {(sieve_field *)f, f ? 1 : 0, 1};
        sieve_record_to_json(&one, &s->buf, &len, &s->cap);
    } else {
        sieve_record_to_json(r, &s->buf, &len, &s->cap);
    }
    return sieve_core_hash_bytes(s->seed, s->buf, len);
}

sieve_status sieve_core_split_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    (void)ctx;
    double fraction = sieve_param_float(p, "fraction");
    if (fraction < 0 || fraction > 1)
        return sieve_fail(err, "parameter 'fraction' must be in 0..1, got %g", fraction);
    split *s = calloc(1, sizeof *s);
    if (!s || !(s->all = sieve_batch_new(0)))
        return free(s), sieve_fail(err, "out of memory");
    s->seed = (uint64_t)sieve_param_int(p, "seed");
    s->fraction = fraction;
    s->n = sieve_param_int(p, "n");
    s->key = sieve_param_str(p, "key");
    *state = s;
    return SIEVE_OK;
}

sieve_status sieve_core_split_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    split *s = state;
    sieve_batch *b = in->batch;
    if (s->n > 0) {
        for (size_t i = 0; i < b->n_recs; i++) {
            if (s->all->n_recs == s->cap_scores) {
                s->cap_scores = s->cap_scores ? 2 * s->cap_scores : 1024;
                uint64_t *ns = realloc(s->scores, s->cap_scores * sizeof *ns);
                if (!ns)
                    return sieve_fail(err, "out of memory");
                s->scores = ns;
            }
            s->scores[s->all->n_recs] = score(s, &b->recs[i]);
            if (sieve_batch_push(s->all, &b->recs[i]))
                return sieve_fail(err, "out of memory");
        }
        return SIEVE_OK;
    }
    sieve_batch *sel = sieve_batch_new(b->n_recs), *rest = sieve_batch_new(b->n_recs);
    if (!sel || !rest)
        return sieve_batch_free(sel), sieve_batch_free(rest), sieve_fail(err, "out of memory");
    double cut = s->fraction * 18446744073709551616.0;
    for (size_t i = 0; i < b->n_recs; i++) {
        bool chosen = s->fraction >= 1 || (double)score(s, &b->recs[i]) < cut;
        sieve_batch_push(chosen ? sel : rest, &b->recs[i]);
    }
    sieve_status st = sel->n_recs ? sieve_emit(io, 0, sel) : (sieve_batch_free(sel), SIEVE_OK);
    if (st != SIEVE_OK)
        return sieve_batch_free(rest), st;
    return rest->n_recs ? sieve_emit(io, 1, rest) : (sieve_batch_free(rest), SIEVE_OK);
}

/* Orders record indices by (score, arrival). */
static int by_score(const void *a, const void *b, void *scores_arg)
{
    const uint64_t *scores = scores_arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (scores[x] != scores[y])
        return scores[x] < scores[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

sieve_status sieve_core_split_flush(void *state, sieve_io *io, sieve_err *err)
{
    split *s = state;
    if (s->n <= 0)
        return SIEVE_OK;
    size_t n = s->all->n_recs;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    /* Rank by score, then mark the first n; records leave in arrival order. */
    size_t keep = (size_t)s->n < n ? (size_t)s->n : n;
    if (keep && keep < n)
        qsort_r(idx, n, sizeof *idx, by_score, s->scores);
    bool *chosen = calloc(n ? n : 1, sizeof *chosen);
    for (size_t k = 0; k < keep; k++)
        chosen[keep < n ? idx[k] : k] = true;
    sieve_batch *sel = sieve_batch_new(keep), *rest = sieve_batch_new(n - keep);
    for (size_t i = 0; i < n; i++)
        sieve_batch_push(chosen[i] ? sel : rest, &s->all->recs[i]);
    s->all->n_recs = 0;
    free(idx);
    free(chosen);
    sieve_status st = sieve_emit(io, 0, sel);
    if (st != SIEVE_OK)
        return sieve_batch_free(rest), st;
    return sieve_emit(io, 1, rest);
}

void sieve_core_split_destroy(void *state)
{
    split *s = state;
    sieve_batch_free(s->all);
    free(s->scores);
    free(s->buf);
    free(s);
}
