/* Stage `score`: per record, the log-probability of every token given the
 * ones before it (the first token is context only) and the mean negative
 * log-likelihood. Records carry `ids`, or `text` encoded with the model
 * directory's tokenizer (BOS first). Records of an input batch are grouped by
 * length and scored `batch` sequences at a time, right-padded: attention is
 * causal, so padding never changes a real position's result.
 * With `tensors: true` every record also yields, on the second output port,
 * an f32 [1, n-1] tensor named "logprobs" holding the same values (in record
 * order, after the record batch), for stages that take tensors downstream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/kernels.h"
#include "sieve/llama.h"
#include "sieve/plugin.h"
#include "stages.h"
#ifdef SIEVE_LLAMA_HAVE_TOKENIZER
#include "sieve/tokenizer.h"
#endif

typedef struct {
    sieve_ctx *ctx;
    const sieve_kernels *k;
    sieve_kctx *kc;
    sieve_llama *m;
    sieve_llama_run *run;
    int batch, T_cap, tensors;
    int64_t records, tokens;
#ifdef SIEVE_LLAMA_HAVE_TOKENIZER
    sieve_tokenizer *tok;
    sieve_tok_buf tb;
#endif
    char *model_dir;
} score_state;

void llama_score_destroy(void *p)
{
    score_state *s = p;
    if (!s) return;
    sieve_llama_run_free(s->run);
    if (s->k && s->kc) s->k->kctx_free(s->kc);
    sieve_llama_free(s->m);
#ifdef SIEVE_LLAMA_HAVE_TOKENIZER
    sieve_tokenizer_free(s->tok);
    sieve_tok_buf_free(&s->tb);
#endif
    free(s->model_dir);
    free(s);
}

sieve_status llama_kernels_get(sieve_ctx *ctx, const char *backend, const sieve_kernels **out,
                               sieve_err *err)
{
    const sieve_kernels *k = sieve_ctx_kernels(ctx, backend, err);
    if (!k) return SIEVE_ERR;
    if (k->version != SIEVE_KERNELS_VERSION || k->size < sizeof(sieve_kernels))
        return sieve_fail(err, "kernels-%s: kernel table version %u (size %u), this plugin "
                          "needs version %u (size %zu)", backend, k->version, k->size,
                          SIEVE_KERNELS_VERSION, sizeof(sieve_kernels));
    *out = k;
    return SIEVE_OK;
}

sieve_status llama_score_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                                 sieve_err *err)
{
    score_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->ctx = ctx;
    s->batch = (int)sieve_param_int(params, "batch");
    s->tensors = sieve_param_bool(params, "tensors");
    if (s->batch < 1 || s->batch > 4096)
        return sieve_fail(err, "param 'batch' = %d must be in [1, 4096]", s->batch);
    int64_t threads = sieve_param_int(params, "threads");
    char *dir = sieve_ctx_expand_path(ctx, sieve_param_str(params, "model"));
    if (!dir) return sieve_fail(err, "out of memory");
    s->model_dir = dir;
    if (llama_kernels_get(ctx, sieve_param_str(params, "backend"), &s->k, err)) return SIEVE_ERR;
    if (s->k->kctx_new((int)threads, &s->kc, err)) return SIEVE_ERR;
    if (sieve_param_bool(params, "batch_invariant")) {
        if (!s->k->kctx_option)
            return sieve_fail(err, "param 'batch_invariant': backend '%s' has no options",
                              s->k->name);
        if (s->k->kctx_option(s->kc, "batch_invariant", 1, err)) return SIEVE_ERR;
    }
    if (sieve_llama_load(dir, &s->m, err)) return SIEVE_ERR;
#ifdef SIEVE_LLAMA_HAVE_TOKENIZER
    char *tpath = malloc(strlen(dir) + 32);
    if (!tpath) return sieve_fail(err, "out of memory");
    strcpy(tpath, dir);
    strcat(tpath, "/tokenizer.model");
    FILE *f = fopen(tpath, "rb");
    if (f) {
        fclose(f);
        if (sieve_tokenizer_load(tpath, &s->tok, err)) {
            free(tpath);
            return SIEVE_ERR;
        }
    }
    free(tpath);
#endif
    sieve_log(ctx, SIEVE_LOG_INFO, "model %s: %d layers, dim %d, vocab %d, %zu parameters",
              dir, s->m->cfg.n_layers, s->m->cfg.dim, s->m->cfg.vocab, s->m->n_params);
    return SIEVE_OK;
}

/* The ids of record i (malloc'd int32), from `ids` or `text`. */
static sieve_status record_ids(score_state *s, const sieve_record *r, size_t idx,
                               int32_t **out, int *n, sieve_err *err)
{
    const int64_t *ids;
    size_t len;
    const char *text;
    size_t tlen;
    if (sieve_record_get_ints(r, "ids", &ids, &len)) {
        if (len == 0) return sieve_fail(err, "record %zu: 'ids' is empty", idx);
        if (len > (1u << 24)) return sieve_fail(err, "record %zu: %zu ids is too many", idx, len);
        int32_t *v = malloc(len * sizeof *v);
        if (!v) return sieve_fail(err, "out of memory");
        for (size_t i = 0; i < len; i++) {
            if (ids[i] < 0 || ids[i] >= s->m->cfg.vocab) {
                free(v);
                return sieve_fail(err, "record %zu: ids[%zu] = %lld is outside the vocabulary "
                                  "[0, %d)", idx, i, (long long)ids[i], s->m->cfg.vocab);
            }
            v[i] = (int32_t)ids[i];
        }
        *out = v;
        *n = (int)len;
        return SIEVE_OK;
    }
    if (sieve_record_get_str(r, "text", &text, &tlen)) {
#ifdef SIEVE_LLAMA_HAVE_TOKENIZER
        if (!s->tok)
            return sieve_fail(err, "record %zu: has 'text' but %s has no tokenizer.model", idx,
                              s->model_dir);
        if (sieve_tokenizer_encode(s->tok, text, tlen, SIEVE_TOK_BOS, &s->tb, err))
            return SIEVE_ERR;
        if (s->tb.n == 0) return sieve_fail(err, "record %zu: 'text' encodes to no tokens", idx);
        int32_t *v = malloc(s->tb.n * sizeof *v);
        if (!v) return sieve_fail(err, "out of memory");
        for (size_t i = 0; i < s->tb.n; i++) {
            if (s->tb.ids[i] >= s->m->cfg.vocab) {
                free(v);
                return sieve_fail(err, "record %zu: tokenizer id %d is outside the model's "
                                  "vocabulary [0, %d)", idx, s->tb.ids[i], s->m->cfg.vocab);
            }
            v[i] = s->tb.ids[i];
        }
        *out = v;
        *n = (int)s->tb.n;
        return SIEVE_OK;
#else
        return sieve_fail(err, "record %zu: 'text' input needs the tokenizer, which this build "
                          "lacks; give 'ids'", idx);
#endif
    }
    return sieve_fail(err, "record %zu: needs 'ids' (list of token ids) or 'text'", idx);
}

typedef struct { int32_t *ids; int n; size_t idx; } seq;

static int cmp_len(const void *a, const void *b)
{
    const seq *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Makes sure the run holds batch x T positions (grows by doubling). */
static sieve_status ensure_run(score_state *s, int T, sieve_err *err)
{
    if (s->run && T <= s->T_cap) return SIEVE_OK;
    int cap = s->T_cap ? s->T_cap : 64;
    while (cap < T) cap *= 2;
    sieve_llama_run_free(s->run);
    s->run = NULL;
    s->T_cap = 0;
    if (sieve_llama_run_new(s->m, s->k, s->kc, s->batch, cap, 0, &s->run, err)) return SIEVE_ERR;
    s->T_cap = cap;
    return SIEVE_OK;
}

static sieve_status score_group(score_state *s, seq *g, int n, sieve_batch *b,
                                sieve_err *err)
{
    int T = g[n - 1].n;   /* sorted by length: the last is the longest */
    if (ensure_run(s, T, err)) return SIEVE_ERR;
    int32_t *ids = calloc((size_t)n * T, sizeof *ids);
    int *lens = malloc((size_t)n * sizeof *lens);
    float *lp = malloc((size_t)n * (T > 1 ? T - 1 : 1) * sizeof *lp);
    double *row = malloc((size_t)(T > 1 ? T - 1 : 1) * sizeof *row);
    sieve_status st = SIEVE_OK;
    if (!ids || !lens || !lp || !row) {
        st = sieve_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        memcpy(ids + (size_t)i * T, g[i].ids, (size_t)g[i].n * sizeof *ids);
        lens[i] = g[i].n;
    }
    if (sieve_llama_score(s->run, ids, n, T, lens, lp, err)) {
        st = SIEVE_ERR;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sieve_record *r = &b->recs[g[i].idx];
        int nt = g[i].n - 1;
        double nll = 0.0;
        for (int t = 0; t < nt; t++) {
            row[t] = lp[(size_t)i * (T - 1) + t];
            nll -= row[t];
        }
        if (sieve_record_set_floats(r, "logprobs", row, (size_t)nt) ||
            (nt > 0 ? sieve_record_set_float(r, "loss", nll / nt)
                    : sieve_record_set_null(r, "loss"))) {
            st = sieve_fail(err, "out of memory");
            goto done;
        }
        s->tokens += nt;
    }
done:
    free(ids);
    free(lens);
    free(lp);
    free(row);
    return st;
}

sieve_status llama_score_process(void *state, const sieve_input *in, sieve_io *io,
                                  sieve_err *err)
{
    score_state *s = state;
    sieve_batch *b = in->batch;
    size_t n = b->n_recs;
    seq *q = calloc(n ? n : 1, sizeof *q);
    if (!q) return sieve_fail(err, "out of memory");
    sieve_status st = SIEVE_OK;
    for (size_t i = 0; i < n && !st; i++) {
        q[i].idx = i;
        st = record_ids(s, &b->recs[i], (size_t)s->records + i, &q[i].ids, &q[i].n, err);
    }
    if (!st) {
        qsort(q, n, sizeof *q, cmp_len);
        for (size_t i = 0; i < n && !st; i += (size_t)s->batch) {
            if (sieve_ctx_stopping(s->ctx)) {
                st = SIEVE_STOPPED;
                break;
            }
            int g = n - i < (size_t)s->batch ? (int)(n - i) : s->batch;
            st = score_group(s, q + i, g, b, err);
            sieve_progress(s->ctx, s->tokens, -1, "tok", NULL);
        }
    }
    for (size_t i = 0; i < n; i++) free(q[i].ids);
    free(q);
    if (st) return st;
    s->records += (int64_t)n;
    sieve_tensor *lpt = NULL;
    if (s->tensors) {   /* made before the records move out of b */
        lpt = calloc(n ? n : 1, sizeof *lpt);
        if (!lpt) return sieve_fail(err, "out of memory");
        for (size_t i = 0; i < n && !st; i++) {
            const sieve_field *v = sieve_record_get(&b->recs[i], "logprobs");
            size_t nt = v && v->type == SIEVE_F_FLOATS ? v->v.floats.len : 0;
            int64_t shape[2] = {1, (int64_t)nt};
            st = sieve_tensor_alloc(&lpt[i], "logprobs", SIEVE_F32, 2, shape, err);
            for (size_t t = 0; t < nt && !st; t++) ((float *)lpt[i].data)[t] = (float)v->v.floats.ptr[t];
        }
    }
    sieve_batch *outb = st ? NULL : sieve_batch_new(n);
    if (!st && !outb) st = sieve_fail(err, "out of memory");
    for (size_t i = 0; i < n && !st; i++)
        if (sieve_batch_push(outb, &b->recs[i])) st = sieve_fail(err, "out of memory");
    if (!st) {
        st = sieve_emit(io, 0, outb);
        outb = NULL;
    }
    for (size_t i = 0; i < n && lpt && !st; i++) st = sieve_emit_tensor(io, 1, &lpt[i]);
    for (size_t i = 0; lpt && i < n; i++) sieve_tensor_release(&lpt[i]);   /* those not sent */
    free(lpt);
    sieve_batch_free(outb);
    return st;
}

const sieve_port_desc llama_score_in[1] = {
    {"in", "records(ids|text)", "token ids (first id is context only) or text"},
};
const sieve_port_desc llama_score_out[2] = {
    {"out", "records(logprobs,loss)", "the input records plus logprobs and loss"},
    {"logprobs", "tensor(f32,2)",
     "with tensors: true, per record an f32 [1, n-1] 'logprobs' tensor (record order)"},
};
const sieve_param_desc llama_score_params[6] = {
    {"model", SIEVE_P_STRING, NULL, "Hugging Face LLaMA directory"},
    {"backend", SIEVE_P_STRING, "cpu", "kernel backend: cpu or cuda"},
    {"threads", SIEVE_P_INT, "0", "kernel threads (0: all cores)"},
    {"batch", SIEVE_P_INT, "8", "sequences per forward pass"},
    {"batch_invariant", SIEVE_P_BOOL, "false",
     "same bits whatever the batching (CUDA: a slower fixed-order matmul)"},
    {"tensors", SIEVE_P_BOOL, "false",
     "also emit each record's log-probabilities as a tensor on port 'logprobs'"},
};
