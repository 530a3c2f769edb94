/* The LLaMA forward pass on a kernel backend (sieve_llama_run).
 *
 * Everything runs through the vtable, so the same code drives CPU and CUDA.
 * Activations live in one allocation with named views (llm.c style); with
 * SIEVE_LLAMA_KEEP_ACTS each layer has its own set (what backward needs),
 * otherwise the layers share one set and the residual stream is updated in
 * place. The K/V cache is always per layer: a forward over positions
 * pos0..pos0+Tq-1 writes their keys and values there and attends to every
 * cached position before them, which is both the full forward (pos0 = 0)
 * and incremental decode (Tq = 1). */
#include "sieve/llama.h"

#include <stdlib.h>
#include <string.h>

#include "llama_internal.h"

struct sieve_llama_run {
    const sieve_llama *m;
    const sieve_kernels *k;
    sieve_kctx *kc;
    int B_cap, T_cap, chunk;
    unsigned flags;
    float *dparams;             /* device weights; == m->params on host-memory backends */
    sieve_llama_layer_w *dlayers;
    sieve_llama_weights w;      /* views into dparams */
    void *mem;                  /* every activation, one allocation */
    llama_layer_acts *acts;     /* [L]; k, v: the layer's K/V cache */
    float *x_out;               /* [M,D] residual stream after the last layer */
    float *hidden;              /* [M,D] model.norm(x_out) */
    float *rstdf;               /* [M] */
    float *proj;                /* [M,D] o_proj / down_proj output (scratch) */
    float *ktmp, *vtmp;         /* [M,KV*hd] new K/V before they go into the cache */
    float *logits;              /* [chunk, V] */
    float *lp;                  /* [M] target log-probabilities */
    int32_t *ids, *pos, *tgt;   /* [M] each */
    int32_t *h_pos, *h_tgt;     /* host staging, [M] each */
    float *h_lp;                /* host staging, [M] */
};

/* Carves n floats (64-byte aligned) from a running offset; with base NULL
 * only counts. */
static float *carve(float *base, size_t *off, size_t n)
{
    float *p = base ? base + *off : NULL;
    *off += (n + 15) / 16 * 16;
    return p;
}

/* Lays out (base NULL: measures) every activation; returns floats needed. */
static size_t layout(sieve_llama_run *r, float *base)
{
    const sieve_llama_config *c = &r->m->cfg;
    size_t M = (size_t)r->B_cap * r->T_cap, D = (size_t)c->dim, F = (size_t)c->ffn;
    size_t Q = (size_t)c->n_heads * c->head_dim, KVd = (size_t)c->n_kv_heads * c->head_dim;
    size_t off = 0;
    int L = c->n_layers, keep = (r->flags & SIEVE_LLAMA_KEEP_ACTS) != 0;
    float *x = carve(base, &off, M * D);
    for (int l = 0; l < L; l++) {
        llama_layer_acts *a = &r->acts[l];
        if (keep || l == 0) {
            a->x_in = x;   /* layers after the first: set below */
            a->ln1 = carve(base, &off, M * D);
            a->rstd1 = carve(base, &off, M);
            a->q = carve(base, &off, M * Q);
            a->att = carve(base, &off, M * Q);
            a->lse = carve(base, &off, M * c->n_heads);
            a->x_mid = keep ? carve(base, &off, M * D) : x;
            a->ln2 = carve(base, &off, M * D);
            a->rstd2 = carve(base, &off, M);
            a->gate = carve(base, &off, M * F);
            a->up = carve(base, &off, M * F);
            a->act = keep ? carve(base, &off, M * F) : a->gate;
        } else {
            *a = r->acts[0];
        }
        a->k = carve(base, &off, M * KVd);
        a->v = carve(base, &off, M * KVd);
    }
    /* The residual stream: with keep, layer l+1's input is a fresh buffer
     * (x_mid[l] + mlp); without, everything is x. */
    for (int l = 1; l < L; l++) r->acts[l].x_in = keep ? carve(base, &off, M * D) : x;
    r->x_out = keep ? carve(base, &off, M * D) : x;
    r->hidden = carve(base, &off, M * D);
    r->rstdf = carve(base, &off, M);
    r->proj = carve(base, &off, M * D);
    r->ktmp = carve(base, &off, M * KVd);
    r->vtmp = carve(base, &off, M * KVd);
    r->logits = carve(base, &off, (size_t)r->chunk * c->vocab);
    r->lp = carve(base, &off, M);
    r->ids = (int32_t *)carve(base, &off, M);
    r->pos = (int32_t *)carve(base, &off, M);
    r->tgt = (int32_t *)carve(base, &off, M);
    return off;
}

sieve_status sieve_llama_run_new(const sieve_llama *m, const sieve_kernels *k,
                                 sieve_kctx *kc, int B_cap, int T_cap, unsigned flags,
                                 sieve_llama_run **out, sieve_err *err)
{
    *out = NULL;
    if (!k || k->version != SIEVE_KERNELS_VERSION)
        return sieve_fail(err, "llama: kernel table version %u, expected %u",
                          k ? k->version : 0, SIEVE_KERNELS_VERSION);
    if (B_cap < 1 || T_cap < 1 || (size_t)B_cap * (size_t)T_cap > ((size_t)1 << 31))
        return sieve_fail(err, "llama: bad batch capacity %d x %d", B_cap, T_cap);
    sieve_llama_run *r = calloc(1, sizeof *r);
    if (!r) return sieve_fail(err, "llama: out of memory");
    const sieve_llama_config *c = &m->cfg;
    r->m = m;
    r->k = k;
    r->kc = kc;
    r->B_cap = B_cap;
    r->T_cap = T_cap;
    r->flags = flags;
    size_t M = (size_t)B_cap * T_cap;
    /* Rows of logits per vocabulary chunk, about 32 MB: each chunk's matmul
     * packs the whole lm_head once, so fewer, larger chunks pack less; the
     * cross-entropy pass over the chunk then streams it once. */
    size_t ch = ((size_t)1 << 23) / (size_t)c->vocab;
    r->chunk = (int)(ch < 8 ? 8 : ch > 256 ? 256 : ch);
    if ((size_t)r->chunk > M) r->chunk = (int)M;
    r->acts = calloc((size_t)c->n_layers, sizeof *r->acts);
    r->dlayers = calloc((size_t)c->n_layers, sizeof *r->dlayers);
    r->h_pos = malloc(M * sizeof *r->h_pos);
    r->h_tgt = malloc(M * sizeof *r->h_tgt);
    r->h_lp = malloc(M * sizeof *r->h_lp);
    if (!r->acts || !r->dlayers || !r->h_pos || !r->h_tgt || !r->h_lp) {
        sieve_llama_run_free(r);
        return sieve_fail(err, "llama: out of memory");
    }
    if (k->flags & SIEVE_KERNELS_HOST_MEMORY) {
        r->dparams = m->params;
    } else {
        r->dparams = k->alloc(kc, m->n_params * sizeof(float), err);
        if (!r->dparams) {
            sieve_llama_run_free(r);
            return SIEVE_ERR;
        }
        k->copy_to_device(kc, r->dparams, m->params, m->n_params * sizeof(float));
    }
    sieve_llama_views(c, r->dparams, r->dlayers, &r->w);
    size_t floats = layout(r, NULL);
    r->mem = k->alloc(kc, floats * sizeof(float), err);
    if (!r->mem) {
        sieve_err_prefix(err, "llama: activations for %d x %d tokens", B_cap, T_cap);
        sieve_llama_run_free(r);
        return SIEVE_ERR;
    }
    layout(r, r->mem);
    *out = r;
    return SIEVE_OK;
}

void sieve_llama_run_free(sieve_llama_run *r)
{
    if (!r) return;
    if (r->mem) r->k->free(r->kc, r->mem);
    if (r->dparams && r->dparams != r->m->params) r->k->free(r->kc, r->dparams);
    free(r->acts);
    free(r->dlayers);
    free(r->h_pos);
    free(r->h_tgt);
    free(r->h_lp);
    free(r);
}

const float *sieve_llama_hidden(const sieve_llama_run *r) { return r->hidden; }

/* The decoder-layer steps before and after attention, shared with training
 * (backward.c), which keeps its K/V elsewhere and may mask by document. */
void llama_layer_before_attention(const llama_layer_call *s, float *kn, float *vn)
{
    const sieve_kernels *k = s->k;
    sieve_kctx *kc = s->kc;
    const sieve_llama_config *c = s->c;
    const sieve_llama_layer_w *w = s->w;
    const llama_layer_acts *a = s->a;
    int M = s->M, D = c->dim, H = c->n_heads, KV = c->n_kv_heads;
    int hd = c->head_dim, Q = H * hd, KVd = KV * hd;
    float theta = (float)c->rope_theta;

    k->rmsnorm(kc, a->ln1, a->rstd1, a->x_in, w->attn_norm, M, D, (float)c->norm_eps);
    k->matmul(kc, a->q, a->ln1, w->wq, M, Q, D, 0);
    k->matmul(kc, kn, a->ln1, w->wk, M, KVd, D, 0);
    k->matmul(kc, vn, a->ln1, w->wv, M, KVd, D, 0);
    k->rope(kc, a->q, s->pos, M, H, hd, theta);
    k->rope(kc, kn, s->pos, M, KV, hd, theta);
}

void llama_layer_after_attention(const llama_layer_call *s, float *x_next)
{
    const sieve_kernels *k = s->k;
    sieve_kctx *kc = s->kc;
    const sieve_llama_config *c = s->c;
    const sieve_llama_layer_w *w = s->w;
    const llama_layer_acts *a = s->a;
    int M = s->M, D = c->dim, F = c->ffn, Q = c->n_heads * c->head_dim;

    k->matmul(kc, s->proj, a->att, w->wo, M, D, Q, 0);
    k->add(kc, a->x_mid, a->x_in, s->proj, (size_t)M * D);
    k->rmsnorm(kc, a->ln2, a->rstd2, a->x_mid, w->mlp_norm, M, D, (float)c->norm_eps);
    k->matmul(kc, a->gate, a->ln2, w->w_gate, M, F, D, 0);
    k->matmul(kc, a->up, a->ln2, w->w_up, M, F, D, 0);
    k->swiglu(kc, a->act, a->gate, a->up, M, F);
    k->matmul(kc, s->proj, a->act, w->w_down, M, D, F, 0);
    k->add(kc, x_next, a->x_mid, s->proj, (size_t)M * D);
}

/* One decoder layer over M = B*Tq rows (HF LlamaDecoderLayer), attending
 * through the K/V cache. */
static void layer_forward(sieve_llama_run *r, int l, int B, int Tq, int pos0,
                          float *x_next)
{
    const sieve_kernels *k = r->k;
    sieve_kctx *kc = r->kc;
    const sieve_llama_config *c = &r->m->cfg;
    const llama_layer_acts *a = &r->acts[l];
    int H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, KVd = KV * hd;
    size_t bstride = (size_t)r->T_cap * KVd;
    llama_layer_call s = {.k = k, .kc = kc, .c = c, .w = &r->w.layers[l], .a = a,
                          .pos = r->pos, .proj = r->proj, .M = B * Tq};

    /* New keys/values go straight into the cache when their rows are
     * contiguous there (one sequence, or a full-capacity batch). */
    int direct = B == 1 || (pos0 == 0 && Tq == r->T_cap);
    float *kn = direct ? a->k + (size_t)pos0 * KVd : r->ktmp;
    float *vn = direct ? a->v + (size_t)pos0 * KVd : r->vtmp;
    llama_layer_before_attention(&s, kn, vn);
    if (!direct) {
        for (int b = 0; b < B; b++) {
            size_t dst = (size_t)b * bstride + (size_t)pos0 * KVd, src = (size_t)b * Tq * KVd;
            k->copy(kc, a->k + dst, r->ktmp + src, (size_t)Tq * KVd * sizeof(float));
            k->copy(kc, a->v + dst, r->vtmp + src, (size_t)Tq * KVd * sizeof(float));
        }
    }
    k->attention(kc, a->att, a->lse, a->q, a->k, a->v, B, Tq, pos0 + Tq, H, KV, hd, bstride);
    llama_layer_after_attention(&s, x_next);
}

sieve_status sieve_llama_forward(sieve_llama_run *r, const int32_t *ids, int B, int Tq,
                                 int pos0, float *logits, sieve_err *err)
{
    const sieve_kernels *k = r->k;
    sieve_kctx *kc = r->kc;
    const sieve_llama_config *c = &r->m->cfg;
    if (B < 1 || B > r->B_cap || Tq < 1 || pos0 < 0 || pos0 + Tq > r->T_cap)
        return sieve_fail(err, "llama: forward of %d x %d tokens at position %d does not fit "
                          "the run's %d x %d", B, Tq, pos0, r->B_cap, r->T_cap);
    int M = B * Tq, D = c->dim, V = c->vocab;
    for (int i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return sieve_fail(err, "llama: token id %d (sequence %d, position %d) is outside "
                              "the vocabulary [0, %d)", ids[i], i / Tq, pos0 + i % Tq, V);
        r->h_pos[i] = pos0 + i % Tq;
    }
    k->copy_to_device(kc, r->ids, ids, (size_t)M * sizeof *ids);
    k->copy_to_device(kc, r->pos, r->h_pos, (size_t)M * sizeof *r->h_pos);
    k->embedding(kc, r->acts[0].x_in, r->ids, r->w.embed, M, D, V);
    for (int l = 0; l < c->n_layers; l++) {
        float *next = l + 1 < c->n_layers ? r->acts[l + 1].x_in : r->x_out;
        layer_forward(r, l, B, Tq, pos0, next);
    }
    k->rmsnorm(kc, r->hidden, r->rstdf, r->x_out, r->w.final_norm, M, D, (float)c->norm_eps);
    if (!logits) return SIEVE_OK;
    if (k->flags & SIEVE_KERNELS_HOST_MEMORY) {
        k->matmul(kc, logits, r->hidden, r->w.lm_head, M, V, D, 0);
        return SIEVE_OK;
    }
    for (int r0 = 0; r0 < M; r0 += r->chunk) {
        int rows = M - r0 < r->chunk ? M - r0 : r->chunk;
        k->matmul(kc, r->logits, r->hidden + (size_t)r0 * D, r->w.lm_head, rows, V, D, 0);
        k->copy_to_host(kc, logits + (size_t)r0 * V, r->logits, (size_t)rows * V * sizeof(float));
    }
    return SIEVE_OK;
}

sieve_status sieve_llama_score(sieve_llama_run *r, const int32_t *ids, int B, int T,
                               const int *lengths, float *logprobs, sieve_err *err)
{
    const sieve_kernels *k = r->k;
    sieve_kctx *kc = r->kc;
    const sieve_llama_config *c = &r->m->cfg;
    if (sieve_llama_forward(r, ids, B, T, 0, NULL, err)) return SIEVE_ERR;
    int M = B * T, D = c->dim, V = c->vocab;
    for (int b = 0; b < B; b++) {
        int len = lengths ? lengths[b] : T;
        for (int t = 0; t < T; t++)
            r->h_tgt[b * T + t] = t + 1 < len ? ids[b * T + t + 1] : -1;
    }
    k->copy_to_device(kc, r->tgt, r->h_tgt, (size_t)M * sizeof *r->h_tgt);
    for (int r0 = 0; r0 < M; r0 += r->chunk) {
        int rows = M - r0 < r->chunk ? M - r0 : r->chunk;
        k->matmul(kc, r->logits, r->hidden + (size_t)r0 * D, r->w.lm_head, rows, V, D, 0);
        k->cross_entropy(kc, r->lp + r0, NULL, r->logits, r->tgt + r0, rows, V);
    }
    k->copy_to_host(kc, r->h_lp, r->lp, (size_t)M * sizeof *r->h_lp);
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++) logprobs[(size_t)b * (T - 1) + t] = r->h_lp[b * T + t];
    return SIEVE_OK;
}
