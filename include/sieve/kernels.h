/* The kernel vtable: every numeric operation a model stage needs, behind a
 * struct of function pointers, so a stage runs on CPU or CUDA by changing one
 * parameter (backend: cpu|cuda) and never #ifdefs on the device.
 *
 * A backend plugin ("kernels-cpu", "kernels-cuda") returns a pointer to a
 * constant sieve_kernels from sieve_plugin_desc.kernels(); a stage gets it
 * with sieve_ctx_kernels(ctx, "cpu", err). The table itself holds no state:
 * state (thread pool, CUDA stream and handles) lives in a sieve_kctx made by
 * kctx_new() and passed to every call. One kctx is used by one thread at a
 * time; two stages make two.
 *
 * Memory: every pointer given to a kernel is device memory from alloc() (on
 * CPU: host memory, and any host pointer works; see SIEVE_KERNELS_HOST_MEMORY).
 * Calls may run asynchronously; sync() waits for all of them, and copy_to_host()
 * synchronizes before it returns.
 *
 * Layouts are row-major and contiguous unless a stride is given. Names used in
 * the shapes: M rows (tokens, B*T), K inner size, N output features, D model
 * width, F MLP width, B batch, Tq query positions in this call, Tk key positions
 * (cached + new), H query heads, KV key/value heads (H % KV == 0), hd head size,
 * V vocabulary. Linear weights use the Hugging Face layout [out, in].
 *
 * Reduction order: each output row of a per-row kernel (rmsnorm, attention,
 * cross_entropy, log_softmax) is computed in a fixed order that does not depend
 * on how many rows run in the same call (batch invariance: a sequence scores
 * the same alone or in a batch, and decode with a KV cache matches a full
 * forward). matmul promises this only after
 * kctx_option(kc, "batch_invariant", 1) on a backend with
 * SIEVE_KERNELS_BATCH_INVARIANT_MATMUL (BLAS results change with M).
 *
 * Backward kernels: the pointers exist now so the table keeps its layout; a
 * backend may leave them NULL until the training work implements them
 * (callers check). Gradients ACCUMULATE (+=) into parameter gradients (dw)
 * and OVERWRITE input gradients (din, dx) unless stated otherwise.
 *
 * Compatibility: `version` is SIEVE_KERNELS_VERSION of the header the backend
 * was built with; `size` is sizeof(sieve_kernels) there. New pointers are only
 * appended, so a caller may use a field when size covers it. */
#ifndef SIEVE_KERNELS_H
#define SIEVE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIEVE_KERNELS_VERSION 1u

/* flags */
#define SIEVE_KERNELS_HOST_MEMORY 1u            /* device memory is host memory */
#define SIEVE_KERNELS_BATCH_INVARIANT_MATMUL 2u /* kctx_option "batch_invariant" exists */

typedef struct sieve_kctx sieve_kctx;  /* backend state; opaque */

typedef struct sieve_kernels {
    uint32_t version;   /* SIEVE_KERNELS_VERSION */
    uint32_t size;      /* sizeof(sieve_kernels) in the backend's build */
    const char *name;   /* "cpu", "cuda" */
    uint32_t flags;     /* SIEVE_KERNELS_* */

    /* ---- context ---- */
    /* threads <= 0: all cores (CPU); ignored by backends without threads. */
    sieve_status (*kctx_new)(int threads, sieve_kctx **out, sieve_err *err);
    void (*kctx_free)(sieve_kctx *kc);                     /* NULL is fine */
    int (*kctx_threads)(const sieve_kctx *kc);

    /* ---- memory ---- */
    /* Zero-filled, aligned to 64 bytes. NULL (and err set) when out of memory. */
    void *(*alloc)(sieve_kctx *kc, size_t bytes, sieve_err *err);
    void (*free)(sieve_kctx *kc, void *p);                 /* NULL is fine */
    void (*zero)(sieve_kctx *kc, void *p, size_t bytes);
    void (*copy_to_device)(sieve_kctx *kc, void *dst, const void *host_src, size_t bytes);
    void (*copy_to_host)(sieve_kctx *kc, void *host_dst, const void *src, size_t bytes);
    void (*copy)(sieve_kctx *kc, void *dst, const void *src, size_t bytes); /* device to device */
    void (*sync)(sieve_kctx *kc);

    /* ---- forward ---- */

    /* out[M,N] = in[M,K] · w[N,K]^T  (+ out when accumulate != 0).
     * A Hugging Face nn.Linear without bias. */
    void (*matmul)(sieve_kctx *kc, float *out, const float *in, const float *w,
                   int M, int N, int K, int accumulate);

    /* out[n] = a[n] + b[n]  (out may alias a or b): residual connections. */
    void (*add)(sieve_kctx *kc, float *out, const float *a, const float *b, size_t n);

    /* out[M,D] = in * rstd * w, rstd[M] = 1/sqrt(mean(in^2) + eps) (LlamaRMSNorm:
     * the mean of squares in f32, then the weight). rstd may be NULL; keep it
     * for rmsnorm_backward. out may alias in. */
    void (*rmsnorm)(sieve_kctx *kc, float *out, float *rstd, const float *in,
                    const float *w, int M, int D, float eps);

    /* Rotate-half RoPE in place on x[M, nh, hd] (hd even): for i < hd/2 and
     * angle a = pos[m] * theta^(-2i/hd),
     *   x'[i]      = x[i] cos a - x[i+hd/2] sin a
     *   x'[i+hd/2] = x[i+hd/2] cos a + x[i] sin a
     * pos[M] is each row's absolute position (so decode and ragged batches
     * work). Angles are computed in double. */
    void (*rope)(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
                 float theta);

    /* Causal grouped-query attention with scale 1/sqrt(hd), never holding a
     * Tq x Tk score matrix (online softmax over key blocks).
     *   q[B,Tq,H,hd]                 queries of positions Tk-Tq .. Tk-1
     *   k, v: [B, *, KV, hd] with batch stride kv_bstride floats (>= Tk*KV*hd:
     *         a KV cache of capacity Tcap has kv_bstride = Tcap*KV*hd); rows
     *         0..Tk-1 are read
     *   out[B,Tq,H,hd]               softmax(q k^T / sqrt(hd)) v, query t of
     *                                batch b sees keys 0 .. Tk-Tq+t
     *   lse[B,H,Tq] (may be NULL)    log-sum-exp of the scaled scores per query,
     *                                kept for attention_backward
     * Query head h reads key/value head h / (H/KV). */
    void (*attention)(sieve_kctx *kc, float *out, float *lse, const float *q,
                      const float *k, const float *v, int B, int Tq, int Tk,
                      int H, int KV, int hd, size_t kv_bstride);

    /* out[M,F] = silu(gate) * up, silu(x) = x / (1 + exp(-x)). out may alias. */
    void (*swiglu)(sieve_kctx *kc, float *out, const float *gate, const float *up,
                   int M, int F);

    /* out[M,D] = table[ids[m], :]. ids must be in [0, V) (callers check). */
    void (*embedding)(sieve_kctx *kc, float *out, const int32_t *ids, const float *table,
                      int M, int D, int V);

    /* out[M,V] = logits - logsumexp(logits) per row. out may alias logits. */
    void (*log_softmax)(sieve_kctx *kc, float *out, const float *logits, int M, int V);

    /* Per row: lse[m] = logsumexp(logits[m,:]) and
     * logprob[m] = logits[m, targets[m]] - lse[m] (the negative of the
     * cross-entropy loss). A row with targets[m] < 0 is ignored: logprob = 0.
     * lse or logprob may be NULL. */
    void (*cross_entropy)(sieve_kctx *kc, float *logprob, float *lse, const float *logits,
                          const int32_t *targets, int M, int V);

    /* ---- backward (the training work; may be NULL until then) ---- */

    /* din[M,K] = dout · w (or += when accumulate_din), dw[N,K] += dout^T · in.
     * din or dw may be NULL to skip. */
    void (*matmul_backward)(sieve_kctx *kc, float *din, float *dw, const float *dout,
                            const float *in, const float *w, int M, int N, int K,
                            int accumulate_din);
    /* din[M,D] (overwritten), dw[D] +=, from dout, in, w and the forward's rstd. */
    void (*rmsnorm_backward)(sieve_kctx *kc, float *din, float *dw, const float *dout,
                             const float *in, const float *w, const float *rstd,
                             int M, int D);
    /* Inverse rotation in place on dx[M, nh, hd]. */
    void (*rope_backward)(sieve_kctx *kc, float *dx, const int32_t *pos, int M, int nh,
                          int hd, float theta);
    /* dq overwritten; dk, dv ACCUMULATE (several query heads share one KV head;
     * zero them first). Shapes as attention, with Tq == Tk for training. */
    void (*attention_backward)(sieve_kctx *kc, float *dq, float *dk, float *dv,
                               const float *dout, const float *out, const float *lse,
                               const float *q, const float *k, const float *v, int B,
                               int Tq, int Tk, int H, int KV, int hd, size_t kv_bstride);
    /* dgate, dup [M,F] overwritten from dout and the forward inputs. */
    void (*swiglu_backward)(sieve_kctx *kc, float *dgate, float *dup, const float *dout,
                            const float *gate, const float *up, int M, int F);
    /* dtable[V,D] += scatter of dout[M,D] by ids. */
    void (*embedding_backward)(sieve_kctx *kc, float *dtable, const float *dout,
                               const int32_t *ids, int M, int D, int V);
    /* dlogits[M,V] = scale[m] * (softmax(logits) - onehot(target)), rows with
     * target < 0 get 0. scale may be NULL (1/count of rows with a target). */
    void (*cross_entropy_backward)(sieve_kctx *kc, float *dlogits, const float *logits,
                                   const float *lse, const int32_t *targets,
                                   const float *scale, int M, int V);

    /* ---- optimizer ---- */
    /* AdamW (decoupled weight decay, PyTorch's torch.optim.AdamW), n floats:
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * p -= lr * (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd p). step t >= 1. */
    void (*adamw)(sieve_kctx *kc, float *params, const float *grads, float *m, float *v,
                  size_t n, float lr, float beta1, float beta2, float eps,
                  float weight_decay, int step);

    /* ---- options of one context (may be NULL: no options) ---- */
    /* Sets an option; an unknown option or value is an error naming it.
     *   "batch_invariant" 1: matmul computes each row in an order that does
     *     not depend on M (backends with SIEVE_KERNELS_BATCH_INVARIANT_MATMUL;
     *     on CPU a packed non-BLAS kernel, about 10% more CPU than BLAS).
     *     Then a sequence gives the same bits alone or in a batch, and decode
     *     through the KV cache gives the bits of a full forward. Default 0. */
    sieve_status (*kctx_option)(sieve_kctx *kc, const char *name, int value, sieve_err *err);

    /* ---- document-masked attention (appended; check size, may be NULL) ----
     * attention / attention_backward for rows that hold several sequences
     * ("documents") one after another, as packed training batches do.
     * pos[B*Tq] (device memory, i32) is each query's position inside its own
     * document, the same array RoPE takes. Query t of row b, at row index
     * a = Tk-Tq+t, sees keys a - pos[b*Tq+t] .. a only (clamped to [0, a]; a
     * negative pos, i.e. padding, sees only itself), so attention never
     * crosses a document boundary. With pos == NULL, or pos[b*Tq+t] == a for
     * every query, the result is attention()'s, bit for bit. Other arguments
     * and the accumulate rules as attention and attention_backward. */
    void (*attention_doc)(sieve_kctx *kc, float *out, float *lse, const float *q,
                          const float *k, const float *v, const int32_t *pos, int B,
                          int Tq, int Tk, int H, int KV, int hd, size_t kv_bstride);
    void (*attention_doc_backward)(sieve_kctx *kc, float *dq, float *dk, float *dv,
                                   const float *dout, const float *out, const float *lse,
                                   const float *q, const float *k, const float *v,
                                   const int32_t *pos, int B, int Tq, int Tk, int H, int KV,
                                   int hd, size_t kv_bstride);
} sieve_kernels;

#ifdef __cplusplus
}
#endif
#endif
