/* gsm8k-check: marks each completion with the paper's verdicts. Adds
 * `extracted` (the answer text or null), `correct` (|answer - gold| < 1e-4)
 * and `equations_valid` (every <<lhs=rhs>> annotation holds); every other
 * field passes through. Gold comes from `gold_answer` (a number or numeric
 * text), else from the `answer` / `response` text by the answer rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"

typedef struct check {
    sieve_ctx *ctx;
    const char *field, *gold_field;
    char *buf;               /* answer text scratch */
    size_t cap;
    int64_t n, n_correct, n_valid, n_no_answer, n_no_gold;
} check;

sieve_status gsm8k_check_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    check *c = calloc(1, sizeof *c);
    if (!c)
        return sieve_fail(err, "out of memory");
    c->ctx = ctx;
    c->field = sieve_param_str(p, "field");
    c->gold_field = sieve_param_str(p, "gold_field");
    *state = c;
    return SIEVE_OK;
}

/* The gold value of a record; false when it has none. */
static bool gold_of(check *c, const sieve_record *r, double *gold)
{
    const sieve_field *f = sieve_record_get(r, c->gold_field);
    if (f && (f->type == SIEVE_F_INT || f->type == SIEVE_F_FLOAT))
        return sieve_record_get_float(r, c->gold_field, gold);
    if (f && f->type == SIEVE_F_STRING)
        return sieve_gsm8k_parse_gold(f->v.str.ptr, f->v.str.len, gold);
    static const char *texts[] = {"answer", "response"};
    for (int i = 0; i < 2; i++) {
        const char *s;
        size_t n;
        if (gsm8k_field_text(r, texts[i], &s, &n) == 1)
            return sieve_gsm8k_extract(s, n, NULL, 0, NULL, gold);
    }
    return false;
}

static sieve_status mark(check *c, sieve_record *r, size_t idx, sieve_err *err)
{
    const char *text;
    size_t len;
    if (gsm8k_field_text(r, c->field, &text, &len) < 0)
        return sieve_fail(err, "record %zu of the batch: no text field '%s'", idx, c->field);
    if (len + 1 > c->cap) {
        char *b = realloc(c->buf, len + 1);
        if (!b)
            return sieve_fail(err, "out of memory");
        c->buf = b;
        c->cap = len + 1;
    }
    size_t alen = 0;
    double answer = 0, gold = 0;
    bool have = sieve_gsm8k_extract(text, len, c->buf, c->cap, &alen, &answer);
    bool valid = sieve_gsm8k_equations_valid(text, len);
    bool have_gold = gold_of(c, r, &gold);
    bool correct = have && have_gold && sieve_gsm8k_is_correct(answer, gold);
    c->n++;
    c->n_correct += correct;
    c->n_valid += valid;
    c->n_no_answer += !have;
    c->n_no_gold += !have_gold;
    int rc = have ? sieve_record_set_str(r, "extracted", c->buf, alen)
                  : sieve_record_set_null(r, "extracted");
    rc |= sieve_record_set_bool(r, "correct", correct);
    rc |= sieve_record_set_bool(r, "equations_valid", valid);
    return rc ? sieve_fail(err, "out of memory") : SIEVE_OK;
}

sieve_status gsm8k_check_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    check *c = state;
    sieve_batch *b = in->batch;
    for (size_t i = 0; i < b->n_recs; i++) {
        sieve_status st = mark(c, &b->recs[i], i, err);
        if (st != SIEVE_OK)
            return st;
    }
    /* Move the marked records on in a batch of our own. */
    sieve_batch *out = sieve_batch_new(b->n_recs);
    if (!out)
        return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < b->n_recs; i++)
        if (sieve_batch_push(out, &b->recs[i]) != 0) {
            sieve_batch_free(out);
            return sieve_fail(err, "out of memory");
        }
    sieve_progress(c->ctx, c->n, -1, "rec", NULL);
    return sieve_emit(io, 0, out);
}

sieve_status gsm8k_check_flush(void *state, sieve_io *io, sieve_err *err)
{
    check *c = state;
    (void)io, (void)err;
    if (c->n_no_gold)
        sieve_log(c->ctx, SIEVE_LOG_WARN, "%lld of %lld records had no gold answer (field '%s', "
                  "'answer' or 'response'): marked not correct",
                  (long long)c->n_no_gold, (long long)c->n, c->gold_field);
    sieve_log(c->ctx, SIEVE_LOG_INFO, "%lld completions: %lld correct, %lld with valid equations, "
              "%lld without an answer", (long long)c->n, (long long)c->n_correct,
              (long long)c->n_valid, (long long)c->n_no_answer);
    char m[256];
    snprintf(m, sizeof m, "{\"completions\": %lld, \"correct\": %lld, \"equations_valid\": %lld, "
             "\"no_answer\": %lld, \"no_gold\": %lld}", (long long)c->n, (long long)c->n_correct,
             (long long)c->n_valid, (long long)c->n_no_answer, (long long)c->n_no_gold);
    sieve_metric(c->ctx, m);
    return SIEVE_OK;
}

void gsm8k_check_destroy(void *state)
{
    check *c = state;
    if (!c)
        return;
    free(c->buf);
    free(c);
}
