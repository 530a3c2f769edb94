/* matmul on OpenBLAS: out[M,N] = in[M,K] w[N,K]^T, split across the pool.
 *
 * The longer of M and N is cut into blocks, each a single-threaded SGEMM run
 * by a pool thread. Either way an output element is one BLAS dot over K,
 * never split across threads. With the batch_invariant option it runs
 * through the sampler's row-invariant kernel instead (plugins/simd/rowmm.h),
 * whose rows do not depend on M or on a row's place in the batch. */
#include "kcpu.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

typedef struct {
    float *out;
    const float *in, *w;
    int M, N, K, parts, by_rows;
    float beta;
} mm_job;

static void mm_task(void *arg, int t)
{
    const mm_job *j = arg;
    long lo, hi;
    if (j->by_rows) {
        kcpu_range(j->M, j->parts, t, &lo, &hi);
        if (hi <= lo) return;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), j->N, j->K,
                    1.0f, j->in + lo * j->K, j->K, j->w, j->K, j->beta,
                    j->out + lo * j->N, j->N);
    } else {
        kcpu_range(j->N, j->parts, t, &lo, &hi);
        if (hi <= lo) return;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->M, (int)(hi - lo), j->K,
                    1.0f, j->in, j->K, j->w + lo * j->K, j->K, j->beta,
                    j->out + lo, j->N);
    }
}

/* The weights are packed on every call, into memory kept in the context:
 * O(N K) against the O(M N K) of the product, for the score stage's batches
 * of whole sequences. */
static void matmul_bi(sieve_kctx *kc, float *out, const float *in, const float *w,
                      int M, int N, int K, int accumulate)
{
    float *dst = accumulate ? malloc((size_t)M * N * sizeof *dst) : out;
    if (!dst || sieve_rowmm_pack(kc->pool, &kc->bi_w, w, N, K)) {
        /* The vtable has no error path: out of memory shows as NaN rows. */
        for (size_t i = 0; i < (size_t)M * N; i++) out[i] = NAN;
    } else {
        sieve_rowmm_matmul(kc->pool, dst, in, &kc->bi_w, M);
        if (accumulate)
            for (size_t i = 0; i < (size_t)M * N; i++) out[i] += dst[i];
    }
    if (dst != out) free(dst);
}

void kcpu_matmul(sieve_kctx *kc, float *out, const float *in, const float *w,
                 int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    if (kc->batch_invariant) {
        matmul_bi(kc, out, in, w, M, N, K, accumulate);
        return;
    }
    /* Several tasks per thread, so a thread that the OS preempts does not
     * hold the others up at the join. Split the longer side: columns when
     * N >= M (the vocabulary projection: each task packs only its slice of
     * w), rows otherwise (each task packs only its rows of in). */
    int most = 4 * kc->threads;
    mm_job j = {out, in, w, M, N, K, 1, N < M, accumulate ? 1.0f : 0.0f};
    long per = j.by_rows ? M / 16 : N / 64;
    j.parts = per < 1 ? 1 : per < most ? (int)per : most;
    sieve_pool_run(kc->pool, j.parts, mm_task, &j);
}
