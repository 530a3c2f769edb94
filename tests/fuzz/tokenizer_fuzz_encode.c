/* Fuzz target: arbitrary bytes as text. The first byte picks the model
 * (LLaMA-2 when $SIEVE_SHARED_DATA has it, or one of two tiny models) and
 * the bos/eos flags. Checks: ids in range; the stream decoder gives the same
 * text as decode, in whole UTF-8 characters; with byte fallback, valid UTF-8
 * without U+2581 decodes back to itself exactly. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/tokenizer.h"
#include "tokenizer_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF), written
 * independently of the library. */
static bool strict_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t l;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xc2 && c <= 0xdf) { l = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { l = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { l = 4; cp = c & 0x07; }
        else return false;
        if (i + l > n)
            return false;
        for (size_t k = 1; k < l; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += l;
    }
    return true;
}

static sieve_tokenizer *models[3];
static sieve_tok_buf bufs[3];   /* kept across inputs: word caches carry over */
static int n_models;

static void init(void)
{
    if (n_models)
        return;
    const char *shared = getenv("SIEVE_SHARED_DATA");
    sieve_err err;
    if (shared) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tokenizer/llama2", shared);
        if (sieve_tokenizer_load(path, &models[n_models], &err) == SIEVE_OK)
            n_models++;
    }
    models[n_models++] = tok_fuzz_tiny(0);
    models[n_models++] = tok_fuzz_tiny(1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size == 0)
        return 0;
    int which = data[0] % n_models;
    unsigned flags = (data[0] >> 4) & 3;
    const sieve_tokenizer *tok = models[which];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    sieve_tok_buf b = {0};
    sieve_err err;
    if (sieve_tokenizer_encode(tok, text, len, flags, &b, &err) != SIEVE_OK)
        abort();
    /* a buffer with a warm word cache gives the same ids */
    if (sieve_tokenizer_encode(tok, text, len, flags, &bufs[which], &err) != SIEVE_OK ||
        bufs[which].n != b.n || (b.n && memcmp(bufs[which].ids, b.ids, b.n * sizeof *b.ids)))
        abort();
    int vocab = sieve_tokenizer_vocab_size(tok);
    for (size_t k = 0; k < b.n; k++)
        if (b.ids[k] < 0 || b.ids[k] >= vocab)
            abort();
    char *dec;
    size_t dl;
    if (sieve_tokenizer_decode(tok, b.ids, b.n, &dec, &dl, &err) != SIEVE_OK)
        abort();
    /* stream decoding: same text, whole characters per chunk */
    sieve_tok_stream *s = sieve_tok_stream_new(tok);
    char *acc = malloc(dl + 16);
    size_t al = 0;
    const char *out;
    size_t n;
    for (size_t k = 0; k < b.n; k++) {
        if (sieve_tok_stream_push(s, b.ids[k], &out, &n, &err) != SIEVE_OK)
            abort();
        if (!strict_utf8((const uint8_t *)out, n) || al + n > dl)
            abort();
        memcpy(acc + al, out, n);
        al += n;
    }
    if (sieve_tok_stream_finish(s, &out, &n, &err) != SIEVE_OK || al + n != dl)
        abort();
    memcpy(acc + al, out, n);
    if (memcmp(acc, dec, dl) != 0)
        abort();
    /* the byte-fallback models lose nothing */
    bool byte_fallback = sieve_tokenizer_piece_type(tok, 3) == SIEVE_PIECE_BYTE;
    if (byte_fallback && strict_utf8(data + 1, len) && !memmem(text, len, "\xe2\x96\x81", 3) &&
        (dl != len || memcmp(dec, text, len) != 0)) {
        fprintf(stderr, "round trip lost text (model %d)\n", which);
        abort();
    }
    free(acc);
    free(dec);
    sieve_tok_stream_free(s);
    sieve_tok_buf_free(&b);
    return 0;
}
