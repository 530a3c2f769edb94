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

/* out[i] = exp((x[i] - mx) * scale) for i < n; returns their sum (in
 * double, in index order). */
static double exp_sum(float *out, const float *x, int n, float mx, float scale)
{
    v8f vm = v8_set1(mx), vs = v8_set1(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8) v8_st(out + i, v8_exp((v8_ld(x + i) - vm) * vs));
    if (i < n) {
        float t[8];
        for (int j = 0; j < 8; j++) t[j] = i + j < n ? x[i + j] : mx;
        v8_st(t, v8_exp((v8_ld(t) - vm) * vs));
        memcpy(out + i, t, (size_t)(n - i) * sizeof *t);
    }
    double z = 0.0;
    for (i = 0; i < n; i++) z += out[i];
    return z;
}

static float max_of(const float *x, int n)
{
    float m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

double smp_logprob(const float *logits, int V, int token, float *scratch)
{
    float mx = max_of(logits, V);
    double z = exp_sum(scratch, logits, V, mx, 1.0f);
    return (double)logits[token] - mx - log(z);
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
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
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
            double z = exp_sum(b->p, logits, V, logits[best], (float)inv_t);
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
            double z = exp_sum(e, logits, V, logits[best], (float)inv_t);
            double target = u * z, cum = 0.0;
            tok = V - 1;
            for (int i = 0; i < V; i++) {
                cum += e[i];
                if (target < cum) {
                    tok = i;
                    break;
                }
            }
            if (logprob)
                *logprob = inv_t == 1.0 ? (double)logits[tok] - logits[best] - log(z)
                                        : smp_logprob(logits, V, tok, b->p);
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
    if (logprob) *logprob = smp_logprob(logits, V, tok, b->p);
    return tok;
}
