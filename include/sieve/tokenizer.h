/* SentencePiece BPE tokenizer (LLaMA's `tokenizer.model`), in plain C.
 *
 * Encodes and decodes exactly as the SentencePiece library does for BPE
 * models: the normalizer (dummy prefix, `▁` for spaces, optional whitespace
 * folding, precompiled character maps), BPE merges by the score of the merged
 * piece (leftmost first on ties), user-defined pieces, unused-piece
 * resegmentation, byte fallback to `<0xNN>` pieces, and unknown pieces.
 *
 * A loaded tokenizer is immutable: any number of threads may encode and
 * decode with it at once. Each thread keeps its own sieve_tok_buf.
 *
 * Link with the static library `sieve_tokenizer` (plugins/tokenizer). */
#ifndef SIEVE_TOKENIZER_H
#define SIEVE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sieve_tokenizer sieve_tokenizer;

/* ModelProto.SentencePiece.Type, same numbers as sentencepiece_model.proto. */
typedef enum sieve_piece_type {
    SIEVE_PIECE_NORMAL = 1,
    SIEVE_PIECE_UNKNOWN = 2,
    SIEVE_PIECE_CONTROL = 3,       /* <s>, </s>: never produced by encode, decode to "" */
    SIEVE_PIECE_USER_DEFINED = 4,  /* always one token where it appears in the text */
    SIEVE_PIECE_UNUSED = 5,
    SIEVE_PIECE_BYTE = 6           /* <0xNN> byte-fallback pieces */
} sieve_piece_type;

/* ---- loading ---- */
/* path is a SentencePiece model file, or a directory (a Hugging Face
 * checkpoint) that holds `tokenizer.model`. Malformed files fail with a
 * message naming the file and what is wrong; nothing is leaked. */
sieve_status sieve_tokenizer_load(const char *path, sieve_tokenizer **out, sieve_err *err);
/* Same from the bytes of a model file (copied; data may be freed afterwards). */
sieve_status sieve_tokenizer_load_buffer(const void *data, size_t len, sieve_tokenizer **out,
                                         sieve_err *err);
void sieve_tokenizer_free(sieve_tokenizer *tok);   /* NULL is fine */

/* ---- vocabulary ---- */
int sieve_tokenizer_vocab_size(const sieve_tokenizer *tok);
/* Special ids as SentencePiece reports them; -1 when the model has none. */
int sieve_tokenizer_bos_id(const sieve_tokenizer *tok);
int sieve_tokenizer_eos_id(const sieve_tokenizer *tok);
int sieve_tokenizer_unk_id(const sieve_tokenizer *tok);
int sieve_tokenizer_pad_id(const sieve_tokenizer *tok);
/* The piece text of an id (NUL-terminated, owned by tok; *len may be NULL),
 * or NULL when id is out of range. Spaces appear as U+2581 `▁`. */
const char *sieve_tokenizer_piece(const sieve_tokenizer *tok, int id, size_t *len);
/* The id of a piece text, or -1 when no piece has that text. */
int sieve_tokenizer_piece_id(const sieve_tokenizer *tok, const char *piece, size_t len);
float sieve_tokenizer_score(const sieve_tokenizer *tok, int id);  /* 0 when out of range */
/* The type of an id, or 0 when out of range. */
sieve_piece_type sieve_tokenizer_piece_type(const sieve_tokenizer *tok, int id);

/* ---- encoding ---- */
#define SIEVE_TOK_BOS 1u  /* prepend bos_id (when the model has one) */
#define SIEVE_TOK_EOS 2u  /* append eos_id (when the model has one) */

/* Output ids plus scratch memory reused from call to call, including a cache
 * of word encodings (up to about 10 MB; it makes repeated words cheap, so
 * keep one buffer per thread rather than one per call). Zero-initialise
 * before first use ({0}); release with sieve_tok_buf_free. */
typedef struct sieve_tok_buf {
    int32_t *ids;     /* the ids of the last encode */
    size_t n;         /* how many */
    size_t cap;
    void *work;       /* private */
} sieve_tok_buf;
void sieve_tok_buf_free(sieve_tok_buf *b);

/* Encodes len bytes of text (UTF-8; malformed bytes become U+FFFD as in
 * SentencePiece) into b->ids / b->n. Fails only when out of memory. */
sieve_status sieve_tokenizer_encode(const sieve_tokenizer *tok, const char *text, size_t len,
                                    unsigned flags, sieve_tok_buf *b, sieve_err *err);

/* ---- decoding ---- */
/* Decodes ids into a malloc'd NUL-terminated string (*len bytes, len may be
 * NULL). Control pieces vanish, the unknown piece reads " ⁇ ", byte pieces
 * are joined into UTF-8 (bytes that do not form a character become U+FFFD),
 * and the leading space of the dummy prefix is dropped. Fails on an id out
 * of range (naming it) or when out of memory. */
sieve_status sieve_tokenizer_decode(const sieve_tokenizer *tok, const int32_t *ids, size_t n,
                                    char **text, size_t *len, sieve_err *err);

/* Incremental decoding of a token stream (sampling): each push returns the
 * text that became final with that id, never a part of a UTF-8 character.
 * The concatenation of every push's text and of finish's text equals
 * sieve_tokenizer_decode of the whole id sequence. */
typedef struct sieve_tok_stream sieve_tok_stream;
sieve_tok_stream *sieve_tok_stream_new(const sieve_tokenizer *tok);  /* NULL on OOM */
/* *out points into memory owned by the stream, valid until its next call. */
sieve_status sieve_tok_stream_push(sieve_tok_stream *s, int32_t id, const char **out,
                                   size_t *out_len, sieve_err *err);
/* Ends the stream: bytes of an unfinished character come out as U+FFFD. */
sieve_status sieve_tok_stream_finish(sieve_tok_stream *s, const char **out, size_t *out_len,
                                     sieve_err *err);
void sieve_tok_stream_reset(sieve_tok_stream *s);  /* ready for a new sequence */
void sieve_tok_stream_free(sieve_tok_stream *s);   /* NULL is fine */

/* ---- writing and training small models ---- */
typedef struct sieve_tok_piece_spec {
    const char *piece;        /* UTF-8, spaces written as U+2581 */
    float score;              /* BPE merge priority: higher merges first */
    sieve_piece_type type;
} sieve_tok_piece_spec;

typedef struct sieve_tok_model_spec {
    const sieve_tok_piece_spec *pieces;
    int n_pieces;             /* ids are positions in this list */
    bool byte_fallback;       /* needs all 256 <0xNN> BYTE pieces */
    bool add_dummy_prefix;
    bool remove_extra_whitespaces;
    int unk_id, bos_id, eos_id, pad_id;   /* recorded in trainer_spec; -1 for none */
} sieve_tok_model_spec;

/* The SentencePiece ModelProto bytes of a BPE model (malloc'd). The spec is
 * checked as the loader would check it (one unknown piece, no duplicates,
 * 256 byte pieces when byte_fallback). */
sieve_status sieve_tokenizer_serialize(const sieve_tok_model_spec *spec, char **data,
                                       size_t *len, sieve_err *err);
/* Same, written to path (through a temporary file renamed into place). */
sieve_status sieve_tokenizer_write_model(const char *path, const sieve_tok_model_spec *spec,
                                         sieve_err *err);

/* Learns a byte-fallback BPE model from texts, SentencePiece's way: texts
 * are normalized as LLaMA's model does (dummy prefix, `▁` for spaces, no
 * whitespace folding), split into words at each `▁` (which starts the word)
 * and around digits (digits stay single pieces), every character seen
 * becomes a piece, then the most frequent adjacent pair (ties: the smaller
 * merged text) is merged until vocab_size pieces exist or no pair occurs
 * twice. Pieces are at most 16 characters. Ids: 0 <unk>, 1 <s>, 2 </s>,
 * 3..258 <0x00>..<0xFF>, then merges (earlier merges score higher), then
 * characters by frequency. Writes the model to path. */
sieve_status sieve_tokenizer_train_bpe(const char *const *texts, const size_t *lens, size_t n,
                                       int vocab_size, const char *path, sieve_err *err);

#ifdef __cplusplus
}
#endif
#endif
