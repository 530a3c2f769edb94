/* Protobuf wire format (reading with bounds checks, writing into a growing
 * buffer), the piece hash, and SentencePiece's UTF-8 validity rule. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

bool tok_pb_varint(tok_pb *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return false;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false; /* more than ten bytes */
}

bool tok_pb_key(tok_pb *r, uint32_t *field, uint32_t *wire)
{
    uint64_t k;
    if (!tok_pb_varint(r, &k) || k >> 32)
        return false;
    *field = (uint32_t)(k >> 3);
    *wire = (uint32_t)(k & 7);
    return *field != 0;
}

bool tok_pb_len(tok_pb *r, tok_pb *sub)
{
    uint64_t n;
    if (!tok_pb_varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return false;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return true;
}

bool tok_pb_fixed32(tok_pb *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return false;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
         (uint32_t)r->p[3] << 24;
    r->p += 4;
    return true;
}

bool tok_pb_skip(tok_pb *r, uint32_t wire)
{
    uint64_t v;
    tok_pb sub;
    switch (wire) {
    case TOK_WT_VARINT:
        return tok_pb_varint(r, &v);
    case TOK_WT_I64:
        if (r->end - r->p < 8)
            return false;
        r->p += 8;
        return true;
    case TOK_WT_LEN:
        return tok_pb_len(r, &sub);
    case TOK_WT_I32:
        if (r->end - r->p < 4)
            return false;
        r->p += 4;
        return true;
    default: /* groups (3, 4) are not used by SentencePiece; 6, 7 do not exist */
        return false;
    }
}

bool tok_sb_put(tok_sb *b, const void *data, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return false;
        b->p = p;
        b->cap = cap;
    }
    if (n && data)   /* data == NULL reserves n bytes for the caller to fill */
        memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

bool tok_sb_varint(tok_sb *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return tok_sb_put(b, tmp, (size_t)n);
}

bool tok_sb_key(tok_sb *b, uint32_t field, uint32_t wire)
{
    return tok_sb_varint(b, (uint64_t)field << 3 | wire);
}

bool tok_sb_bytes(tok_sb *b, uint32_t field, const void *data, size_t n)
{
    return tok_sb_key(b, field, TOK_WT_LEN) && tok_sb_varint(b, n) && tok_sb_put(b, data, n);
}

bool tok_sb_fixed32(tok_sb *b, uint32_t field, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return tok_sb_key(b, field, TOK_WT_I32) && tok_sb_put(b, t, 4);
}

/* A multiply-mix hash over 8-byte words: pieces are short, so the common
 * case is one or two loads. */
uint32_t tok_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        if (n >= 4) {
            uint32_t a, c;
            memcpy(&a, s, 4);
            memcpy(&c, s + n - 4, 4);
            w = (uint64_t)a << 32 | c;
        } else {
            w = (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n >> 1] << 8 |
                (uint8_t)s[n - 1];
        }
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 32;
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

static inline bool is_trail(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

static inline bool valid_cp(uint32_t c)
{
    return c < 0xd800 || (c >= 0xe000 && c <= 0x10ffff);
}

/* SentencePiece's DecodeUTF8 + IsValidDecodeUTF8: a decoded U+FFFD counts as
 * valid (it is a real character in the input). */
bool tok_utf8_valid(const char *str, size_t len, size_t *mblen)
{
    const unsigned char *s = (const unsigned char *)str;
    *mblen = 1;
    if (s[0] < 0x80)
        return true;
    if (len >= 2 && (s[0] & 0xe0) == 0xc0) {
        uint32_t cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
        if (is_trail(s[1]) && cp >= 0x80 && valid_cp(cp)) {
            *mblen = 2;
            return true;
        }
    } else if (len >= 3 && (s[0] & 0xf0) == 0xe0) {
        uint32_t cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        if (is_trail(s[1]) && is_trail(s[2]) && cp >= 0x800 && valid_cp(cp)) {
            *mblen = 3;
            return true;
        }
    } else if (len >= 4 && (s[0] & 0xf8) == 0xf0) {
        uint32_t cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
                      (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
        if (is_trail(s[1]) && is_trail(s[2]) && is_trail(s[3]) && cp >= 0x10000 && valid_cp(cp)) {
            *mblen = 4;
            return true;
        }
    }
    return false;
}
