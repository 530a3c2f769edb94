/* The LLaMA-2 tokenizer against SentencePiece's own output: every record of
 * ../shared/data/tokenizer/llama2/golden.jsonl must encode to exactly its
 * `ids` and decode back to its `text`, in one go and through the
 * incremental decoder (whose every chunk must be whole UTF-8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/record.h"
#include "sieve/tokenizer.h"
#include "testlib.h"

static char model_dir[1024], golden[1024];

/* Whole characters only: a strict UTF-8 check of one chunk. */
static bool whole_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3
                 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (!l || i + l > n)
            return false;
        for (size_t k = 1; k < l; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += l;
    }
    return true;
}

static void test_every_golden_record_encodes_and_decodes_exactly(void)
{
    sieve_tokenizer *tok;
    sieve_err err;
    REQUIRE(sieve_tokenizer_load(model_dir, &tok, &err) == SIEVE_OK);
    CHECK(sieve_tokenizer_vocab_size(tok) == 32000);
    CHECK(sieve_tokenizer_bos_id(tok) == 1 && sieve_tokenizer_eos_id(tok) == 2);
    CHECK(sieve_tokenizer_unk_id(tok) == 0 && sieve_tokenizer_pad_id(tok) == -1);
    size_t len;
    char *data = sieve_test_read_file(golden, &len);
    REQUIRE(data);
    sieve_tok_buf b = {0};
    sieve_tok_stream *st = sieve_tok_stream_new(tok);
    int records = 0, enc_bad = 0, dec_bad = 0, stream_bad = 0;
    char *acc = malloc(len + 16);
    for (char *line = data, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            nl = line + strlen(line);
        sieve_record r;
        sieve_record_init(&r);
        REQUIRE(sieve_record_from_json(&r, line, (size_t)(nl - line), &err) == SIEVE_OK);
        const char *text;
        size_t tl, n;
        const int64_t *ids;
        REQUIRE(sieve_record_get_str(&r, "text", &text, &tl));
        REQUIRE(sieve_record_get_ints(&r, "ids", &ids, &n));
        records++;
        CHECK(sieve_tokenizer_encode(tok, text, tl, 0, &b, &err) == SIEVE_OK);
        bool same = b.n == n;
        for (size_t i = 0; same && i < n; i++)
            same = b.ids[i] == ids[i];
        if (!same && enc_bad++ < 3)
            fprintf(stderr, "  encode differs for line %d: %.80s\n", records, text);
        char *dec;
        size_t dl;
        CHECK(sieve_tokenizer_decode(tok, b.ids, b.n, &dec, &dl, &err) == SIEVE_OK);
        if ((dl != tl || memcmp(dec, text, tl)) && dec_bad++ < 3)
            fprintf(stderr, "  decode differs for line %d: %.80s\n", records, dec);
        free(dec);
        /* incremental: whole characters per chunk, same text in the end */
        sieve_tok_stream_reset(st);
        size_t al = 0;
        bool whole = true;
        const char *out;
        size_t on;
        for (size_t i = 0; i < b.n; i++) {
            CHECK(sieve_tok_stream_push(st, b.ids[i], &out, &on, &err) == SIEVE_OK);
            whole = whole && whole_utf8(out, on);
            memcpy(acc + al, out, on);
            al += on;
        }
        CHECK(sieve_tok_stream_finish(st, &out, &on, &err) == SIEVE_OK);
        memcpy(acc + al, out, on);
        al += on;
        if ((!whole || al != tl || memcmp(acc, text, tl)) && stream_bad++ < 3)
            fprintf(stderr, "  stream decode differs for line %d (whole chunks: %d)\n", records,
                    whole);
        /* bos/eos wrap the same ids */
        CHECK(sieve_tokenizer_encode(tok, text, tl, SIEVE_TOK_BOS | SIEVE_TOK_EOS, &b, &err) ==
              SIEVE_OK);
        CHECK(b.n == n + 2 && b.ids[0] == 1 && b.ids[n + 1] == 2);
        sieve_record_free(&r);
        if (!*nl)
            break;
    }
    fprintf(stderr, "  %d records: %d encode, %d decode, %d stream mismatches\n", records,
            enc_bad, dec_bad, stream_bad);
    CHECK(records == 640);
    CHECK(enc_bad == 0);
    CHECK(dec_bad == 0);
    CHECK(stream_bad == 0);
    free(acc);
    free(data);
    sieve_tok_stream_free(st);
    sieve_tok_buf_free(&b);
    sieve_tokenizer_free(tok);
}

/* The encoder caches word encodings per buffer and clears the cache when it
 * fills: after 100,000 distinct words through one buffer, the golden ids
 * still come out. */
static void test_golden_ids_hold_after_the_word_cache_overflows(void)
{
    sieve_tokenizer *tok;
    sieve_err err;
    REQUIRE(sieve_tokenizer_load(model_dir, &tok, &err) == SIEVE_OK);
    sieve_tok_buf b = {0};
    char text[64];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(text, sizeof text, "w%dq zz%x", i, i * 7919);
        REQUIRE(sieve_tokenizer_encode(tok, text, (size_t)n, 0, &b, &err) == SIEVE_OK);
    }
    size_t len;
    char *data = sieve_test_read_file(golden, &len);
    REQUIRE(data);
    int records = 0, bad = 0;
    for (char *line = data, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            nl = line + strlen(line);
        sieve_record r;
        sieve_record_init(&r);
        REQUIRE(sieve_record_from_json(&r, line, (size_t)(nl - line), &err) == SIEVE_OK);
        const char *t;
        size_t tl, n;
        const int64_t *ids;
        REQUIRE(sieve_record_get_str(&r, "text", &t, &tl) && sieve_record_get_ints(&r, "ids", &ids, &n));
        for (int pass = 0; pass < 2; pass++) {   /* the second pass hits the cache */
            CHECK(sieve_tokenizer_encode(tok, t, tl, 0, &b, &err) == SIEVE_OK);
            bool same = b.n == n;
            for (size_t i = 0; same && i < n; i++)
                same = b.ids[i] == ids[i];
            bad += !same;
        }
        records++;
        sieve_record_free(&r);
        if (!*nl)
            break;
    }
    CHECK(records == 640);
    CHECK_MSG(bad == 0, "%d mismatches", bad);
    free(data);
    sieve_tok_buf_free(&b);
    sieve_tokenizer_free(tok);
}

/* Random id sequences (as a sampler may produce: stray byte pieces, control
 * pieces, lone spaces): the stream decoder's chunks are whole characters
 * and add up to decode()'s text. */
static void test_stream_decode_of_random_ids_matches_decode(void)
{
    sieve_tokenizer *tok;
    sieve_err err;
    REQUIRE(sieve_tokenizer_load(model_dir, &tok, &err) == SIEVE_OK);
    sieve_tok_stream *st = sieve_tok_stream_new(tok);
    unsigned seed = 99;
    int bad = 0;
    for (int round = 0; round < 3000; round++) {
        int32_t ids[24];
        int n = round % 24;
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 8;
            ids[i] = r % 4 == 0 ? (int32_t)(r / 4 % 32000)
                   : r % 4 == 1 ? (int32_t)(3 + r / 4 % 256)
                   : r % 4 == 2 ? (int32_t)(3 + 0x80 + r / 4 % 0x80)
                   : (int32_t[]){0, 1, 2, 29871, 259}[r / 4 % 5];
        }
        char *dec;
        size_t dl;
        REQUIRE(sieve_tokenizer_decode(tok, ids, (size_t)n, &dec, &dl, &err) == SIEVE_OK);
        char acc[24 * 64];
        size_t al = 0;
        bool whole = true;
        const char *out;
        size_t on;
        sieve_tok_stream_reset(st);
        for (int i = 0; i < n; i++) {
            CHECK(sieve_tok_stream_push(st, ids[i], &out, &on, &err) == SIEVE_OK);
            whole = whole && whole_utf8(out, on);
            memcpy(acc + al, out, on);
            al += on;
        }
        CHECK(sieve_tok_stream_finish(st, &out, &on, &err) == SIEVE_OK);
        whole = whole && whole_utf8(out, on);
        memcpy(acc + al, out, on);
        al += on;
        if (!whole || al != dl || memcmp(acc, dec, dl))
            bad++;
        free(dec);
    }
    CHECK_MSG(bad == 0, "%d of 3000 sequences differ", bad);
    sieve_tok_stream_free(st);
    sieve_tokenizer_free(tok);
}

int main(void)
{
    const char *shared = sieve_test_env("SIEVE_SHARED_DATA");
    snprintf(model_dir, sizeof model_dir, "%s/tokenizer/llama2", shared);
    snprintf(golden, sizeof golden, "%s/tokenizer/llama2/golden.jsonl", shared);
    RUN_TEST(test_every_golden_record_encodes_and_decodes_exactly);
    RUN_TEST(test_golden_ids_hold_after_the_word_cache_overflows);
    RUN_TEST(test_stream_decode_of_random_ids_matches_decode);
    return sieve_test_summary();
}
