/* The sampler's journal (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

struct smp_journal {
    char *path;
    int k;
    FILE *rd;            /* replay reader, NULL once nothing is left to replay */
    int64_t held;        /* questions the reader can still give */
    int64_t next;        /* next question to replay */
    int64_t line;        /* lines read so far (for messages) */
    FILE *wr;            /* appends */
    char *buf;           /* one line being built or read */
    size_t len, cap;
};

void smp_journal_free(smp_journal *j)
{
    if (!j) return;
    if (j->rd) fclose(j->rd);
    if (j->wr) fclose(j->wr);
    free(j->path);
    free(j->buf);
    free(j);
}

/* Complete questions after the header, and the offset where they end (a torn
 * tail starts there); -1 when the header differs or the file is unreadable. */
static int64_t scan(FILE *f, const char *settings, int k, long *end, smp_journal *j)
{
    ssize_t n = getline(&j->buf, &j->cap, f);
    if (n <= 0 || j->buf[n - 1] != '\n') return -1;
    j->buf[n - 1] = 0;
    if (strcmp(j->buf, settings)) return -1;
    *end = ftell(f);
    int64_t lines = 0;
    while ((n = getline(&j->buf, &j->cap, f)) > 0 && j->buf[n - 1] == '\n')
        if (++lines % k == 0) *end = ftell(f);
    return lines / k;
}

sieve_status smp_journal_open(const char *dir, bool resume, const char *settings, int k,
                              smp_journal **out, int64_t *held, sieve_err *err)
{
    *out = NULL;
    *held = 0;
    smp_journal *j = calloc(1, sizeof *j);
    size_t pl = strlen(dir) + 16;
    if (!j || !(j->path = malloc(pl))) {
        free(j);
        return sieve_fail(err, "out of memory");
    }
    snprintf(j->path, pl, "%s/journal.jsonl", dir);
    j->k = k;
    long end = 0;
    FILE *f = resume ? fopen(j->path, "rb") : NULL;
    if (f) {
        j->held = scan(f, settings, k, &end, j);
        fclose(f);
    }
    if (j->held > 0) {
        /* Drop a torn tail, then replay from just past the header. */
        if (truncate(j->path, end)) {
            sieve_fail(err, "%s: cannot cut its torn tail: %s", j->path, strerror(errno));
            smp_journal_free(j);
            return SIEVE_ERR;
        }
        j->rd = fopen(j->path, "rb");
        j->wr = fopen(j->path, "ab");
        if (j->rd && getline(&j->buf, &j->cap, j->rd) > 0) j->line = 1;
    } else {
        j->held = 0;
        j->wr = fopen(j->path, "wb");
        if (j->wr) fprintf(j->wr, "%s\n", settings);
    }
    if (!j->wr || (j->held && !j->rd) || fflush(j->wr)) {
        sieve_fail(err, "%s: %s", j->path, strerror(errno));
        smp_journal_free(j);
        return SIEVE_ERR;
    }
    *held = j->held;
    *out = j;
    return SIEVE_OK;
}

sieve_status smp_journal_replay(smp_journal *j, int64_t q, uint64_t prompt_hash,
                                sieve_record *recs, sieve_err *err)
{
    if (!j->rd || q != j->next || q >= j->held)
        return sieve_fail(err, "%s: question %lld is not the next one held", j->path,
                          (long long)q);
    for (int s = 0; s < j->k; s++) {
        ssize_t n = getline(&j->buf, &j->cap, j->rd);
        j->line++;
        if (n <= 0) return sieve_fail(err, "%s:%lld: ends early", j->path, (long long)j->line);
        sieve_record_init(&recs[s]);
        if (sieve_record_from_json(&recs[s], j->buf, (size_t)n, err)) {
            sieve_err_prefix(err, "%s:%lld", j->path, (long long)j->line);
            return SIEVE_ERR;
        }
        int64_t rq, rs, rh;
        if (!sieve_record_get_int(&recs[s], "q", &rq) || !sieve_record_get_int(&recs[s], "j", &rs) ||
            !sieve_record_get_int(&recs[s], "hash", &rh) || rq != q || rs != s)
            return sieve_fail(err, "%s:%lld: expected question %lld sample %d", j->path,
                              (long long)j->line, (long long)q, s);
        if ((uint64_t)rh != prompt_hash)
            return sieve_fail(err, "%s:%lld: question %lld has another prompt than when the "
                              "journal was written: the input changed since the interrupted "
                              "run (delete the journal to sample afresh)", j->path,
                              (long long)j->line, (long long)q);
    }
    if (++j->next == j->held) {
        fclose(j->rd);
        j->rd = NULL;
    }
    return SIEVE_OK;
}

sieve_status smp_journal_add(smp_journal *j, int64_t q, uint64_t prompt_hash, int sample,
                             const int32_t *ids, int n, const char *text, size_t tlen,
                             const char *finish, double logprob, sieve_err *err)
{
    sieve_record r;
    sieve_record_init(&r);
    int64_t *ids64 = malloc(((size_t)n + 1) * sizeof *ids64);
    int bad = !ids64;
    for (int i = 0; !bad && i < n; i++) ids64[i] = ids[i];
    bad = bad || sieve_record_set_int(&r, "q", q) ||
          sieve_record_set_int(&r, "hash", (int64_t)prompt_hash) ||
          sieve_record_set_int(&r, "j", sample) || sieve_record_set_ints(&r, "ids", ids64, (size_t)n) ||
          (text ? sieve_record_set_str(&r, "text", text, tlen) : sieve_record_set_null(&r, "text")) ||
          sieve_record_set_cstr(&r, "finish", finish) || sieve_record_set_float(&r, "logprob", logprob);
    j->len = 0;
    bad = bad || sieve_record_to_json(&r, &j->buf, &j->len, &j->cap);
    free(ids64);
    sieve_record_free(&r);
    if (bad) return sieve_fail(err, "out of memory");
    if (fwrite(j->buf, 1, j->len, j->wr) != j->len || fputc('\n', j->wr) == EOF)
        return sieve_fail(err, "%s: %s", j->path, strerror(errno));
    return SIEVE_OK;
}

sieve_status smp_journal_commit(smp_journal *j, sieve_err *err)
{
    if (fflush(j->wr)) return sieve_fail(err, "%s: %s", j->path, strerror(errno));
    return SIEVE_OK;
}
