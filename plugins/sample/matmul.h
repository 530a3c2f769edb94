/* Row-invariant matmul for the sampler: out[M,N] = in[M,K] · w[N,K]^T.
 *
 * Every output element is one accumulator that adds in[m,k] * w[n,k] as one
 * fused multiply-add for k = 0, 1, ..., K-1 in order, whatever M, the tile it
 * falls in, or the thread that runs it. So a sequence's logits are
 * bit-identical alone, in a batch of 64, at 1 or 16 threads, and in a cached
 * decode step or a full forward over its prefix. OpenBLAS gives no such
 * promise (its kernels change with M and its thread split), which is why the
 * sampler carries its own.
 *
 * Weights are repacked once (smp_pack) into panels of SMP_PANEL columns
 * stored k-major, as BLIS does: the kernel streams each panel contiguously.
 * With AVX-512 a panel is 48 columns and an 8 x 48 register tile does 24
 * multiply-adds per 3 weight loads and 8 broadcasts; with AVX2, 24 columns
 * and 4 x 24 tiles. (OpenBLAS 0.3.21 runs its AVX2 kernels on AVX-512
 * machines such as Zen 5, so this is also where the sampler beats it.) The
 * stage gives the model's own matrices back once they are packed. */
#ifndef SIEVE_SAMPLE_MATMUL_H
#define SIEVE_SAMPLE_MATMUL_H

#include "sieve/pool.h"

/* Columns per packed panel: three vectors of the widest registers built for. */
#if defined(__AVX512F__)
#define SMP_PANEL 48
#else
#define SMP_PANEL 24
#endif

/* w[N,K] as ceil(N/SMP_PANEL) panels of [K][SMP_PANEL] floats (columns past N
 * are zero). */
typedef struct smp_packed {
    float *p;
    int N, K;
} smp_packed;

/* 0, or -1 when out of memory. */
int smp_pack(smp_packed *pw, const float *w, int N, int K);
void smp_packed_free(smp_packed *pw);   /* zeroed struct is fine */

/* One weight applied to a shared input; out rows have stride w->N. */
typedef struct smp_mm {
    float *out;
    const smp_packed *w;
} smp_mm;

/* Runs n (<= 4) products over the same input in one pool job (q/k/v or
 * gate/up share their input). Every w must have K columns. */
void smp_matmul_multi(sieve_pool *pool, const float *in, int M, int K, const smp_mm *mm, int n);
void smp_matmul(sieve_pool *pool, float *out, const float *in, const smp_packed *w, int M);

#endif
