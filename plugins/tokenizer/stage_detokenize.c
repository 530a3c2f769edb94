/* detokenize: adds the decoded text of a token id field to every record. */
#include <stdlib.h>
#include <string.h>

#include "stages.h"

typedef struct detokenize {
    sieve_tokenizer *tok;
    char *input, *output;
    int32_t *ids;
    size_t cap;
    size_t seen;            /* records before this batch, for error messages */
} detokenize;

sieve_status tok_detokenize_create(const sieve_params *p, sieve_ctx *ctx, void **state,
                                   sieve_err *err)
{
    (void)ctx;
    detokenize *d = calloc(1, sizeof *d);
    if (!d)
        return sieve_fail(err, "out of memory");
    *state = d;
    d->input = strdup(sieve_param_str(p, "input"));
    d->output = strdup(sieve_param_str(p, "output"));
    if (!d->input || !d->output)
        return sieve_fail(err, "out of memory");
    return sieve_tokenizer_load(sieve_param_str(p, "tokenizer"), &d->tok, err);
}

sieve_status tok_detokenize_process(void *state, const sieve_input *in, sieve_io *io,
                                    sieve_err *err)
{
    detokenize *d = state;
    sieve_batch *b = in->batch;
    int vocab = sieve_tokenizer_vocab_size(d->tok);
    for (size_t i = 0; i < b->n_recs; i++) {
        sieve_record *r = &b->recs[i];
        size_t rec = d->seen + i + 1;
        const int64_t *ids;
        size_t n;
        if (!sieve_record_get_ints(r, d->input, &ids, &n))
            return sieve_fail(err, "record %zu: field '%s' is %s", rec, d->input,
                              sieve_record_get(r, d->input) ? "not an array of integers"
                                                            : "missing");
        if (n > d->cap) {
            int32_t *p = realloc(d->ids, n * sizeof *p);
            if (!p)
                return sieve_fail(err, "out of memory");
            d->ids = p;
            d->cap = n;
        }
        for (size_t k = 0; k < n; k++) {
            if (ids[k] < 0 || ids[k] >= vocab)
                return sieve_fail(err, "record %zu: field '%s'[%zu] = %lld is not a token id "
                                  "(vocabulary of %d)", rec, d->input, k, (long long)ids[k],
                                  vocab);
            d->ids[k] = (int32_t)ids[k];
        }
        char *text;
        size_t len;
        if (sieve_tokenizer_decode(d->tok, d->ids, n, &text, &len, err) != SIEVE_OK) {
            sieve_err_prefix(err, "record %zu", rec);
            return SIEVE_ERR;
        }
        if (sieve_record_set_str_owned(r, d->output, text, len) != 0)   /* frees text */
            return sieve_fail(err, "out of memory");
    }
    d->seen += b->n_recs;
    return tok_forward(in, io, err);
}

sieve_status tok_detokenize_flush(void *state, sieve_io *io, sieve_err *err)
{
    (void)state, (void)io, (void)err;
    return SIEVE_OK;
}

void tok_detokenize_destroy(void *state)
{
    detokenize *d = state;
    if (!d)
        return;
    sieve_tokenizer_free(d->tok);
    free(d->input);
    free(d->output);
    free(d->ids);
    free(d);
}
