/* The sampler's ragged, KV-cached LLaMA forward (see engine.h). Follows HF's
 * LlamaDecoderLayer: x += o_proj(attn(rope(q), rope(k), v)) on
 * input_layernorm(x), then x += down(silu(gate) * up) on
 * post_attention_layernorm(x); final norm and lm_head. */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matmul.h"
#include "vec.h"

#define ATT_MAX_T 16384   /* positions one attention row may see */

typedef struct {
    float *k, *v;   /* [L][T][KVd] each */
    int T;          /* capacity in positions */
} slot_cache;

struct smp_engine {
    const sieve_llama *m;
    const sieve_kernels *k;
    sieve_kctx *kc;
    sieve_pool *pool;
    int n_slots, max_rows;
    slot_cache *sc;
    /* scratch, max_rows rows each */
    float *x, *ln, *q, *kn, *vn, *att, *proj, *gate, *up, *hsel;
    int32_t *pos;
};

static void *alloc_f(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

sieve_status smp_engine_new(const sieve_llama *m, const sieve_kernels *k, sieve_kctx *kc,
                            sieve_pool *pool, int n_slots, int max_rows, smp_engine **out,
                            sieve_err *err)
{
    *out = NULL;
    if (!(k->flags & SIEVE_KERNELS_HOST_MEMORY))
        return sieve_fail(err, "sample: backend '%s' does not use host memory; the sampler's "
                          "row-invariant kernels run on the CPU only for now", k->name);
    smp_engine *e = calloc(1, sizeof *e);
    if (!e) return sieve_fail(err, "sample: out of memory");
    const sieve_llama_config *c = &m->cfg;
    e->m = m;
    e->k = k;
    e->kc = kc;
    e->pool = pool;
    e->n_slots = n_slots;
    e->max_rows = max_rows;
    size_t R = (size_t)max_rows, D = (size_t)c->dim, F = (size_t)c->ffn;
    size_t Q = (size_t)c->n_heads * c->head_dim, KVd = (size_t)c->n_kv_heads * c->head_dim;
    e->sc = calloc((size_t)n_slots, sizeof *e->sc);
    e->x = alloc_f(R * D);
    e->ln = alloc_f(R * D);
    e->q = alloc_f(R * Q);
    e->kn = alloc_f(R * KVd);
    e->vn = alloc_f(R * KVd);
    e->att = alloc_f(R * Q);
    e->proj = alloc_f(R * D);
    e->gate = alloc_f(R * F);
    e->up = alloc_f(R * F);
    e->hsel = alloc_f(R * D);
    e->pos = calloc(R, sizeof *e->pos);
    if (!e->sc || !e->x || !e->ln || !e->q || !e->kn || !e->vn || !e->att || !e->proj ||
        !e->gate || !e->up || !e->hsel || !e->pos) {
        smp_engine_free(e);
        return sieve_fail(err, "sample: out of memory for %d rows of activations", max_rows);
    }
    *out = e;
    return SIEVE_OK;
}

void smp_engine_free(smp_engine *e)
{
    if (!e) return;
    if (e->sc)
        for (int s = 0; s < e->n_slots; s++) {
            free(e->sc[s].k);
            free(e->sc[s].v);
        }
    free(e->sc);
    free(e->x);
    free(e->ln);
    free(e->q);
    free(e->kn);
    free(e->vn);
    free(e->att);
    free(e->proj);
    free(e->gate);
    free(e->up);
    free(e->hsel);
    free(e->pos);
    free(e);
}

static size_t kvd(const smp_engine *e)
{
    return (size_t)e->m->cfg.n_kv_heads * e->m->cfg.head_dim;
}

sieve_status smp_slot_reserve(smp_engine *e, int slot, int T, sieve_err *err)
{
    slot_cache *s = &e->sc[slot];
    if (T <= s->T) return SIEVE_OK;
    if (T > ATT_MAX_T)
        return sieve_fail(err, "sample: %d positions exceed the sampler's limit of %d", T,
                          ATT_MAX_T);
    /* Grow with headroom so slots reused by similar prompts rarely reallocate. */
    int cap = T + T / 4;
    if (cap > ATT_MAX_T) cap = ATT_MAX_T;
    size_t n = (size_t)e->m->cfg.n_layers * cap * kvd(e);
    float *k = malloc(n * sizeof *k), *v = malloc(n * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return sieve_fail(err, "sample: out of memory for a K/V cache of %d positions", cap);
    }
    free(s->k);
    free(s->v);
    s->k = k;
    s->v = v;
    s->T = cap;
    return SIEVE_OK;
}

void smp_slot_copy(smp_engine *e, int dst, int src, int n)
{
    slot_cache *d = &e->sc[dst], *s = &e->sc[src];
    size_t row = kvd(e);
    for (int l = 0; l < e->m->cfg.n_layers; l++) {
        memcpy(d->k + (size_t)l * d->T * row, s->k + (size_t)l * s->T * row,
               (size_t)n * row * sizeof(float));
        memcpy(d->v + (size_t)l * d->T * row, s->v + (size_t)l * s->T * row,
               (size_t)n * row * sizeof(float));
    }
}

/* ---- attention: one task per (row, head) ---- */
typedef struct {
    smp_engine *e;
    int layer, H, KV, hd;
    const int32_t *slot, *pos;
    float scale;
} att_job;

/* q.k over hd: eight lane sums in k order, a fixed horizontal sum, the tail. */
static float dot(const float *a, const float *b, int n)
{
    v8f acc = v8_zero();
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = V8_FMA(v8_ld(a + i), v8_ld(b + i), acc);
    float s = v8_hsum(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* o[d] += p * v[d], one multiply-add per element. */
static void axpy(float *o, float p, const float *v, int n)
{
    v8f vp = v8_set1(p);
    int d = 0;
    for (; d + 8 <= n; d += 8) v8_st(o + d, V8_FMA(vp, v8_ld(v + d), v8_ld(o + d)));
    for (; d < n; d++) o[d] += p * v[d];
}

static void att_task(void *arg, int t)
{
    const att_job *j = arg;
    smp_engine *e = j->e;
    int row = t / j->H, h = t % j->H, hd = j->hd;
    int g = h / (j->H / j->KV), nk = j->pos[row] + 1;
    const slot_cache *c = &e->sc[j->slot[row]];
    size_t rs = (size_t)j->KV * hd;
    const float *kb = c->k + (size_t)j->layer * c->T * rs + (size_t)g * hd;
    const float *vb = c->v + (size_t)j->layer * c->T * rs + (size_t)g * hd;
    const float *q = e->q + ((size_t)row * j->H + h) * hd;
    float *o = e->att + ((size_t)row * j->H + h) * hd;
    float s[ATT_MAX_T];
    float mx = -INFINITY;
    for (int i = 0; i < nk; i++) {
        s[i] = dot(q, kb + (size_t)i * rs, hd) * j->scale;
        if (s[i] > mx) mx = s[i];
    }
    float l = 0.0f;
    int i = 0;
    v8f vm = v8_set1(mx);
    for (; i + 8 <= nk; i += 8) v8_st(s + i, v8_exp(v8_ld(s + i) - vm));
    if (i < nk) {   /* the tail through the same lane function */
        float t[8] = {0};
        memcpy(t, s + i, (size_t)(nk - i) * sizeof *t);
        v8_st(t, v8_exp(v8_ld(t) - vm));
        memcpy(s + i, t, (size_t)(nk - i) * sizeof *t);
    }
    for (i = 0; i < nk; i++) l += s[i];
    memset(o, 0, (size_t)hd * sizeof *o);
    for (i = 0; i < nk; i++) axpy(o, s[i], vb + (size_t)i * rs, hd);
    float inv = 1.0f / l;
    for (int d = 0; d < hd; d++) o[d] *= inv;
}

sieve_status smp_forward(smp_engine *e, const int32_t *ids, const int32_t *slot,
                         const int32_t *pos, int M, const int *logit_rows, int n_logits,
                         float *logits, sieve_err *err)
{
    const sieve_kernels *k = e->k;
    sieve_kctx *kc = e->kc;
    const sieve_llama_config *c = &e->m->cfg;
    const sieve_llama_weights *w = &e->m->w;
    int D = c->dim, F = c->ffn, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim;
    int Q = H * hd, KVd = KV * hd, V = c->vocab;
    float eps = (float)c->norm_eps, theta = (float)c->rope_theta;
    if (M < 1 || M > e->max_rows || n_logits > M)
        return sieve_fail(err, "sample: forward of %d rows (%d logits) exceeds %d", M, n_logits,
                          e->max_rows);
    for (int i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return sieve_fail(err, "sample: token id %d outside the vocabulary [0, %d)", ids[i],
                              V);
        if (slot[i] < 0 || slot[i] >= e->n_slots || pos[i] < 0 || pos[i] >= e->sc[slot[i]].T)
            return sieve_fail(err, "sample: row %d (slot %d, position %d) outside the cache", i,
                              slot[i], pos[i]);
    }
    k->embedding(kc, e->x, ids, w->embed, M, D, V);
    for (int l = 0; l < c->n_layers; l++) {
        const sieve_llama_layer_w *lw = &w->layers[l];
        k->rmsnorm(kc, e->ln, NULL, e->x, lw->attn_norm, M, D, eps);
        smp_mm qkv[3] = {{e->q, lw->wq, Q}, {e->kn, lw->wk, KVd}, {e->vn, lw->wv, KVd}};
        smp_matmul_multi(e->pool, e->ln, M, D, qkv, 3);
        k->rope(kc, e->q, pos, M, H, hd, theta);
        k->rope(kc, e->kn, pos, M, KV, hd, theta);
        for (int i = 0; i < M; i++) {
            slot_cache *sc = &e->sc[slot[i]];
            size_t off = ((size_t)l * sc->T + (size_t)pos[i]) * KVd;
            memcpy(sc->k + off, e->kn + (size_t)i * KVd, (size_t)KVd * sizeof(float));
            memcpy(sc->v + off, e->vn + (size_t)i * KVd, (size_t)KVd * sizeof(float));
        }
        att_job aj = {e, l, H, KV, hd, slot, pos, 1.0f / sqrtf((float)hd)};
        sieve_pool_run(e->pool, M * H, att_task, &aj);
        smp_matmul(e->pool, e->proj, e->att, lw->wo, M, D, Q);
        k->add(kc, e->x, e->x, e->proj, (size_t)M * D);
        k->rmsnorm(kc, e->ln, NULL, e->x, lw->mlp_norm, M, D, eps);
        smp_mm gu[2] = {{e->gate, lw->w_gate, F}, {e->up, lw->w_up, F}};
        smp_matmul_multi(e->pool, e->ln, M, D, gu, 2);
        k->swiglu(kc, e->gate, e->gate, e->up, M, F);
        smp_matmul(e->pool, e->proj, e->gate, lw->w_down, M, D, F);
        k->add(kc, e->x, e->x, e->proj, (size_t)M * D);
    }
    if (n_logits <= 0) return SIEVE_OK;
    for (int i = 0; i < n_logits; i++)
        memcpy(e->hsel + (size_t)i * D, e->x + (size_t)logit_rows[i] * D,
               (size_t)D * sizeof(float));
    k->rmsnorm(kc, e->hsel, NULL, e->hsel, w->final_norm, n_logits, D, eps);
    smp_matmul(e->pool, logits, e->hsel, w->lm_head, n_logits, V, D);
    return SIEVE_OK;
}

sieve_status smp_prefill(smp_engine *e, int slot, const int32_t *ids, int n, float *logits,
                         sieve_err *err)
{
    if (n < 1) return sieve_fail(err, "sample: empty prompt");
    if (smp_slot_reserve(e, slot, n, err)) return SIEVE_ERR;
    int32_t *sl = malloc((size_t)e->max_rows * sizeof *sl);
    if (!sl) return sieve_fail(err, "sample: out of memory");
    for (int i = 0; i < e->max_rows; i++) sl[i] = slot;
    sieve_status st = SIEVE_OK;
    for (int p0 = 0; p0 < n && !st; p0 += e->max_rows) {
        int rows = n - p0 < e->max_rows ? n - p0 : e->max_rows;
        for (int i = 0; i < rows; i++) e->pos[i] = p0 + i;
        int last = rows - 1;
        int want = p0 + rows == n;
        st = smp_forward(e, ids + p0, sl, e->pos, rows, &last, want, logits, err);
    }
    free(sl);
    return st;
}
