/* sieve-tokenizer-bench: times encode (and decode) of the string fields of
 * JSONL files with one thread, for tools/bench-tokenizer. Prints one JSON
 * line: {"bytes", "texts", "tokens", "encode_s", "encode_mb_s" (wall),
 * "encode_cpu_s", "encode_cpu_mb_s" (process CPU time), "decode_s", "roundtrip_ok"}. Usage: sieve-tokenizer-bench MODEL FILE.jsonl FIELD... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sieve/record.h"
#include "sieve/tokenizer.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time: steadier than wall time on a shared machine */
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL FILE.jsonl FIELD...\n", argv[0]);
        return 2;
    }
    sieve_err err;
    sieve_tokenizer *tok;
    if (sieve_tokenizer_load(argv[1], &tok, &err) != SIEVE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char **texts = NULL;
    size_t *lens = NULL, n = 0, cap = 0, bytes = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) > 0) {
        sieve_record r;
        sieve_record_init(&r);
        if (sieve_record_from_json(&r, line, (size_t)got, &err) != SIEVE_OK) {
            fprintf(stderr, "%s: %s\n", argv[2], err.msg);
            return 1;
        }
        for (int k = 3; k < argc; k++) {
            const char *s;
            size_t l;
            if (!sieve_record_get_str(&r, argv[k], &s, &l))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                texts = realloc(texts, cap * sizeof *texts);
                lens = realloc(lens, cap * sizeof *lens);
            }
            texts[n] = malloc(l + 1);
            memcpy(texts[n], s, l + 1);
            lens[n++] = l;
            bytes += l;
        }
        sieve_record_free(&r);
    }
    free(line);
    fclose(f);

    sieve_tok_buf b = {0};
    size_t tokens = 0;
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        sieve_tok_buf_free(&b);   /* a cold word cache each pass: no help from earlier passes */
        double t0 = now(), c0 = cpu_now();
        tokens = 0;
        for (size_t i = 0; i < n; i++) {
            sieve_tokenizer_encode(tok, texts[i], lens[i], 0, &b, &err);
            tokens += b.n;
        }
        double dt = now() - t0, dc = cpu_now() - c0;
        if (dt < best)
            best = dt;
        if (dc < best_cpu)
            best_cpu = dc;
    }
    /* decode time only, and whether every text comes back */
    bool roundtrip = true;
    double decode_s = 0;
    for (size_t i = 0; i < n; i++) {
        sieve_tokenizer_encode(tok, texts[i], lens[i], 0, &b, &err);
        char *text;
        size_t tl;
        double d0 = now();
        sieve_status st = sieve_tokenizer_decode(tok, b.ids, b.n, &text, &tl, &err);
        decode_s += now() - d0;
        if (st != SIEVE_OK || tl != lens[i] || memcmp(text, texts[i], tl))
            roundtrip = false;
        free(text);
    }
    printf("{\"bytes\": %zu, \"texts\": %zu, \"tokens\": %zu, \"encode_s\": %.4f, "
           "\"encode_mb_s\": %.3f, \"encode_cpu_s\": %.4f, \"encode_cpu_mb_s\": %.3f, "
           "\"decode_s\": %.4f, \"roundtrip_ok\": %s}\n",
           bytes, n, tokens, best, (double)bytes / best / 1e6, best_cpu,
           (double)bytes / best_cpu / 1e6, decode_s, roundtrip ? "true" : "false");
    sieve_tok_buf_free(&b);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    sieve_tokenizer_free(tok);
    return roundtrip ? 0 : 1;
}
