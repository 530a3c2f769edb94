/* The cuBLAS functions kernels-cuda loads (blas.c), emulated on the host as
 * a separate library blas.c dlopens in the emulated build: column-major GEMM
 * with op(A), op(B), leading dimensions checked as cuBLAS checks them, f32 or
 * bf16 inputs, f32 output, double sums; TF32 mode rounds the inputs to 10
 * mantissa bits. Test-only. */
#include <cublas_api.h>

#include <cstdint>
#include <cstring>

namespace {

float bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

float tf32(float x)
{
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

float load(const void *p, cudaDataType t, size_t i, bool round_tf32)
{
    float x = t == CUDA_R_16BF ? bf16(static_cast<const uint16_t *>(p)[i])
                               : static_cast<const float *>(p)[i];
    return round_tf32 ? tf32(x) : x;
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
    *h = reinterpret_cast<cublasHandle_t>(h);
    return CUBLAS_STATUS_SUCCESS;
}
__attribute__((visibility("default"))) cublasStatus_t cublasDestroy_v2(cublasHandle_t)
{
    return CUBLAS_STATUS_SUCCESS;
}
__attribute__((visibility("default"))) cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t)
{
    return CUBLAS_STATUS_SUCCESS;
}
__attribute__((visibility("default"))) const char *cublasGetStatusString(cublasStatus_t)
{
    return "emulated cuBLAS status";
}
__attribute__((visibility("default"))) cublasStatus_t cublasGemmEx(
    cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
    const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
    int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t comp,
    cublasGemmAlgo_t)
{
    bool an = ta == CUBLAS_OP_N, bn = tb == CUBLAS_OP_N;
    if (m < 0 || n < 0 || k < 0 || lda < (an ? m : k) || ldb < (bn ? k : n) || ldc < m ||
        lda < 1 || ldb < 1 || ldc < 1 || ct != CUDA_R_32F || at != bt ||
        (at != CUDA_R_32F && at != CUDA_R_16BF) ||
        (comp != CUBLAS_COMPUTE_32F && comp != CUBLAS_COMPUTE_32F_FAST_TF32))
        return CUBLAS_STATUS_INVALID_VALUE;
    bool r = comp == CUBLAS_COMPUTE_32F_FAST_TF32;
    float al = *static_cast<const float *>(alpha), be = *static_cast<const float *>(beta);
    float *c = static_cast<float *>(C);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                size_t ia = an ? i + (size_t)p * lda : p + (size_t)i * lda;
                size_t ib = bn ? p + (size_t)j * ldb : j + (size_t)p * ldb;
                s += (double)load(A, at, ia, r) * load(B, bt, ib, r);
            }
            float *o = c + i + (size_t)j * ldc;
            *o = al * (float)s + (be == 0.0f ? 0.0f : be * *o);
        }
    return CUBLAS_STATUS_SUCCESS;
}
}
