/* Row-invariant matmul: out[M,N] = in[M,K] · w[N,K]^T.
 *
 * Every output element is one accumulator that adds in[m,k] * w[n,k] as one
 * multiply-add (fused when the build has FMA) for k = 0, 1, ..., K-1 in
 * order, whatever M, the tile it falls in, or the thread that runs it. So a
 * sequence's logits are bit-identical alone, in a batch of 64, at 1 or 16
 * threads, and in a cached decode step or a full forward over its prefix.
 * OpenBLAS gives no such promise (its kernels change with M and its thread
 * split). The sampler runs every product through it, and kernels-cpu's
 * matmul does when asked for batch invariance (the score stage's option).
 *
 * Weights are repacked (sieve_rowmm_pack) into panels of columns stored
 * k-major, as BLIS does: the kernel streams each panel contiguously. With
 * AVX-512 a panel is 48 columns and an 8 x 48 register tile does 24
 * multiply-adds per 3 weight loads and 8 broadcasts; with AVX2, 24 columns
 * and 4 x 24 tiles. (OpenBLAS 0.3.21 runs its AVX2 kernels on
 * AVX-512 machines such as Zen 5, so this is also where it beats OpenBLAS.) */
#ifndef SIEVE_SIMD_ROWMM_H
#define SIEVE_SIMD_ROWMM_H

#include <stddef.h>

#include "sieve/pool.h"

/* w[N,K] repacked into panels (columns past N are zero); the panel width is
 * rowmm.c's business, chosen for the registers it was built for. */
typedef struct sieve_rowmm_packed {
    float *p;
    size_t cap;   /* floats allocated at p */
    int N, K;
} sieve_rowmm_packed;

/* Packs on the pool's threads (pool NULL: on the caller's) into *pw, which is
 * zeroed or holds an earlier packing: its memory is reused when large enough
 * (fresh pages for every call cost more in page faults than the packing).
 * 0, or -1 when out of memory. */
int sieve_rowmm_pack(sieve_pool *pool, sieve_rowmm_packed *pw, const float *w, int N, int K);
void sieve_rowmm_free(sieve_rowmm_packed *pw);   /* zeroed struct is fine */

/* One weight applied to a shared input; out rows have stride w->N. */
typedef struct sieve_rowmm_product {
    float *out;
    const sieve_rowmm_packed *w;
} sieve_rowmm_product;

/* Runs n (<= 4) products over the same input in one pool job (q/k/v or
 * gate/up share their input). Every w must have K columns. */
void sieve_rowmm_matmul_multi(sieve_pool *pool, const float *in, int M, int K,
                              const sieve_rowmm_product *mm, int n);
void sieve_rowmm_matmul(sieve_pool *pool, float *out, const float *in,
                        const sieve_rowmm_packed *w, int M);

#endif
