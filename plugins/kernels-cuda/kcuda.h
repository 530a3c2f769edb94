/* Internals shared by the CUDA kernel files: the context (stream, cuBLAS,
 * scratch, first error) and the entry points that plugin.c puts into the
 * vtable. Included from C (the glue) and from CUDA C++ (the kernels). */
#ifndef SIEVE_KCUDA_H
#define SIEVE_KCUDA_H

#include <cuda_runtime_api.h>

#include "sieve/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How matmul multiplies (SIEVE_CUDA_MATMUL=f32|tf32|bf16, or SIEVE_CUDA_TF32=1):
 *   f32   IEEE f32 products and sums (CUBLAS_COMPUTE_32F, no tensor-core
 *         down-conversion): matches kernels-cpu within 1e-4. The default.
 *   tf32  inputs rounded to TF32 (10-bit mantissa) inside cuBLAS, f32 sums.
 *   bf16  both operands converted to bf16 copies (round to nearest even) in
 *         scratch memory before every GEMM, f32 accumulate and f32 output;
 *         weights, gradients and optimizer state stay f32 (master weights).
 * Only matmul and matmul_backward change; every other kernel is f32. */
typedef enum kcuda_mode { KCUDA_F32 = 0, KCUDA_TF32 = 1, KCUDA_BF16 = 2 } kcuda_mode;

typedef struct kcuda_blas kcuda_blas;   /* blas.c: cuBLAS, loaded on first use */

struct sieve_kctx {
    int device;
    cudaStream_t stream;     /* every call is queued here, in call order */
    kcuda_blas *blas;
    kcuda_mode mode;
    int batch_invariant;     /* kctx_option "batch_invariant": matmul_fixed_order */
    void *scratch;           /* device scratch, grown on demand (kcuda_scratch) */
    size_t scratch_bytes;
    int failed;              /* a CUDA or cuBLAS call failed: see err */
    char err[512];           /* the first failure, for sieve_kernels_cuda_error() */
};

/* ctx_mem.c */
sieve_status kcuda_kctx_new(int threads, sieve_kctx **out, sieve_err *err);
void kcuda_kctx_free(sieve_kctx *kc);
int kcuda_kctx_threads(const sieve_kctx *kc);
sieve_status kcuda_kctx_option(sieve_kctx *kc, const char *name, int value, sieve_err *err);
void *kcuda_alloc(sieve_kctx *kc, size_t bytes, sieve_err *err);
void kcuda_free(sieve_kctx *kc, void *p);
void kcuda_zero(sieve_kctx *kc, void *p, size_t bytes);
void kcuda_copy_to_device(sieve_kctx *kc, void *dst, const void *host_src, size_t bytes);
void kcuda_copy_to_host(sieve_kctx *kc, void *host_dst, const void *src, size_t bytes);
void kcuda_copy(sieve_kctx *kc, void *dst, const void *src, size_t bytes);
void kcuda_sync(sieve_kctx *kc);
/* Records the first failure (e != cudaSuccess) as "what: CUDA error text". */
void kcuda_check(sieve_kctx *kc, cudaError_t e, const char *what);
/* Records a failure that is not a CUDA error code. */
void kcuda_fail(sieve_kctx *kc, const char *what);
/* At least `bytes` of device scratch, valid until the next kcuda_scratch call
 * (stream order makes reuse by the next kernel call safe). NULL on failure. */
void *kcuda_scratch(sieve_kctx *kc, size_t bytes);

/* blas.c */
sieve_status kcuda_blas_open(sieve_kctx *kc, sieve_err *err);
void kcuda_blas_close(sieve_kctx *kc);
void kcuda_matmul(sieve_kctx *kc, float *out, const float *in, const float *w,
                  int M, int N, int K, int accumulate);
void kcuda_matmul_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                           const float *in, const float *w, int M, int N, int K,
                           int accumulate_din);

/* rowops.cu */
/* out[M,N] = in[M,K] w[N,K]^T (+ out): each element one f32 sum over k in
 * order 0..K-1, so a row's bits do not depend on M (batch invariance). */
void kcuda_matmul_fixed_order(sieve_kctx *kc, float *out, const float *in, const float *w,
                              int M, int N, int K, int accumulate);
/* dst[n] (bf16, as uint16 bits) = src[n] rounded to nearest even. */
void kcuda_to_bf16(sieve_kctx *kc, uint16_t *dst, const float *src, size_t n);
void kcuda_fill_nan(sieve_kctx *kc, float *p, size_t n);
void kcuda_add(sieve_kctx *kc, float *out, const float *a, const float *b, size_t n);
void kcuda_rmsnorm(sieve_kctx *kc, float *out, float *rstd, const float *in,
                   const float *w, int M, int D, float eps);
void kcuda_rope(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
                float theta);
void kcuda_swiglu(sieve_kctx *kc, float *out, const float *gate, const float *up,
                  int M, int F);
void kcuda_embedding(sieve_kctx *kc, float *out, const int32_t *ids, const float *table,
                     int M, int D, int V);
void kcuda_log_softmax(sieve_kctx *kc, float *out, const float *logits, int M, int V);
void kcuda_cross_entropy(sieve_kctx *kc, float *logprob, float *lse, const float *logits,
                         const int32_t *targets, int M, int V);
void kcuda_rmsnorm_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                            const float *in, const float *w, const float *rstd,
                            int M, int D);
void kcuda_rope_backward(sieve_kctx *kc, float *dx, const int32_t *pos, int M, int nh,
                         int hd, float theta);
void kcuda_swiglu_backward(sieve_kctx *kc, float *dgate, float *dup, const float *dout,
                           const float *gate, const float *up, int M, int F);
void kcuda_embedding_backward(sieve_kctx *kc, float *dtable, const float *dout,
                              const int32_t *ids, int M, int D, int V);
void kcuda_cross_entropy_backward(sieve_kctx *kc, float *dlogits, const float *logits,
                                  const float *lse, const int32_t *targets,
                                  const float *scale, int M, int V);
void kcuda_adamw(sieve_kctx *kc, float *params, const float *grads, float *m, float *v,
                 size_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int step);

/* attention.cu */
void kcuda_attention(sieve_kctx *kc, float *out, float *lse, const float *q,
                     const float *k, const float *v, int B, int Tq, int Tk,
                     int H, int KV, int hd, size_t kv_bstride);
void kcuda_attention_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                              const float *dout, const float *out, const float *lse,
                              const float *q, const float *k, const float *v, int B,
                              int Tq, int Tk, int H, int KV, int hd, size_t kv_bstride);
void kcuda_attention_doc(sieve_kctx *kc, float *out, float *lse, const float *q,
                         const float *k, const float *v, const int32_t *pos, int B, int Tq,
                         int Tk, int H, int KV, int hd, size_t kv_bstride);
void kcuda_attention_doc_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                                  const float *dout, const float *out, const float *lse,
                                  const float *q, const float *k, const float *v,
                                  const int32_t *pos, int B, int Tq, int Tk, int H, int KV,
                                  int hd, size_t kv_bstride);

#ifdef __cplusplus
}
#endif
#endif
