/* Token choice (see pick.h). The filtered distribution follows Hugging Face's
 * logits warpers in their usual order: temperature, then top-k (keep the k
 * largest), then top-p (keep the smallest set of largest-probability tokens
 * whose mass reaches p, always at least one). The draw walks the kept tokens
 * from most to least likely (ties by lower id) until the cumulative
 * probability passes u: a fixed order, so the choice depends only on the
 * logits and u. */
#include "pick.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define PH_M0 0xD2511F53u
#define PH_M1 0xCD9E8D57u
#define PH_W0 0x9E3779B9u
#define PH_W1 0xBB67AE85u

void smp_philox(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PH_M0 * c0, p1 = (uint64_t)PH_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PH_W0;
        k1 += PH_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

double smp_uniform(uint64_t seed, uint64_t qid, uint32_t sample_index, uint32_t position)
{
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t ctr[4] = {(uint32_t)qid, (uint32_t)(qid >> 32), sample_index, position};
    uint32_t o[4];
    smp_philox(key, ctr, o);
    uint64_t bits = ((uint64_t)o[0] << 21) ^ ((uint64_t)o[1] >> 11);   /* 53 bits */
    return (double)(bits & ((UINT64_C(1) << 53) - 1)) * 0x1.0p-53;
}

uint64_t smp_hash_str(const char *s, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

int smp_pick_buf_init(smp_pick_buf *b, int V)
{
    b->V = V;
    b->idx = malloc((size_t)V * sizeof *b->idx);
    b->p = malloc((size_t)V * sizeof *b->p);
    b->e = malloc((size_t)V * sizeof *b->e);
    return b->idx && b->p && b->e ? 0 : -1;
}

void smp_pick_buf_free(smp_pick_buf *b)
{
    free(b->idx);
    free(b->p);
    free(b->e);
    b->idx = NULL;
    b->p = NULL;
    b->e = NULL;
}

#define EXP_UNROLL 4

/* Sums in double in a fixed order: eight lane sums (lane j takes i = j mod 8,
 * in index order), then a fixed pairwise sum. No long chain of dependent
 * additions over the whole vocabulary. */
static double lanes_total(const double l[8])
{
    return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

#if defined(__AVX512F__)
/* The lane sums of 16 values: elements 0-7 then 8-15 into the eight lanes,
 * in registers (summing them back from the stored vector made a temperature
 * 0.7 pass here 70% slower: the wide store does not forward to the reload). */
static inline __m512d lanes_add16(__m512d acc, simd_f16 v)
{
    __m512 f;
    memcpy(&f, &v, sizeof f);
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(f)));
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
    return _mm512_add_pd(acc, _mm512_cvtps_pd(hi));
}
#endif

/* out[i] = exp((x[i] - mx) * scale) for i < n; returns their sum. With z1,
 * also *z1 = the sum of exp(x[i] - mx) (the temperature-1 normalizer the
 * log-prob needs), computed in the same pass over x: the same values and
 * additions as a second call with scale 1, in one pass. */
static double exp_sum(float *out, const float *x, int n, float mx, float scale, double *z1)
{
    v8f vm = v8_set1(mx), vs = v8_set1(scale);
    double l[8] = {0}, l1[8] = {0};
    int i = 0;
#if defined(__AVX512F__)
    /* Sixteen at a time where the registers hold them: the same lane steps. */
    simd_f16 m16 = (simd_f16){0} + mx, s16 = (simd_f16){0} + scale, one16 = (simd_f16){0} + 1.0f;
    __m512d acc = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    /* Four vectors per pass: their exps are independent chains the core
     * overlaps (one exp is a long chain of dependent steps); a greedy or
     * temperature-1 pick ~20% faster than one at a time. */
    for (; i + 16 * EXP_UNROLL <= n; i += 16 * EXP_UNROLL) {
        simd_f16 d[EXP_UNROLL], v[EXP_UNROLL];
        for (int u = 0; u < EXP_UNROLL; u++) {
            memcpy(&d[u], x + i + 16 * u, sizeof d[u]);
            d[u] -= m16;
        }
        for (int u = 0; u < EXP_UNROLL; u++) v[u] = simd_exp16(d[u] * s16);
        for (int u = 0; u < EXP_UNROLL; u++) {
            memcpy(out + i + 16 * u, &v[u], sizeof v[u]);
            acc = lanes_add16(acc, v[u]);
        }
        if (z1) {
            for (int u = 0; u < EXP_UNROLL; u++) v[u] = simd_exp16(d[u] * one16);
            for (int u = 0; u < EXP_UNROLL; u++) acc1 = lanes_add16(acc1, v[u]);
        }
    }
    _mm512_storeu_pd(l, acc);
    _mm512_storeu_pd(l1, acc1);
#endif
    /* The rest (all of it without AVX-512) eight at a time, the same steps per
     * lane; a last partial group padded with exp(0). */
    for (; i < n; i += 8) {
        float t[8], e[8];
        if (i + 8 > n)
            for (int j = 0; j < 8; j++) t[j] = i + j < n ? x[i + j] : mx;
        v8f d = v8_ld(i + 8 <= n ? x + i : t) - vm;
        v8_st(e, v8_exp(d * vs));
        for (int j = 0; j < 8 && i + j < n; j++) l[j] += out[i + j] = e[j];
        if (z1) {
            v8_st(e, v8_exp(d * v8_set1(1.0f)));
            for (int j = 0; j < 8 && i + j < n; j++) l1[j] += e[j];
        }
    }
    if (z1) *z1 = lanes_total(l1);
    return lanes_total(l);
}

/* The first index i whose running sum e[0] + ... + e[i] exceeds target, or
 * n - 1. Groups of eight are skipped by their sum; inside the group that
 * crosses, the running sum goes element by element (when rounding leaves it
 * short, the walk simply goes on). */
static int first_past(const float *e, int n, double target)
{
    double cum = 0.0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        double g = (((double)e[i] + e[i + 1]) + ((double)e[i + 2] + e[i + 3])) +
                   (((double)e[i + 4] + e[i + 5]) + ((double)e[i + 6] + e[i + 7]));
        if (target < cum + g) {
            for (int j = i; j < i + 8; j++) {
                cum += e[j];
                if (target < cum) return j;
            }
        } else {
            cum += g;
        }
    }
    for (; i < n; i++) {
        cum += e[i];
        if (target < cum) return i;
    }
    return n - 1;
}

/* The largest of x[0..n). Max is exact, so lanes and their order change
 * nothing but the speed: four independent 8-lane maxima. */
static float max_of(const float *x, int n)
{
    float m = x[0];
    int i = 0;
    if (n >= 32) {
        v8f a[4];
        for (int u = 0; u < 4; u++) a[u] = v8_ld(x + 8 * u);
        for (i = 32; i + 32 <= n; i += 32)
            for (int u = 0; u < 4; u++) a[u] = v8_max(a[u], v8_ld(x + i + 8 * u));
        float l[8];
        v8_st(l, v8_max(v8_max(a[0], a[1]), v8_max(a[2], a[3])));
        for (int j = 0; j < 8; j++) m = l[j] > m ? l[j] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* The lowest id holding the largest logit (bounded: NaN logits match
 * nothing). */
static int argmax(const float *x, int n)
{
    float m = max_of(x, n);
    int i = 0;
    for (v8f vm = v8_set1(m); i + 8 < n && !v8_any_eq(v8_ld(x + i), vm); i += 8) {}
    while (i < n - 1 && x[i] != m) i++;
    return i;
}

/* log softmax(logits)[token] given mx, the largest logit. */
static double logprob_at(const float *logits, int V, int token, float mx, float *scratch)
{
    double z = exp_sum(scratch, logits, V, mx, 1.0f, NULL);
    return (double)logits[token] - mx - log(z);
}

double smp_logprob(const float *logits, int V, int token, float *scratch)
{
    return logprob_at(logits, V, token, max_of(logits, V), scratch);
}

/* Most likely first, ties by lower id. */
static int by_logit_desc(const void *a, const void *b, void *keyp)
{
    const float *key = keyp;
    int x = *(const int *)a, y = *(const int *)b;
    if (key[x] != key[y]) return key[x] > key[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* The k-th largest value of a[0..n) (k >= 1), reordering a (quickselect). */
static float kth_largest(float *a, int n, int k)
{
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float piv = a[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] > piv) i++;
            while (a[j] < piv) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    return a[want];
}

int smp_pick(const float *logits, int V, const smp_pick_cfg *cfg, double u, smp_pick_buf *b,
             double *logprob)
{
    int best = argmax(logits, V);
    int tok = best;
    if (cfg->temperature > 0.0) {
        double inv_t = 1.0 / cfg->temperature, mx = (double)logits[best] * inv_t;
        int n = 0;
        if (cfg->top_k > 0 && cfg->top_k < V) {
            /* The k largest logits (ties at the k-th by lower id), sorted. */
            for (int i = 0; i < V; i++) b->p[i] = logits[i];
            float kth = kth_largest(b->p, V, cfg->top_k);
            for (int i = 0; i < V; i++)
                if (logits[i] > kth) b->idx[n++] = i;
            for (int i = 0; i < V && n < cfg->top_k; i++)
                if (logits[i] == kth) b->idx[n++] = i;
            qsort_r(b->idx, (size_t)n, sizeof *b->idx, by_logit_desc, (void *)logits);
        } else if (cfg->top_p < 1.0) {
            /* Only tokens above (1-p)/V can be in the nucleus: those below it
             * hold less than 1-p of the mass together. Sort just those. */
            double z = exp_sum(b->p, logits, V, logits[best], (float)inv_t, NULL);
            /* 0.5: margin for the float weights here against the double
             * ones below. */
            double floor_p = (1.0 - cfg->top_p) / V * 0.5;
            for (int i = 0; i < V; i++)
                if (b->p[i] / z > floor_p) b->idx[n++] = i;
            qsort_r(b->idx, (size_t)n, sizeof *b->idx, by_logit_desc, (void *)logits);
        } else {
            /* No filter: every token in id order (any fixed order draws from
             * the same distribution), weights in one vector pass. */
            float *e = b->p;
            double z1, z = exp_sum(e, logits, V, logits[best], (float)inv_t,
                                   logprob && inv_t != 1.0 ? &z1 : NULL);
            tok = first_past(e, V, u * z);
            if (logprob)
                *logprob = (double)logits[tok] - logits[best] - log(inv_t == 1.0 ? z : z1);
            return tok;
        }
        /* e[i]: unnormalized probability of the i-th candidate, computed once. */
        double *e = b->e, z = 0.0;
        for (int i = 0; i < n; i++) {
            e[i] = exp((double)logits[b->idx[i]] * inv_t - mx);
            z += e[i];
        }
        if (cfg->top_p < 1.0) {
            double cum = 0.0, zk = 0.0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                cum += e[i] / z;
                zk += e[i];
                if (cum >= cfg->top_p) {
                    keep = i + 1;
                    break;
                }
            }
            n = keep;
            z = zk;
        }
        double target = u * z, cum = 0.0;
        tok = b->idx[n - 1];
        for (int i = 0; i < n; i++) {
            cum += e[i];
            if (target < cum) {
                tok = b->idx[i];
                break;
            }
        }
    }
    if (logprob) *logprob = logprob_at(logits, V, tok, logits[best], b->p);
    return tok;
}
