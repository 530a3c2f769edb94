/* Entry points of the CPU training kernels (backward.c, adamw.c), for plugin.c's table. */
#ifndef SIEVE_KCPU_BACKWARD_H
#define SIEVE_KCPU_BACKWARD_H

#include "kcpu.h"

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
