/* Tiny SentencePiece models shared by the tokenizer fuzz targets, built with
 * the library's writer: A has byte fallback; B has no byte pieces, a
 * user-defined piece, an unused piece and whitespace folding. */
#ifndef TOKENIZER_FUZZ_COMMON_H
#define TOKENIZER_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "sieve/tokenizer.h"

/* The model file bytes of tiny model `which` (malloc'd). */
static inline void tok_fuzz_tiny_bytes(int which, char **data, size_t *len)
{
    static const char *texts[] = {"a", "b", "c", "\xe2\x96\x81", "ab", "bc", "abc",
                                  "\xe2\x96\x81" "a", "\xe2\x96\x81" "ab", "aa", "\xc3\xa9",
                                  "\xe2\x96\x81\xe2\x96\x81", "1", "2", "12"};
    static const float scores[] = {-100, -100, -100, -100, -1, -2, -3, -4, -5, -0.5f, -100,
                                   -6, -100, -100, -7};
    sieve_tok_piece_spec ps[300];
    char names[256][8];
    int k = 0;
    ps[k++] = (sieve_tok_piece_spec){"<unk>", 0, SIEVE_PIECE_UNKNOWN};
    ps[k++] = (sieve_tok_piece_spec){"<s>", 0, SIEVE_PIECE_CONTROL};
    ps[k++] = (sieve_tok_piece_spec){"</s>", 0, SIEVE_PIECE_CONTROL};
    if (which == 0)
        for (int i = 0; i < 256; i++) {
            snprintf(names[i], sizeof names[i], "<0x%02X>", i);
            ps[k++] = (sieve_tok_piece_spec){names[i], 0, SIEVE_PIECE_BYTE};
        }
    for (int i = 0; i < (int)(sizeof texts / sizeof *texts); i++)
        ps[k++] = (sieve_tok_piece_spec){texts[i], scores[i],
                                         which == 1 && i == 5 ? SIEVE_PIECE_UNUSED
                                                              : SIEVE_PIECE_NORMAL};
    if (which == 1)
        ps[k++] = (sieve_tok_piece_spec){"<sep>", 0, SIEVE_PIECE_USER_DEFINED};
    sieve_tok_model_spec spec = {ps, k, which == 0, true, which == 1, 0, 1, 2, -1};
    sieve_err err;
    if (sieve_tokenizer_serialize(&spec, data, len, &err) != SIEVE_OK) {
        fprintf(stderr, "tiny model %d: %s\n", which, err.msg);
        abort();
    }
}

static inline sieve_tokenizer *tok_fuzz_tiny(int which)
{
    char *data;
    size_t len;
    sieve_err err;
    sieve_tokenizer *tok = NULL;
    tok_fuzz_tiny_bytes(which, &data, &len);
    if (sieve_tokenizer_load_buffer(data, len, &tok, &err) != SIEVE_OK) {
        fprintf(stderr, "tiny model %d: %s\n", which, err.msg);
        abort();
    }
    free(data);
    return tok;
}

#endif
