/* The kernels-cpu plugin: no stages, one kernel vtable (f32 on the host,
 * OpenBLAS for matmul, a thread pool for everything else). The backward
 * kernels live in backward.c, AdamW in adamw.c. */
#include "kcpu.h"
#include "sieve/plugin.h"

static const sieve_kernels cpu_kernels = {
    .version = SIEVE_KERNELS_VERSION,
    .size = sizeof(sieve_kernels),
    .name = "cpu",
    .flags = SIEVE_KERNELS_HOST_MEMORY | SIEVE_KERNELS_BATCH_INVARIANT_MATMUL,
    .kctx_new = kcpu_kctx_new,
    .kctx_free = kcpu_kctx_free,
    .kctx_threads = kcpu_kctx_threads,
    .alloc = kcpu_alloc,
    .free = kcpu_free,
    .zero = kcpu_zero,
    .copy_to_device = kcpu_copy,
    .copy_to_host = kcpu_copy,
    .copy = kcpu_copy,
    .sync = kcpu_sync,
    .matmul = kcpu_matmul,
    .add = kcpu_add,
    .rmsnorm = kcpu_rmsnorm,
    .rope = kcpu_rope,
    .attention = kcpu_attention,
    .swiglu = kcpu_swiglu,
    .embedding = kcpu_embedding,
    .log_softmax = kcpu_log_softmax,
    .cross_entropy = kcpu_cross_entropy,
    .matmul_backward = kcpu_matmul_backward,
    .rmsnorm_backward = kcpu_rmsnorm_backward,
    .rope_backward = kcpu_rope_backward,
    .attention_backward = kcpu_attention_backward,
    .swiglu_backward = kcpu_swiglu_backward,
    .embedding_backward = kcpu_embedding_backward,
    .cross_entropy_backward = kcpu_cross_entropy_backward,
    .adamw = kcpu_adamw_torch,
    .kctx_option = kcpu_kctx_option,
    .attention_doc = kcpu_attention_doc,
    .attention_doc_backward = kcpu_attention_doc_backward,
};

/* Also exported for C tests and tools that link this library directly. */
__attribute__((visibility("default"))) const sieve_kernels *sieve_kernels_cpu(void)
{
    return &cpu_kernels;
}

static const void *kernels_entry(void) { return &cpu_kernels; }

static const sieve_plugin_desc desc = {
    .abi_version = SIEVE_ABI_VERSION,
    .name = "kernels-cpu",
    .version = "0.1.0",
    .stages = NULL,
    .n_stages = 0,
    .kernels = kernels_entry,
};

__attribute__((visibility("default"))) const sieve_plugin_desc *sieve_plugin_entry(void)
{
    return &desc;
}
