/* tokenize: adds the token ids of a text field to every record. The records
 * of a batch are split across worker threads (each with its own scratch
 * buffers; the tokenizer itself is shared and read-only). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stages.h"

typedef struct worker {
    sieve_tok_buf buf;
    int64_t *wide;          /* ids widened for the record */
    size_t wide_cap;
    /* per batch */
    const struct tokenize *t;
    sieve_record *recs;
    size_t from, to;
    size_t fail_at;         /* first failing record, or SIZE_MAX */
    sieve_err err;
} worker;

typedef struct tokenize {
    sieve_tokenizer *tok;
    char *input, *output;
    unsigned flags;
    int threads;
    worker *workers;
    size_t seen;            /* records before this batch, for error messages */
} tokenize;

sieve_status tok_tokenize_create(const sieve_params *p, sieve_ctx *ctx, void **state,
                                 sieve_err *err)
{
    tokenize *t = calloc(1, sizeof *t);
    if (!t)
        return sieve_fail(err, "out of memory");
    *state = t;
    int64_t threads = sieve_param_int(p, "threads");
    if (threads < 0)
        return sieve_fail(err, "parameter 'threads' must be >= 0, got %lld", (long long)threads);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? n : 1;
    }
    t->threads = threads > 256 ? 256 : (int)threads;
    t->input = strdup(sieve_param_str(p, "input"));
    t->output = strdup(sieve_param_str(p, "output"));
    t->workers = calloc((size_t)t->threads, sizeof *t->workers);
    if (!t->input || !t->output || !t->workers)
        return sieve_fail(err, "out of memory");
    t->flags = (sieve_param_bool(p, "bos") ? SIEVE_TOK_BOS : 0) |
               (sieve_param_bool(p, "eos") ? SIEVE_TOK_EOS : 0);
    if (sieve_tokenizer_load(sieve_param_str(p, "tokenizer"), &t->tok, err) != SIEVE_OK)
        return SIEVE_ERR;
    sieve_log(ctx, SIEVE_LOG_DEBUG, "tokenizer: %d pieces, %d threads",
              sieve_tokenizer_vocab_size(t->tok), t->threads);
    return SIEVE_OK;
}

static void *work(void *arg)
{
    worker *w = arg;
    const tokenize *t = w->t;
    w->fail_at = SIZE_MAX;
    for (size_t i = w->from; i < w->to; i++) {
        sieve_record *r = &w->recs[i];
        const char *s;
        size_t len;
        if (!sieve_record_get_str(r, t->input, &s, &len)) {
            w->fail_at = i;
            sieve_fail(&w->err, "field '%s' is %s", t->input,
                       sieve_record_get(r, t->input) ? "not a string" : "missing");
            return NULL;
        }
        if (sieve_tokenizer_encode(t->tok, s, len, t->flags, &w->buf, &w->err) != SIEVE_OK) {
            w->fail_at = i;
            return NULL;
        }
        if (w->buf.n > w->wide_cap) {
            size_t cap = w->buf.n * 2;
            int64_t *p = realloc(w->wide, cap * sizeof *p);
            if (!p)
                goto oom;
            w->wide = p;
            w->wide_cap = cap;
        }
        for (size_t k = 0; k < w->buf.n; k++)
            w->wide[k] = w->buf.ids[k];
        if (sieve_record_set_ints(r, t->output, w->wide, w->buf.n) != 0)
            goto oom;
    }
    return NULL;
oom:
    sieve_fail(&w->err, "out of memory");
    return NULL;
}

sieve_status tok_tokenize_process(void *state, const sieve_input *in, sieve_io *io,
                                  sieve_err *err)
{
    tokenize *t = state;
    sieve_batch *b = in->batch;
    size_t n = b->n_recs;
    /* at least 8 records per thread: fewer are not worth a thread */
    size_t nt = (n + 7) / 8;
    if (nt > (size_t)t->threads)
        nt = (size_t)t->threads;
    if (nt == 0)
        nt = 1;
    pthread_t tids[256];
    bool started[256] = {false};
    size_t per = (n + nt - 1) / nt;
    for (size_t k = 0; k < nt; k++) {
        worker *w = &t->workers[k];
        w->t = t;
        w->recs = b->recs;
        w->from = k * per < n ? k * per : n;
        w->to = (k + 1) * per < n ? (k + 1) * per : n;
        w->fail_at = SIZE_MAX;
        if (k > 0)
            started[k] = pthread_create(&tids[k], NULL, work, w) == 0;
        if (k > 0 && !started[k])
            work(w);   /* no thread to be had: do it here */
    }
    work(&t->workers[0]);
    size_t fail_at = SIZE_MAX;
    int failed = -1;
    for (size_t k = 0; k < nt; k++) {
        if (started[k])
            pthread_join(tids[k], NULL);
        if (t->workers[k].fail_at < fail_at) {
            fail_at = t->workers[k].fail_at;
            failed = (int)k;
        }
    }
    if (failed >= 0)
        return sieve_fail(err, "record %zu: %s", t->seen + fail_at + 1, t->workers[failed].err.msg);
    t->seen += n;
    return tok_forward(in, io, err);
}

sieve_status tok_tokenize_flush(void *state, sieve_io *io, sieve_err *err)
{
    (void)state, (void)io, (void)err;
    return SIEVE_OK;
}

void tok_tokenize_destroy(void *state)
{
    tokenize *t = state;
    if (!t)
        return;
    if (t->workers)
        for (int k = 0; k < t->threads; k++) {
            sieve_tok_buf_free(&t->workers[k].buf);
            free(t->workers[k].wide);
        }
    free(t->workers);
    sieve_tokenizer_free(t->tok);
    free(t->input);
    free(t->output);
    free(t);
}

sieve_status tok_forward(const sieve_input *in, sieve_io *io, sieve_err *err)
{
    sieve_batch *b = in->batch;
    sieve_batch *out = sieve_batch_new(b->n_recs);
    if (!out)
        return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < b->n_recs; i++)
        if (sieve_batch_push(out, &b->recs[i]) != 0) {
            sieve_batch_free(out);
            return sieve_fail(err, "out of memory");
        }
    return sieve_emit(io, 0, out);
}
