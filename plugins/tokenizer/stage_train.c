/* tokenizer-train: gathers a text field from every record, learns a BPE
 * model at the end of the stream, writes it, and emits one record
 * {"tokenizer": PATH}. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stages.h"

typedef struct train {
    char *path, *input;
    int vocab_size;
    char **texts;
    size_t *lens;
    size_t n, cap, seen;
} train;

sieve_status tok_train_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    train *t = calloc(1, sizeof *t);
    if (!t)
        return sieve_fail(err, "out of memory");
    *state = t;
    int64_t v = sieve_param_int(p, "vocab_size");
    if (v <= 259 || v > 1000000)
        return sieve_fail(err, "parameter 'vocab_size' must be in 260..1000000, got %lld",
                          (long long)v);
    t->vocab_size = (int)v;
    t->path = sieve_ctx_expand_path(ctx, sieve_param_str(p, "output"));
    t->input = strdup(sieve_param_str(p, "input"));
    if (!t->path || !t->input)
        return sieve_fail(err, "out of memory");
    return SIEVE_OK;
}

sieve_status tok_train_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    train *t = state;
    for (size_t i = 0; i < in->batch->n_recs; i++) {
        const char *s;
        size_t len;
        if (!sieve_record_get_str(&in->batch->recs[i], t->input, &s, &len))
            return sieve_fail(err, "record %zu: field '%s' is missing or not a string",
                              t->seen + i + 1, t->input);
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 1024;
            char **tx = realloc(t->texts, cap * sizeof *tx);
            if (!tx)
                return sieve_fail(err, "out of memory");
            t->texts = tx;
            size_t *ln = realloc(t->lens, cap * sizeof *ln);
            if (!ln)
                return sieve_fail(err, "out of memory");
            t->lens = ln;
            t->cap = cap;
        }
        char *c = malloc(len + 1);
        if (!c)
            return sieve_fail(err, "out of memory");
        memcpy(c, s, len + 1);
        t->texts[t->n] = c;
        t->lens[t->n++] = len;
    }
    t->seen += in->batch->n_recs;
    return SIEVE_OK;
}

/* mkdir -p of the directory part of path */
static sieve_status make_parent(const char *path, sieve_err *err)
{
    char *d = strdup(path);
    if (!d)
        return sieve_fail(err, "out of memory");
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(d, 0777) != 0 && errno != EEXIST) {
            sieve_fail(err, "cannot create directory %s: %s", d, strerror(errno));
            free(d);
            return SIEVE_ERR;
        }
        *p = '/';
    }
    free(d);
    return SIEVE_OK;
}

sieve_status tok_train_flush(void *state, sieve_io *io, sieve_err *err)
{
    train *t = state;
    if (make_parent(t->path, err) != SIEVE_OK)
        return SIEVE_ERR;
    if (sieve_tokenizer_train_bpe((const char *const *)t->texts, t->lens, t->n, t->vocab_size,
                                  t->path, err) != SIEVE_OK)
        return SIEVE_ERR;
    sieve_batch *b = sieve_batch_new(1);
    sieve_record *r = b ? sieve_batch_add(b) : NULL;
    if (!r || sieve_record_set_cstr(r, "tokenizer", t->path) != 0) {
        sieve_batch_free(b);
        return sieve_fail(err, "out of memory");
    }
    return sieve_emit(io, 0, b);
}

void tok_train_destroy(void *state)
{
    train *t = state;
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->texts[i]);
    free(t->texts);
    free(t->lens);
    free(t->path);
    free(t->input);
    free(t);
}
