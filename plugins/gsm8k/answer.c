/* The paper's answer rule and calculator-annotation rule over completion
 * text, written as scanners (no regex engine) that give the same matches as
 * Python's re.search / re.findall on the patterns quoted below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gsm8k.h"

static bool ans_char(char c) { return (c >= '0' && c <= '9') || c == '.' || c == ','; }

bool sieve_gsm8k_extract(const char *text, size_t len, char *out, size_t out_cap,
                         size_t *out_len, double *value)
{
    const char *nul = memchr(text, 0, len);
    if (nul)
        len = (size_t)(nul - text);     /* the completion ends at the first NUL */
    /* re.search(r'#### (\-?[0-9\.\,]+)'): the leftmost position where "#### "
     * is followed by an optional '-' and at least one of [0-9.,]. */
    const char *p = text, *end = text + len;
    while (p + 5 < end) {
        const char *h = memchr(p, '#', (size_t)(end - p));
        if (!h || end - h < 6)
            return false;
        if (memcmp(h, "#### ", 5) != 0) {
            p = h + 1;
            continue;
        }
        const char *s = h + 5, *q = s;
        if (q < end && *q == '-')
            q++;
        const char *d = q;
        while (q < end && ans_char(*q))
            q++;
        if (q == d) {
            p = h + 1;
            continue;
        }
        /* Found: remove commas, then Python float(). */
        size_t n = (size_t)(q - s);
        char small[64] = {0};
        char *buf = n < sizeof small ? small : malloc(n + 1);
        if (!buf)
            return false;
        size_t k = 0;
        for (const char *c = s; c < q; c++)
            if (*c != ',')
                buf[k++] = *c;
        buf[k] = 0;
        bool ok = sieve_gsm8k_pyfloat(buf, k, value);
        if (ok && out && out_cap) {
            size_t m = k < out_cap - 1 ? k : out_cap - 1;
            memcpy(out, buf, m);
            out[m] = 0;
            if (out_len)
                *out_len = m;
        }
        if (buf != small)
            free(buf);
        return ok;
    }
    return false;
}

bool sieve_gsm8k_parse_gold(const char *s, size_t len, double *value)
{
    char small[64] = {0};
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != ',')
            buf[k++] = s[i];
    bool ok = sieve_gsm8k_pyfloat(buf, k, value);
    if (buf != small)
        free(buf);
    return ok;
}

bool sieve_gsm8k_is_correct(double answer, double gold)
{
    return fabs(answer - gold) < 1e-4;
}

size_t sieve_gsm8k_annotations(const char *text, size_t len,
                               bool (*fn)(const char *a, size_t n, void *user), void *user)
{
    /* re.findall(r'<<([^>]*)>>'): at a "<<", the content runs to the first
     * '>'; a match needs ">>" there. Matches do not overlap. */
    const char *p = text, *end = text + len;
    size_t count = 0;
    while (p + 4 <= end) {
        const char *h = memchr(p, '<', (size_t)(end - p - 1));
        if (!h)
            break;
        if (h[1] != '<') {
            p = h + 1;
            continue;
        }
        const char *c = h + 2;
        const char *gt = memchr(c, '>', (size_t)(end - c));
        if (!gt)
            break;                      /* no '>' anywhere after: no more matches */
        if (gt + 1 < end && gt[1] == '>') {
            count++;
            if (!fn(c, (size_t)(gt - c), user))
                break;
            p = gt + 2;
        } else {
            p = h + 1;
        }
    }
    return count;
}

bool sieve_gsm8k_annotation_valid(const char *a, size_t n)
{
    const char *eq = memchr(a, '=', n);
    if (!eq)
        return false;                   /* split('=')[1] raises IndexError */
    const char *r = eq + 1, *end = a + n;
    const char *eq2 = memchr(r, '=', (size_t)(end - r));
    double lhs, rhs;
    if (!sieve_gsm8k_pyfloat(r, (size_t)((eq2 ? eq2 : end) - r), &rhs))
        return false;
    if (sieve_calc_eval(a, (size_t)(eq - a), &lhs) != SIEVE_CALC_OK)
        return false;
    return fabs(lhs - rhs) < 1e-3;      /* NaN compares false: invalid */
}

static bool valid_cb(const char *a, size_t n, void *user)
{
    bool *ok = user;
    *ok = sieve_gsm8k_annotation_valid(a, n);
    return *ok;
}

bool sieve_gsm8k_equations_valid(const char *text, size_t len)
{
    bool ok = true;
    sieve_gsm8k_annotations(text, len, valid_cb, &ok);
    return ok;
}

typedef struct key_buf {
    char *s;
    size_t len, cap;
    bool first, oom;
} key_buf;

static bool key_cb(const char *a, size_t n, void *user)
{
    key_buf *k = user;
    if (k->len + n + 2 > k->cap) {
        size_t cap = (k->len + n + 2) * 2;
        char *s = realloc(k->s, cap);
        if (!s) {
            k->oom = true;
            return false;
        }
        k->s = s;
        k->cap = cap;
    }
    if (!k->first)
        k->s[k->len++] = '|';
    k->first = false;
    for (size_t i = 0; i < n; i++)
        if (a[i] != ' ')
            k->s[k->len++] = a[i];
    return true;
}

char *sieve_gsm8k_equation_key(const char *text, size_t len, size_t *key_len)
{
    key_buf k = {.s = malloc(64), .cap = 64, .first = true};
    if (!k.s)
        return NULL;
    sieve_gsm8k_annotations(text, len, key_cb, &k);
    if (k.oom) {
        free(k.s);
        return NULL;
    }
    k.s[k.len] = 0;
    if (key_len)
        *key_len = k.len;
    return k.s;
}
