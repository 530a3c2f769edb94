/* Internals of the SentencePiece tokenizer shared by its source files. */
#ifndef SIEVE_TOK_INTERNAL_H
#define SIEVE_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve/tokenizer.h"

#define TOK_SPACE "\xe2\x96\x81"       /* U+2581, SentencePiece's space */
#define TOK_SPACE_LEN 3
#define TOK_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define TOK_MAX_PIECE 8000             /* SentencePiece's kMaxPieceSize */

/* ---- protobuf wire format ---- */
typedef struct tok_pb {
    const uint8_t *p, *end;
} tok_pb;

enum { TOK_WT_VARINT = 0, TOK_WT_I64 = 1, TOK_WT_LEN = 2, TOK_WT_I32 = 5 };

/* Each returns false on truncation or a malformed value; *what says which. */
bool tok_pb_varint(tok_pb *r, uint64_t *v);
bool tok_pb_key(tok_pb *r, uint32_t *field, uint32_t *wire);
bool tok_pb_len(tok_pb *r, tok_pb *sub);       /* a length-delimited payload */
bool tok_pb_fixed32(tok_pb *r, uint32_t *v);
bool tok_pb_skip(tok_pb *r, uint32_t wire);

/* Growing byte buffer for writing protobuf and text. */
typedef struct tok_sb {
    char *p;
    size_t n, cap;
} tok_sb;
bool tok_sb_put(tok_sb *b, const void *data, size_t n);
bool tok_sb_varint(tok_sb *b, uint64_t v);
bool tok_sb_key(tok_sb *b, uint32_t field, uint32_t wire);
bool tok_sb_bytes(tok_sb *b, uint32_t field, const void *data, size_t n);
bool tok_sb_fixed32(tok_sb *b, uint32_t field, uint32_t v);

/* ---- hash map from piece text to id (open addressing) ---- */
typedef struct tok_slot {
    uint32_t hash;     /* full hash of the key: most misses end here */
    uint32_t id1;      /* id + 1; 0 = empty */
} tok_slot;

typedef struct tok_map {
    tok_slot *slots;   /* hash and id side by side: one cache line per probe */
    uint32_t mask;
} tok_map;

uint32_t tok_hash(const char *s, size_t n);

/* ---- UTF-8 as SentencePiece reads it ---- */
/* Length of the character starting with byte c, from its lead byte only
 * (SentencePiece's OneCharLen). */
static inline int tok_one_char_len(unsigned char c)
{
    return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[c >> 4];
}
/* SentencePiece's IsValidDecodeUTF8: is the character at s valid? *mblen
 * gets its length (1 when invalid). */
bool tok_utf8_valid(const char *s, size_t n, size_t *mblen);

/* ---- the double-array trie of a precompiled character map ---- */
typedef struct tok_charsmap {
    uint32_t *units;         /* double-array units (malloc'd, host order) */
    size_t n_units;
    char *normalized;        /* NUL-terminated replacement strings (malloc'd) */
    size_t normalized_len;
} tok_charsmap;

/* ---- the tokenizer ---- */
typedef struct tok_piece {
    const char *s;       /* NUL-terminated, in the arena */
    uint32_t len;
    float score;
    uint8_t type;        /* sieve_piece_type */
} tok_piece;

struct sieve_tokenizer {
    tok_piece *pieces;
    int n_pieces;
    char *arena;              /* piece texts */

    tok_map normal;           /* NORMAL, USER_DEFINED, UNUSED: what BPE may merge into */
    tok_map reserved;         /* the other types */
    tok_map user;             /* USER_DEFINED only */
    int max_user_len;
    int32_t *lookup_id;       /* id -> PieceToId(piece(id)): reserved pieces win */
    bool has_unused;
    bool split_words;         /* encode word by word, with a cache (tok_encode.c) */

    int unk;                  /* the UNKNOWN piece: what encode emits */
    int unk_id, bos_id, eos_id, pad_id;   /* as SentencePiece reports them */
    int byte_id[256];         /* <0xNN> piece ids, -1 when absent */
    bool byte_fallback;
    bool treat_ws_as_suffix;

    /* normalizer_spec */
    bool add_dummy_prefix, remove_extra_ws, escape_ws;
    bool has_charsmap;
    tok_charsmap charsmap;
    /* denormalizer_spec (applied after decoding when present) */
    bool has_denorm;
    tok_charsmap denorm;

    char *unk_surface;
    size_t unk_surface_len;
};

/* Lookup of a piece among the NORMAL/USER_DEFINED/UNUSED pieces: id or -1. */
int tok_map_find(const sieve_tokenizer *tok, const tok_map *m, const char *s, size_t n,
                 uint32_t h);
/* SentencePiece's PieceToId: reserved pieces first, then the others, else unk. */
int tok_piece_to_id(const sieve_tokenizer *tok, const char *s, size_t n);

/* Normalizes text into out (the normalizer_spec's rules). */
bool tok_normalize(const sieve_tokenizer *tok, const char *text, size_t len, tok_sb *out);
/* Longest charsmap rule matching a prefix of s: replacement and its length in
 * *rep / *rep_len; returns the matched length, 0 when none. */
size_t tok_charsmap_match(const tok_charsmap *cm, const char *s, size_t n, const char **rep,
                          size_t *rep_len);
/* Applies a charsmap over a whole string (decode's denormalizer). */
bool tok_charsmap_apply(const tok_charsmap *cm, const char *s, size_t n, tok_sb *out);
/* Length of the user-defined piece at the start of s, 0 when none. */
size_t tok_user_match(const sieve_tokenizer *tok, const char *s, size_t n);

#endif
