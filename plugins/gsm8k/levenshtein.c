/* Levenshtein distance over Unicode code points, bit-parallel: Myers' 1999
 * algorithm in Hyyrö's 2003 formulation, blocked over 64-bit words so a
 * pattern of m code points costs ceil(m/64) word operations per text code
 * point. The paper used python-Levenshtein on str, i.e. on code points. */
#include <stdlib.h>
#include <string.h>

#include "gsm8k.h"

size_t sieve_gsm8k_utf8_decode(const char *s, size_t len, uint32_t *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned c = u[i];
        if (c < 0x80) {
            out[n++] = c;
            i++;
            continue;
        }
        size_t k;
        uint32_t v, min;
        if ((c & 0xe0) == 0xc0) { k = 2; v = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { k = 3; v = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { k = 4; v = c & 0x07; min = 0x10000; }
        else { k = 0; v = 0; min = 0; }
        bool ok = k && i + k <= len;
        for (size_t j = 1; ok && j < k; j++) {
            ok = (u[i + j] & 0xc0) == 0x80;
            v = (v << 6) | (u[i + j] & 0x3f);
        }
        ok = ok && v >= min && v <= 0x10ffff && !(v >= 0xd800 && v < 0xe000);
        if (ok) {
            out[n++] = v;
            i += k;
        } else {
            out[n++] = 0xdc00 + c;      /* one code point per bad byte */
            i++;
        }
    }
    return n;
}

/* Pattern bit masks: ASCII in a direct table, other code points in a small
 * open-addressing hash; each entry holds `words` 64-bit masks. */
struct sieve_lev_pattern {
    size_t m, words;
    uint64_t *ascii;        /* [128][words] */
    size_t hcap;            /* power of two */
    uint32_t *hkeys;        /* code point + 1; 0 = empty */
    uint64_t *hmasks;       /* [hcap][words] */
    uint64_t *vp, *vn;      /* scratch per distance call: [words] each */
    size_t cap_words, cap_h;  /* allocated sizes, so a pattern is reused without malloc */
};

static size_t hslot(const sieve_lev_pattern *p, uint32_t cp)
{
    size_t h = (cp * 2654435761u) & (p->hcap - 1);
    while (p->hkeys[h] && p->hkeys[h] != cp + 1)
        h = (h + 1) & (p->hcap - 1);
    return h;
}

int sieve_lev_pattern_set(sieve_lev_pattern *p, const uint32_t *s, size_t m)
{
    size_t words = m ? (m + 63) / 64 : 1, non_ascii = 0, hcap = 1;
    for (size_t i = 0; i < m; i++)
        non_ascii += s[i] >= 128;
    while (hcap < 2 * non_ascii + 1)
        hcap *= 2;
    if (words > p->cap_words || hcap * words > p->cap_h * p->cap_words || hcap > p->cap_h) {
        size_t cw = words > p->cap_words ? words : p->cap_words;
        size_t ch = hcap > p->cap_h ? hcap : p->cap_h;
        uint64_t *ascii = realloc(p->ascii, 128 * cw * sizeof *ascii);
        if (ascii)
            p->ascii = ascii;
        uint32_t *hkeys = realloc(p->hkeys, ch * sizeof *hkeys);
        if (hkeys)
            p->hkeys = hkeys;
        uint64_t *hmasks = realloc(p->hmasks, ch * cw * sizeof *hmasks);
        if (hmasks)
            p->hmasks = hmasks;
        uint64_t *vp = realloc(p->vp, 2 * cw * sizeof *vp);
        if (vp)
            p->vp = vp;
        if (!ascii || !hkeys || !hmasks || !vp)
            return -1;
        p->cap_words = cw;
        p->cap_h = ch;
    }
    p->m = m;
    p->words = words;
    p->hcap = hcap;
    p->vn = p->vp + words;
    memset(p->ascii, 0, 128 * words * sizeof *p->ascii);
    memset(p->hkeys, 0, hcap * sizeof *p->hkeys);
    memset(p->hmasks, 0, hcap * words * sizeof *p->hmasks);
    for (size_t i = 0; i < m; i++) {
        uint64_t *row;
        if (s[i] < 128) {
            row = p->ascii + s[i] * words;
        } else {
            size_t h = hslot(p, s[i]);
            p->hkeys[h] = s[i] + 1;
            row = p->hmasks + h * words;
        }
        row[i / 64] |= (uint64_t)1 << (i % 64);
    }
    return 0;
}

sieve_lev_pattern *sieve_lev_pattern_new(const uint32_t *s, size_t m)
{
    sieve_lev_pattern *p = calloc(1, sizeof *p);
    if (p && sieve_lev_pattern_set(p, s, m) != 0) {
        sieve_lev_pattern_free(p);
        return NULL;
    }
    return p;
}

void sieve_lev_pattern_free(sieve_lev_pattern *p)
{
    if (!p)
        return;
    free(p->ascii);
    free(p->hkeys);
    free(p->hmasks);
    free(p->vp);
    free(p);
}

static const uint64_t *masks_of(const sieve_lev_pattern *p, uint32_t cp)
{
    if (cp < 128)
        return p->ascii + cp * p->words;
    size_t h = hslot(p, cp);
    return p->hkeys[h] ? p->hmasks + h * p->words : NULL;
}

/* One column step of one 64-row block (Hyyrö 2003, blocked as in
 * rapidfuzz): the horizontal deltas entering from the block above are
 * folded into X, so no addition carry crosses blocks. */
#define LEV_STEP(eq, vp, vn, hp_in, hn_in, hp_out, hn_out)         \
    do {                                                           \
        uint64_t x_ = (eq) | (hn_in);                              \
        uint64_t d0_ = (((x_ & (vp)) + (vp)) ^ (vp)) | x_ | (vn);  \
        uint64_t hp_ = (vn) | ~(d0_ | (vp));                       \
        uint64_t hn_ = d0_ & (vp);                                 \
        hp_out = hp_;                                              \
        hn_out = hn_;                                              \
        hp_ = (hp_ << 1) | (hp_in);                                \
        hn_ = (hn_ << 1) | (hn_in);                                \
        (vp) = hn_ | ~(d0_ | hp_);                                 \
        (vn) = hp_ & d0_;                                          \
    } while (0)

size_t sieve_lev_distance(const sieve_lev_pattern *p, const uint32_t *t, size_t n)
{
    size_t m = p->m, words = p->words;
    if (m == 0)
        return n;
    if (n == 0)
        return m;
    const uint64_t last = (uint64_t)1 << ((m - 1) % 64);
    size_t score = m;
    if (words == 1) {                  /* the common short case, in registers */
        uint64_t vp = ~(uint64_t)0, vn = 0, hp, hn;
        for (size_t j = 0; j < n; j++) {
            const uint64_t *pm = masks_of(p, t[j]);
            LEV_STEP(pm ? pm[0] : 0, vp, vn, 1, 0, hp, hn);
            score += (hp & last) != 0;
            score -= (hn & last) != 0;
        }
        return score;
    }
    uint64_t *VP = p->vp, *VN = p->vn;
    for (size_t w = 0; w < words; w++) {
        VP[w] = ~(uint64_t)0;
        VN[w] = 0;
    }
    for (size_t j = 0; j < n; j++) {
        const uint64_t *pm = masks_of(p, t[j]);
        if (!pm) {
            /* A code point absent from the pattern: every Eq word is 0. */
            uint64_t hp_c = 1, hn_c = 0, hp, hn;
            for (size_t w = 0; w + 1 < words; w++) {
                LEV_STEP(0, VP[w], VN[w], hp_c, hn_c, hp, hn);
                hp_c = hp >> 63;
                hn_c = hn >> 63;
            }
            LEV_STEP(0, VP[words - 1], VN[words - 1], hp_c, hn_c, hp, hn);
            score += (hp & last) != 0;
            score -= (hn & last) != 0;
            continue;
        }
        /* The horizontal delta entering the top row is +1 (D[0][j] = j). */
        uint64_t hp_c = 1, hn_c = 0, hp, hn;
        for (size_t w = 0; w + 1 < words; w++) {
            LEV_STEP(pm[w], VP[w], VN[w], hp_c, hn_c, hp, hn);
            hp_c = hp >> 63;
            hn_c = hn >> 63;
        }
        LEV_STEP(pm[words - 1], VP[words - 1], VN[words - 1], hp_c, hn_c, hp, hn);
        score += (hp & last) != 0;
        score -= (hn & last) != 0;
    }
    return score;
}

long sieve_lev_distance_ws(sieve_lev_pattern *ws, const uint32_t *a, size_t m,
                           const uint32_t *b, size_t n)
{
    /* A common prefix or suffix never changes the distance, and paths of one
     * question share much of both: only the middle goes through Myers. */
    while (m && n && a[0] == b[0])
        a++, b++, m--, n--;
    while (m && n && a[m - 1] == b[n - 1])
        m--, n--;
    if (!m || !n)
        return (long)(m + n);
    if (m > n) {                       /* the shorter one as the pattern: fewer words */
        const uint32_t *t = a;
        a = b;
        b = t;
        size_t k = m;
        m = n;
        n = k;
    }
    if (sieve_lev_pattern_set(ws, a, m) != 0)
        return -1;
    return (long)sieve_lev_distance(ws, b, n);
}

long sieve_lev_distance2(const uint32_t *a, size_t m, const uint32_t *b, size_t n)
{
    sieve_lev_pattern *ws = sieve_lev_pattern_new(NULL, 0);
    if (!ws)
        return -1;
    long d = sieve_lev_distance_ws(ws, a, m, b, n);
    sieve_lev_pattern_free(ws);
    return d;
}
