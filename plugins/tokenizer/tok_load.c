/* Loading a SentencePiece model: the ModelProto parser, the checks the
 * SentencePiece library makes (with clear messages), and the lookup tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok_internal.h"

/* What the parser collects before the tables are built. */
typedef struct raw_piece {
    const uint8_t *s;
    size_t len;
    float score;
    int type;
} raw_piece;

typedef struct raw_model {
    raw_piece *pieces;
    size_t n, cap;
    uint64_t model_type;               /* 1 unigram (default), 2 bpe, 3 word, 4 char */
    bool byte_fallback, ws_suffix;
    tok_pb unk_surface, unk_piece, bos_piece, eos_piece, pad_piece;
    bool has_unk_surface;
    /* normalizer_spec (index 0) and denormalizer_spec (index 1) */
    bool has_spec[2];
    bool add_dummy_prefix[2], remove_extra_ws[2], escape_ws[2];
    tok_pb charsmap[2];
} raw_model;

typedef struct parse_ctx {
    const uint8_t *base;
    sieve_err *err;
} parse_ctx;

static sieve_status bad(parse_ctx *c, const uint8_t *at, const char *what)
{
    return sieve_fail(c->err, "malformed model at byte %zu: %s", (size_t)(at - c->base), what);
}

static sieve_status read_bool(parse_ctx *c, tok_pb *r, uint32_t wire, bool *out, const char *name)
{
    uint64_t v;
    const uint8_t *at = r->p;
    if (wire != TOK_WT_VARINT) {
        char m[96];
        snprintf(m, sizeof m, "%s has wire type %u, expected a varint", name, wire);
        return bad(c, at, m);
    }
    if (!tok_pb_varint(r, &v))
        return bad(c, at, "truncated varint");
    *out = v != 0;
    return SIEVE_OK;
}

static sieve_status read_len(parse_ctx *c, tok_pb *r, uint32_t wire, tok_pb *out, const char *name)
{
    const uint8_t *at = r->p;
    if (wire != TOK_WT_LEN) {
        char m[96];
        snprintf(m, sizeof m, "%s has wire type %u, expected length-delimited", name, wire);
        return bad(c, at, m);
    }
    tok_pb probe = *r;
    uint64_t n;
    if (!tok_pb_varint(&probe, &n))
        return bad(c, at, "truncated length varint");
    if (!tok_pb_len(r, out))
        return bad(c, at, "length runs past the end of its message");
    return SIEVE_OK;
}

static sieve_status skip(parse_ctx *c, tok_pb *r, uint32_t wire)
{
    const uint8_t *at = r->p;
    if (!tok_pb_skip(r, wire))
        return bad(c, at, wire > 5 || wire == 3 || wire == 4 ? "unsupported wire type"
                                                             : "truncated field");
    return SIEVE_OK;
}

#define TRY(x) do { if ((x) != SIEVE_OK) return SIEVE_ERR; } while (0)

static sieve_status next_key(parse_ctx *c, tok_pb *r, uint32_t *field, uint32_t *wire)
{
    const uint8_t *at = r->p;
    if (!tok_pb_key(r, field, wire))
        return bad(c, at, "bad field key (truncated varint or field 0)");
    return SIEVE_OK;
}

static sieve_status parse_piece(parse_ctx *c, tok_pb r, raw_piece *out)
{
    bool have_piece = false;
    out->score = 0.0f;
    out->type = SIEVE_PIECE_NORMAL;
    while (r.p < r.end) {
        uint32_t f, w;
        TRY(next_key(c, &r, &f, &w));
        const uint8_t *at = r.p;
        if (f == 1) {
            tok_pb s;
            TRY(read_len(c, &r, w, &s, "piece.piece"));
            out->s = s.p;
            out->len = (size_t)(s.end - s.p);
            have_piece = true;
        } else if (f == 2) {
            uint32_t bits;
            if (w != TOK_WT_I32)
                return bad(c, at, "piece.score is not a 32-bit float");
            if (!tok_pb_fixed32(&r, &bits))
                return bad(c, at, "truncated float");
            memcpy(&out->score, &bits, 4);
        } else if (f == 3) {
            uint64_t v;
            if (w != TOK_WT_VARINT)
                return bad(c, at, "piece.type is not a varint");
            if (!tok_pb_varint(&r, &v))
                return bad(c, at, "truncated varint");
            /* proto2 keeps an unknown enum value aside and leaves the default */
            out->type = v >= 1 && v <= 6 ? (int)v : SIEVE_PIECE_NORMAL;
        } else {
            TRY(skip(c, &r, w));
        }
    }
    if (!have_piece) {
        out->s = (const uint8_t *)"";
        out->len = 0;
    }
    return SIEVE_OK;
}

static sieve_status parse_trainer(parse_ctx *c, tok_pb r, raw_model *m)
{
    while (r.p < r.end) {
        uint32_t f, w;
        TRY(next_key(c, &r, &f, &w));
        const uint8_t *at = r.p;
        switch (f) {
        case 3:
            if (w != TOK_WT_VARINT)
                return bad(c, at, "trainer_spec.model_type is not a varint");
            if (!tok_pb_varint(&r, &m->model_type))
                return bad(c, at, "truncated varint");
            break;
        case 24: TRY(read_bool(c, &r, w, &m->ws_suffix, "treat_whitespace_as_suffix")); break;
        case 35: TRY(read_bool(c, &r, w, &m->byte_fallback, "byte_fallback")); break;
        case 44:
            TRY(read_len(c, &r, w, &m->unk_surface, "unk_surface"));
            m->has_unk_surface = true;
            break;
        case 45: TRY(read_len(c, &r, w, &m->unk_piece, "unk_piece")); break;
        case 46: TRY(read_len(c, &r, w, &m->bos_piece, "bos_piece")); break;
        case 47: TRY(read_len(c, &r, w, &m->eos_piece, "eos_piece")); break;
        case 48: TRY(read_len(c, &r, w, &m->pad_piece, "pad_piece")); break;
        default: TRY(skip(c, &r, w));
        }
    }
    return SIEVE_OK;
}

static sieve_status parse_normalizer(parse_ctx *c, tok_pb r, raw_model *m, int k)
{
    m->has_spec[k] = true;
    while (r.p < r.end) {
        uint32_t f, w;
        TRY(next_key(c, &r, &f, &w));
        switch (f) {
        case 2: TRY(read_len(c, &r, w, &m->charsmap[k], "precompiled_charsmap")); break;
        case 3: TRY(read_bool(c, &r, w, &m->add_dummy_prefix[k], "add_dummy_prefix")); break;
        case 4: TRY(read_bool(c, &r, w, &m->remove_extra_ws[k], "remove_extra_whitespaces")); break;
        case 5: TRY(read_bool(c, &r, w, &m->escape_ws[k], "escape_whitespaces")); break;
        default: TRY(skip(c, &r, w));
        }
    }
    return SIEVE_OK;
}

static sieve_status parse_model(parse_ctx *c, tok_pb r, raw_model *m)
{
    m->model_type = 1;
    for (int k = 0; k < 2; k++)
        m->add_dummy_prefix[k] = m->remove_extra_ws[k] = m->escape_ws[k] = true;
    while (r.p < r.end) {
        uint32_t f, w;
        TRY(next_key(c, &r, &f, &w));
        tok_pb sub;
        if (f == 1) {
            TRY(read_len(c, &r, w, &sub, "pieces"));
            if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 1024;
                raw_piece *p = realloc(m->pieces, cap * sizeof *p);
                if (!p)
                    return sieve_fail(c->err, "out of memory");
                m->pieces = p;
                m->cap = cap;
            }
            TRY(parse_piece(c, sub, &m->pieces[m->n]));
            m->n++;
        } else if (f == 2) {
            TRY(read_len(c, &r, w, &sub, "trainer_spec"));
            TRY(parse_trainer(c, sub, m));
        } else if (f == 3 || f == 5) {
            TRY(read_len(c, &r, w, &sub, f == 3 ? "normalizer_spec" : "denormalizer_spec"));
            TRY(parse_normalizer(c, sub, m, f == 5));
        } else {
            TRY(skip(c, &r, w));
        }
    }
    return SIEVE_OK;
}

/* ---- tables ---- */

static bool map_init(tok_map *m, size_t count)
{
    size_t n = 16;
    while (n < count * 2)
        n *= 2;
    m->slots = calloc(n, sizeof *m->slots);
    m->mask = (uint32_t)(n - 1);
    return m->slots != NULL;
}

static void map_free(tok_map *m)
{
    free(m->slots);
}

int tok_map_find(const sieve_tokenizer *tok, const tok_map *m, const char *s, size_t n, uint32_t h)
{
    uint32_t i = h & m->mask;
    for (;;) {
        tok_slot e = m->slots[i];
        if (!e.id1)
            return -1;
        if (e.hash == h) {
            const tok_piece *p = &tok->pieces[e.id1 - 1];
            if (p->len == n && memcmp(p->s, s, n) == 0)
                return (int)e.id1 - 1;
        }
        i = (i + 1) & m->mask;
    }
}

/* Inserts id unless its text is present; returns false on a duplicate. */
static bool map_insert(sieve_tokenizer *tok, tok_map *m, int id)
{
    const tok_piece *p = &tok->pieces[id];
    uint32_t h = tok_hash(p->s, p->len);
    if (tok_map_find(tok, m, p->s, p->len, h) >= 0)
        return false;
    uint32_t i = h & m->mask;
    while (m->slots[i].id1)
        i = (i + 1) & m->mask;
    m->slots[i] = (tok_slot){h, (uint32_t)id + 1};
    return true;
}

int tok_piece_to_id(const sieve_tokenizer *tok, const char *s, size_t n)
{
    uint32_t h = tok_hash(s, n);
    int id = tok_map_find(tok, &tok->reserved, s, n, h);
    if (id < 0)
        id = tok_map_find(tok, &tok->normal, s, n, h);
    return id < 0 ? tok->unk : id;
}

static int byte_of_piece(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    const char *a = strchr(hex, s[3]), *b = strchr(hex, s[4]);
    if (!a || !b || !s[3] || !s[4])
        return -1;
    return (int)((a - hex) * 16 + (b - hex));
}

static sieve_status load_charsmap(tok_pb blob, tok_charsmap *cm, const char *which, sieve_err *err)
{
    size_t n = (size_t)(blob.end - blob.p);
    if (n <= 4)
        return sieve_fail(err, "%s precompiled_charsmap is broken (%zu bytes)", which, n);
    uint32_t trie = (uint32_t)blob.p[0] | (uint32_t)blob.p[1] << 8 | (uint32_t)blob.p[2] << 16 |
                    (uint32_t)blob.p[3] << 24;
    if (trie >= n)
        return sieve_fail(err, "%s precompiled_charsmap: trie size %u exceeds the blob (%zu bytes)",
                          which, trie, n);
    if (trie > n - 4)
        return sieve_fail(err, "%s precompiled_charsmap: trie runs past the blob", which);
    cm->n_units = trie / 4;
    cm->units = malloc((cm->n_units ? cm->n_units : 1) * sizeof *cm->units);
    cm->normalized_len = n - 4 - trie;
    cm->normalized = malloc(cm->normalized_len + 1);
    if (!cm->units || !cm->normalized)
        return sieve_fail(err, "out of memory");
    const uint8_t *u = blob.p + 4;
    for (size_t i = 0; i < cm->n_units; i++)
        cm->units[i] = (uint32_t)u[4 * i] | (uint32_t)u[4 * i + 1] << 8 |
                       (uint32_t)u[4 * i + 2] << 16 | (uint32_t)u[4 * i + 3] << 24;
    memcpy(cm->normalized, blob.p + 4 + trie, cm->normalized_len);
    cm->normalized[cm->normalized_len] = '\0';
    return SIEVE_OK;
}

static char *dup_bytes(const void *src, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, src, n);
        d[n] = '\0';
    }
    return d;
}

/* The text of an optional string field, or dflt when it is absent or empty
 * (SentencePiece's RETURN_PIECE rule for unk/bos/eos/pad piece names). */
static char *dup_pb(tok_pb s, const char *dflt, size_t *len)
{
    size_t n = s.p ? (size_t)(s.end - s.p) : 0;
    if (!n) {
        *len = strlen(dflt);
        return dup_bytes(dflt, *len);
    }
    *len = n;
    return dup_bytes(s.p, n);
}

/* SentencePiece reports a special id only when the named piece has the
 * expected type. */
static int special_id(const sieve_tokenizer *tok, tok_pb name, const char *dflt, int type)
{
    size_t n;
    char *s = dup_pb(name, dflt, &n);
    if (!s)
        return -1;
    int id = tok_piece_to_id(tok, s, n);
    free(s);
    return id >= 0 && tok->pieces[id].type == type ? id : -1;
}

static sieve_status build(sieve_tokenizer *tok, const raw_model *m, sieve_err *err)
{
    if (m->n == 0)
        return sieve_fail(err, "model has no pieces");
    if (m->n > (size_t)INT32_MAX / 2)
        return sieve_fail(err, "model has too many pieces (%zu)", m->n);
    if (m->model_type != 2) {
        static const char *names[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
        return sieve_fail(err, "model_type is %s (%llu); only BPE models are supported",
                          m->model_type <= 4 ? names[m->model_type] : "unknown",
                          (unsigned long long)m->model_type);
    }
    size_t total = 0;
    for (size_t i = 0; i < m->n; i++)
        total += m->pieces[i].len + 1;
    tok->n_pieces = (int)m->n;
    tok->pieces = calloc(m->n, sizeof *tok->pieces);
    tok->arena = malloc(total);
    tok->lookup_id = malloc(m->n * sizeof *tok->lookup_id);
    if (!tok->pieces || !tok->arena || !tok->lookup_id)
        return sieve_fail(err, "out of memory");
    tok->byte_fallback = m->byte_fallback;
    tok->treat_ws_as_suffix = m->ws_suffix;
    tok->unk = -1;
    for (int b = 0; b < 256; b++)
        tok->byte_id[b] = -1;

    size_t n_normal = 0, n_user = 0;
    char *a = tok->arena;
    for (size_t i = 0; i < m->n; i++) {
        const raw_piece *r = &m->pieces[i];
        tok_piece *p = &tok->pieces[i];
        if (r->len == 0)
            return sieve_fail(err, "piece %zu is empty", i);
        if (r->len >= TOK_MAX_PIECE)
            return sieve_fail(err, "piece %zu is too long (%zu bytes)", i, r->len);
        if (memchr(r->s, '\0', r->len))
            return sieve_fail(err, "piece %zu contains a NUL byte", i);
        memcpy(a, r->s, r->len);
        a[r->len] = '\0';
        p->s = a;
        p->len = (uint32_t)r->len;
        p->score = r->score;
        p->type = (uint8_t)r->type;
        a += r->len + 1;
        if (r->type == SIEVE_PIECE_NORMAL || r->type == SIEVE_PIECE_USER_DEFINED ||
            r->type == SIEVE_PIECE_UNUSED)
            n_normal++;
        if (r->type == SIEVE_PIECE_USER_DEFINED)
            n_user++;
    }
    if (!map_init(&tok->normal, n_normal) || !map_init(&tok->reserved, m->n - n_normal) ||
        !map_init(&tok->user, n_user))
        return sieve_fail(err, "out of memory");
    for (int i = 0; i < tok->n_pieces; i++) {
        tok_piece *p = &tok->pieces[i];
        bool normal = p->type == SIEVE_PIECE_NORMAL || p->type == SIEVE_PIECE_USER_DEFINED ||
                      p->type == SIEVE_PIECE_UNUSED;
        if (!map_insert(tok, normal ? &tok->normal : &tok->reserved, i))
            return sieve_fail(err, "piece %d '%s' is already defined", i, p->s);
        if (p->type == SIEVE_PIECE_USER_DEFINED) {
            map_insert(tok, &tok->user, i);
            if ((int)p->len > tok->max_user_len)
                tok->max_user_len = (int)p->len;
        }
        if (p->type == SIEVE_PIECE_UNUSED)
            tok->has_unused = true;
        if (p->type == SIEVE_PIECE_UNKNOWN) {
            if (tok->unk >= 0)
                return sieve_fail(err, "piece %d: unknown piece is already defined (id %d)", i,
                                  tok->unk);
            tok->unk = i;
        }
        if (p->type == SIEVE_PIECE_BYTE) {
            if (!tok->byte_fallback)
                return sieve_fail(err, "byte piece %d '%s' found although byte_fallback is false",
                                  i, p->s);
            int b = byte_of_piece(p->s, p->len);
            if (b < 0)
                return sieve_fail(err, "byte piece %d '%s' is not of the form <0xNN>", i, p->s);
            tok->byte_id[b] = i;
        }
    }
    if (tok->unk < 0)
        return sieve_fail(err, "no unknown piece (type UNKNOWN) is defined");
    if (tok->byte_fallback)
        for (int b = 0; b < 256; b++)
            if (tok->byte_id[b] < 0)
                return sieve_fail(err, "byte_fallback is true but piece <0x%02X> is missing", b);
    for (int i = 0; i < tok->n_pieces; i++)
        tok->lookup_id[i] = tok_piece_to_id(tok, tok->pieces[i].s, tok->pieces[i].len);

    tok->add_dummy_prefix = m->add_dummy_prefix[0];
    tok->remove_extra_ws = m->remove_extra_ws[0];
    tok->escape_ws = m->escape_ws[0];
    if (m->charsmap[0].p && m->charsmap[0].end > m->charsmap[0].p) {
        if (load_charsmap(m->charsmap[0], &tok->charsmap, "normalizer_spec", err) != SIEVE_OK)
            return SIEVE_ERR;
        tok->has_charsmap = true;
    }
    if (m->has_spec[1] && m->charsmap[1].p && m->charsmap[1].end > m->charsmap[1].p) {
        if (load_charsmap(m->charsmap[1], &tok->denorm, "denormalizer_spec", err) != SIEVE_OK)
            return SIEVE_ERR;
        tok->has_denorm = true;
    }
    if (m->has_unk_surface) {
        tok->unk_surface_len = (size_t)(m->unk_surface.end - m->unk_surface.p);
        tok->unk_surface = dup_bytes(m->unk_surface.p, tok->unk_surface_len);
    } else {
        tok->unk_surface_len = 5;
        tok->unk_surface = dup_bytes(" \xe2\x81\x87 ", 5);   /* " ⁇ " */
    }
    if (!tok->unk_surface)
        return sieve_fail(err, "out of memory");
    /* Word-by-word encoding is exact when no piece joins another character
     * to a following `▁` (then no symbol spans such a word start), unknown
     * runs cannot join across words (byte fallback) and no unused piece's
     * resegmentation depends on other words. Models with a character map or
     * user-defined pieces are left out: their normalized text need not walk
     * character by character the way the word splitter does. */
    tok->split_words = tok->byte_fallback && !tok->has_unused && tok->escape_ws &&
                       !tok->has_charsmap && !tok->max_user_len;
    for (int i = 0; tok->split_words && i < tok->n_pieces; i++) {
        const tok_piece *p = &tok->pieces[i];
        bool normal = p->type == SIEVE_PIECE_NORMAL || p->type == SIEVE_PIECE_USER_DEFINED ||
                      p->type == SIEVE_PIECE_UNUSED;
        for (uint32_t o = 1; normal && o + TOK_SPACE_LEN <= p->len; o++)
            if (!memcmp(p->s + o, TOK_SPACE, TOK_SPACE_LEN) &&
                !(o >= TOK_SPACE_LEN && !memcmp(p->s + o - TOK_SPACE_LEN, TOK_SPACE, TOK_SPACE_LEN))) {
                tok->split_words = false;
                break;
            }
    }
    tok->unk_id = special_id(tok, m->unk_piece, "<unk>", SIEVE_PIECE_UNKNOWN);
    tok->bos_id = special_id(tok, m->bos_piece, "<s>", SIEVE_PIECE_CONTROL);
    tok->eos_id = special_id(tok, m->eos_piece, "</s>", SIEVE_PIECE_CONTROL);
    tok->pad_id = special_id(tok, m->pad_piece, "<pad>", SIEVE_PIECE_CONTROL);
    return SIEVE_OK;
}

void sieve_tokenizer_free(sieve_tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->pieces);
    free(tok->arena);
    free(tok->lookup_id);
    map_free(&tok->normal);
    map_free(&tok->reserved);
    map_free(&tok->user);
    free(tok->charsmap.units);
    free(tok->charsmap.normalized);
    free(tok->denorm.units);
    free(tok->denorm.normalized);
    free(tok->unk_surface);
    free(tok);
}

sieve_status sieve_tokenizer_load_buffer(const void *data, size_t len, sieve_tokenizer **out,
                                         sieve_err *err)
{
    *out = NULL;
    raw_model m = {0};
    parse_ctx c = {data, err};
    tok_pb r = {data, (const uint8_t *)data + len};
    sieve_tokenizer *tok = NULL;
    sieve_status st = parse_model(&c, r, &m);
    if (st == SIEVE_OK) {
        tok = calloc(1, sizeof *tok);
        st = tok ? build(tok, &m, err) : sieve_fail(err, "out of memory");
    }
    free(m.pieces);
    if (st != SIEVE_OK) {
        sieve_tokenizer_free(tok);
        return SIEVE_ERR;
    }
    *out = tok;
    return SIEVE_OK;
}

sieve_status sieve_tokenizer_load(const char *path, sieve_tokenizer **out, sieve_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return sieve_fail(err, "tokenizer %s: %s", path, strerror(errno));
    char *file = NULL;
    if (S_ISDIR(st.st_mode)) {
        if (asprintf(&file, "%s/tokenizer.model", path) < 0)
            return sieve_fail(err, "out of memory");
        if (stat(file, &st) != 0) {
            sieve_fail(err, "tokenizer: directory %s has no tokenizer.model (%s)", path,
                       strerror(errno));
            free(file);
            return SIEVE_ERR;
        }
    } else {
        file = strdup(path);
        if (!file)
            return sieve_fail(err, "out of memory");
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        sieve_fail(err, "tokenizer %s: %s", file, strerror(errno));
        free(file);
        return SIEVE_ERR;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : (size_t)1 << 20;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                free(file);
                return sieve_fail(err, "out of memory");
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        sieve_fail(err, "tokenizer %s: read error", file);
        free(file);
        return SIEVE_ERR;
    }
    sieve_status s = sieve_tokenizer_load_buffer(buf, len, out, err);
    free(buf);
    if (s != SIEVE_OK)
        sieve_err_prefix(err, "tokenizer %s", file);
    free(file);
    return s;
}

/* ---- vocabulary accessors ---- */

int sieve_tokenizer_vocab_size(const sieve_tokenizer *tok) { return tok->n_pieces; }
int sieve_tokenizer_bos_id(const sieve_tokenizer *tok) { return tok->bos_id; }
int sieve_tokenizer_eos_id(const sieve_tokenizer *tok) { return tok->eos_id; }
int sieve_tokenizer_unk_id(const sieve_tokenizer *tok) { return tok->unk_id; }
int sieve_tokenizer_pad_id(const sieve_tokenizer *tok) { return tok->pad_id; }

const char *sieve_tokenizer_piece(const sieve_tokenizer *tok, int id, size_t *len)
{
    if (id < 0 || id >= tok->n_pieces)
        return NULL;
    if (len)
        *len = tok->pieces[id].len;
    return tok->pieces[id].s;
}

int sieve_tokenizer_piece_id(const sieve_tokenizer *tok, const char *piece, size_t len)
{
    uint32_t h = tok_hash(piece, len);
    int id = tok_map_find(tok, &tok->reserved, piece, len, h);
    return id >= 0 ? id : tok_map_find(tok, &tok->normal, piece, len, h);
}

float sieve_tokenizer_score(const sieve_tokenizer *tok, int id)
{
    return id >= 0 && id < tok->n_pieces ? tok->pieces[id].score : 0.0f;
}

sieve_piece_type sieve_tokenizer_piece_type(const sieve_tokenizer *tok, int id)
{
    return id >= 0 && id < tok->n_pieces ? (sieve_piece_type)tok->pieces[id].type
                                         : (sieve_piece_type)0;
}
