/* Row-invariant matmul for the sampler: out[M,N] = in[M,K] · w[N,K]^T.
 *
 * Every output element is computed by the same instruction sequence whatever
 * M, N, the tile it falls in, or the thread that runs it: eight lane
 * accumulators over k = 0, 8, 16, ... (one multiply-add per lane, in k order),
 * a fixed pairwise horizontal sum, then the K % 8 tail in k order. So a
 * sequence's logits are bit-identical alone, in a batch of 64, at 1 or 16
 * threads, and in a cached decode step or a full forward over its prefix.
 * OpenBLAS gives no such promise (its kernels change with M and its
 * thread split), which is why the sampler carries its own. */
#ifndef SIEVE_SAMPLE_MATMUL_H
#define SIEVE_SAMPLE_MATMUL_H

#include "sieve/pool.h"

/* One weight applied to a shared input: out[M,N] = in[M,K] w[N,K]^T. */
typedef struct smp_mm {
    float *out;
    const float *w;
    int N;
} smp_mm;

/* Runs n (<= 4) products over the same input in one pool job (q/k/v or
 * gate/up share their input). out rows have stride N (contiguous). */
void smp_matmul_multi(sieve_pool *pool, const float *in, int M, int K, const smp_mm *mm, int n);
void smp_matmul(sieve_pool *pool, float *out, const float *in, const float *w, int M, int N,
                int K);

#endif
