/* matmul on OpenBLAS: out[M,N] = in[M,K] w[N,K]^T, split across the pool.
 *
 * Large M is cut into row blocks (each thread runs a single-threaded SGEMM on
 * its rows), small M (decode) into column blocks of w. Either way an output
 * element is one BLAS dot over K, never split across threads. */
#include "kcpu.h"

#include <cblas.h>

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

void kcpu_matmul(sieve_kctx *kc, float *out, const float *in, const float *w,
                 int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    if (kc->batch_invariant) {
        kcpu_matmul_bi(kc, out, in, w, M, N, K, accumulate);
        return;
    }
    int threads = kc->threads;
    mm_job j = {out, in, w, M, N, K, threads, 1, accumulate ? 1.0f : 0.0f};
    /* Rows when every thread gets a worthwhile block; columns otherwise. */
    if (M < 16 * threads) {
        j.by_rows = 0;
        j.parts = N >= 64 * threads ? threads : 1;
    }
    kpool_run(kc->pool, j.parts, mm_task, &j);
}
