/* Batch-invariant matmul: out[M,N] = in[M,K] w[N,K]^T without BLAS.
 *
 * Every output element is one accumulator that adds in[m,k] * w[n,k] for
 * k = 0, 1, ..., K-1 in order, whatever tile, thread or call computed it.
 * So a row's results never depend on M, on the row's position or on the
 * batch it came in: a sequence gives the same bits alone, batched, as a
 * prefill or one decode step at a time (OpenBLAS does not promise this; its
 * results change with M and with a row's offset).
 *
 * Layout as in BLIS: a task owns GEMM_NB columns of w, packs them k-major in
 * panels of 16 (zero-padded past N), then runs every group of 6 rows of `in`
 * over each panel with a 6 x 16 register tile (12 accumulators, 2 w vectors,
 * 1 broadcast). */
#include <stdlib.h>
#include <string.h>

#include "kcpu.h"
#include "vexp.h"

#define GEMM_MR 6
#define GEMM_NR 16
#ifndef GEMM_NB
#define GEMM_NB 64
#endif

static inline __attribute__((always_inline)) void tile(const float *x, const float *pk,
                                                       float *out, int K, int N, int R,
                                                       int cols, int accumulate)
{
    v8f c0[GEMM_MR], c1[GEMM_MR];
    for (int r = 0; r < R; r++) c0[r] = c1[r] = v8f_set1(0.0f);
    for (int k = 0; k < K; k++) {
        v8f w0 = v8f_load(pk + (size_t)k * GEMM_NR), w1 = v8f_load(pk + (size_t)k * GEMM_NR + 8);
        for (int r = 0; r < R; r++) {
            v8f xb = v8f_set1(x[(size_t)r * K + k]);
            c0[r] += xb * w0;
            c1[r] += xb * w1;
        }
    }
    for (int r = 0; r < R; r++) {
        float buf[GEMM_NR];
        v8f_store(buf, c0[r]);
        v8f_store(buf + 8, c1[r]);
        float *o = out + (size_t)r * N;
        if (accumulate)
            for (int c = 0; c < cols; c++) o[c] += buf[c];
        else
            memcpy(o, buf, (size_t)cols * sizeof *o);
    }
}

#define TILE(R) \
    static void tile_##R(const float *x, const float *pk, float *out, int K, int N, \
                         int cols, int acc) { tile(x, pk, out, K, N, R, cols, acc); }
TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6)

typedef void (*tile_fn)(const float *, const float *, float *, int, int, int, int);
static const tile_fn tiles[GEMM_MR + 1] = {NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

typedef struct {
    float *out;
    const float *in, *w;
    int M, N, K, accumulate;
} bi_job;

static void bi_task(void *arg, int t)
{
    const bi_job *j = arg;
    int n0 = t * GEMM_NB, n1 = n0 + GEMM_NB < j->N ? n0 + GEMM_NB : j->N;
    int panels = (n1 - n0 + GEMM_NR - 1) / GEMM_NR, K = j->K;
    float *pk = aligned_alloc(64, (size_t)panels * K * GEMM_NR * sizeof *pk + 64);
    if (!pk) return;   /* cannot happen in practice; leaves out unchanged */
    /* pack: panel p holds columns n0 + 16p .. +15 as [K][16] */
    for (int p = 0; p < panels; p++) {
        float *dst = pk + (size_t)p * K * GEMM_NR;
        for (int c = 0; c < GEMM_NR; c++) {
            int n = n0 + p * GEMM_NR + c;
            const float *src = j->w + (size_t)n * K;
            if (n < n1)
                for (int k = 0; k < K; k++) dst[(size_t)k * GEMM_NR + c] = src[k];
            else
                for (int k = 0; k < K; k++) dst[(size_t)k * GEMM_NR + c] = 0.0f;
        }
    }
    for (int m = 0; m < j->M; m += GEMM_MR) {
        int R = j->M - m < GEMM_MR ? j->M - m : GEMM_MR;
        const float *x = j->in + (size_t)m * K;
        for (int p = 0; p < panels; p++) {
            int c0 = n0 + p * GEMM_NR;
            int cols = n1 - c0 < GEMM_NR ? n1 - c0 : GEMM_NR;
            tiles[R](x, pk + (size_t)p * K * GEMM_NR, j->out + (size_t)m * j->N + c0, K,
                     j->N, cols, j->accumulate);
        }
    }
    free(pk);
}

void kcpu_matmul_bi(sieve_kctx *kc, float *out, const float *in, const float *w,
                    int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    bi_job j = {out, in, w, M, N, K, accumulate};
    sieve_pool_run(kc->pool, (N + GEMM_NB - 1) / GEMM_NB, bi_task, &j);
}
