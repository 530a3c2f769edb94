/* The parameter table (HF names, shapes, offsets into one f32 buffer), named
 * views into such a buffer, and HF-style random init. */
#include "sieve/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Adds one entry (when out has room) and returns the next offset. */
static size_t add(sieve_llama_tensor *out, int max, int *n, size_t off, const char *name,
                  int64_t a, int64_t b)
{
    size_t numel = (size_t)a * (size_t)(b > 0 ? b : 1);
    if (out && *n < max) {
        sieve_llama_tensor *t = &out[*n];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->rank = b > 0 ? 2 : 1;
        t->shape[0] = a;
        t->shape[1] = b > 0 ? b : 0;
        t->offset = off;
        t->numel = numel;
    }
    (*n)++;
    return off + numel;
}

/* Storage order: embedding, then per layer in the order of the forward pass,
 * final norm, lm_head. Gradients and optimizer moments share this layout. */
static size_t table(const sieve_llama_config *c, sieve_llama_tensor *out, int max, int *n)
{
    int64_t D = c->dim, F = c->ffn, V = c->vocab;
    int64_t Q = (int64_t)c->n_heads * c->head_dim, KVd = (int64_t)c->n_kv_heads * c->head_dim;
    size_t off = 0;
    char name[96];
    *n = 0;
    off = add(out, max, n, off, "model.embed_tokens.weight", V, D);
    for (int l = 0; l < c->n_layers; l++) {
#define LAYER(suffix, a, b) \
        snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix); \
        off = add(out, max, n, off, name, a, b)
        LAYER("input_layernorm.weight", D, 0);
        LAYER("self_attn.q_proj.weight", Q, D);
        LAYER("self_attn.k_proj.weight", KVd, D);
        LAYER("self_attn.v_proj.weight", KVd, D);
        LAYER("self_attn.o_proj.weight", D, Q);
        LAYER("post_attention_layernorm.weight", D, 0);
        LAYER("mlp.gate_proj.weight", F, D);
        LAYER("mlp.up_proj.weight", F, D);
        LAYER("mlp.down_proj.weight", D, F);
#undef LAYER
    }
    off = add(out, max, n, off, "model.norm.weight", D, 0);
    if (!c->tie_embeddings) off = add(out, max, n, off, "lm_head.weight", V, D);
    return off;
}

int sieve_llama_tensors(const sieve_llama_config *cfg, sieve_llama_tensor *out, int max)
{
    int n;
    table(cfg, out, max, &n);
    return n;
}

size_t sieve_llama_n_params(const sieve_llama_config *cfg)
{
    int n;
    return table(cfg, NULL, 0, &n);
}

void sieve_llama_views(const sieve_llama_config *c, float *base,
                       sieve_llama_layer_w *layers, sieve_llama_weights *w)
{
    size_t D = (size_t)c->dim, F = (size_t)c->ffn, V = (size_t)c->vocab;
    size_t Q = (size_t)c->n_heads * c->head_dim, KVd = (size_t)c->n_kv_heads * c->head_dim;
    float *p = base;
    w->embed = p; p += V * D;
    w->layers = layers;
    for (int l = 0; l < c->n_layers; l++) {
        sieve_llama_layer_w *L = &layers[l];
        L->attn_norm = p; p += D;
        L->wq = p; p += Q * D;
        L->wk = p; p += KVd * D;
        L->wv = p; p += KVd * D;
        L->wo = p; p += D * Q;
        L->mlp_norm = p; p += D;
        L->w_gate = p; p += F * D;
        L->w_up = p; p += F * D;
        L->w_down = p; p += D * F;
    }
    w->final_norm = p; p += D;
    w->lm_head = c->tie_embeddings ? w->embed : p;
}

sieve_status sieve_llama_new(const sieve_llama_config *cfg, sieve_llama **out, sieve_err *err)
{
    *out = NULL;
    sieve_llama *m = calloc(1, sizeof *m);
    if (!m) return sieve_fail(err, "llama: out of memory");
    m->cfg = *cfg;
    m->n_params = sieve_llama_n_params(cfg);
    m->params = calloc(m->n_params, sizeof *m->params);
    /* Large: glibc maps it fresh (zero, untouched), so ask for huge pages
     * before the load writes every page (a hint: fine if refused). */
    size_t bytes = m->n_params * sizeof *m->params;
    if (m->params && bytes >= ((size_t)8 << 20)) {
        uintptr_t a = ((uintptr_t)m->params + 4095) & ~(uintptr_t)4095;
        madvise((void *)a, bytes - (a - (uintptr_t)m->params), MADV_HUGEPAGE);
    }
    sieve_llama_layer_w *layers = calloc((size_t)cfg->n_layers, sizeof *layers);
    if (!m->params || !layers) {
        free(layers);
        sieve_llama_free(m);
        return sieve_fail(err, "llama: cannot allocate %zu parameters", m->n_params);
    }
    sieve_llama_views(cfg, m->params, layers, &m->w);
    *out = m;
    return SIEVE_OK;
}

void sieve_llama_free(sieve_llama *m)
{
    if (!m) return;
    free(m->w.layers);
    free(m->params);
    free(m->src_dir);
    free(m);
}

int sieve_llama_drop_matrix(sieve_llama *m, float **view)
{
    if (!*view || *view == m->w.embed) return -1;
    size_t at = (size_t)(*view - m->params);
    int n = sieve_llama_tensors(&m->cfg, NULL, 0), found = 0;
    sieve_llama_tensor *t = malloc((size_t)n * sizeof *t);
    if (!t) return -1;
    sieve_llama_tensors(&m->cfg, t, n);
    for (int i = 0; i < n && !found; i++) {
        if (t[i].offset != at || t[i].rank != 2) continue;
        found = 1;
        /* Whole pages inside the matrix only: its neighbours stay. */
        const uintptr_t page = 4096;
        uintptr_t lo = (uintptr_t)(m->params + t[i].offset);
        uintptr_t hi = (uintptr_t)(m->params + t[i].offset + t[i].numel);
        lo = (lo + page - 1) & ~(page - 1);
        hi &= ~(page - 1);
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    free(t);
    if (!found) return -1;
    *view = NULL;   /* a later use faults at once instead of reading zeros */
    return 0;
}

/* ---- init ---- */
typedef struct { uint64_t s[4]; } rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro(rng_t *r)   /* xoshiro256** */
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1]. */
static double unif(rng_t *r) { return ((xoshiro(r) >> 11) + 1) * (1.0 / 9007199254740992.0); }

void sieve_llama_init(sieve_llama *m, uint64_t seed)
{
    int n = sieve_llama_tensors(&m->cfg, NULL, 0);
    sieve_llama_tensor *t = malloc((size_t)n * sizeof *t);
    if (!t) return;
    sieve_llama_tensors(&m->cfg, t, n);
    for (int i = 0; i < n; i++) {
        float *p = m->params + t[i].offset;
        if (t[i].rank == 1) {                     /* RMSNorm weights */
            for (size_t j = 0; j < t[i].numel; j++) p[j] = 1.0f;
            continue;
        }
        /* Each tensor has its own stream (seed, index), so adding a tensor
         * later does not change the others. */
        uint64_t x = seed ^ (0x5851f42d4c957f2dull * (uint64_t)(i + 1));
        rng_t r = {{splitmix64(&x), splitmix64(&x), splitmix64(&x), splitmix64(&x)}};
        for (size_t j = 0; j < t[i].numel; j += 2) {   /* Box-Muller, two at a time */
            double u1 = unif(&r), u2 = unif(&r);
            double rad = sqrt(-2.0 * log(u1)), ang = 6.283185307179586 * u2;
            p[j] = (float)(m->cfg.init_range * rad * cos(ang));
            if (j + 1 < t[i].numel) p[j + 1] = (float)(m->cfg.init_range * rad * sin(ang));
        }
    }
    free(t);
}
