/* dedup: the paper's per-question dedup of correct reasoning paths. Records
 * with `correct: false` and records with an invalid annotation are dropped;
 * among the rest, one path per equation list is kept, the farthest by summed
 * edit distance (dedup.c). Streams: a question's kept records go out, in
 * kept order, when the group field changes (grouped=true), the last at
 * flush; grouped=false holds every question until the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"

#define FINISHED ((size_t)-2)

typedef struct qgroup {
    char *qid;
    size_t qid_len;
    sieve_dedup_group *g;
} qgroup;

typedef struct dedup {
    sieve_ctx *ctx;
    const char *group, *field;
    bool grouped;
    gsm8k_map index;          /* qid -> group index, or FINISHED (grouped mode) */
    qgroup *groups;
    size_t n_groups, cap_groups;
    size_t open;              /* grouped mode: the open group, or -1 */
    sieve_record **pending;   /* kept records ready to go out */
    size_t n_pending, cap_pending;
    int64_t n_in, n_incorrect, n_invalid, n_replaced, n_out, n_questions;
} dedup;

sieve_status gsm8k_dedup_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    dedup *d = calloc(1, sizeof *d);
    if (!d)
        return sieve_fail(err, "out of memory");
    d->ctx = ctx;
    d->group = sieve_param_str(p, "group");
    d->field = sieve_param_str(p, "field");
    d->grouped = sieve_param_bool(p, "grouped");
    d->open = (size_t)-1;
    const char *key = sieve_param_str(p, "key"), *keep = sieve_param_str(p, "keep");
    if (strcmp(key, "equations")) {
        free(d);
        return sieve_fail(err, "parameter 'key': '%s' is not supported (only 'equations')", key);
    }
    if (strcmp(keep, "farthest")) {
        free(d);
        return sieve_fail(err, "parameter 'keep': '%s' is not supported (only 'farthest')", keep);
    }
    *state = d;
    return SIEVE_OK;
}

static size_t new_group(dedup *d, char *qid, size_t qid_len)
{
    if (d->n_groups == d->cap_groups) {
        size_t cap = d->cap_groups ? d->cap_groups * 2 : 64;
        qgroup *g = realloc(d->groups, cap * sizeof *g);
        if (!g)
            return (size_t)-1;
        d->groups = g;
        d->cap_groups = cap;
    }
    sieve_dedup_group *g = sieve_dedup_group_new();
    if (!g)
        return (size_t)-1;
    d->groups[d->n_groups] = (qgroup){.qid = qid, .qid_len = qid_len, .g = g};
    d->n_questions++;
    return d->n_groups++;
}

/* Moves a group's kept records to the pending output and forgets it. */
static int close_group(dedup *d, size_t gi)
{
    sieve_dedup_group *g = d->groups[gi].g;
    size_t k = sieve_dedup_group_count(g);
    if (d->n_pending + k > d->cap_pending) {
        size_t cap = (d->n_pending + k) * 2 + 64;
        sieve_record **p = realloc(d->pending, cap * sizeof *p);
        if (!p)
            return -1;
        d->pending = p;
        d->cap_pending = cap;
    }
    for (size_t i = 0; i < k; i++)
        d->pending[d->n_pending++] = sieve_dedup_group_item(g, i);
    d->n_out += (int64_t)k;
    sieve_dedup_group_clear(g);
    sieve_dedup_group_free(g, NULL);
    d->groups[gi].g = NULL;
    free(d->groups[gi].qid);
    d->groups[gi].qid = NULL;
    return 0;
}

static sieve_status offer(dedup *d, sieve_record *r, size_t idx, sieve_err *err)
{
    gsm8k_path p;
    if (!gsm8k_path_read(r, d->field, &p))
        return sieve_fail(err, "record %zu of the batch: no text field '%s'", idx, d->field);
    size_t qlen;
    const char *qv;
    char num[64];
    if (!gsm8k_field_key_view(r, d->group, num, &qv, &qlen))
        return sieve_fail(err, "record %zu of the batch: no field '%s' to group by", idx, d->group);
    d->n_in++;
    /* The question of every record, kept or not, decides when the open one
     * is complete: it goes out as soon as another question begins. */
    size_t gi = gsm8k_map_get(&d->index, qv, qlen);
    if (gi == FINISHED)
        return sieve_fail(err, "%s '%.*s' appears again after its question was emitted: "
                          "the input is not grouped by '%s' (use --param grouped=false)",
                          d->group, (int)(qlen > 200 ? 200 : qlen), qv, d->group);
    if (gi == (size_t)-1) {
        if (d->grouped && d->open != (size_t)-1) {
            qgroup *o = &d->groups[d->open];
            if (gsm8k_map_put(&d->index, o->qid, o->qid_len, FINISHED) || close_group(d, d->open))
                return sieve_fail(err, "out of memory");
            d->n_groups = 0;          /* grouped: only the open group lives */
        }
        char *qid = malloc(qlen + 1);
        if (!qid)
            return sieve_fail(err, "out of memory");
        memcpy(qid, qv, qlen);
        qid[qlen] = 0;
        if ((gi = new_group(d, qid, qlen)) == (size_t)-1) {
            free(qid);
            return sieve_fail(err, "out of memory");
        }
        if (gsm8k_map_put(&d->index, qid, qlen, gi))
            return sieve_fail(err, "out of memory");      /* qid is the group's now */
        d->open = gi;
    }
    if (p.correct == 0) {
        d->n_incorrect++;
        return SIEVE_OK;
    }
    if (!p.valid) {
        d->n_invalid++;
        return SIEVE_OK;
    }
    size_t klen;
    char *key = sieve_gsm8k_equation_key(p.text, p.len, &klen);
    sieve_record *held = key ? gsm8k_record_take(r) : NULL;
    int outcome = 0;
    int rc = held ? sieve_dedup_group_offer(d->groups[gi].g, key, klen, p.text, p.len, held,
                                            gsm8k_record_free, &outcome) : -1;
    free(key);
    if (rc)
        return sieve_fail(err, "out of memory");
    d->n_replaced += outcome == 2;
    return SIEVE_OK;
}

static sieve_status send_pending(dedup *d, sieve_io *io, sieve_err *err)
{
    if (!d->n_pending)
        return SIEVE_OK;
    size_t n = d->n_pending;
    d->n_pending = 0;
    return gsm8k_emit_taken(io, d->pending, n, err);
}

sieve_status gsm8k_dedup_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    dedup *d = state;
    sieve_batch *b = in->batch;
    for (size_t i = 0; i < b->n_recs; i++) {
        sieve_status st = offer(d, &b->recs[i], i, err);
        if (st != SIEVE_OK)
            return st;
    }
    sieve_progress(d->ctx, d->n_in, -1, "rec", NULL);
    return send_pending(d, io, err);
}

sieve_status gsm8k_dedup_flush(void *state, sieve_io *io, sieve_err *err)
{
    dedup *d = state;
    for (size_t gi = 0; gi < d->n_groups; gi++)
        if (d->groups[gi].g && close_group(d, gi))
            return sieve_fail(err, "out of memory");
    d->n_groups = 0;
    d->open = (size_t)-1;
    sieve_log(d->ctx, SIEVE_LOG_INFO, "%lld paths over %lld questions: %lld kept, %lld incorrect, "
              "%lld with invalid equations, %lld replacements by the farthest rule",
              (long long)d->n_in, (long long)d->n_questions, (long long)d->n_out,
              (long long)d->n_incorrect, (long long)d->n_invalid, (long long)d->n_replaced);
    char m[320];
    snprintf(m, sizeof m, "{\"paths\": %lld, \"questions\": %lld, \"kept\": %lld, \"incorrect\": %lld, "
             "\"invalid_equations\": %lld, \"replaced\": %lld}", (long long)d->n_in,
             (long long)d->n_questions, (long long)d->n_out, (long long)d->n_incorrect,
             (long long)d->n_invalid, (long long)d->n_replaced);
    sieve_metric(d->ctx, m);
    return send_pending(d, io, err);
}

void gsm8k_dedup_destroy(void *state)
{
    dedup *d = state;
    if (!d)
        return;
    for (size_t gi = 0; gi < d->n_groups; gi++) {
        sieve_dedup_group_free(d->groups[gi].g, gsm8k_record_free);
        free(d->groups[gi].qid);
    }
    for (size_t i = 0; i < d->n_pending; i++)
        gsm8k_record_free(d->pending[i]);
    free(d->pending);
    free(d->groups);
    gsm8k_map_free(&d->index);
    free(d);
}
