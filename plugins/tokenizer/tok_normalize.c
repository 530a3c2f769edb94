/* SentencePiece's normalizer: user-defined pieces pass through, a
 * precompiled character map (a darts-clone double-array trie) rewrites
 * characters, malformed UTF-8 bytes become U+FFFD, spaces become `▁`, the
 * dummy prefix is added, and extra whitespace is optionally folded. */
#include <string.h>

#include "tok_internal.h"

/* darts-clone unit fields */
static inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }
static inline uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xff); }
static inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

#define TOK_MAX_TRIE_RESULTS 32  /* SentencePiece's kMaxTrieResultsSize */

size_t tok_charsmap_match(const tok_charsmap *cm, const char *s, size_t n, const char **rep,
                          size_t *rep_len)
{
    if (!cm->n_units)
        return 0;
    size_t best_len = 0, results = 0;
    uint32_t best_value = 0;
    size_t pos = 0;
    uint32_t unit = cm->units[0];
    pos ^= unit_offset(unit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        pos ^= c;
        if (pos >= cm->n_units)
            break;
        unit = cm->units[pos];
        if (unit_label(unit) != c)
            break;
        pos ^= unit_offset(unit);
        if (unit_has_leaf(unit)) {
            if (pos >= cm->n_units)
                break;
            /* SentencePiece keeps the first 32 results and takes the longest */
            if (results < TOK_MAX_TRIE_RESULTS) {
                best_len = i + 1;
                best_value = unit_value(cm->units[pos]);
            }
            results++;
        }
    }
    if (!best_len || best_value >= cm->normalized_len)
        return 0;   /* a value past the strings is a broken map: leave the text alone */
    *rep = cm->normalized + best_value;
    *rep_len = strlen(*rep);
    return best_len;
}

bool tok_charsmap_apply(const tok_charsmap *cm, const char *s, size_t n, tok_sb *out)
{
    out->n = 0;
    while (n) {
        const char *rep;
        size_t rep_len;
        size_t m = tok_charsmap_match(cm, s, n, &rep, &rep_len);
        if (m) {
            if (!tok_sb_put(out, rep, rep_len))
                return false;
        } else {
            size_t l;
            if (!tok_utf8_valid(s, n, &l)) {
                rep = TOK_REPLACEMENT;
                l = 1;
                if (!tok_sb_put(out, rep, 3))
                    return false;
            } else if (!tok_sb_put(out, s, l)) {
                return false;
            }
            m = l;
        }
        s += m;
        n -= m;
    }
    return tok_sb_put(out, "", 0);
}

size_t tok_user_match(const sieve_tokenizer *tok, const char *s, size_t n)
{
    size_t max = (size_t)tok->max_user_len < n ? (size_t)tok->max_user_len : n;
    for (size_t l = max; l > 0; l--)
        if (tok_map_find(tok, &tok->user, s, l, tok_hash(s, l)) >= 0)
            return l;
    return 0;
}

/* NormalizePrefix: the normalized text of the next unit of input and how
 * many input bytes it consumes. */
static size_t norm_prefix(const sieve_tokenizer *tok, const char *s, size_t n, const char **rep,
                          size_t *rep_len)
{
    if (tok->max_user_len) {
        size_t m = tok_user_match(tok, s, n);
        if (m) {
            *rep = s;
            *rep_len = m;
            return m;
        }
    }
    if (tok->has_charsmap) {
        size_t m = tok_charsmap_match(&tok->charsmap, s, n, rep, rep_len);
        if (m)
            return m;
    }
    size_t l;
    if (!tok_utf8_valid(s, n, &l)) {
        *rep = TOK_REPLACEMENT;
        *rep_len = 3;
        return 1;
    }
    *rep = s;
    *rep_len = l;
    return l;
}

static bool add_ws(const sieve_tokenizer *tok, tok_sb *out)
{
    return tok->escape_ws ? tok_sb_put(out, TOK_SPACE, TOK_SPACE_LEN) : tok_sb_put(out, " ", 1);
}

bool tok_normalize(const sieve_tokenizer *tok, const char *text, size_t len, tok_sb *out)
{
    out->n = 0;
    if (!tok_sb_put(out, "", 0))
        return false;
    if (len == 0)
        return true;
    if (tok->remove_extra_ws) {
        while (len) {
            const char *rep;
            size_t rep_len;
            size_t m = norm_prefix(tok, text, len, &rep, &rep_len);
            if (!(rep_len == 1 && rep[0] == ' '))
                break;
            text += m;
            len -= m;
        }
    }
    if (len == 0)
        return true;
    if (!tok->treat_ws_as_suffix && tok->add_dummy_prefix && !add_ws(tok, out))
        return false;
    bool is_prev_space = tok->remove_extra_ws;
    if (!tok->max_user_len && !tok->has_charsmap) {
        /* Fast path without user pieces or a character map: every input
         * byte yields at most 3 output bytes, so reserve once and write. */
        size_t keep = out->n;
        if (!tok_sb_put(out, NULL, len * 3 + 4))
            return false;
        char *o = out->p + keep;
        while (len) {
            unsigned char c = (unsigned char)*text;
            if (c == ' ') {
                if (!is_prev_space) {
                    if (tok->escape_ws) {
                        memcpy(o, TOK_SPACE, TOK_SPACE_LEN);
                        o += TOK_SPACE_LEN;
                    } else {
                        *o++ = ' ';
                    }
                    is_prev_space = tok->remove_extra_ws;
                }
                text++;
                len--;
                continue;
            }
            size_t l = 1;
            if (c < 0x80) {
                *o++ = (char)c;
            } else if (tok_utf8_valid(text, len, &l)) {
                memcpy(o, text, l);
                o += l;
            } else {
                memcpy(o, TOK_REPLACEMENT, 3);
                o += 3;
            }
            is_prev_space = false;
            text += l;
            len -= l;
        }
        out->n = (size_t)(o - out->p);
        out->p[out->n] = '\0';
    }
    while (len) {
        const char *rep;
        size_t rep_len;
        size_t m = norm_prefix(tok, text, len, &rep, &rep_len);
        if (is_prev_space)
            while (rep_len && rep[0] == ' ') {
                rep++;
                rep_len--;
            }
        if (rep_len) {
            if (!tok->escape_ws || !memchr(rep, ' ', rep_len)) {
                if (!tok_sb_put(out, rep, rep_len))
                    return false;
            } else {
                for (size_t i = 0; i < rep_len; i++)
                    if (!(rep[i] == ' ' ? tok_sb_put(out, TOK_SPACE, TOK_SPACE_LEN)
                                        : tok_sb_put(out, rep + i, 1)))
                        return false;
            }
            is_prev_space = rep[rep_len - 1] == ' ';
        }
        text += m;
        len -= m;
        if (!tok->remove_extra_ws)
            is_prev_space = false;
    }
    if (tok->remove_extra_ws) {
        const char *sp = tok->escape_ws ? TOK_SPACE : " ";
        size_t sl = tok->escape_ws ? TOK_SPACE_LEN : 1;
        while (out->n >= sl && memcmp(out->p + out->n - sl, sp, sl) == 0)
            out->n -= sl;
        out->p[out->n] = '\0';
    }
    if (tok->treat_ws_as_suffix && tok->add_dummy_prefix && !add_ws(tok, out))
        return false;
    return true;
}
