/* Records to training examples: the one tokenization of the project's
 * training data, used by the `train` stage and by `pack` (so both see the
 * same token ids). A record is {prompt_ids, response_ids} (EOS appended when
 * the model has one and the response lacks it), or text: {query, response} /
 * {question, answer} rendered through the prompt template and encoded as the
 * paper's (Alpaca's) code does: prompt and response encoded together with
 * BOS and EOS, the first len(encode(prompt)) tokens carry no loss. Examples
 * longer than max_len are truncated; one with no response token left is
 * skipped (counted). */
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sieve/template.h"
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
#include "sieve/tokenizer.h"
#endif

sieve_status trn_examples_init(trn_examples *e, const char *model_dir, const char *tmpl,
                               int max_len, int vocab, int eos_id, sieve_err *err)
{
    memset(e, 0, sizeof *e);
    e->max_len = max_len;
    e->vocab = vocab;
    e->eos_id = eos_id;
    e->tmpl = strdup(sieve_template_text(tmpl));
    e->model_dir = strdup(model_dir ? model_dir : "");
    if (!e->tmpl || !e->model_dir) return sieve_fail(err, "out of memory");
    if (!strstr(e->tmpl, "{query}"))
        return sieve_fail(err, "param 'template' has no {query} placeholder");
    if (max_len < 2) return sieve_fail(err, "max_len = %d must be >= 2", max_len);
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
    char tpath[4096];
    struct stat sb;
    snprintf(tpath, sizeof tpath, "%s/tokenizer.model", e->model_dir);
    if (*e->model_dir && !stat(tpath, &sb)) {
        sieve_tokenizer *tok = NULL;
        if (sieve_tokenizer_load(tpath, &tok, err)) return SIEVE_ERR;
        e->tok = tok;
        e->tb = calloc(1, sizeof(sieve_tok_buf));
        if (!e->tb) return sieve_fail(err, "out of memory");
    }
#endif
    return SIEVE_OK;
}

void trn_examples_free(trn_examples *e)
{
    for (int64_t i = 0; i < e->n; i++) free(e->ex[i].ids);
    free(e->ex);
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
    sieve_tokenizer_free(e->tok);
    if (e->tb) sieve_tok_buf_free(e->tb);
#endif
    free(e->tb);
    free(e->tmpl);
    free(e->model_dir);
    memset(e, 0, sizeof *e);
}

/* Takes ownership of ids (len tokens, the first n_prompt without loss). */
static sieve_status add_example(trn_examples *e, int32_t *ids, int len, int n_prompt,
                                size_t idx, sieve_err *err)
{
    for (int i = 0; i < len; i++)
        if (ids[i] < 0 || ids[i] >= e->vocab) {
            sieve_fail(err, "record %zu: token %d = %d is outside the vocabulary [0, %d)", idx, i,
                       ids[i], e->vocab);
            free(ids);
            return SIEVE_ERR;
        }
    if (len > e->max_len) len = e->max_len;    /* truncated as HF's tokenizer does */
    if (n_prompt >= len) {                      /* no response token left to learn */
        free(ids);
        e->skipped++;
        return SIEVE_OK;
    }
    if (e->n == e->cap) {
        int64_t cap = e->cap ? e->cap * 2 : 1024;
        trn_example *n = realloc(e->ex, (size_t)cap * sizeof *n);
        if (!n) {
            free(ids);
            return sieve_fail(err, "out of memory");
        }
        e->ex = n;
        e->cap = cap;
    }
    e->ex[e->n++] = (trn_example){ids, len, n_prompt};
    return SIEVE_OK;
}

static sieve_status from_ids(trn_examples *e, const int64_t *p, size_t np, const int64_t *r,
                             size_t nr, size_t idx, sieve_err *err)
{
    int eos = e->eos_id;
    size_t n = np + nr + (eos >= 0 && (nr == 0 || r[nr - 1] != eos));
    if (n > (1u << 24)) return sieve_fail(err, "record %zu: %zu tokens is too many", idx, n);
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    if (!ids) return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < np; i++) ids[i] = p[i] < 0 || p[i] > INT32_MAX ? -1 : (int32_t)p[i];
    for (size_t i = 0; i < nr; i++) ids[np + i] = r[i] < 0 || r[i] > INT32_MAX ? -1 : (int32_t)r[i];
    if (n > np + nr) ids[n - 1] = eos;
    return add_example(e, ids, (int)n, (int)np, idx, err);
}

#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
static sieve_status from_text(trn_examples *e, const char *q, size_t ql, const char *r,
                              size_t rl, size_t idx, sieve_err *err)
{
    if (!e->tok)
        return sieve_fail(err, "record %zu: text input needs %s/tokenizer.model (or give "
                          "prompt_ids and response_ids)", idx, e->model_dir);
    sieve_tokenizer *tok = e->tok;
    sieve_tok_buf *tb = e->tb;
    size_t pl;
    sieve_record qr;
    sieve_record_init(&qr);
    if (sieve_record_set_str(&qr, "query", q, ql)) return sieve_fail(err, "out of memory");
    char *prompt = sieve_template_render(e->tmpl, &qr, &pl, err);
    sieve_record_free(&qr);
    if (!prompt) return SIEVE_ERR;
    if (sieve_tokenizer_encode(tok, prompt, pl, SIEVE_TOK_BOS, tb, err)) {
        free(prompt);
        return SIEVE_ERR;
    }
    size_t n_prompt = tb->n;
    char *full = malloc(pl + rl + 1);
    if (!full) {
        free(prompt);
        return sieve_fail(err, "out of memory");
    }
    memcpy(full, prompt, pl);
    memcpy(full + pl, r, rl);
    free(prompt);
    sieve_status st = sieve_tokenizer_encode(tok, full, pl + rl, SIEVE_TOK_BOS | SIEVE_TOK_EOS,
                                             tb, err);
    free(full);
    if (st) return st;
    int32_t *ids = malloc((tb->n + 1) * sizeof *ids);
    if (!ids) return sieve_fail(err, "out of memory");
    memcpy(ids, tb->ids, tb->n * sizeof *ids);
    return add_example(e, ids, (int)tb->n, (int)n_prompt, idx, err);
}
#endif

sieve_status trn_examples_add(trn_examples *e, const sieve_batch *b, sieve_err *err)
{
    for (size_t i = 0; i < b->n_recs; i++) {
        const sieve_record *r = &b->recs[i];
        size_t idx = (size_t)(e->n + e->skipped);
        const int64_t *pi, *ri;
        size_t np, nr;
        const char *q, *a;
        size_t ql, al;
        if (sieve_record_get_ints(r, "prompt_ids", &pi, &np) &&
            sieve_record_get_ints(r, "response_ids", &ri, &nr)) {
            if (from_ids(e, pi, np, ri, nr, idx, err)) return SIEVE_ERR;
            continue;
        }
        int have = (sieve_record_get_str(r, "query", &q, &ql) &&
                    sieve_record_get_str(r, "response", &a, &al)) ||
                   (sieve_record_get_str(r, "question", &q, &ql) &&
                    sieve_record_get_str(r, "answer", &a, &al));
        if (!have)
            return sieve_fail(err, "record %zu: needs {query, response}, {question, answer} or "
                              "{prompt_ids, response_ids}", idx);
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
        if (from_text(e, q, ql, a, al, idx, err)) return SIEVE_ERR;
#else
        return sieve_fail(err, "record %zu: text input needs the tokenizer, which this build "
                          "lacks; give prompt_ids and response_ids", idx);
#endif
    }
    return SIEVE_OK;
}
