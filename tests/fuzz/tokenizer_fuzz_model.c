/* Fuzz target: arbitrary bytes as a SentencePiece model file. Loading must
 * fail with a message or give a tokenizer that encodes, decodes and
 * stream-decodes fixed texts without crashing, leaking or emitting ids out
 * of range. Build with tokenizer_fuzz.sh (libFuzzer), or replay a corpus
 * with tokenizer_replay.c under ctest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sieve_tokenizer *tok = NULL;
    sieve_err err;
    if (sieve_tokenizer_load_buffer(data, size, &tok, &err) != SIEVE_OK) {
        if (tok || !err.msg[0])
            abort();   /* a failure must leave nothing behind and say why */
        return 0;
    }
    static const char *texts[] = {"", " ", "Hello world", "  two  spaces ", "a\xff\xfe",
                                  "\xe2\x82\xac 12.5 \xf0\x9f\x98\x80\n\ttab", "<s></s><unk>"};
    int vocab = sieve_tokenizer_vocab_size(tok);
    sieve_tok_buf b = {0};
    sieve_tok_stream *s = sieve_tok_stream_new(tok);
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        if (sieve_tokenizer_encode(tok, texts[i], strlen(texts[i]), (unsigned)i & 3, &b, &err) !=
            SIEVE_OK)
            abort();
        for (size_t k = 0; k < b.n; k++)
            if (b.ids[k] < 0 || b.ids[k] >= vocab)
                abort();
        char *text;
        size_t len;
        if (sieve_tokenizer_decode(tok, b.ids, b.n, &text, &len, &err) != SIEVE_OK)
            abort();
        free(text);
        if (s) {
            sieve_tok_stream_reset(s);
            const char *out;
            size_t n;
            for (size_t k = 0; k < b.n; k++)
                if (sieve_tok_stream_push(s, b.ids[k], &out, &n, &err) != SIEVE_OK)
                    abort();
            sieve_tok_stream_finish(s, &out, &n, &err);
        }
    }
    for (int id = -1; id < vocab && id < 300; id++) {
        size_t len;
        const char *p = sieve_tokenizer_piece(tok, id, &len);
        if ((id < 0) != (p == NULL))
            abort();
        if (p && sieve_tokenizer_piece_id(tok, p, len) < 0)
            abort();
    }
    sieve_tok_stream_free(s);
    sieve_tok_buf_free(&b);
    sieve_tokenizer_free(tok);
    return 0;
}
