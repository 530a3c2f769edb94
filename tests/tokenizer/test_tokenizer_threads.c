/* One shared tokenizer, several threads each with its own buffer and stream
 * decoder: every thread gets SentencePiece's golden ids for every record and
 * decodes them back. Also built with ThreadSanitizer (see CMakeLists.txt). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/record.h"
#include "sieve/tokenizer.h"
#include "testlib.h"

#define THREADS 4

typedef struct golden {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} golden;

static golden *gold;
static int n_gold;
static sieve_tokenizer *tok;

static void *worker(void *arg)
{
    long bad = 0;
    int offset = (int)(long)arg;
    sieve_tok_buf b = {0};
    sieve_tok_stream *st = sieve_tok_stream_new(tok);
    sieve_err err;
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < n_gold; k++) {
            const golden *g = &gold[(k + offset * 97) % n_gold];   /* different orders */
            if (sieve_tokenizer_encode(tok, g->text, g->len, 0, &b, &err) != SIEVE_OK ||
                b.n != g->n || (b.n && memcmp(b.ids, g->ids, b.n * sizeof *b.ids))) {
                bad++;
                continue;
            }
            char *text;
            size_t len;
            if (sieve_tokenizer_decode(tok, b.ids, b.n, &text, &len, &err) != SIEVE_OK ||
                len != g->len || memcmp(text, g->text, len))
                bad++;
            free(text);
            sieve_tok_stream_reset(st);
            size_t total = 0;
            const char *out;
            size_t on;
            for (size_t i = 0; i < b.n; i++)
                if (sieve_tok_stream_push(st, b.ids[i], &out, &on, &err) == SIEVE_OK)
                    total += on;
            if (sieve_tok_stream_finish(st, &out, &on, &err) == SIEVE_OK)
                total += on;
            bad += total != g->len;
        }
    sieve_tok_stream_free(st);
    sieve_tok_buf_free(&b);
    return (void *)bad;
}

static void test_threads_sharing_one_tokenizer_get_the_golden_ids(void)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    long bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    CHECK_MSG(bad == 0, "%ld mismatches", bad);
}

int main(void)
{
    char path[1024];
    const char *shared = sieve_test_env("SIEVE_SHARED_DATA");
    sieve_err err;
    snprintf(path, sizeof path, "%s/tokenizer/llama2", shared);
    if (sieve_tokenizer_load(path, &tok, &err) != SIEVE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/tokenizer/llama2/golden.jsonl", shared);
    size_t len;
    char *data = sieve_test_read_file(path, &len);
    if (!data)
        return 1;
    gold = calloc(1000, sizeof *gold);
    for (char *line = data, *nl; *line && n_gold < 1000; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            nl = line + strlen(line);
        sieve_record r;
        sieve_record_init(&r);
        const char *t;
        const int64_t *ids;
        golden *g = &gold[n_gold];
        if (sieve_record_from_json(&r, line, (size_t)(nl - line), &err) != SIEVE_OK ||
            !sieve_record_get_str(&r, "text", &t, &g->len) ||
            !sieve_record_get_ints(&r, "ids", &ids, &g->n))
            return 1;
        g->text = malloc(g->len + 1);
        memcpy(g->text, t, g->len + 1);
        g->ids = malloc((g->n + 1) * sizeof *g->ids);
        for (size_t i = 0; i < g->n; i++)
            g->ids[i] = (int32_t)ids[i];
        n_gold++;
        sieve_record_free(&r);
        if (!*nl)
            break;
    }
    free(data);
    RUN_TEST(test_threads_sharing_one_tokenizer_get_the_golden_ids);
    for (int i = 0; i < n_gold; i++) {
        free(gold[i].text);
        free(gold[i].ids);
    }
    free(gold);
    sieve_tokenizer_free(tok);
    return sieve_test_summary();
}
