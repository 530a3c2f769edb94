/* The LLaMA training pass: a forward that keeps every activation the
 * backward needs, the causal-LM loss over target positions, and the backward
 * pass that accumulates every parameter's gradient (sieve_llama_train).
 *
 * Like forward.c it calls only the kernel vtable, and a layer's steps before
 * and after attention are forward.c's (llama_internal.h). It keeps its own
 * activation set (the same per-layer views) rather than sharing
 * sieve_llama_run's: training needs the keys and values per layer at the
 * call's own batch layout (no KV cache), the logits only one chunk of rows at
 * a time (fused with the loss and its gradient, so B*T*V logits never exist),
 * and the gradient scratch buffers.
 *
 * Shapes (M = B*T rows, D model width, F MLP width, Q = H*hd, KVd = KV*hd):
 *   forward  x_in[l] -> ln1 -> q,k,v -> rope -> attention -> o_proj (+x_in) = x_mid
 *            x_mid -> ln2 -> gate, up -> swiglu -> down_proj (+x_mid) = x_in[l+1]
 *            x_out -> norm -> hidden -> lm_head chunks -> loss
 *   backward the same steps in reverse, dx carrying d(residual stream). */
#include "sieve/llama.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "llama_internal.h"

struct sieve_llama_train {
    sieve_llama *m;
    const sieve_kernels *k;
    sieve_kctx *kc;
    int B_cap, T_cap, chunk;
    float *dparams, *dgrads;      /* device; dparams == m->params on host memory */
    sieve_llama_layer_w *wl, *gl;
    sieve_llama_weights w, g;     /* views into dparams and dgrads */
    void *mem;                    /* activations and scratch, one allocation */
    llama_layer_acts *acts;       /* [L]; k, v: the call's keys and values */
    float *x_out, *hidden, *rstdf;
    float *proj;                  /* [M,D] o_proj / down_proj outputs */
    float *dx, *dtmp, *dln;       /* [M,D] */
    float *dq, *datt;             /* [M,Q] */
    float *dk, *dv;               /* [M,KVd] */
    float *dact, *dgate, *dup;    /* [M,F] */
    float *logits;                /* [chunk,V] logits, then their gradient */
    float *lp, *lse, *rscale;     /* [M] */
    int32_t *ids, *pos, *tgt;     /* [M] */
    int32_t *h_pos;               /* host staging [M] */
    int doc;                      /* this pass: attention masked by document (pos) */
    float *h_lp;                  /* host staging [M] */
};

static float *carve(float *base, size_t *off, size_t n)
{
    float *p = base ? base + *off : NULL;
    *off += (n + 15) / 16 * 16;
    return p;
}

static size_t layout(sieve_llama_train *t, float *base)
{
    const sieve_llama_config *c = &t->m->cfg;
    size_t M = (size_t)t->B_cap * t->T_cap, D = (size_t)c->dim, F = (size_t)c->ffn;
    size_t Q = (size_t)c->n_heads * c->head_dim, KVd = (size_t)c->n_kv_heads * c->head_dim;
    size_t off = 0;
    for (int l = 0; l < c->n_layers; l++) {
        llama_layer_acts *a = &t->acts[l];
        a->x_in = carve(base, &off, M * D);
        a->ln1 = carve(base, &off, M * D);
        a->rstd1 = carve(base, &off, M);
        a->q = carve(base, &off, M * Q);
        a->k = carve(base, &off, M * KVd);
        a->v = carve(base, &off, M * KVd);
        a->att = carve(base, &off, M * Q);
        a->lse = carve(base, &off, M * (size_t)c->n_heads);
        a->x_mid = carve(base, &off, M * D);
        a->ln2 = carve(base, &off, M * D);
        a->rstd2 = carve(base, &off, M);
        a->gate = carve(base, &off, M * F);
        a->up = carve(base, &off, M * F);
        a->act = carve(base, &off, M * F);
    }
    t->x_out = carve(base, &off, M * D);
    t->hidden = carve(base, &off, M * D);
    t->rstdf = carve(base, &off, M);
    t->proj = carve(base, &off, M * D);
    t->dx = carve(base, &off, M * D);
    t->dtmp = carve(base, &off, M * D);
    t->dln = carve(base, &off, M * D);
    t->dq = carve(base, &off, M * Q);
    t->datt = carve(base, &off, M * Q);
    t->dk = carve(base, &off, M * KVd);
    t->dv = carve(base, &off, M * KVd);
    t->dact = carve(base, &off, M * F);
    t->dgate = carve(base, &off, M * F);
    t->dup = carve(base, &off, M * F);
    t->logits = carve(base, &off, (size_t)t->chunk * c->vocab);
    t->lp = carve(base, &off, M);
    t->lse = carve(base, &off, M);
    t->rscale = carve(base, &off, M);
    t->ids = (int32_t *)carve(base, &off, M);
    t->pos = (int32_t *)carve(base, &off, M);
    t->tgt = (int32_t *)carve(base, &off, M);
    return off;
}

sieve_status sieve_llama_train_new(sieve_llama *m, const sieve_kernels *k, sieve_kctx *kc,
                                   int B_cap, int T_cap, sieve_llama_train **out,
                                   sieve_err *err)
{
    *out = NULL;
    if (!k || k->version != SIEVE_KERNELS_VERSION || k->size < sizeof(sieve_kernels))
        return sieve_fail(err, "llama: kernel table version %u, expected %u",
                          k ? k->version : 0, SIEVE_KERNELS_VERSION);
    if (!k->matmul_backward || !k->rmsnorm_backward || !k->rope_backward ||
        !k->attention_backward || !k->swiglu_backward || !k->embedding_backward ||
        !k->cross_entropy_backward)
        return sieve_fail(err, "llama: backend '%s' has no backward kernels", k->name);
    if (B_cap < 1 || T_cap < 1 || (size_t)B_cap * (size_t)T_cap > ((size_t)1 << 28))
        return sieve_fail(err, "llama: bad training batch capacity %d x %d", B_cap, T_cap);
    sieve_llama_train *t = calloc(1, sizeof *t);
    if (!t) return sieve_fail(err, "llama: out of memory");
    const sieve_llama_config *c = &m->cfg;
    t->m = m;
    t->k = k;
    t->kc = kc;
    t->B_cap = B_cap;
    t->T_cap = T_cap;
    size_t M = (size_t)B_cap * T_cap;
    /* Rows of logits per chunk: about 32 MB, big enough for efficient GEMMs. */
    size_t ch = ((size_t)1 << 23) / (size_t)c->vocab;
    t->chunk = (int)(ch < 16 ? 16 : ch > 1024 ? 1024 : ch);
    if ((size_t)t->chunk > M) t->chunk = (int)M;
    t->acts = calloc((size_t)c->n_layers, sizeof *t->acts);
    t->wl = calloc((size_t)c->n_layers, sizeof *t->wl);
    t->gl = calloc((size_t)c->n_layers, sizeof *t->gl);
    t->h_pos = malloc(M * sizeof *t->h_pos);
    t->h_lp = malloc(M * sizeof *t->h_lp);
    if (!t->acts || !t->wl || !t->gl || !t->h_pos || !t->h_lp) {
        sieve_llama_train_free(t);
        return sieve_fail(err, "llama: out of memory");
    }
    size_t pbytes = m->n_params * sizeof(float);
    if (k->flags & SIEVE_KERNELS_HOST_MEMORY) {
        t->dparams = m->params;
    } else {
        t->dparams = k->alloc(kc, pbytes, err);
        if (!t->dparams) {
            sieve_llama_train_free(t);
            return SIEVE_ERR;
        }
        k->copy_to_device(kc, t->dparams, m->params, pbytes);
    }
    t->dgrads = k->alloc(kc, pbytes, err);
    if (!t->dgrads) {
        sieve_err_prefix(err, "llama: gradients of %zu parameters", m->n_params);
        sieve_llama_train_free(t);
        return SIEVE_ERR;
    }
    sieve_llama_views(c, t->dparams, t->wl, &t->w);
    sieve_llama_views(c, t->dgrads, t->gl, &t->g);
    size_t floats = layout(t, NULL);
    t->mem = k->alloc(kc, floats * sizeof(float), err);
    if (!t->mem) {
        sieve_err_prefix(err, "llama: training activations for %d x %d tokens", B_cap, T_cap);
        sieve_llama_train_free(t);
        return SIEVE_ERR;
    }
    layout(t, t->mem);
    *out = t;
    return SIEVE_OK;
}

void sieve_llama_train_free(sieve_llama_train *t)
{
    if (!t) return;
    if (t->mem) t->k->free(t->kc, t->mem);
    if (t->dgrads) t->k->free(t->kc, t->dgrads);
    if (t->dparams && t->dparams != t->m->params) t->k->free(t->kc, t->dparams);
    free(t->acts);
    free(t->wl);
    free(t->gl);
    free(t->h_pos);
    free(t->h_lp);
    free(t);
}

float *sieve_llama_train_params(sieve_llama_train *t) { return t->dparams; }
float *sieve_llama_train_grads(sieve_llama_train *t) { return t->dgrads; }

void sieve_llama_train_zero_grads(sieve_llama_train *t)
{
    t->k->zero(t->kc, t->dgrads, t->m->n_params * sizeof(float));
}

void sieve_llama_train_download(sieve_llama_train *t)
{
    if (t->dparams != t->m->params)
        t->k->copy_to_host(t->kc, t->m->params, t->dparams, t->m->n_params * sizeof(float));
}

void sieve_llama_train_upload(sieve_llama_train *t)
{
    if (t->dparams != t->m->params)
        t->k->copy_to_device(t->kc, t->dparams, t->m->params, t->m->n_params * sizeof(float));
}

/* One decoder layer forward, keeping its activations; x_next [M,D]. */
static void layer_fwd(sieve_llama_train *t, int l, int B, int T, float *x_next)
{
    const sieve_kernels *k = t->k;
    sieve_kctx *kc = t->kc;
    const sieve_llama_config *c = &t->m->cfg;
    const llama_layer_acts *a = &t->acts[l];
    int H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, KVd = KV * hd;
    llama_layer_call s = {.k = k, .kc = kc, .c = c, .w = &t->w.layers[l], .a = a,
                          .pos = t->pos, .proj = t->proj, .M = B * T};

    llama_layer_before_attention(&s, a->k, a->v);
    if (t->doc)
        k->attention_doc(kc, a->att, a->lse, a->q, a->k, a->v, t->pos, B, T, T, H, KV, hd,
                         (size_t)T * KVd);
    else
        k->attention(kc, a->att, a->lse, a->q, a->k, a->v, B, T, T, H, KV, hd, (size_t)T * KVd);
    llama_layer_after_attention(&s, x_next);
}

/* One decoder layer backward: t->dx holds d(x_next) on entry, d(x_in) on exit. */
static void layer_bwd(sieve_llama_train *t, int l, int B, int T)
{
    const sieve_kernels *k = t->k;
    sieve_kctx *kc = t->kc;
    const sieve_llama_config *c = &t->m->cfg;
    const sieve_llama_layer_w *w = &t->w.layers[l];
    const sieve_llama_layer_w *g = &t->g.layers[l];
    const llama_layer_acts *a = &t->acts[l];
    int M = B * T, D = c->dim, F = c->ffn, H = c->n_heads, KV = c->n_kv_heads;
    int hd = c->head_dim, Q = H * hd, KVd = KV * hd;
    float theta = (float)c->rope_theta;

    /* MLP: x_next = x_mid + down(silu(gate(ln2)) * up(ln2)) */
    k->matmul_backward(kc, t->dact, g->w_down, t->dx, a->act, w->w_down, M, D, F, 0);
    k->swiglu_backward(kc, t->dgate, t->dup, t->dact, a->gate, a->up, M, F);
    k->matmul_backward(kc, t->dln, g->w_gate, t->dgate, a->ln2, w->w_gate, M, F, D, 0);
    k->matmul_backward(kc, t->dln, g->w_up, t->dup, a->ln2, w->w_up, M, F, D, 1);
    k->rmsnorm_backward(kc, t->dtmp, g->mlp_norm, t->dln, a->x_mid, w->mlp_norm, a->rstd2, M, D);
    k->add(kc, t->dx, t->dx, t->dtmp, (size_t)M * D);

    /* attention: x_mid = x_in + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))) */
    k->matmul_backward(kc, t->datt, g->wo, t->dx, a->att, w->wo, M, D, Q, 0);
    k->zero(kc, t->dk, (size_t)M * KVd * sizeof(float));
    k->zero(kc, t->dv, (size_t)M * KVd * sizeof(float));
    if (t->doc)
        k->attention_doc_backward(kc, t->dq, t->dk, t->dv, t->datt, a->att, a->lse, a->q, a->k,
                                  a->v, t->pos, B, T, T, H, KV, hd, (size_t)T * KVd);
    else
        k->attention_backward(kc, t->dq, t->dk, t->dv, t->datt, a->att, a->lse, a->q, a->k,
                              a->v, B, T, T, H, KV, hd, (size_t)T * KVd);
    k->rope_backward(kc, t->dq, t->pos, M, H, hd, theta);
    k->rope_backward(kc, t->dk, t->pos, M, KV, hd, theta);
    k->matmul_backward(kc, t->dln, g->wq, t->dq, a->ln1, w->wq, M, Q, D, 0);
    k->matmul_backward(kc, t->dln, g->wk, t->dk, a->ln1, w->wk, M, KVd, D, 1);
    k->matmul_backward(kc, t->dln, g->wv, t->dv, a->ln1, w->wv, M, KVd, D, 1);
    k->rmsnorm_backward(kc, t->dtmp, g->attn_norm, t->dln, a->x_in, w->attn_norm, a->rstd1, M, D);
    k->add(kc, t->dx, t->dx, t->dtmp, (size_t)M * D);
}

sieve_status sieve_llama_loss_grad(sieve_llama_train *t, const int32_t *ids,
                                   const int32_t *targets, int B, int T, float scale,
                                   double *nll_sum, long *n_targets, sieve_err *err)
{
    return sieve_llama_loss_grad_packed(t, ids, targets, NULL, B, T, scale, nll_sum, n_targets,
                                        err);
}

sieve_status sieve_llama_loss_grad_packed(sieve_llama_train *t, const int32_t *ids,
                                          const int32_t *targets, const int32_t *positions,
                                          int B, int T, float scale, double *nll_sum,
                                          long *n_targets, sieve_err *err)
{
    const sieve_kernels *k = t->k;
    sieve_kctx *kc = t->kc;
    const sieve_llama_config *c = &t->m->cfg;
    if (B < 1 || T < 1 || B * T > t->B_cap * t->T_cap || T > t->T_cap)
        return sieve_fail(err, "llama: training batch %d x %d does not fit the run's %d x %d",
                          B, T, t->B_cap, t->T_cap);
    int M = B * T, D = c->dim, V = c->vocab, L = c->n_layers;
    if (positions && (k->size < offsetof(sieve_kernels, attention_doc_backward) +
                                    sizeof k->attention_doc_backward ||
                      !k->attention_doc || !k->attention_doc_backward))
        return sieve_fail(err, "llama: backend '%s' has no document-masked attention (needed "
                          "for packed rows)", k->name);
    t->doc = positions != NULL;
    long count = 0;
    for (int i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return sieve_fail(err, "llama: token id %d (sequence %d, position %d) is outside "
                              "the vocabulary [0, %d)", ids[i], i / T, i % T, V);
        if (targets[i] >= V)
            return sieve_fail(err, "llama: target id %d (sequence %d, position %d) is outside "
                              "the vocabulary [0, %d)", targets[i], i / T, i % T, V);
        t->h_pos[i] = positions ? positions[i] : i % T;
        if (positions && positions[i] > i % T)
            return sieve_fail(err, "llama: position %d (sequence %d, index %d) is past its "
                              "index in the row", positions[i], i / T, i % T);
        t->h_lp[i] = targets[i] >= 0 ? scale : 0.0f;
        count += targets[i] >= 0;
    }
    k->copy_to_device(kc, t->ids, ids, (size_t)M * sizeof *ids);
    k->copy_to_device(kc, t->pos, t->h_pos, (size_t)M * sizeof *t->h_pos);
    k->copy_to_device(kc, t->tgt, targets, (size_t)M * sizeof *targets);
    k->copy_to_device(kc, t->rscale, t->h_lp, (size_t)M * sizeof *t->h_lp);

    /* forward */
    k->embedding(kc, t->acts[0].x_in, t->ids, t->w.embed, M, D, V);
    for (int l = 0; l < L; l++)
        layer_fwd(t, l, B, T, l + 1 < L ? t->acts[l + 1].x_in : t->x_out);
    k->rmsnorm(kc, t->hidden, t->rstdf, t->x_out, t->w.final_norm, M, D, (float)c->norm_eps);

    /* loss and d(hidden), one chunk of logits at a time */
    for (int r0 = 0; r0 < M; r0 += t->chunk) {
        int rows = M - r0 < t->chunk ? M - r0 : t->chunk;
        const float *h = t->hidden + (size_t)r0 * D;
        k->matmul(kc, t->logits, h, t->w.lm_head, rows, V, D, 0);
        k->cross_entropy(kc, t->lp + r0, t->lse + r0, t->logits, t->tgt + r0, rows, V);
        k->cross_entropy_backward(kc, t->logits, t->logits, t->lse + r0, t->tgt + r0,
                                  t->rscale + r0, rows, V);
        k->matmul_backward(kc, t->dln + (size_t)r0 * D, t->g.lm_head, t->logits, h,
                           t->w.lm_head, rows, V, D, 0);
    }
    k->rmsnorm_backward(kc, t->dx, t->g.final_norm, t->dln, t->x_out, t->w.final_norm,
                        t->rstdf, M, D);

    /* backward through the layers, then the embedding */
    for (int l = L - 1; l >= 0; l--) layer_bwd(t, l, B, T);
    k->embedding_backward(kc, t->g.embed, t->dx, t->ids, M, D, V);

    k->copy_to_host(kc, t->h_lp, t->lp, (size_t)M * sizeof *t->h_lp);
    double nll = 0.0;
    for (int i = 0; i < M; i++)
        if (targets[i] >= 0) nll -= t->h_lp[i];
    if (nll_sum) *nll_sum += nll;
    if (n_targets) *n_targets += count;
    return SIEVE_OK;
}
