/* CUDA kernel context (one stream, cuBLAS, scratch) and device memory.
 *
 * Memory is cudaMalloc'd device memory, never managed memory. Every call is
 * queued on the context's own non-blocking stream, so calls run in the order
 * they were made; copy_to_host and sync wait for the stream. The vtable has
 * no error return for queued kernels: the first CUDA failure is kept in the
 * context (sieve_kernels_cuda_error()) and every later copy_to_host fills its
 * destination with NaN bytes (0xFF), so a failure cannot pass for a result. */
#include "kcuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kcuda_check(sieve_kctx *kc, cudaError_t e, const char *what)
{
    if (e == cudaSuccess || kc->failed) return;
    kc->failed = 1;
    snprintf(kc->err, sizeof kc->err, "kernels-cuda: %s: %s (%s)", what, cudaGetErrorName(e),
             cudaGetErrorString(e));
}

void kcuda_fail(sieve_kctx *kc, const char *what)
{
    if (kc->failed) return;
    kc->failed = 1;
    snprintf(kc->err, sizeof kc->err, "kernels-cuda: %s", what);
}

/* SIEVE_CUDA_MATMUL=f32|tf32|bf16 (default f32); SIEVE_CUDA_TF32=1 is tf32. */
static sieve_status read_mode(kcuda_mode *mode, sieve_err *err)
{
    const char *m = getenv("SIEVE_CUDA_MATMUL");
    const char *tf = getenv("SIEVE_CUDA_TF32");
    *mode = KCUDA_F32;
    if (tf && strcmp(tf, "1") == 0) *mode = KCUDA_TF32;
    if (!m || !*m) return SIEVE_OK;
    if (strcmp(m, "f32") == 0) *mode = KCUDA_F32;
    else if (strcmp(m, "tf32") == 0) *mode = KCUDA_TF32;
    else if (strcmp(m, "bf16") == 0) *mode = KCUDA_BF16;
    else return sieve_fail(err, "kernels-cuda: SIEVE_CUDA_MATMUL='%s' must be f32, tf32 or bf16", m);
    return SIEVE_OK;
}

sieve_status kcuda_kctx_new(int threads, sieve_kctx **out, sieve_err *err)
{
    (void)threads;   /* the GPU has no thread count to choose */
    *out = NULL;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n < 1)
        return sieve_fail(err, "kernels-cuda: no CUDA device (%s)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    sieve_kctx *kc = calloc(1, sizeof *kc);
    if (!kc) return sieve_fail(err, "kernels-cuda: out of memory");
    if (read_mode(&kc->mode, err)) {
        free(kc);
        return SIEVE_ERR;
    }
    /* Device 0 of those visible: CUDA_VISIBLE_DEVICES chooses the GPU. */
    kc->device = 0;
    e = cudaSetDevice(kc->device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&kc->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(kc);
        return sieve_fail(err, "kernels-cuda: cannot start device 0: %s", cudaGetErrorString(e));
    }
    if (kcuda_blas_open(kc, err)) {
        kcuda_kctx_free(kc);
        return SIEVE_ERR;
    }
    *out = kc;
    return SIEVE_OK;
}

void kcuda_kctx_free(sieve_kctx *kc)
{
    if (!kc) return;
    if (kc->stream) cudaStreamSynchronize(kc->stream);
    kcuda_blas_close(kc);
    if (kc->scratch) cudaFree(kc->scratch);
    if (kc->stream) cudaStreamDestroy(kc->stream);
    free(kc);
}

int kcuda_kctx_threads(const sieve_kctx *kc)
{
    (void)kc;
    return 1;
}

/* Options of one context:
 *   batch_invariant 0|1  matmul in a fixed order per row (our kernel, not
 *                        cuBLAS): a sequence gives the same bits alone or in a
 *                        batch, and KV-cache decode the bits of a full forward
 *   matmul_bf16 0|1      the bf16 GEMM mode (as SIEVE_CUDA_MATMUL=bf16); 0: f32
 *   matmul_tf32 0|1      the TF32 GEMM mode (as SIEVE_CUDA_MATMUL=tf32); 0: f32 */
sieve_status kcuda_kctx_option(sieve_kctx *kc, const char *name, int value, sieve_err *err)
{
    if (value != 0 && value != 1)
        return sieve_fail(err, "kernels-cuda: option %s = %d must be 0 or 1", name, value);
    if (strcmp(name, "batch_invariant") == 0) kc->batch_invariant = value;
    else if (strcmp(name, "matmul_bf16") == 0) kc->mode = value ? KCUDA_BF16 : KCUDA_F32;
    else if (strcmp(name, "matmul_tf32") == 0) kc->mode = value ? KCUDA_TF32 : KCUDA_F32;
    else return sieve_fail(err, "kernels-cuda: unknown option %s = %d (known: batch_invariant, "
                           "matmul_bf16, matmul_tf32)", name, value);
    return SIEVE_OK;
}

void *kcuda_alloc(sieve_kctx *kc, size_t bytes, sieve_err *err)
{
    size_t rounded = (bytes + 255) / 256 * 256;   /* cudaMalloc aligns to 256 */
    if (rounded == 0) rounded = 256;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess) {
        cudaGetLastError();   /* an allocation failure is not sticky: clear it */
        sieve_fail(err, "kernels-cuda: cannot allocate %zu bytes of device memory: %s", bytes,
                   cudaGetErrorString(e));
        return NULL;
    }
    /* On our stream, so every later call on it sees zeros. */
    kcuda_check(kc, cudaMemsetAsync(p, 0, rounded, kc->stream), "alloc: zero fill");
    return p;
}

void kcuda_free(sieve_kctx *kc, void *p)
{
    if (!p) return;
    /* Queued work may still read p. */
    kcuda_check(kc, cudaStreamSynchronize(kc->stream), "free: synchronize");
    kcuda_check(kc, cudaFree(p), "free");
}

void kcuda_zero(sieve_kctx *kc, void *p, size_t bytes)
{
    if (bytes) kcuda_check(kc, cudaMemsetAsync(p, 0, bytes, kc->stream), "zero");
}

/* From pageable host memory (what callers pass: malloc'd buffers) the copy
 * returns once the source has been staged, so the caller may reuse it. */
void kcuda_copy_to_device(sieve_kctx *kc, void *dst, const void *host_src, size_t bytes)
{
    if (!bytes) return;
    kcuda_check(kc, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, kc->stream),
                "copy_to_device");
}

void kcuda_copy_to_host(sieve_kctx *kc, void *host_dst, const void *src, size_t bytes)
{
    if (!bytes) return;
    kcuda_check(kc, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, kc->stream),
                "copy_to_host");
    kcuda_check(kc, cudaStreamSynchronize(kc->stream), "copy_to_host: synchronize");
    if (kc->failed) memset(host_dst, 0xFF, bytes);   /* NaN, never a plausible value */
}

void kcuda_copy(sieve_kctx *kc, void *dst, const void *src, size_t bytes)
{
    if (!bytes || dst == src) return;
    kcuda_check(kc, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, kc->stream),
                "copy");
}

void kcuda_sync(sieve_kctx *kc)
{
    kcuda_check(kc, cudaStreamSynchronize(kc->stream), "sync");
}

void *kcuda_scratch(sieve_kctx *kc, size_t bytes)
{
    if (bytes <= kc->scratch_bytes) return kc->scratch;
    size_t want = kc->scratch_bytes * 2 > bytes ? kc->scratch_bytes * 2 : bytes;
    want = (want + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    if (kc->scratch) {
        kcuda_check(kc, cudaStreamSynchronize(kc->stream), "scratch: synchronize");
        cudaFree(kc->scratch);
        kc->scratch = NULL;
        kc->scratch_bytes = 0;
    }
    cudaError_t e = cudaMalloc(&kc->scratch, want);
    if (e != cudaSuccess) {
        cudaGetLastError();
        kc->scratch = NULL;
        kcuda_check(kc, e, "scratch memory");
        return NULL;
    }
    kc->scratch_bytes = want;
    return kc->scratch;
}
