/* Batch-invariant matmul: out[M,N] = in[M,K] w[N,K]^T without BLAS.
 *
 * Every output element has its own 8-lane accumulator that runs over k in
 * steps of 8, then a fixed-order horizontal sum, then the k % 8 tail in order.
 * That sequence does not depend on M, on the element's row or column, on the
 * tile shape that computed it or on the thread: a row scores the same alone,
 * in a batch, as a prefill or as one decode step (OpenBLAS does not promise
 * this; its results change with M and with a row's offset).
 *
 * Register tiles of 3 rows x 4 columns (12 accumulators + 3 x + 1 w = 16
 * vector registers); W is walked in blocks of GEMM_NB rows that stay in L2
 * while every row of `in` passes over them; blocks are the pool's tasks. */
#include "kcpu.h"
#include "vexp.h"

#define GEMM_MR 3
#define GEMM_NR 4
#ifndef GEMM_NB
#define GEMM_NB 64
#endif

static inline __attribute__((always_inline)) void tile(const float *x, const float *w,
                                                       float *out, int K, int N, int R,
                                                       int C, int accumulate)
{
    v8f acc[GEMM_MR][GEMM_NR];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = v8f_set1(0.0f);
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        v8f xv[GEMM_MR];
        for (int r = 0; r < R; r++) xv[r] = v8f_load(x + (size_t)r * K + k);
        for (int c = 0; c < C; c++) {
            v8f wv = v8f_load(w + (size_t)c * K + k);
            for (int r = 0; r < R; r++) acc[r][c] += xv[r] * wv;
        }
    }
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) {
            float s = v8f_hsum(acc[r][c]);
            for (int kk = k; kk < K; kk++) s += x[(size_t)r * K + kk] * w[(size_t)c * K + kk];
            float *o = out + (size_t)r * N + c;
            *o = accumulate ? *o + s : s;
        }
    }
}

#define TILE(R, C) \
    static void tile_##R##_##C(const float *x, const float *w, float *out, int K, int N, \
                               int acc) { tile(x, w, out, K, N, R, C, acc); }
TILE(3, 4) TILE(3, 1) TILE(2, 4) TILE(2, 1) TILE(1, 4) TILE(1, 1)

typedef void (*tile_fn)(const float *, const float *, float *, int, int, int);
static const tile_fn tiles[4][2] = {
    {NULL, NULL}, {tile_1_1, tile_1_4}, {tile_2_1, tile_2_4}, {tile_3_1, tile_3_4},
};

typedef struct {
    float *out;
    const float *in, *w;
    int M, N, K, accumulate;
} bi_job;

static void bi_task(void *arg, int t)
{
    const bi_job *j = arg;
    int n0 = t * GEMM_NB, n1 = n0 + GEMM_NB < j->N ? n0 + GEMM_NB : j->N;
    for (int m = 0; m < j->M; m += GEMM_MR) {
        int R = j->M - m < GEMM_MR ? j->M - m : GEMM_MR;
        const float *x = j->in + (size_t)m * j->K;
        float *o = j->out + (size_t)m * j->N;
        int n = n0;
        for (; n + GEMM_NR <= n1; n += GEMM_NR)
            tiles[R][1](x, j->w + (size_t)n * j->K, o + n, j->K, j->N, j->accumulate);
        for (; n < n1; n++)
            tiles[R][0](x, j->w + (size_t)n * j->K, o + n, j->K, j->N, j->accumulate);
    }
}

void kcpu_matmul_bi(sieve_kctx *kc, float *out, const float *in, const float *w,
                    int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    bi_job j = {out, in, w, M, N, K, accumulate};
    kpool_run(kc->pool, (N + GEMM_NB - 1) / GEMM_NB, bi_task, &j);
}
