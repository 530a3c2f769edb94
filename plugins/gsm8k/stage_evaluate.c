/* evaluate: accuracy metrics of checked samples, grouped by question.
 * maj1@1 is the first sample (sample_index 0 when present: the greedy
 * one), with a 95% Wilson interval; maj1@K votes over the valid extracted
 * answers of all K samples (ties: the answer seen first); pass@k is the
 * unbiased estimator; the histogram counts questions by how many of their
 * k samples were correct (0, 1-20%, ..., 81-100% of k: the paper's bins for
 * k = 100). Writes metrics.json and metrics.md into output_dir and emits one
 * record holding the same metrics. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stages.h"

#define MAX_PASS_K 16

typedef struct vote {
    double value;
    int64_t count;
    bool correct;
} vote;

typedef struct question {
    int64_t n, c;
    int first;             /* -1 unknown, else correctness of the first sample */
    bool first_is_greedy;  /* came from sample_index 0 */
    vote *votes;
    size_t n_votes, cap_votes;
} question;

typedef struct evaluate {
    sieve_ctx *ctx;
    const char *group;
    char *out_dir;
    int64_t pass_k[MAX_PASS_K];
    int n_pass_k;
    gsm8k_map index;
    question *qs;
    size_t n_qs, cap_qs;
} evaluate;

sieve_status gsm8k_evaluate_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    evaluate *e = calloc(1, sizeof *e);
    if (!e)
        return sieve_fail(err, "out of memory");
    e->ctx = ctx;
    e->group = sieve_param_str(p, "group");
    const char *ks = sieve_param_str(p, "pass_k");
    for (const char *s = ks; *s;) {
        char *end;
        long long k = strtoll(s, &end, 10);
        if (end == s || k <= 0 || e->n_pass_k == MAX_PASS_K) {
            free(e);
            return sieve_fail(err, "parameter 'pass_k': '%s' is not a list of up to %d positive "
                              "integers separated by commas", ks, MAX_PASS_K);
        }
        e->pass_k[e->n_pass_k++] = k;
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    e->out_dir = sieve_ctx_expand_path(ctx, sieve_param_str(p, "output_dir"));
    if (!e->out_dir) {
        free(e);
        return sieve_fail(err, "out of memory");
    }
    *state = e;
    return SIEVE_OK;
}

static question *question_of(evaluate *e, const sieve_record *r, sieve_err *err)
{
    size_t n;
    char *qid = gsm8k_field_key(r, e->group, &n);
    if (!qid) {
        sieve_fail(err, "a record without the field '%s' to group by", e->group);
        return NULL;
    }
    size_t i = gsm8k_map_get(&e->index, qid, n);
    if (i == (size_t)-1) {
        if (e->n_qs == e->cap_qs) {
            size_t cap = e->cap_qs ? e->cap_qs * 2 : 256;
            question *q = realloc(e->qs, cap * sizeof *q);
            if (!q)
                goto oom;
            e->qs = q;
            e->cap_qs = cap;
        }
        if (gsm8k_map_put(&e->index, qid, n, e->n_qs))
            goto oom;
        i = e->n_qs++;
        e->qs[i] = (question){.first = -1};
    }
    free(qid);
    return &e->qs[i];
oom:
    free(qid);
    sieve_fail(err, "out of memory");
    return NULL;
}

static sieve_status add_sample(evaluate *e, const sieve_record *r, sieve_err *err)
{
    question *q = question_of(e, r, err);
    if (!q)
        return SIEVE_ERR;
    int correct = gsm8k_field_bool(r, "correct");
    if (correct < 0)
        return sieve_fail(err, "a record without a boolean 'correct' (run gsm8k-check first)");
    q->n++;
    q->c += correct;
    int64_t si;
    bool greedy = sieve_record_get_int(r, "sample_index", &si) && si == 0;
    if (q->first < 0 || (greedy && !q->first_is_greedy)) {
        q->first = correct;
        q->first_is_greedy = greedy;
    }
    const char *x;
    size_t xn;
    double v;
    if (gsm8k_field_text(r, "extracted", &x, &xn) == 1 && sieve_gsm8k_pyfloat(x, xn, &v)) {
        size_t k = 0;
        while (k < q->n_votes && q->votes[k].value != v)
            k++;
        if (k == q->n_votes) {
            if (q->n_votes == q->cap_votes) {
                size_t cap = q->cap_votes ? q->cap_votes * 2 : 4;
                vote *nv = realloc(q->votes, cap * sizeof *nv);
                if (!nv)
                    return sieve_fail(err, "out of memory");
                q->votes = nv;
                q->cap_votes = cap;
            }
            q->votes[q->n_votes++] = (vote){.value = v, .correct = correct};
        }
        q->votes[k].count++;
    }
    return SIEVE_OK;
}

sieve_status gsm8k_evaluate_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    evaluate *e = state;
    (void)io;
    for (size_t i = 0; i < in->batch->n_recs; i++) {
        sieve_status st = add_sample(e, &in->batch->recs[i], err);
        if (st != SIEVE_OK)
            return st;
    }
    return SIEVE_OK;
}

typedef struct summary {
    int64_t questions, samples, k_min, k_max, greedy, majority, correct_samples;
    double greedy_lo, greedy_hi, maj_lo, maj_hi;
    double pass[MAX_PASS_K];
    bool pass_ok[MAX_PASS_K];
    int64_t hist[6];
} summary;

static void summarize(const evaluate *e, summary *s)
{
    memset(s, 0, sizeof *s);
    s->questions = (int64_t)e->n_qs;
    s->k_min = e->n_qs ? INT64_MAX : 0;
    for (size_t i = 0; i < e->n_qs; i++) {
        const question *q = &e->qs[i];
        s->samples += q->n;
        s->correct_samples += q->c;
        s->k_min = q->n < s->k_min ? q->n : s->k_min;
        s->k_max = q->n > s->k_max ? q->n : s->k_max;
        s->greedy += q->first == 1;
        const vote *best = NULL;
        for (size_t k = 0; k < q->n_votes; k++)
            if (!best || q->votes[k].count > best->count)
                best = &q->votes[k];
        s->majority += best && best->correct;
        s->hist[sieve_gsm8k_hist_bin(q->c, q->n)]++;
    }
    sieve_gsm8k_wilson(s->greedy, s->questions, &s->greedy_lo, &s->greedy_hi);
    sieve_gsm8k_wilson(s->majority, s->questions, &s->maj_lo, &s->maj_hi);
    for (int j = 0; j < e->n_pass_k; j++) {
        s->pass_ok[j] = e->n_qs && e->pass_k[j] <= s->k_min;
        if (!s->pass_ok[j])
            continue;
        double sum = 0;
        for (size_t i = 0; i < e->n_qs; i++)
            sum += sieve_gsm8k_pass_at_k(e->qs[i].n, e->qs[i].c, e->pass_k[j]);
        s->pass[j] = sum / (double)e->n_qs;
    }
}

static double frac(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

/* The integer range of bin b for k samples: "0", "1-20" (k = 100), "3"
 * (k = 4); NULL when the bin holds no integer (small k). */
static const char *bin_label(int b, int64_t k, char *buf, size_t n)
{
    if (b == 0)
        return "0";
    long long lo = (long long)(k * (b - 1) / 5 + 1), hi = (long long)(k * b / 5);
    if (lo > hi)
        return NULL;
    if (lo == hi)
        snprintf(buf, n, "%lld", lo);
    else
        snprintf(buf, n, "%lld-%lld", lo, hi);
    return buf;
}

/* The metrics as one JSON object (malloc'd). */
static char *metrics_json(const evaluate *e, const summary *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "{\"questions\": %lld, \"samples\": %lld, \"k_min\": %lld, \"k_max\": %lld, ",
            (long long)s->questions, (long long)s->samples, (long long)s->k_min, (long long)s->k_max);
    fprintf(f, "\"maj1@1\": %.6f, \"accuracy\": %.6f, \"accuracy_ci95\": [%.6f, %.6f], ",
            frac(s->greedy, s->questions), frac(s->greedy, s->questions), s->greedy_lo, s->greedy_hi);
    fprintf(f, "\"maj1@K\": %.6f, \"maj1@K_ci95\": [%.6f, %.6f], \"sample_accuracy\": %.6f, ",
            frac(s->majority, s->questions), s->maj_lo, s->maj_hi, frac(s->correct_samples, s->samples));
    fprintf(f, "\"pass@k\": {");
    bool first = true;
    for (int j = 0; j < e->n_pass_k; j++)
        if (s->pass_ok[j]) {
            fprintf(f, "%s\"%lld\": %.6f", first ? "" : ", ", (long long)e->pass_k[j], s->pass[j]);
            first = false;
        }
    fprintf(f, "}, \"solved_histogram\": {");
    char lab[64];
    for (int b = 0; b < 6; b++) {
        const char *l = bin_label(b, s->k_max, lab, sizeof lab);
        if (l)
            fprintf(f, "%s\"%s\": %lld", b ? ", " : "", l, (long long)s->hist[b]);
    }
    fprintf(f, "}}");
    fclose(f);
    return buf;
}

static char *metrics_md(const evaluate *e, const summary *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "# GSM8K evaluation\n\n%lld questions, %lld samples (k = %lld",
            (long long)s->questions, (long long)s->samples, (long long)s->k_min);
    if (s->k_max != s->k_min)
        fprintf(f, "..%lld", (long long)s->k_max);
    fprintf(f, " per question).\n\n| metric | value | 95%% CI |\n|---|---|---|\n");
    fprintf(f, "| maj1@1 (accuracy) | %.2f%% | %.2f%% – %.2f%% |\n", 100 * frac(s->greedy, s->questions),
            100 * s->greedy_lo, 100 * s->greedy_hi);
    fprintf(f, "| maj1@K | %.2f%% | %.2f%% – %.2f%% |\n", 100 * frac(s->majority, s->questions),
            100 * s->maj_lo, 100 * s->maj_hi);
    for (int j = 0; j < e->n_pass_k; j++)
        if (s->pass_ok[j])
            fprintf(f, "| pass@%lld | %.2f%% | |\n", (long long)e->pass_k[j], 100 * s->pass[j]);
    fprintf(f, "| sample accuracy | %.2f%% | |\n\n", 100 * frac(s->correct_samples, s->samples));
    fprintf(f, "Questions by how many of their k samples were correct:\n\n| solved | questions |\n|---|---|\n");
    char lab[64];
    for (int b = 0; b < 6; b++) {
        const char *l = bin_label(b, s->k_max, lab, sizeof lab);
        if (l)
            fprintf(f, "| %s | %lld |\n", l, (long long)s->hist[b]);
    }
    fclose(f);
    return buf;
}

static int mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    int rc = mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* Writes dir/name atomically (a temporary name, then rename). */
static sieve_status write_file(const char *dir, const char *name, const char *text, sieve_err *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sieve_fail(err, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        return sieve_fail(err, "%s: %s", path, strerror(errno));
    return SIEVE_OK;
}

sieve_status gsm8k_evaluate_flush(void *state, sieve_io *io, sieve_err *err)
{
    evaluate *e = state;
    summary s;
    summarize(e, &s);
    char *json = metrics_json(e, &s), *md = metrics_md(e, &s);
    sieve_status st = SIEVE_OK;
    if (!json || !md)
        st = sieve_fail(err, "out of memory");
    else if (mkdirs(e->out_dir))
        st = sieve_fail(err, "output_dir %s: %s", e->out_dir, strerror(errno));
    if (st == SIEVE_OK)
        st = write_file(e->out_dir, "metrics.json", json, err);
    if (st == SIEVE_OK)
        st = write_file(e->out_dir, "metrics.md", md, err);
    if (st == SIEVE_OK) {
        sieve_log(e->ctx, SIEVE_LOG_INFO, "%lld questions: maj1@1 %.2f%% [%.2f, %.2f], maj1@K %.2f%%; "
                  "wrote %s/metrics.json and metrics.md", (long long)s.questions,
                  100 * frac(s.greedy, s.questions), 100 * s.greedy_lo, 100 * s.greedy_hi,
                  100 * frac(s.majority, s.questions), e->out_dir);
        sieve_metric(e->ctx, json);
        sieve_batch *b = sieve_batch_new(1);
        sieve_record *r = b ? sieve_batch_add(b) : NULL;
        if (!r || sieve_record_from_json(r, json, strlen(json), err) != SIEVE_OK) {
            sieve_batch_free(b);
            st = sieve_fail(err, "out of memory");
        } else {
            st = sieve_emit(io, 0, b);
        }
    }
    free(json);
    free(md);
    return st;
}

void gsm8k_evaluate_destroy(void *state)
{
    evaluate *e = state;
    if (!e)
        return;
    for (size_t i = 0; i < e->n_qs; i++)
        free(e->qs[i].votes);
    free(e->qs);
    gsm8k_map_free(&e->index);
    free(e->out_dir);
    free(e);
}
