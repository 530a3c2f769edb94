/* aggregate: the union of several models' reasoning paths (the paper's
 * U13B set), deduplicated per question across models with the same rule as
 * `dedup`. Inputs interleave, so every question is held until the end. Each
 * producer is named by its records' `model` field (else "input<N>"); the
 * log and metrics report, per model, the paths it offered, the distinct
 * equation lists it found, how many only it found, and how many of its paths
 * are in the final set. Records without the text field but with an `answer`
 * (the SFT lines) pass straight through: the training set is the SFT data
 * plus the distinct paths. format=query-response writes the paper's
 * training lines {"query", "response"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"

#define MAX_MODELS 64

typedef struct held {
    sieve_record *rec;
    int model;
} held;

typedef struct model_stats {
    char *name;
    int64_t offered, candidates, distinct, unique, kept;
} model_stats;

typedef struct agg {
    sieve_ctx *ctx;
    const char *group, *field;
    bool qr;                      /* format=query-response */
    gsm8k_map index;              /* qid -> group */
    sieve_dedup_group **groups;
    size_t n_groups, cap_groups;
    gsm8k_map seen;               /* qid \0 key -> index into masks */
    uint64_t *masks;              /* which models found each (question, key) */
    size_t n_masks, cap_masks;
    model_stats models[MAX_MODELS + 1];   /* the last slot collects the rest */
    int n_models;
    int64_t n_refs, n_dropped;
} agg;

static void free_held(void *p)
{
    held *h = p;
    if (!h)
        return;
    gsm8k_record_free(h->rec);
    free(h);
}

sieve_status gsm8k_aggregate_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    const char *format = sieve_param_str(p, "format");
    if (strcmp(format, "records") && strcmp(format, "query-response"))
        return sieve_fail(err, "parameter 'format': '%s' is not one of records, query-response", format);
    agg *a = calloc(1, sizeof *a);
    if (!a)
        return sieve_fail(err, "out of memory");
    a->ctx = ctx;
    a->group = sieve_param_str(p, "group");
    a->field = sieve_param_str(p, "field");
    a->qr = !strcmp(format, "query-response");
    *state = a;
    return SIEVE_OK;
}

static int model_of(agg *a, const sieve_record *r, int producer)
{
    char name[64];
    const char *s;
    size_t n;
    if (gsm8k_field_text(r, "model", &s, &n) != 1) {
        n = (size_t)snprintf(name, sizeof name, "input%d", producer);
        s = name;
    }
    for (int i = 0; i < a->n_models; i++)
        if (strlen(a->models[i].name) == n && !memcmp(a->models[i].name, s, n))
            return i;
    if (a->n_models == MAX_MODELS)
        return MAX_MODELS;            /* "other" */
    char *copy = strndup(s, n);
    if (!copy)
        return -1;
    a->models[a->n_models].name = copy;
    return a->n_models++;
}

/* The paper's training line: query = the question, response = the path. */
static int to_query_response(sieve_record *r, const char *text_field)
{
    const char *q = NULL, *t = NULL;
    size_t qn = 0, tn = 0;
    if (gsm8k_field_text(r, "question", &q, &qn) < 0 && gsm8k_field_text(r, "query", &q, &qn) < 0)
        q = "", qn = 0;
    if (gsm8k_field_text(r, text_field, &t, &tn) < 0 && gsm8k_field_text(r, "answer", &t, &tn) < 0)
        t = "", tn = 0;
    sieve_record out;
    sieve_record_init(&out);
    int rc = sieve_record_set_str(&out, "query", q, qn) | sieve_record_set_str(&out, "response", t, tn);
    sieve_record_free(r);
    *r = out;
    return rc;
}

static sieve_status emit_one(agg *a, sieve_io *io, sieve_record *r, sieve_err *err)
{
    if (a->qr && to_query_response(r, a->field)) {
        gsm8k_record_free(r);
        return sieve_fail(err, "out of memory");
    }
    return gsm8k_emit_taken(io, &r, 1, err);
}

/* Notes that model m found (qid, key); returns 0 or -1 when out of memory. */
static int note_key(agg *a, const char *qid, size_t qlen, const char *key, size_t klen, int m)
{
    size_t n = qlen + 1 + klen;
    char small[512];
    char *buf = n <= sizeof small ? small : malloc(n);
    if (!buf)
        return -1;
    memcpy(buf, qid, qlen);
    buf[qlen] = 0;
    memcpy(buf + qlen + 1, key, klen);
    size_t i = gsm8k_map_get(&a->seen, buf, n);
    int rc = 0;
    if (i == (size_t)-1) {
        if (a->n_masks == a->cap_masks) {
            size_t cap = a->cap_masks ? a->cap_masks * 2 : 256;
            uint64_t *mk = realloc(a->masks, cap * sizeof *mk);
            if (!mk)
                rc = -1;
            else
                a->masks = mk, a->cap_masks = cap;
        }
        if (!rc && !(rc = gsm8k_map_put(&a->seen, buf, n, a->n_masks)))
            a->masks[i = a->n_masks++] = 0;
    }
    if (!rc && m < MAX_MODELS)
        a->masks[i] |= (uint64_t)1 << m;
    if (buf != small)
        free(buf);
    return rc;
}

static int add_group(agg *a, const char *qid, size_t qlen, size_t *gi)
{
    if (a->n_groups == a->cap_groups) {
        size_t cap = a->cap_groups ? a->cap_groups * 2 : 256;
        sieve_dedup_group **g = realloc(a->groups, cap * sizeof *g);
        if (!g)
            return -1;
        a->groups = g;
        a->cap_groups = cap;
    }
    sieve_dedup_group *g = sieve_dedup_group_new();
    if (!g)
        return -1;
    if (gsm8k_map_put(&a->index, qid, qlen, a->n_groups)) {
        sieve_dedup_group_free(g, NULL);
        return -1;
    }
    a->groups[a->n_groups] = g;
    *gi = a->n_groups++;
    return 0;
}

static sieve_status offer(agg *a, sieve_record *r, int producer, sieve_io *io, sieve_err *err)
{
    int m = model_of(a, r, producer);
    if (m < 0)
        return sieve_fail(err, "out of memory");
    a->models[m].offered++;
    gsm8k_path p;
    if (!gsm8k_path_read(r, a->field, &p)) {
        const char *ans;
        size_t an;
        if (gsm8k_field_text(r, "answer", &ans, &an) != 1)
            return sieve_fail(err, "input %d: a record with neither '%s' nor 'answer'", producer, a->field);
        a->n_refs++;                  /* an SFT line: goes through as it is */
        sieve_record *ref = gsm8k_record_take(r);
        return ref ? emit_one(a, io, ref, err) : sieve_fail(err, "out of memory");
    }
    if (p.correct == 0 || !p.valid) {
        a->n_dropped++;
        return SIEVE_OK;
    }
    a->models[m].candidates++;
    size_t qlen, klen;
    char *qid = gsm8k_field_key(r, a->group, &qlen);
    if (!qid)
        return sieve_fail(err, "input %d: a record without the field '%s' to group by", producer, a->group);
    char *key = sieve_gsm8k_equation_key(p.text, p.len, &klen);
    if (!key) {
        free(qid);
        return sieve_fail(err, "out of memory");
    }
    size_t gi = gsm8k_map_get(&a->index, qid, qlen);
    int rc = 0;
    if (gi == (size_t)-1)
        rc = add_group(a, qid, qlen, &gi);
    if (!rc)
        rc = note_key(a, qid, qlen, key, klen, m);
    held *h = rc ? NULL : malloc(sizeof *h);
    if (h && !(h->rec = gsm8k_record_take(r))) {
        free(h);
        h = NULL;
    }
    int outcome;
    if (h) {
        h->model = m;
        rc = sieve_dedup_group_offer(a->groups[gi], key, klen, p.text, p.len, h, free_held, &outcome);
    }
    free(qid);
    free(key);
    return rc || !h ? sieve_fail(err, "out of memory") : SIEVE_OK;
}

sieve_status gsm8k_aggregate_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    agg *a = state;
    sieve_batch *b = in->batch;
    for (size_t i = 0; i < b->n_recs; i++) {
        sieve_status st = offer(a, &b->recs[i], in->producer, io, err);
        if (st != SIEVE_OK)
            return st;
    }
    return SIEVE_OK;
}

static void report(agg *a)
{
    int nm = a->n_models + (a->models[MAX_MODELS].offered > 0);
    /* Distinct and unique equation lists per model, from the masks. */
    int64_t shared = 0;
    for (size_t i = 0; i < a->n_masks; i++) {
        uint64_t mk = a->masks[i];
        int bits = __builtin_popcountll(mk);
        shared += bits > 1;
        for (int m = 0; m < a->n_models; m++)
            if (mk >> m & 1) {
                a->models[m].distinct++;
                a->models[m].unique += bits == 1;
            }
    }
    int64_t kept = 0;
    for (int m = 0; m <= MAX_MODELS; m++)
        kept += a->models[m].kept;
    sieve_log(a->ctx, SIEVE_LOG_INFO, "%zu questions, %lld distinct paths kept (%zu distinct equation "
              "lists, %lld found by more than one model), %lld SFT lines passed through",
              a->n_groups, (long long)kept, a->n_masks, (long long)shared, (long long)a->n_refs);
    char line[1024];
    for (int m = 0; m < nm; m++) {
        int idx = m < a->n_models ? m : MAX_MODELS;
        model_stats *s = &a->models[idx];
        const char *name = s->name ? s->name : "other";
        sieve_log(a->ctx, SIEVE_LOG_INFO, "model %s: %lld paths offered, %lld correct with valid "
                  "equations, %lld distinct equation lists (%lld found only by it), %lld kept (%.1f%%)",
                  name, (long long)s->offered, (long long)s->candidates, (long long)s->distinct,
                  (long long)s->unique, (long long)s->kept, kept ? 100.0 * (double)s->kept / (double)kept : 0.0);
        snprintf(line, sizeof line, "{\"model\": \"%.200s\", \"offered\": %lld, \"candidates\": %lld, "
                 "\"distinct_equation_lists\": %lld, \"unique_equation_lists\": %lld, \"kept\": %lld}",
                 name, (long long)s->offered, (long long)s->candidates, (long long)s->distinct,
                 (long long)s->unique, (long long)s->kept);
        sieve_metric(a->ctx, line);
    }
    snprintf(line, sizeof line, "{\"questions\": %zu, \"kept\": %lld, \"distinct_equation_lists\": %zu, "
             "\"shared_equation_lists\": %lld, \"sft_lines\": %lld}", a->n_groups, (long long)kept,
             a->n_masks, (long long)shared, (long long)a->n_refs);
    sieve_metric(a->ctx, line);
}

sieve_status gsm8k_aggregate_flush(void *state, sieve_io *io, sieve_err *err)
{
    agg *a = state;
    size_t total = 0;
    for (size_t gi = 0; gi < a->n_groups; gi++)
        total += sieve_dedup_group_count(a->groups[gi]);
    sieve_record **out = malloc((total ? total : 1) * sizeof *out);
    if (!out)
        return sieve_fail(err, "out of memory");
    size_t n = 0;
    int rc = 0;
    for (size_t gi = 0; gi < a->n_groups; gi++) {
        sieve_dedup_group *g = a->groups[gi];
        for (size_t i = 0; i < sieve_dedup_group_count(g); i++) {
            held *h = sieve_dedup_group_item(g, i);
            a->models[h->model].kept++;
            out[n] = h->rec;
            if (a->qr)
                rc |= to_query_response(out[n], a->field);
            n++;
            free(h);
        }
        sieve_dedup_group_clear(g);
    }
    report(a);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            gsm8k_record_free(out[i]);
        free(out);
        return sieve_fail(err, "out of memory");
    }
    sieve_status st = gsm8k_emit_taken(io, out, n, err);
    free(out);
    return st;
}

void gsm8k_aggregate_destroy(void *state)
{
    agg *a = state;
    if (!a)
        return;
    for (size_t gi = 0; gi < a->n_groups; gi++)
        sieve_dedup_group_free(a->groups[gi], free_held);
    free(a->groups);
    gsm8k_map_free(&a->index);
    gsm8k_map_free(&a->seen);
    free(a->masks);
    for (int m = 0; m <= MAX_MODELS; m++)
        free(a->models[m].name);
    free(a);
}
