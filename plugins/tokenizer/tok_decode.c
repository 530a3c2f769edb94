/* Decoding ids to text as SentencePieceProcessor::Decode does, in one go
 * and incrementally. Byte pieces are gathered into runs and read as UTF-8
 * (a byte that does not start a valid character becomes U+FFFD); the first
 * visible piece loses the `▁` of the dummy prefix; control pieces vanish. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte of a BYTE piece (checked as <0xNN> at load time). */
static unsigned char piece_byte(const tok_piece *p)
{
    return (unsigned char)(hexval(p->s[3]) * 16 + hexval(p->s[4]));
}

/* Appends the UTF-8 reading of bytes[0..n) as far as it is final: with
 * ended, everything; otherwise stops before a character that may still be
 * completed by later bytes. Returns the number of bytes consumed, or -1 on
 * OOM. */
static long put_bytes(const unsigned char *bytes, size_t n, bool ended, tok_sb *out)
{
    size_t off = 0;
    while (off < n) {
        unsigned char c = bytes[off];
        size_t need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                    : (c & 0xf8) == 0xf0 ? 4 : 1;
        if (!ended && n - off < need)
            break;   /* the decision depends on bytes not seen yet */
        size_t l;
        bool ok = tok_utf8_valid((const char *)bytes + off, n - off, &l)
                      ? tok_sb_put(out, bytes + off, l)
                      : tok_sb_put(out, TOK_REPLACEMENT, 3);
        if (!ok)
            return -1;
        off += l;
    }
    return (long)off;
}

/* The text of a non-byte piece, with the bos-whitespace rule. */
static bool put_piece(const sieve_tokenizer *tok, int id, bool is_bos_ws, bool *bos_ws_seen,
                      tok_sb *out)
{
    const tok_piece *p = &tok->pieces[id];
    *bos_ws_seen = false;
    if (p->type == SIEVE_PIECE_CONTROL)
        return true;
    if (p->type == SIEVE_PIECE_UNKNOWN)
        return tok_sb_put(out, tok->unk_surface, tok->unk_surface_len);
    const char *s = p->s;
    size_t n = p->len;
    if (is_bos_ws && (tok->add_dummy_prefix || tok->remove_extra_ws) && n >= TOK_SPACE_LEN &&
        memcmp(s, TOK_SPACE, TOK_SPACE_LEN) == 0) {
        s += TOK_SPACE_LEN;
        n -= TOK_SPACE_LEN;
        *bos_ws_seen = !tok->remove_extra_ws;
    }
    while (n) {
        const char *sp = n >= TOK_SPACE_LEN ? memmem(s, n, TOK_SPACE, TOK_SPACE_LEN) : NULL;
        size_t k = sp ? (size_t)(sp - s) : n;
        if (!tok_sb_put(out, s, k))
            return false;
        if (!sp)
            break;
        if (!tok_sb_put(out, " ", 1))
            return false;
        s += k + TOK_SPACE_LEN;
        n -= k + TOK_SPACE_LEN;
    }
    return true;
}

/* ---- the incremental decoder; decode() runs it over all ids ---- */
struct sieve_tok_stream {
    const sieve_tokenizer *tok;
    tok_sb out;             /* text of the current call */
    tok_sb den;             /* denormalized copy, when the model has a denormalizer */
    unsigned char *bytes;   /* pending byte pieces */
    size_t n_bytes, cap_bytes;
    bool is_bos_ws, bos_ws_seen;
    size_t emitted;         /* bytes of text produced so far */
};

void sieve_tok_stream_reset(sieve_tok_stream *s)
{
    s->n_bytes = 0;
    s->is_bos_ws = true;
    s->bos_ws_seen = false;
    s->emitted = 0;
    s->out.n = 0;
}

sieve_tok_stream *sieve_tok_stream_new(const sieve_tokenizer *tok)
{
    sieve_tok_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->tok = tok;
    sieve_tok_stream_reset(s);
    return s;
}

void sieve_tok_stream_free(sieve_tok_stream *s)
{
    if (!s)
        return;
    free(s->out.p);
    free(s->den.p);
    free(s->bytes);
    free(s);
}

static bool flush_bytes(sieve_tok_stream *s, bool ended)
{
    long used = put_bytes(s->bytes, s->n_bytes, ended, &s->out);
    if (used < 0)
        return false;
    if (used == 0)
        return true;
    memmove(s->bytes, s->bytes + used, s->n_bytes - (size_t)used);
    s->n_bytes -= (size_t)used;
    return true;
}

/* Appends the text of one id to s->out (not cleared). */
static sieve_status stream_step(sieve_tok_stream *s, int32_t id, sieve_err *err)
{
    const sieve_tokenizer *tok = s->tok;
    if (id < 0 || id >= tok->n_pieces)
        return sieve_fail(err, "token id %d is out of range (vocabulary of %d)", id,
                          tok->n_pieces);
    int lid = tok->lookup_id[id];
    const tok_piece *p = &tok->pieces[lid];
    size_t before = s->out.n;
    if (p->type == SIEVE_PIECE_BYTE) {
        if (s->n_bytes == s->cap_bytes) {
            size_t cap = s->cap_bytes ? s->cap_bytes * 2 : 16;
            unsigned char *q = realloc(s->bytes, cap);
            if (!q)
                return sieve_fail(err, "out of memory");
            s->bytes = q;
            s->cap_bytes = cap;
        }
        s->bytes[s->n_bytes++] = piece_byte(p);
        if (!flush_bytes(s, false))
            return sieve_fail(err, "out of memory");
    } else {
        if (!flush_bytes(s, true))
            return sieve_fail(err, "out of memory");
        if (s->bos_ws_seen || s->emitted + (s->out.n - before) > 0)
            s->is_bos_ws = false;
        if (!put_piece(tok, lid, s->is_bos_ws, &s->bos_ws_seen, &s->out))
            return sieve_fail(err, "out of memory");
    }
    s->emitted += s->out.n - before;
    return SIEVE_OK;
}

static sieve_status stream_result(sieve_tok_stream *s, const char **out, size_t *out_len,
                                  sieve_err *err)
{
    if (!tok_sb_put(&s->out, "", 0))
        return sieve_fail(err, "out of memory");
    const tok_sb *r = &s->out;
    if (s->tok->has_denorm) {
        /* rules are applied per chunk; a rule spanning two calls is missed */
        if (!tok_charsmap_apply(&s->tok->denorm, s->out.p, s->out.n, &s->den))
            return sieve_fail(err, "out of memory");
        r = &s->den;
    }
    *out = r->p;
    *out_len = r->n;
    return SIEVE_OK;
}

sieve_status sieve_tok_stream_push(sieve_tok_stream *s, int32_t id, const char **out,
                                   size_t *out_len, sieve_err *err)
{
    s->out.n = 0;
    *out = "";
    *out_len = 0;
    if (stream_step(s, id, err) != SIEVE_OK)
        return SIEVE_ERR;
    return stream_result(s, out, out_len, err);
}

sieve_status sieve_tok_stream_finish(sieve_tok_stream *s, const char **out, size_t *out_len,
                                     sieve_err *err)
{
    s->out.n = 0;
    *out = "";
    *out_len = 0;
    if (!flush_bytes(s, true))
        return sieve_fail(err, "out of memory");
    s->emitted += s->out.n;
    return stream_result(s, out, out_len, err);
}

sieve_status sieve_tokenizer_decode(const sieve_tokenizer *tok, const int32_t *ids, size_t n,
                                    char **text, size_t *len, sieve_err *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    sieve_tok_stream s = {0};
    s.tok = tok;
    sieve_tok_stream_reset(&s);
    sieve_status st = SIEVE_OK;
    for (size_t i = 0; i < n && st == SIEVE_OK; i++)
        if ((st = stream_step(&s, ids[i], err)) != SIEVE_OK)
            sieve_err_prefix(err, "decode: position %zu", i);
    if (st == SIEVE_OK && !flush_bytes(&s, true))
        st = sieve_fail(err, "out of memory");
    if (st == SIEVE_OK && !tok_sb_put(&s.out, "", 0))
        st = sieve_fail(err, "out of memory");
    if (st == SIEVE_OK && tok->has_denorm) {
        if (!tok_charsmap_apply(&tok->denorm, s.out.p, s.out.n, &s.den))
            st = sieve_fail(err, "out of memory");
        else {
            char *t = s.out.p;
            s.out = s.den;
            s.den.p = t;
        }
    }
    if (st == SIEVE_OK) {
        *text = s.out.p;
        if (len)
            *len = s.out.n;
        s.out.p = NULL;
    }
    free(s.out.p);
    free(s.den.p);
    free(s.bytes);
    return st;
}
