/* Internals shared by the CPU kernel files: the context and the entry points
 * that plugin.c puts into the vtable. */
#ifndef SIEVE_KCPU_H
#define SIEVE_KCPU_H

#include "sieve/kernels.h"
#include "sieve/pool.h"
#include "rowmm.h"

/* cos and sin of RoPE's angles, [n_pos][hd/2] each, for one (theta, hd). */
typedef struct {
    float *cs, *sn;
    int n_pos, hd;
    float theta;
} kcpu_rope_table;

struct sieve_kctx {
    sieve_pool *pool;
    int threads;
    int batch_invariant;   /* matmul through plugins/simd/rowmm.c instead of BLAS */
    sieve_rowmm_packed bi_w;   /* its packed weights, memory kept between calls */
    kcpu_rope_table rope;  /* grown by rope.c on the calling thread */
};

/* Splits [0, n) into `parts` near-equal ranges; range i is [*lo, *hi). */
static inline void kcpu_range(long n, int parts, int i, long *lo, long *hi)
{
    *lo = n * i / parts;
    *hi = n * (i + 1) / parts;
}

/* Runs body(arg, lo, hi) over [0, n) in equal ranges on the pool: up to four
 * per thread (a preempted thread does not stall the join), and on the caller
 * alone when there are fewer than min_per_thread rows per range. The ranges
 * depend only on n and the thread count, so results are reproducible. */
void kcpu_for_rows(sieve_kctx *kc, long n, long min_per_thread,
                   void (*body)(void *, long, long), void *arg);

/* ctx_mem.c */
sieve_status kcpu_kctx_new(int threads, sieve_kctx **out, sieve_err *err);
void kcpu_kctx_free(sieve_kctx *kc);
int kcpu_kctx_threads(const sieve_kctx *kc);
void *kcpu_alloc(sieve_kctx *kc, size_t bytes, sieve_err *err);
void kcpu_free(sieve_kctx *kc, void *p);
void kcpu_zero(sieve_kctx *kc, void *p, size_t bytes);
void kcpu_copy(sieve_kctx *kc, void *dst, const void *src, size_t bytes);
void kcpu_sync(sieve_kctx *kc);
sieve_status kcpu_kctx_option(sieve_kctx *kc, const char *name, int value, sieve_err *err);

/* matmul.c */
void kcpu_matmul(sieve_kctx *kc, float *out, const float *in, const float *w,
                 int M, int N, int K, int accumulate);

/* rowops.c */
void kcpu_add(sieve_kctx *kc, float *out, const float *a, const float *b, size_t n);
void kcpu_rmsnorm(sieve_kctx *kc, float *out, float *rstd, const float *in,
                  const float *w, int M, int D, float eps);
void kcpu_swiglu(sieve_kctx *kc, float *out, const float *gate, const float *up,
                 int M, int F);
void kcpu_embedding(sieve_kctx *kc, float *out, const int32_t *ids, const float *table,
                    int M, int D, int V);

/* rope.c */
void kcpu_rope(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
               float theta);
void kcpu_rope_backward(sieve_kctx *kc, float *dx, const int32_t *pos, int M, int nh, int hd,
                        float theta);
void kcpu_rope_table_free(kcpu_rope_table *t);

/* softmax.c */
void kcpu_log_softmax(sieve_kctx *kc, float *out, const float *logits, int M, int V);
void kcpu_cross_entropy(sieve_kctx *kc, float *logprob, float *lse, const float *logits,
                        const int32_t *targets, int M, int V);

/* attention.c */
void kcpu_attention(sieve_kctx *kc, float *out, float *lse, const float *q,
                    const float *k, const float *v, int B, int Tq, int Tk,
                    int H, int KV, int hd, size_t kv_bstride);
void kcpu_attention_doc(sieve_kctx *kc, float *out, float *lse, const float *q,
                        const float *k, const float *v, const int32_t *pos, int B, int Tq,
                        int Tk, int H, int KV, int hd, size_t kv_bstride);

/* backward.c */
void kcpu_matmul_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                          const float *in, const float *w, int M, int N, int K,
                          int accumulate_din);
void kcpu_rmsnorm_backward(sieve_kctx *kc, float *din, float *dw, const float *dout,
                           const float *in, const float *w, const float *rstd, int M, int D);
void kcpu_attention_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                             const float *dout, const float *out, const float *lse,
                             const float *q, const float *k, const float *v, int B, int Tq,
                             int Tk, int H, int KV, int hd, size_t kv_bstride);
void kcpu_attention_doc_backward(sieve_kctx *kc, float *dq, float *dk, float *dv,
                                 const float *dout, const float *out, const float *lse,
                                 const float *q, const float *k, const float *v,
                                 const int32_t *pos, int B, int Tq, int Tk, int H, int KV,
                                 int hd, size_t kv_bstride);
void kcpu_swiglu_backward(sieve_kctx *kc, float *dgate, float *dup, const float *dout,
                          const float *gate, const float *up, int M, int F);
void kcpu_embedding_backward(sieve_kctx *kc, float *dtable, const float *dout,
                             const int32_t *ids, int M, int D, int V);
void kcpu_cross_entropy_backward(sieve_kctx *kc, float *dlogits, const float *logits,
                                 const float *lse, const int32_t *targets, const float *scale,
                                 int M, int V);

/* adamw.c */
void kcpu_adamw_torch(sieve_kctx *kc, float *params, const float *grads, float *m, float *v,
                      size_t n, float lr, float beta1, float beta2, float eps,
                      float weight_decay, int step);

#endif
