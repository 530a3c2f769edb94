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
};

static size_t hslot(const sieve_lev_pattern *p, uint32_t cp)
{
    size_t h = (cp * 2654435761u) & (p->hcap - 1);
    while (p->hkeys[h] && p->hkeys[h] != cp + 1)
        h = (h + 1) & (p->hcap - 1);
    return h;
}

sieve_lev_pattern *sieve_lev_pattern_new(const uint32_t *s, size_t m)
{
    sieve_lev_pattern *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->m = m;
    p->words = m ? (m + 63) / 64 : 1;
    size_t non_ascii = 0;
    for (size_t i = 0; i < m; i++)
        non_ascii += s[i] >= 128;
    p->hcap = 1;
    while (p->hcap < 2 * non_ascii + 1)
        p->hcap *= 2;
    p->ascii = calloc(128 * p->words, sizeof *p->ascii);
    p->hkeys = calloc(p->hcap, sizeof *p->hkeys);
    p->hmasks = calloc(p->hcap * p->words, sizeof *p->hmasks);
    p->vp = malloc(2 * p->words * sizeof *p->vp);
    if (!p->ascii || !p->hkeys || !p->hmasks || !p->vp) {
        sieve_lev_pattern_free(p);
        return NULL;
    }
    p->vn = p->vp + p->words;
    for (size_t i = 0; i < m; i++) {
        uint64_t *row;
        if (s[i] < 128) {
            row = p->ascii + s[i] * p->words;
        } else {
            size_t h = hslot(p, s[i]);
            p->hkeys[h] = s[i] + 1;
            row = p->hmasks + h * p->words;
        }
        row[i / 64] |= (uint64_t)1 << (i % 64);
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

size_t sieve_lev_distance(const sieve_lev_pattern *p, const uint32_t *t, size_t n)
{
    size_t m = p->m, words = p->words;
    if (m == 0)
        return n;
    if (n == 0)
        return m;
    uint64_t *VP = p->vp, *VN = p->vn;
    for (size_t w = 0; w < words; w++) {
        VP[w] = ~(uint64_t)0;
        VN[w] = 0;
    }
    const uint64_t last = (uint64_t)1 << ((m - 1) % 64);
    size_t score = m;
    for (size_t j = 0; j < n; j++) {
        const uint64_t *pm = masks_of(p, t[j]);
        /* The horizontal delta entering the top row is +1 (D[0][j] = j). */
        uint64_t hp_carry = 1, hn_carry = 0;
        for (size_t w = 0; w < words; w++) {
            uint64_t eq = pm ? pm[w] : 0;
            uint64_t vp = VP[w], vn = VN[w];
            uint64_t x = eq | hn_carry;
            uint64_t d0 = (((x & vp) + vp) ^ vp) | x | vn;
            uint64_t hp = vn | ~(d0 | vp);
            uint64_t hn = d0 & vp;
            uint64_t hp_in = hp_carry, hn_in = hn_carry;
            if (w + 1 < words) {
                hp_carry = hp >> 63;
                hn_carry = hn >> 63;
            } else {
                hp_carry = (hp & last) != 0;
                hn_carry = (hn & last) != 0;
            }
            hp = (hp << 1) | hp_in;
            hn = (hn << 1) | hn_in;
            VP[w] = hn | ~(d0 | hp);
            VN[w] = hp & d0;
        }
        score += hp_carry;
        score -= hn_carry;
    }
    return score;
}

long sieve_lev_distance2(const uint32_t *a, size_t m, const uint32_t *b, size_t n)
{
    sieve_lev_pattern *p = sieve_lev_pattern_new(a, m);
    if (!p)
        return -1;
    long d = (long)sieve_lev_distance(p, b, n);
    sieve_lev_pattern_free(p);
    return d;
}
