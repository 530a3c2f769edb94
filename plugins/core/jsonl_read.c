/* jsonl-read: a JSON Lines file to record batches, with file:line errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

typedef struct reader {
    sieve_ctx *ctx;
    char *path;
    FILE *f;
    size_t batch_size;
    bool skip_errors;
    int64_t limit, emitted, skipped;
    size_t lineno;
    char *line;
    size_t cap;
    int64_t bytes, total_bytes;
} reader;

sieve_status sieve_core_jsonl_read_create(const sieve_params *p, sieve_ctx *ctx, void **state,
                                          sieve_err *err)
{
    const char *mode = sieve_param_str(p, "on_error");
    if (strcmp(mode, "fail") && strcmp(mode, "skip"))
        return sieve_fail(err, "parameter 'on_error': '%s' is not one of fail, skip", mode);
    int64_t bs = sieve_param_int(p, "batch_size");
    if (bs < 1)
        return sieve_fail(err, "parameter 'batch_size' must be >= 1, got %lld", (long long)bs);
    reader *r = calloc(1, sizeof *r);
    if (!r)
        return sieve_fail(err, "out of memory");
    r->ctx = ctx;
    r->path = sieve_ctx_expand_path(ctx, sieve_param_str(p, "path"));
    r->batch_size = (size_t)bs;
    r->skip_errors = !strcmp(mode, "skip");
    r->limit = sieve_param_int(p, "limit");
    *state = r;
    r->f = fopen(r->path, "rb");
    if (!r->f)
        return sieve_fail(err, "%s: cannot open: %s", r->path, strerror(errno));
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0)
        r->total_bytes = st.st_size;
    return SIEVE_OK;
}

sieve_status sieve_core_jsonl_read_process(void *state, const sieve_input *in, sieve_io *io,
                                           sieve_err *err)
{
    (void)in;
    reader *r = state;
    sieve_batch *b = sieve_batch_new(r->batch_size);
    if (!b)
        return sieve_fail(err, "out of memory");
    ssize_t len = 0;
    while (b->n_recs < r->batch_size && (r->limit <= 0 || r->emitted < r->limit) &&
           (len = getline(&r->line, &r->cap, r->f)) >= 0) {
        r->lineno++;
        r->bytes += len;
        while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue; /* blank lines are not records */
        sieve_record *rec = sieve_batch_add(b);
        if (!rec) {
            sieve_batch_free(b);
            return sieve_fail(err, "out of memory");
        }
        if (sieve_record_from_json(rec, r->line, (size_t)len, err) != SIEVE_OK) {
            if (!r->skip_errors) {
                sieve_err_prefix(err, "%s:%zu", r->path, r->lineno);
                sieve_batch_free(b);
                return SIEVE_ERR;
            }
            b->n_recs--;
            r->skipped++;
            sieve_log(r->ctx, SIEVE_LOG_DEBUG, "%s:%zu: skipped: %s", r->path, r->lineno, err->msg);
            continue;
        }
        r->emitted++;
    }
    if (len < 0 && ferror(r->f)) {
        sieve_batch_free(b);
        return sieve_fail(err, "%s:%zu: read error: %s", r->path, r->lineno, strerror(errno));
    }
    sieve_progress(r->ctx, r->bytes >> 10, r->total_bytes >> 10, "KiB", NULL);
    if (b->n_recs == 0) {
        sieve_batch_free(b);
        return SIEVE_EOS;
    }
    return sieve_emit(io, 0, b);
}

sieve_status sieve_core_jsonl_read_flush(void *state, sieve_io *io, sieve_err *err)
{
    (void)state, (void)io, (void)err;
    return SIEVE_OK;
}

void sieve_core_jsonl_read_destroy(void *state)
{
    reader *r = state;
    if (r->skipped)
        sieve_log(r->ctx, SIEVE_LOG_WARN, "%s: skipped %lld malformed line(s) of %zu", r->path,
                  (long long)r->skipped, r->lineno);
    if (r->f)
        fclose(r->f);
    free(r->line);
    free(r->path);
    free(r);
}
