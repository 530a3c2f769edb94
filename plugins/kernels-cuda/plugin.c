/* The kernels-cuda plugin: no stages, one kernel vtable (f32 tensors in GPU
 * memory; cuBLAS for matmul, our kernels for everything else). kernels()
 * returns NULL when no CUDA device is usable, so the runtime refuses
 * `backend: cuda` at validate time ("backend 'cuda' is not available on this
 * machine") while every other stage keeps working. */
#include "kcuda.h"
#include "sieve/plugin.h"

static const sieve_kernels cuda_kernels = {
    .version = SIEVE_KERNELS_VERSION,
    .size = sizeof(sieve_kernels),
    .name = "cuda",
    /* device memory; matmul is batch invariant after kctx_option (cuBLAS
     * picks its algorithm, and so its sum order, by shape) */
    .flags = SIEVE_KERNELS_BATCH_INVARIANT_MATMUL,
    .kctx_new = kcuda_kctx_new,
    .kctx_free = kcuda_kctx_free,
    .kctx_threads = kcuda_kctx_threads,
    .alloc = kcuda_alloc,
    .free = kcuda_free,
    .zero = kcuda_zero,
    .copy_to_device = kcuda_copy_to_device,
    .copy_to_host = kcuda_copy_to_host,
    .copy = kcuda_copy,
    .sync = kcuda_sync,
    .matmul = kcuda_matmul,
    .add = kcuda_add,
    .rmsnorm = kcuda_rmsnorm,
    .rope = kcuda_rope,
    .attention = kcuda_attention,
    .swiglu = kcuda_swiglu,
    .embedding = kcuda_embedding,
    .log_softmax = kcuda_log_softmax,
    .cross_entropy = kcuda_cross_entropy,
    .matmul_backward = kcuda_matmul_backward,
    .rmsnorm_backward = kcuda_rmsnorm_backward,
    .rope_backward = kcuda_rope_backward,
    .attention_backward = kcuda_attention_backward,
    .swiglu_backward = kcuda_swiglu_backward,
    .embedding_backward = kcuda_embedding_backward,
    .cross_entropy_backward = kcuda_cross_entropy_backward,
    .adamw = kcuda_adamw,
    .kctx_option = kcuda_kctx_option,
    .attention_doc = kcuda_attention_doc,
    .attention_doc_backward = kcuda_attention_doc_backward,
};

/* The first CUDA or cuBLAS failure seen by this context, or NULL. The vtable
 * has no error path for queued kernels; tests and tools look this up with
 * dlsym. */
__attribute__((visibility("default"))) const char *sieve_kernels_cuda_error(const sieve_kctx *kc)
{
    return kc && kc->failed ? kc->err : NULL;
}

static const void *kernels_entry(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        cudaGetLastError();   /* leave no error behind for other CUDA users */
        return NULL;
    }
    return &cuda_kernels;
}

static const sieve_plugin_desc desc = {
    .abi_version = SIEVE_ABI_VERSION,
    .name = "kernels-cuda",
    .version = "0.1.0",
    .stages = NULL,
    .n_stages = 0,
    .kernels = kernels_entry,
};

__attribute__((visibility("default"))) const sieve_plugin_desc *sieve_plugin_entry(void)
{
    return &desc;
}
