/* jsonl-write: records to a JSON Lines file, written as PATH.partial and
 * renamed when the stream ends, so a complete PATH is never half-written.
 * On `sieve run --resume`, the lines already in PATH.partial are kept and as
 * many incoming records are skipped: with a deterministic upstream the
 * result equals an uninterrupted run, with nothing lost or duplicated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

typedef struct writer {
    sieve_ctx *ctx;
    char *path, *partial;
    FILE *f;
    const char *const *fields;
    int n_fields;
    int64_t skip;        /* records already on disk from the killed run */
    int64_t written;
    bool complete;       /* PATH existed complete at resume: nothing to do */
    char *buf;
    size_t len, cap;
} writer;

/* Counts complete lines and cuts a trailing partial one. */
static sieve_status count_lines(writer *w, sieve_err *err)
{
    FILE *f = fopen(w->partial, "r+b");
    if (!f)
        return errno == ENOENT ? SIEVE_OK : sieve_fail(err, "%s: %s", w->partial, strerror(errno));
    int c;
    long good_end = 0, pos = 0;
    while ((c = fgetc(f)) != EOF) {
        pos++;
        if (c == '\n') {
            w->skip++;
            good_end = pos;
        }
    }
    fclose(f);
    if (truncate(w->partial, good_end))
        return sieve_fail(err, "%s: cannot truncate: %s", w->partial, strerror(errno));
    return SIEVE_OK;
}

sieve_status sieve_core_jsonl_write_create(const sieve_params *p, sieve_ctx *ctx, void **state,
                                           sieve_err *err)
{
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return sieve_fail(err, "out of memory");
    *state = w;
    w->ctx = ctx;
    w->path = sieve_ctx_expand_path(ctx, sieve_param_str(p, "path"));
    w->n_fields = sieve_param_list(p, "fields", &w->fields);
    size_t n = strlen(w->path) + 16;
    w->partial = malloc(n);
    if (!w->path || !w->partial)
        return sieve_fail(err, "out of memory");
    snprintf(w->partial, n, "%s.partial", w->path);
    if (sieve_ctx_resuming(ctx)) {
        if (access(w->path, F_OK) == 0) {
            w->complete = true;
            sieve_log(ctx, SIEVE_LOG_INFO, "%s is complete from the earlier run", w->path);
            return SIEVE_OK;
        }
        if (count_lines(w, err))
            return SIEVE_ERR;
        sieve_log(ctx, SIEVE_LOG_INFO, "resuming %s after %lld records", w->path, (long long)w->skip);
    }
    w->f = fopen(w->partial, w->skip ? "ab" : "wb");
    if (!w->f)
        return sieve_fail(err, "%s: cannot open for writing: %s", w->partial, strerror(errno));
    return SIEVE_OK;
}

sieve_status sieve_core_jsonl_write_process(void *state, const sieve_input *in, sieve_io *io,
                                            sieve_err *err)
{
    (void)io;
    writer *w = state;
    if (w->complete)
        return SIEVE_OK;
    w->len = 0;
    for (size_t i = 0; i < in->batch->n_recs; i++) {
        if (w->skip > 0) {
            w->skip--;
            continue;
        }
        const sieve_record *r = &in->batch->recs[i];
        if (w->n_fields) {
            /* Projection: borrow the fields (no copies), then forget them. */
            sieve_field picked[64];
            size_t k = 0;
            for (int j = 0; j < w->n_fields && k < 64; j++) {
                const sieve_field *f = sieve_record_get(r, w->fields[j]);
                if (f)
                    picked[k++] = *f;
            }
            sieve_record view = {picked, k, k};
            r = &view;
            if (sieve_record_to_json(r, &w->buf, &w->len, &w->cap))
                return sieve_fail(err, "out of memory");
        } else if (sieve_record_to_json(r, &w->buf, &w->len, &w->cap)) {
            return sieve_fail(err, "out of memory");
        }
        w->buf[w->len++] = '\n';
        w->written++;
    }
    /* One write per batch; flushed so a kill loses at most this batch. */
    if (w->len && (fwrite(w->buf, 1, w->len, w->f) != w->len || fflush(w->f)))
        return sieve_fail(err, "%s: write failed: %s", w->partial, strerror(errno));
    return SIEVE_OK;
}

sieve_status sieve_core_jsonl_write_flush(void *state, sieve_io *io, sieve_err *err)
{
    (void)io;
    writer *w = state;
    if (w->complete)
        return SIEVE_OK;
    if (fclose(w->f)) {
        w->f = NULL;
        return sieve_fail(err, "%s: close failed: %s", w->partial, strerror(errno));
    }
    w->f = NULL;
    if (rename(w->partial, w->path))
        return sieve_fail(err, "cannot rename %s to %s: %s", w->partial, w->path, strerror(errno));
    sieve_log(w->ctx, SIEVE_LOG_INFO, "wrote %lld records to %s", (long long)w->written, w->path);
    return SIEVE_OK;
}

void sieve_core_jsonl_write_destroy(void *state)
{
    writer *w = state;
    if (w->f)
        fclose(w->f);
    free(w->buf);
    free(w->path);
    free(w->partial);
    free(w);
}
