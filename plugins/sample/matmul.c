/* Row-invariant matmul (see matmul.h). Tiles of up to 4 rows x 3 columns keep
 * twelve 8-lane accumulators in registers; tiles only decide which elements
 * share a pass over k, never how one element is summed. Columns are cut into
 * blocks (sized from K only) handed to the pool. */
#include "matmul.h"

#include <string.h>

#include "vec.h"

#define MM_L1_BYTES 20480   /* weights per task: most of a 32 KB L1 */
#define MM_RM 4
#define MM_RN 3

static inline __attribute__((always_inline)) void tile(int rm, int rn, float *out, int ldo,
                                                       const float *in, const float *w,
                                                       int K)
{
    v8f acc[MM_RM][MM_RN];
    for (int i = 0; i < rm; i++)
        for (int j = 0; j < rn; j++) acc[i][j] = v8_zero();
    int K8 = K & ~7;
    for (int k = 0; k < K8; k += 8) {
        v8f wv[MM_RN];
        for (int j = 0; j < rn; j++) wv[j] = v8_ld(w + (size_t)j * K + k);
        for (int i = 0; i < rm; i++) {
            v8f a = v8_ld(in + (size_t)i * K + k);
            for (int j = 0; j < rn; j++) acc[i][j] = V8_FMA(a, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < rm; i++) {
        for (int j = 0; j < rn; j++) {
            float s = v8_hsum(acc[i][j]);
            const float *a = in + (size_t)i * K, *b = w + (size_t)j * K;
            for (int k = K8; k < K; k++) s += a[k] * b[k];
            out[(size_t)i * ldo + j] = s;
        }
    }
}

/* Columns [n0, n1) of every row. The block's weights are sized to stay in
 * L1 while every row tile passes over them. */
static void block(float *out, const float *in, const float *w, int M, int N, int K, int n0,
                  int n1)
{
    for (int m = 0; m < M; m += MM_RM) {
        int rm = M - m < MM_RM ? M - m : MM_RM;
        for (int n = n0; n < n1; n += MM_RN) {
            int rn = n1 - n < MM_RN ? n1 - n : MM_RN;
            const float *wb = w + (size_t)n * K;
            float *o = out + (size_t)m * N + n;
            const float *a = in + (size_t)m * K;
            /* Constant tile shapes, so each is compiled with its accumulators
             * in registers. */
            switch (rm * 4 + rn) {
            case 4 * 4 + 3: tile(4, 3, o, N, a, wb, K); break;
            case 4 * 4 + 2: tile(4, 2, o, N, a, wb, K); break;
            case 4 * 4 + 1: tile(4, 1, o, N, a, wb, K); break;
            case 3 * 4 + 3: tile(3, 3, o, N, a, wb, K); break;
            case 3 * 4 + 2: tile(3, 2, o, N, a, wb, K); break;
            case 3 * 4 + 1: tile(3, 1, o, N, a, wb, K); break;
            case 2 * 4 + 3: tile(2, 3, o, N, a, wb, K); break;
            case 2 * 4 + 2: tile(2, 2, o, N, a, wb, K); break;
            case 2 * 4 + 1: tile(2, 1, o, N, a, wb, K); break;
            case 1 * 4 + 3: tile(1, 3, o, N, a, wb, K); break;
            case 1 * 4 + 2: tile(1, 2, o, N, a, wb, K); break;
            default: tile(1, 1, o, N, a, wb, K); break;
            }
        }
    }
}

typedef struct {
    const float *in;
    int M, K, n, cb;  /* cb: columns per task */
    const smp_mm *mm;
    int first[5];   /* first task of each product; first[n] = total */
} mm_job;

static void mm_task(void *arg, int t)
{
    const mm_job *j = arg;
    int p = 0;
    while (t >= j->first[p + 1]) p++;
    const smp_mm *m = &j->mm[p];
    int n0 = (t - j->first[p]) * j->cb;
    int n1 = n0 + j->cb < m->N ? n0 + j->cb : m->N;
    block(m->out, j->in, m->w, j->M, m->N, j->K, n0, n1);
}

void smp_matmul_multi(sieve_pool *pool, const float *in, int M, int K, const smp_mm *mm, int n)
{
    if (M <= 0 || n <= 0 || n > 4) return;
    int cb = MM_L1_BYTES / (K * (int)sizeof(float)) / MM_RN * MM_RN;
    cb = cb < MM_RN ? MM_RN : cb > 96 ? 96 : cb;
    mm_job j = {in, M, K, n, cb, mm, {0}};
    for (int i = 0; i < n; i++) j.first[i + 1] = j.first[i] + (mm[i].N + cb - 1) / cb;
    sieve_pool_run(pool, j.first[n], mm_task, &j);
}

void smp_matmul(sieve_pool *pool, float *out, const float *in, const float *w, int M, int N,
                int K)
{
    smp_mm mm = {out, w, N};
    smp_matmul_multi(pool, in, M, K, &mm, 1);
}
