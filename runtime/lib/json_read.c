/* JSON text → sieve_record, in one pass with no intermediate tree.
 *
 * This is the hot path of every JSONL source (a general JSON library builds a
 * hash table per object and was 3x slower than Python's json module here), so
 * the record codec is our own; documents such as config.json go through
 * jansson. It accepts exactly RFC 8259 JSON with one object at the top:
 * UTF-8 is validated, \u escapes (surrogate pairs too) are decoded, "\u0000"
 * gives a NUL inside the string. Integers that do not fit int64 and nested
 * values other than numeric arrays are kept as their JSON text (SIEVE_F_JSON),
 * so they pass through unchanged. A repeated key keeps its first position and
 * its last value, as Python's json does. */
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "sieve/record.h"

#define MAX_DEPTH 256

typedef struct parser {
    const unsigned char *p, *end, *start;
    sieve_err *err;
    char *sbuf;          /* scratch for decoded strings */
    size_t scap;
    int64_t *ibuf;       /* scratch for numeric arrays */
    double *fbuf;
    size_t ncap;
} parser;

static sieve_status bad(parser *ps, const char *what)
{
    return sieve_fail(ps->err, "column %zu: %s", (size_t)(ps->p - ps->start) + 1, what);
}

static void ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 32) >= 'a' && (c | 32) <= 'f')
            d = (c | 32) - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - s) < n)
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Parses a string at ps->p (at the opening quote). When out is non-NULL the
 * decoded bytes go to ps->sbuf and *out and *len point at them. */
static sieve_status string(parser *ps, const char **out, size_t *len)
{
    ps->p++; /* opening quote */
    size_t need = 0;
    /* Fast scan: plain ASCII up to the closing quote needs no decoding. */
    const unsigned char *s = ps->p + sieve_json_plain_run(ps->p, ps->end, 1);
    if (s < ps->end && *s == '"') {
        if (out) {
            *out = (const char *)ps->p;
            *len = (size_t)(s - ps->p);
        }
        ps->p = s + 1;
        return SIEVE_OK;
    }
    /* Slow path: decode into scratch (never longer than the source). */
    need = (size_t)(ps->end - ps->p) + 1;
    if (out && need > ps->scap) {
        char *nb = realloc(ps->sbuf, need);
        if (!nb)
            return bad(ps, "out of memory");
        ps->sbuf = nb;
        ps->scap = need;
    }
    size_t n = (size_t)(s - ps->p);
    if (out)
        memcpy(ps->sbuf, ps->p, n);
    ps->p = s;
    while (ps->p < ps->end) {
        unsigned c = *ps->p;
        if (c == '"') {
            ps->p++;
            if (out) {
                ps->sbuf[n] = '\0';
                *out = ps->sbuf;
                *len = n;
            }
            return SIEVE_OK;
        }
        if (c < 0x20)
            return bad(ps, "control character in a string");
        if (c == '\\') {
            if (ps->end - ps->p < 2)
                return bad(ps, "unterminated string");
            unsigned e = ps->p[1];
            char ch = 0;
            switch (e) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp))
                    return bad(ps, "invalid \\u escape");
                ps->p += 6;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return bad(ps, "invalid \\u escape (unpaired surrogate)");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    ps->p += 6;
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return bad(ps, "invalid \\u escape (unpaired surrogate)");
                }
                if (out)
                    n += put_utf8(ps->sbuf + n, cp);
                continue;
            }
            default:
                return bad(ps, "invalid escape in a string");
            }
            if (out)
                ps->sbuf[n++] = ch;
            ps->p += 2;
            continue;
        }
        if (c < 0x80) {
            size_t run = sieve_json_plain_run(ps->p, ps->end, 1);
            if (out)
                memcpy(ps->sbuf + n, ps->p, run);
            n += run;
            ps->p += run;
            continue;
        }
        size_t k = utf8_len(ps->p, ps->end);
        if (!k)
            return bad(ps, "invalid UTF-8 in a string");
        if (out)
            memcpy(ps->sbuf + n, ps->p, k);
        n += k;
        ps->p += k;
    }
    return bad(ps, "unterminated string");
}

typedef enum { NUM_INT, NUM_FLOAT, NUM_BIG } num_kind;

/* Parses a number; *kind tells how it fits. */
static sieve_status number(parser *ps, num_kind *kind, int64_t *iv, double *fv)
{
    const unsigned char *s = ps->p;
    bool neg = false, is_int = true;
    if (s < ps->end && *s == '-')
        neg = true, s++;
    if (s >= ps->end || *s < '0' || *s > '9')
        return bad(ps, "invalid number");
    uint64_t mag = 0;
    bool overflow = false;
    if (*s == '0') {
        s++;
    } else {
        while (s < ps->end && *s >= '0' && *s <= '9') {
            unsigned d = *s++ - '0';
            if (mag > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                mag = mag * 10 + d;
        }
    }
    if (s < ps->end && *s == '.') {
        is_int = false;
        s++;
        if (s >= ps->end || *s < '0' || *s > '9')
            return bad(ps, "invalid number (digits must follow '.')");
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < ps->end && (*s == 'e' || *s == 'E')) {
        is_int = false;
        s++;
        if (s < ps->end && (*s == '+' || *s == '-'))
            s++;
        if (s >= ps->end || *s < '0' || *s > '9')
            return bad(ps, "invalid number (digits must follow the exponent)");
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (is_int) {
        if (overflow || mag > (uint64_t)INT64_MAX + neg) {
            *kind = NUM_BIG;
        } else {
            *kind = NUM_INT;
            *iv = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        }
    } else {
        /* strtod needs a terminated string; numbers are short. */
        char tmp[512];
        size_t n = (size_t)(s - ps->p);
        if (n >= sizeof tmp)
            return bad(ps, "number too long");
        memcpy(tmp, ps->p, n);
        tmp[n] = '\0';
        *fv = strtod(tmp, NULL);
        *kind = NUM_FLOAT;
    }
    ps->p = s;
    return SIEVE_OK;
}

static sieve_status literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return bad(ps, "invalid value");
    ps->p += n;
    return SIEVE_OK;
}

/* Validates any value without keeping it (for nested values kept as text). */
static sieve_status skip_value(parser *ps, int depth)
{
    if (depth > MAX_DEPTH)
        return bad(ps, "nested too deeply");
    ws(ps);
    if (ps->p >= ps->end)
        return bad(ps, "unexpected end of input");
    unsigned c = *ps->p;
    if (c == '"')
        return string(ps, NULL, NULL);
    if (c == '{' || c == '[') {
        unsigned close = c == '{' ? '}' : ']';
        ps->p++;
        ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return SIEVE_OK;
        }
        for (;;) {
            if (c == '{') {
                ws(ps);
                if (ps->p >= ps->end || *ps->p != '"')
                    return bad(ps, "expected a string key");
                if (string(ps, NULL, NULL))
                    return SIEVE_ERR;
                ws(ps);
                if (ps->p >= ps->end || *ps->p != ':')
                    return bad(ps, "expected ':'");
                ps->p++;
            }
            if (skip_value(ps, depth + 1))
                return SIEVE_ERR;
            ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                return SIEVE_OK;
            }
            return bad(ps, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == 't')
        return literal(ps, "true");
    if (c == 'f')
        return literal(ps, "false");
    if (c == 'n')
        return literal(ps, "null");
    num_kind k;
    int64_t iv;
    double fv;
    return number(ps, &k, &iv, &fv);
}

static int grow_nums(parser *ps, size_t n)
{
    if (n < ps->ncap)
        return 0;
    size_t cap = ps->ncap ? ps->ncap * 2 : 64;
    int64_t *ni = realloc(ps->ibuf, cap * sizeof *ni);
    if (ni)
        ps->ibuf = ni;
    double *nf = realloc(ps->fbuf, cap * sizeof *nf);
    if (nf)
        ps->fbuf = nf;
    if (!ni || !nf)
        return -1;
    ps->ncap = cap;
    return 0;
}

/* An array field: numeric arrays become INTS/FLOATS, others keep their text. */
static sieve_status array_field(parser *ps, sieve_record *r, const char *key)
{
    const unsigned char *begin = ps->p;
    ps->p++;
    size_t n = 0;
    bool numeric = true, any_float = false;
    ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            ws(ps);
            if (ps->p >= ps->end)
                return bad(ps, "unterminated array");
            unsigned c = *ps->p;
            if (numeric && (c == '-' || (c >= '0' && c <= '9'))) {
                num_kind k;
                int64_t iv = 0;
                double fv = 0;
                if (number(ps, &k, &iv, &fv))
                    return SIEVE_ERR;
                if (k == NUM_BIG) {
                    numeric = false;
                } else {
                    if (grow_nums(ps, n))
                        return bad(ps, "out of memory");
                    ps->ibuf[n] = iv;
                    ps->fbuf[n] = k == NUM_INT ? (double)iv : fv;
                    any_float |= k == NUM_FLOAT;
                    n++;
                }
            } else {
                numeric = false;
                if (skip_value(ps, 1))
                    return SIEVE_ERR;
            }
            ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            return bad(ps, "expected ',' or ']'");
        }
    }
    int rc;
    if (!numeric)
        rc = sieve_record_set_json(r, key, (const char *)begin, (size_t)(ps->p - begin));
    else if (any_float)
        rc = sieve_record_set_floats(r, key, ps->fbuf, n);
    else
        rc = sieve_record_set_ints(r, key, ps->ibuf, n);
    return rc ? bad(ps, "out of memory") : SIEVE_OK;
}

static sieve_status field_value(parser *ps, sieve_record *r, const char *key)
{
    ws(ps);
    if (ps->p >= ps->end)
        return bad(ps, "unexpected end of input");
    unsigned c = *ps->p;
    int rc = 0;
    if (c == '"') {
        const char *s;
        size_t len;
        if (string(ps, &s, &len))
            return SIEVE_ERR;
        rc = sieve_record_set_str(r, key, s, len);
    } else if (c == '[') {
        return array_field(ps, r, key);
    } else if (c == '{') {
        const unsigned char *begin = ps->p;
        if (skip_value(ps, 1))
            return SIEVE_ERR;
        rc = sieve_record_set_json(r, key, (const char *)begin, (size_t)(ps->p - begin));
    } else if (c == 't' || c == 'f') {
        if (literal(ps, c == 't' ? "true" : "false"))
            return SIEVE_ERR;
        rc = sieve_record_set_bool(r, key, c == 't');
    } else if (c == 'n') {
        if (literal(ps, "null"))
            return SIEVE_ERR;
        rc = sieve_record_set_null(r, key);
    } else {
        const unsigned char *begin = ps->p;
        num_kind k;
        int64_t iv = 0;
        double fv = 0;
        if (number(ps, &k, &iv, &fv))
            return SIEVE_ERR;
        if (k == NUM_INT)
            rc = sieve_record_set_int(r, key, iv);
        else if (k == NUM_FLOAT)
            rc = sieve_record_set_float(r, key, fv);
        else
            rc = sieve_record_set_json(r, key, (const char *)begin, (size_t)(ps->p - begin));
    }
    return rc ? bad(ps, "out of memory") : SIEVE_OK;
}

sieve_status sieve_record_from_json(sieve_record *r, const char *text, size_t len, sieve_err *err)
{
    parser ps = {(const unsigned char *)text, (const unsigned char *)text + len,
                 (const unsigned char *)text, err, NULL, 0, NULL, NULL, 0};
    char keybuf[256];
    sieve_status st = SIEVE_OK;
    ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{') {
        st = bad(&ps, "expected a JSON object");
        goto out;
    }
    ps.p++;
    ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
    } else {
        for (;;) {
            ws(&ps);
            if (ps.p >= ps.end || *ps.p != '"') {
                st = bad(&ps, "expected a string key");
                goto out;
            }
            const char *k;
            size_t klen;
            if ((st = string(&ps, &k, &klen)))
                goto out;
            /* Keys are short; copy out of the scratch the value may reuse. */
            char *key = klen < sizeof keybuf ? keybuf : malloc(klen + 1);
            if (!key) {
                st = bad(&ps, "out of memory");
                goto out;
            }
            memcpy(key, k, klen);
            key[klen] = '\0';
            ws(&ps);
            if (ps.p >= ps.end || *ps.p != ':') {
                st = bad(&ps, "expected ':'");
            } else {
                ps.p++;
                st = field_value(&ps, r, key);
            }
            if (key != keybuf)
                free(key);
            if (st)
                goto out;
            ws(&ps);
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                continue;
            }
            if (ps.p < ps.end && *ps.p == '}') {
                ps.p++;
                break;
            }
            st = bad(&ps, "expected ',' or '}'");
            goto out;
        }
    }
    ws(&ps);
    if (ps.p != ps.end)
        st = bad(&ps, "unexpected text after the object");
out:
    free(ps.sbuf);
    free(ps.ibuf);
    free(ps.fbuf);
    if (st)
        sieve_record_free(r);
    return st;
}
