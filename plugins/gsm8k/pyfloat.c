/* Python's float(str), exactly as 3.11 accepts it: the right-hand side of a
 * calculator annotation goes through float() in the paper's check, which
 * takes any Unicode decimal digit ("١٢" is 12.0), Unicode whitespace around
 * the number and underscores between digits. The tables below were listed
 * from Python 3.11 by trying float() on every code point. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gsm8k.h"

/* Code points of the digit zero of each Unicode Nd block (ten in a row). */
static const uint32_t digit_zeros[] = {
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6,
    0xd66, 0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0,
    0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0,
    0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136,
    0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950,
    0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2,
    0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
};
/* Whitespace float() strips (note: not U+001C..U+001F). */
static const uint32_t spaces[] = {
    0x9, 0xa, 0xb, 0xc, 0xd, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
    0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f,
    0x205f, 0x3000,
};

/* Decodes one UTF-8 sequence strictly; returns its length or 0 when invalid. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if ((c & 0xe0) == 0xc0) { n = 2; v = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { n = 3; v = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { n = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
        return 0;
    *cp = v;
    return n;
}

/* Maps a code point to what Python's transform gives: an ASCII digit, a
 * space, the ASCII character itself, or 0 (not allowed in a float). */
static char transform(uint32_t cp)
{
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++)
        if (cp == spaces[i])
            return ' ';
    if (cp < 0x80)
        return cp ? (char)cp : 0;
    for (size_t i = 0; i < sizeof digit_zeros / sizeof digit_zeros[0]; i++)
        if (cp >= digit_zeros[i] && cp < digit_zeros[i] + 10)
            return (char)('0' + (cp - digit_zeros[i]));
    return 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* digit (_? digit)*; returns the end or NULL when not at a digit part. */
static const char *digitpart(const char *p, const char *end)
{
    if (p >= end || !is_digit(*p))
        return NULL;
    p++;
    while (p < end) {
        if (is_digit(*p))
            p++;
        else if (*p == '_' && p + 1 < end && is_digit(p[1]))
            p += 2;
        else
            break;
    }
    return p;
}

/* Python's grammar for a float string (after whitespace was stripped). */
static bool parse_ascii(const char *p, const char *end, double *out)
{
    const char *start = p;
    bool neg = false;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    size_t rest = (size_t)(end - p);
    if ((rest == 3 && !strncasecmp(p, "inf", 3)) || (rest == 8 && !strncasecmp(p, "infinity", 8))) {
        *out = neg ? -__builtin_inf() : __builtin_inf();
        return true;
    }
    if (rest == 3 && !strncasecmp(p, "nan", 3)) {
        *out = __builtin_nan("");
        return true;
    }
    const char *q = digitpart(p, end);
    bool digits = q != NULL;
    if (!q)
        q = p;
    if (q < end && *q == '.') {
        const char *f = digitpart(q + 1, end);
        if (f) {
            digits = true;
            q = f;
        } else {
            q++;
        }
    }
    if (!digits)
        return false;
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *e = q + 1;
        if (e < end && (*e == '+' || *e == '-'))
            e++;
        e = digitpart(e, end);
        if (!e)
            return false;
        q = e;
    }
    if (q != end)
        return false;
    /* strtod on a copy without underscores: glibc rounds correctly, as Python does. */
    size_t n = (size_t)(end - start);
    char small[128];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return false;
    size_t k = 0;
    for (const char *c = start; c < end; c++)
        if (*c != '_')
            buf[k++] = *c;
    buf[k] = 0;
    *out = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return true;
}

bool sieve_gsm8k_pyfloat(const char *s, size_t len, double *out)
{
    char small[128];
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf)
        return false;
    size_t k = 0;
    bool ok = true;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)s + i, len - i, &cp);
        char c = n ? transform(cp) : 0;
        if (!c) {
            ok = false;
            break;
        }
        buf[k++] = c;
        i += n;
    }
    if (ok) {
        const char *b = buf, *e = buf + k;
        while (b < e && (*b == ' ' || (*b >= '\t' && *b <= '\r')))
            b++;
        while (e > b && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
            e--;
        ok = b < e && parse_ascii(b, e, out);
    }
    if (buf != small)
        free(buf);
    return ok;
}
