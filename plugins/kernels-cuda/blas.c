/* matmul and matmul_backward on cuBLAS (cublasGemmEx), in the context's mode
 * (f32, tf32 or bf16 operands; always f32 accumulate and f32 output).
 *
 * cuBLAS is loaded with dlopen when the first context is made, not linked:
 * libcublas pulls in libcublasLt (over 500 MB), and loading them with
 * RTLD_NOW costs 1-2 s, which every `sieve` command would pay because the
 * runtime loads every plugin to list its stages. Only CUDA users pay it here.
 *
 * Row-major to cuBLAS's column-major: a row-major [R,C] matrix is the
 * column-major [C,R] one, so out[M,N] = in[M,K] w[N,K]^T is, column-major,
 * out^T[N,M] = w^T . in^T = op_T(w as [K,N]) . (in as [K,M]). */
#include "kcuda.h"

#include <cublas_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef KCUDA_CUBLAS_LIB
#define KCUDA_CUBLAS_LIB "libcublas.so"
#endif
#ifndef KCUDA_CUDA_LIBDIR
#define KCUDA_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

struct kcuda_blas {
    void *lib;
    cublasHandle_t h;
    cublasStatus_t (*create)(cublasHandle_t *);
    cublasStatus_t (*destroy)(cublasHandle_t);
    cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
    const char *(*status_string)(cublasStatus_t);
    cublasStatus_t (*gemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                           const void *, const void *, cudaDataType, int, const void *,
                           cudaDataType, int, const void *, void *, cudaDataType, int,
                           cublasComputeType_t, cublasGemmAlgo_t);
};

static void *sym(void *lib, const char *name, int *missing)
{
    void *p = dlsym(lib, name);
    if (!p) *missing = 1;
    return p;
}

sieve_status kcuda_blas_open(sieve_kctx *kc, sieve_err *err)
{
    kcuda_blas *b = calloc(1, sizeof *b);
    if (!b) return sieve_fail(err, "kernels-cuda: out of memory");
    b->lib = dlopen(KCUDA_CUBLAS_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!b->lib) b->lib = dlopen(KCUDA_CUDA_LIBDIR "/" KCUDA_CUBLAS_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!b->lib) {
        free(b);
        return sieve_fail(err, "kernels-cuda: cannot load cuBLAS (%s, also tried %s): %s",
                          KCUDA_CUBLAS_LIB, KCUDA_CUDA_LIBDIR, dlerror());
    }
    int missing = 0;
    *(void **)&b->create = sym(b->lib, "cublasCreate_v2", &missing);
    *(void **)&b->destroy = sym(b->lib, "cublasDestroy_v2", &missing);
    *(void **)&b->set_stream = sym(b->lib, "cublasSetStream_v2", &missing);
    *(void **)&b->status_string = sym(b->lib, "cublasGetStatusString", &missing);
    *(void **)&b->gemm = sym(b->lib, "cublasGemmEx", &missing);
    if (missing) {
        dlclose(b->lib);
        free(b);
        return sieve_fail(err, "kernels-cuda: %s lacks cublasCreate_v2, cublasGemmEx or another "
                          "function this plugin needs", KCUDA_CUBLAS_LIB);
    }
    cublasStatus_t st = b->create(&b->h);
    if (st == CUBLAS_STATUS_SUCCESS) st = b->set_stream(b->h, kc->stream);
    if (st != CUBLAS_STATUS_SUCCESS) {
        sieve_fail(err, "kernels-cuda: cuBLAS does not start: %s", b->status_string(st));
        if (b->h) b->destroy(b->h);
        dlclose(b->lib);
        free(b);
        return SIEVE_ERR;
    }
    kc->blas = b;
    return SIEVE_OK;
}

void kcuda_blas_close(sieve_kctx *kc)
{
    kcuda_blas *b = kc->blas;
    if (!b) return;
    b->destroy(b->h);
    dlclose(b->lib);
    free(b);
    kc->blas = NULL;
}

/* Column-major C[m,n] = op(A) op(B) + beta C with f32 A (a_n floats), B
 * (b_n floats) and C, through bf16 copies of A and B in bf16 mode. */
static void gemm(sieve_kctx *kc, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                 int k, const float *A, size_t a_n, int lda, const float *B, size_t b_n,
                 int ldb, float beta, float *C, int ldc, const char *what)
{
    kcuda_blas *b = kc->blas;
    const float alpha = 1.0f;
    const void *a = A, *bb = B;
    cudaDataType ty = CUDA_R_32F;
    cublasComputeType_t ct = kc->mode == KCUDA_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                    : CUBLAS_COMPUTE_32F;
    if (kc->mode == KCUDA_BF16) {
        size_t a_bytes = (a_n * 2 + 255) / 256 * 256;
        uint16_t *s = kcuda_scratch(kc, a_bytes + b_n * 2);
        if (!s) return;
        uint16_t *sb = (uint16_t *)((char *)s + a_bytes);
        kcuda_to_bf16(kc, s, A, a_n);
        kcuda_to_bf16(kc, sb, B, b_n);
        a = s;
        bb = sb;
        ty = CUDA_R_16BF;
    }
    cublasStatus_t st = b->gemm(b->h, ta, tb, m, n, k, &alpha, a, ty, lda, bb, ty, ldb, &beta, C,
                                CUDA_R_32F, ldc, ct, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: cublasGemmEx(m=%d, n=%d, k=%d): %s", what, m, n, k,
                 b->status_string(st));
        kcuda_fail(kc, msg);
    }
}

void kcuda_matmul(sieve_kctx *kc, float *out, const float *in, const float *w,
                  int M, int N, int K, int accumulate)
{
    if (M <= 0 || N <= 0) return;
    if (kc->batch_invariant) {
        kcuda_matmul_fixed_order(kc, out, in, w, M, N, K, accumulate);
        return;
    }
    gemm(kc, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, w, (size_t)N * K, K, in, (size_t)M * K, K,
         accumulate ? 1.0f : 0.0f, out, N, "matmul");
}

void kcuda_matmul_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                           const float *in, const float *w, int M, int N, int K,
                           int accumulate_din)
{
    if (M <= 0 || N <= 0 || K <= 0) return;
    /* din[M,K] = dout[M,N] w[N,K]: column-major din^T[K,M] = (w as [K,N]) (dout as [N,M]) */
    if (din)
        gemm(kc, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, w, (size_t)N * K, K, dout, (size_t)M * N, N,
             accumulate_din ? 1.0f : 0.0f, din, K, "matmul_backward (din)");
    /* dw[N,K] += dout^T in: column-major dw^T[K,N] = (in as [K,M]) op_T(dout as [N,M]) */
    if (dw)
        gemm(kc, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, in, (size_t)M * K, K, dout, (size_t)M * N, N,
             1.0f, dw, K, "matmul_backward (dw)");
}
