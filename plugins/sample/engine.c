/* The sampler's ragged, KV-cached LLaMA forward (see engine.h). Follows HF's
 * LlamaDecoderLayer: x += o_proj(attn(rope(q), rope(k), v)) on
 * input_layernorm(x), then x += down(silu(gate) * up) on
 * post_attention_layernorm(x); final norm and lm_head. */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "rowmm.h"
#include "vec.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define ATT_MAX_T 16384   /* positions one attention row may see */
#define SMP_GROUP_MAX 16  /* rows that read one shared prefix together */

/* Keys and values per layer and kv head, positions contiguous: a head's
 * attention streams one run of memory (decode reads every cached position of
 * every live slot each step, so this traffic is a large part of its cost).
 * A slot that shares its first n_pre positions stores only the rest: its
 * position p at index p - n_pre of each run. */
typedef struct {
    float *k, *v;   /* [L][KV][rows][hd] each, v right after k in one mapping */
    size_t bytes;   /* of the mapping */
    int rows;       /* positions stored per run */
    int pre, n_pre; /* positions [0, n_pre) are slot pre's (n_pre 0: none) */
} slot_cache;

/* Positions the slot can attend to: the shared ones and its own. */
static int slot_end(const slot_cache *s) { return s->n_pre + s->rows; }

/* One layer's weights packed for the matmul. */
typedef struct {
    sieve_rowmm_packed wq, wk, wv, wo, gate, up, down;
} layer_packed;

struct smp_engine {
    const sieve_llama *m;
    layer_packed *lp;   /* [n_layers] */
    sieve_rowmm_packed lm_head;
    const sieve_kernels *k;
    sieve_kctx *kc;
    sieve_pool *pool;
    int n_slots, max_rows;
    slot_cache *sc;
    /* scratch, max_rows rows each */
    float *x, *ln, *q, *kn, *vn, *att, *proj, *gate, *up, *hsel;
    int32_t *pos;
    /* attention: rows in groups that share a prefix (group_at[g] .. [g+1]),
     * the sort keys that form them, and each pool task's score rows */
    int *group, *group_at, att_runs_max;
    uint64_t *keys;
    float *scores;
};

static void *alloc_f(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Packs the model's matrix *w; with give_back, the model's own copy goes
 * back to the system at once. */
static int pack_from(sieve_pool *pool, sieve_rowmm_packed *pw, sieve_llama *m, float **w,
                     int N, int K, int give_back)
{
    if (sieve_rowmm_pack(pool, pw, *w, N, K)) return -1;
    if (give_back) sieve_llama_drop_matrix(m, w);   /* -1 for a tied lm_head: it stays */
    return 0;
}

sieve_status smp_engine_new(sieve_llama *m, int give_back, const sieve_kernels *k,
                            sieve_kctx *kc, sieve_pool *pool, int n_slots, int max_rows,
                            smp_engine **out, sieve_err *err)
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
    e->group = calloc(R, sizeof *e->group);
    e->group_at = calloc(R + 1, sizeof *e->group_at);
    e->keys = calloc(R, sizeof *e->keys);
    /* Several attention runs per thread (rows see different numbers of
     * positions), each with score rows for a group; their pages are touched
     * only as far as rows see positions. */
    e->att_runs_max = 8 * sieve_pool_threads(pool);
    e->scores = malloc((size_t)e->att_runs_max * SMP_GROUP_MAX * ATT_MAX_T * sizeof(float));
    if (!e->sc || !e->x || !e->ln || !e->q || !e->kn || !e->vn || !e->att || !e->proj ||
        !e->gate || !e->up || !e->hsel || !e->pos || !e->group || !e->group_at || !e->keys ||
        !e->scores) {
        smp_engine_free(e);
        return sieve_fail(err, "sample: out of memory for %d rows of activations", max_rows);
    }
    e->lp = calloc((size_t)c->n_layers, sizeof *e->lp);
    int bad = !e->lp ||
              pack_from(pool, &e->lm_head, m, &m->w.lm_head, c->vocab, c->dim, give_back);
    for (int l = 0; !bad && l < c->n_layers; l++) {
        sieve_llama_layer_w *lw = &m->w.layers[l];
        layer_packed *p = &e->lp[l];
        int D = c->dim, F = c->ffn, g = give_back;
        bad = pack_from(pool, &p->wq, m, &lw->wq, (int)Q, D, g) ||
              pack_from(pool, &p->wk, m, &lw->wk, (int)KVd, D, g) ||
              pack_from(pool, &p->wv, m, &lw->wv, (int)KVd, D, g) ||
              pack_from(pool, &p->wo, m, &lw->wo, D, (int)Q, g) ||
              pack_from(pool, &p->gate, m, &lw->w_gate, F, D, g) ||
              pack_from(pool, &p->up, m, &lw->w_up, F, D, g) ||
              pack_from(pool, &p->down, m, &lw->w_down, D, F, g);
    }
    if (bad) {
        smp_engine_free(e);
        return sieve_fail(err, "sample: out of memory for the packed weights (as large as the model)");
    }
    *out = e;
    return SIEVE_OK;
}

void smp_engine_free(smp_engine *e)
{
    if (!e) return;
    if (e->sc)
        for (int s = 0; s < e->n_slots; s++)
            if (e->sc[s].k) munmap(e->sc[s].k, e->sc[s].bytes);
    free(e->sc);
    if (e->lp)
        for (int l = 0; l < e->m->cfg.n_layers; l++) {
            layer_packed *p = &e->lp[l];
            sieve_rowmm_packed *all[] = {&p->wq,   &p->wk, &p->wv,  &p->wo,
                                         &p->gate, &p->up, &p->down};
            for (size_t i = 0; i < sizeof all / sizeof *all; i++) sieve_rowmm_free(all[i]);
        }
    free(e->lp);
    sieve_rowmm_free(&e->lm_head);
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
    free(e->group);
    free(e->group_at);
    free(e->keys);
    free(e->scores);
    free(e);
}

static size_t kvd(const smp_engine *e)
{
    return (size_t)e->m->cfg.n_kv_heads * e->m->cfg.head_dim;
}

/* A K/V cache mapping of at least `want` bytes (its size in *bytes), with
 * its pages in place, on 2 MiB pages where it fills one and the kernel gives
 * them; NULL when out of memory. Each decode step writes one position into
 * every layer's and head's run of every live slot and reads the runs whole: on
 * 4 KiB pages those scattered writes cost a TLB walk each and, in a fresh
 * cache, a page fault each (about 12 us in a VM): 0.29 s of a 2.2 s run of 32
 * sequences in bench-sample, 0.05 s on large pages. Large pages can cost more
 * to set up where a VM's host backs fresh memory lazily (here 0.1-0.5 s for 33
 * slots), but a slot keeps its cache for every sample it runs: a run pays that
 * once. A cache under 2 MiB stays on small pages rather than grow to one. */
static float *kv_map(size_t want, size_t *bytes)
{
    const size_t huge = (size_t)2 << 20, page = 4096;
    int large = want >= huge;
    size_t align = large ? huge : page, len = (want + align - 1) / align * align;
    char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    /* Keep the aligned part: only 2 MiB-aligned ranges can be large pages. */
    char *p = (char *)(((uintptr_t)raw + align - 1) / align * align);
    if (p > raw) munmap(raw, (size_t)(p - raw));
    munmap(p + len, (size_t)(raw + align - p));   /* never empty: p < raw + align */
    if (large) madvise(p, len, MADV_HUGEPAGE);   /* advice: refused or ignored, pages stay small */
    int populated = 0;
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0) populated = 1;
    else if (errno != EINVAL) {   /* EINVAL: a kernel before 5.14 */
        munmap(p, len);
        return NULL;
    }
#endif
    if (!populated)
        for (size_t o = 0; o < len; o += page) p[o] = 0;
    *bytes = len;
    return (float *)p;
}

sieve_status smp_slot_reserve(smp_engine *e, int slot, int T, sieve_err *err)
{
    slot_cache *s = &e->sc[slot];
    if (T <= slot_end(s)) return SIEVE_OK;
    if (T > ATT_MAX_T)
        return sieve_fail(err, "sample: %d positions exceed the sampler's limit of %d", T,
                          ATT_MAX_T);
    int rows = T - s->n_pre;
    size_t n = (size_t)e->m->cfg.n_layers * rows * kvd(e), bytes;
    float *k = kv_map(2 * n * sizeof(float), &bytes);
    if (!k) return sieve_fail(err, "sample: out of memory for a K/V cache of %d positions", rows);
    if (s->k) munmap(s->k, s->bytes);
    *s = (slot_cache){k, k + n, bytes, rows, s->pre, s->n_pre};
    return SIEVE_OK;
}

void smp_slot_share(smp_engine *e, int dst, int src, int n)
{
    e->sc[dst].pre = src;
    e->sc[dst].n_pre = n;
}

/* ---- attention: one item per (group of rows, kv head), runs of items per task ---- */
typedef struct {
    smp_engine *e;
    int layer, H, KV, hd;
    const int32_t *slot, *pos;
    float scale;
    int n, runs;   /* items (row group, kv head) and pool tasks */
} att_job;

/* s[i] = (q . k_i) * scale for every cached position i. Each dot is eight
 * lane sums in d order, a fixed horizontal sum (v8_hsum), then the tail;
 * eight positions run side by side only so their chains overlap and their
 * horizontal sums share shuffles. */
static void scores(float *s, const float *q, const float *kb, const float *vb, size_t rs,
                   int nk, int hd, float scale)
{
    int hd8 = hd & ~7, i = 0;
    for (; i + 8 <= nk; i += 8) {
        const float *k0 = kb + (size_t)i * rs;
        /* The cache is read once per step and is too large for L2 in wide
         * batches: ask for the group after next early, and for the same
         * positions' values, which the weighted sum then finds in L2 (one
         * stream of misses instead of two passes that each wait on memory). */
        const char *kn = (const char *)(k0 + 16 * rs), *vn = (const char *)(vb + (size_t)(i + 16) * rs);
        for (size_t b = 0; b < 8 * rs * sizeof(float); b += 64) {
            __builtin_prefetch(kn + b);
            __builtin_prefetch(vn + b);
        }
        v8f acc[8];
        for (int j = 0; j < 8; j++) acc[j] = v8_zero();
        for (int d = 0; d < hd8; d += 8) {
            v8f qv = v8_ld(q + d);
            for (int j = 0; j < 8; j++) acc[j] = V8_FMA(qv, v8_ld(k0 + j * rs + d), acc[j]);
        }
        float t[8];
        v8_hsum8(t, acc);
        for (int j = 0; j < 8; j++) {
            for (int d = hd8; d < hd; d++) t[j] += q[d] * k0[j * rs + d];
            s[i + j] = t[j] * scale;
        }
    }
    for (; i < nk; i++) {
        const float *k = kb + (size_t)i * rs;
        v8f acc = v8_zero();
        for (int d = 0; d < hd8; d += 8) acc = V8_FMA(v8_ld(q + d), v8_ld(k + d), acc);
        float t = v8_hsum(acc);
        for (int d = hd8; d < hd; d++) t += q[d] * k[d];
        s[i] = t * scale;
    }
}

/* o[d0 .. d0 + LANES NV) = sum_i p_i v_i, one multiply-add per element and
 * position, in position order, the accumulators held in registers; with
 * `cont`, the sum goes on from the o already there (a float holds an
 * accumulator exactly, so a sum split in two gives the same bits). One body
 * for both register widths: each lane's chain is the same, so are the bits. */
#define DEFINE_PV_CHUNK(name, vec, LANES, zero, load, store, set1, fma)                     \
    static inline __attribute__((always_inline)) void name(int NV, float *o, const float *p, \
                                                           const float *vb, size_t rs,       \
                                                           int nk, int cont)                 \
    {                                                                                        \
        vec acc[8];                                                                          \
        for (int j = 0; j < NV; j++) acc[j] = cont ? load(o + LANES * j) : zero();            \
        for (int i = 0; i < nk; i++) {                                                       \
            vec pi = set1(p[i]);                                                             \
            const float *v = vb + (size_t)i * rs;                                            \
            __builtin_prefetch(v + 4 * rs);                                                  \
            for (int j = 0; j < NV; j++) acc[j] = fma(pi, load(v + LANES * j), acc[j]);       \
        }                                                                                    \
        for (int j = 0; j < NV; j++) store(o + LANES * j, acc[j]);                           \
    }

DEFINE_PV_CHUNK(pv_chunk, v8f, 8, v8_zero, v8_ld, v8_st, v8_set1, V8_FMA)
#if defined(__AVX512F__)
DEFINE_PV_CHUNK(pv16_chunk, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                _mm512_set1_ps, _mm512_fmadd_ps)
#endif

/* chunk(NV, ...) for NV = n (1..8) as a constant, so the chunk's accumulators
 * stay in registers. */
#define PV_CHUNKS(chunk, n, ...)                                                          \
    switch (n) {                                                                          \
    case 1: chunk(1, __VA_ARGS__); break;                                                 \
    case 2: chunk(2, __VA_ARGS__); break;                                                 \
    case 3: chunk(3, __VA_ARGS__); break;                                                 \
    case 4: chunk(4, __VA_ARGS__); break;                                                 \
    case 5: chunk(5, __VA_ARGS__); break;                                                 \
    case 6: chunk(6, __VA_ARGS__); break;                                                 \
    case 7: chunk(7, __VA_ARGS__); break;                                                 \
    default: chunk(8, __VA_ARGS__); break;                                                \
    }

static void weighted_values(float *o, const float *p, const float *vb, size_t rs, int nk, int hd,
                            int cont)
{
    int hd8 = hd & ~7, d_vec = 0;   /* d_vec: where the 8-lane chunks start */
#if defined(__AVX512F__)
    d_vec = hd & ~15;
    for (int d0 = 0; d0 < d_vec; d0 += 128) {
        int n = (d_vec - d0) / 16;
        PV_CHUNKS(pv16_chunk, n < 8 ? n : 8, o + d0, p, vb + d0, rs, nk, cont)
    }
#endif
    for (int d0 = d_vec; d0 < hd8; d0 += 64) {
        int n = (hd8 - d0) / 8;
        PV_CHUNKS(pv_chunk, n < 8 ? n : 8, o + d0, p, vb + d0, rs, nk, cont)
    }
    for (int d = hd8; d < hd; d++) {
        float t = cont ? o[d] : 0.0f;
        for (int i = 0; i < nk; i++) t += p[i] * vb[(size_t)i * rs + d];
        o[d] = t;
    }
}

/* Where row r finds its keys and values for kv head g: positions [0, np)
 * in the shared prefix's slot (kp, vp), the rest in the row's own from n_pre
 * on (kb, vb); with no shared prefix, np is 0 and kp, vp are the row's own. */
typedef struct {
    const float *kp, *vp, *kb, *vb;
    int np, nk;
} att_runs;

static att_runs att_where(const att_job *j, int row, int g)
{
    const smp_engine *e = j->e;
    const slot_cache *c = &e->sc[j->slot[row]];
    size_t run = ((size_t)j->layer * j->KV + g) * j->hd;
    const slot_cache *pc = &e->sc[c->n_pre ? c->pre : j->slot[row]];
    return (att_runs){pc->k + run * pc->rows, pc->v + run * pc->rows, c->k + run * c->rows,
                      c->v + run * c->rows, c->n_pre, j->pos[row] + 1};
}

/* Item t is (group t / KV, kv head t % KV); a group is rows that share one
 * prefix (e->group[]), or one row. */
static const int *item_rows(const att_job *j, int t, int *m)
{
    const smp_engine *e = j->e;
    int gi = t / j->KV;
    *m = e->group_at[gi + 1] - e->group_at[gi];
    return e->group + e->group_at[gi];
}

/* The first 16 positions' keys and values of item t, which the scores' own
 * look-ahead does not cover. */
static void att_prefetch_start(const att_job *j, int t)
{
    int m;
    att_runs a = att_where(j, item_rows(j, t, &m)[0], t % j->KV);
    const char *k = (const char *)(a.np ? a.kp : a.kb), *v = (const char *)(a.np ? a.vp : a.vb);
    for (size_t b = 0; b < 16 * (size_t)j->hd * sizeof(float); b += 64) {
        __builtin_prefetch(k + b);
        __builtin_prefetch(v + b);
    }
}

/* s[0..nk) = softmax weights before normalization, in place; returns their sum. */
static float exp_weights(float *s, int nk)
{
    float mx = -INFINITY;
    for (int i = 0; i < nk; i++) mx = s[i] > mx ? s[i] : mx;
    int i = 0;
    v8f vm = v8_set1(mx);
    for (; i + 8 <= nk; i += 8) v8_st(s + i, v8_exp(v8_ld(s + i) - vm));
    if (i < nk) {   /* the tail through the same lane function */
        float t8[8] = {0};
        memcpy(t8, s + i, (size_t)(nk - i) * sizeof *t8);
        v8_st(t8, v8_exp(v8_ld(t8) - vm));
        memcpy(s + i, t8, (size_t)(nk - i) * sizeof *t8);
    }
    float l = 0.0f;
    for (i = 0; i < nk; i++) l += s[i];
    return l;
}

/* Positions of a shared prefix per pass: their keys (or values) stay in L1
 * while every row of the group takes them. */
#define ATT_PREFIX_CHUNK 32

/* One query head h for the m rows of a group: o = softmax(q . k / sqrt(hd)) v
 * for each. The rows read a shared prefix chunk by chunk, all of them per
 * chunk, so its keys and values come from memory once for the group rather
 * than once per row. Each score is one dot product wherever it falls, and
 * each weighted sum goes on across chunks and runs from its stored
 * accumulator, so a row's bits are those it gets alone. s: m rows of
 * ATT_MAX_T floats. */
static void att_head(const att_job *j, const int *rows, int m, const att_runs *a, int h,
                     float *s, int next)
{
    smp_engine *e = j->e;
    int hd = j->hd, np = a[0].np;
    size_t rs = (size_t)hd, st = ATT_MAX_T;
    for (int c0 = 0; c0 < np; c0 += ATT_PREFIX_CHUNK) {
        int n = np - c0 < ATT_PREFIX_CHUNK ? np - c0 : ATT_PREFIX_CHUNK;
        for (int i = 0; i < m; i++)
            scores(s + i * st + c0, e->q + ((size_t)rows[i] * j->H + h) * hd,
                   a[0].kp + c0 * rs, a[0].vp + c0 * rs, rs, n, hd, j->scale);
    }
    float l[SMP_GROUP_MAX];
    for (int i = 0; i < m; i++) {
        scores(s + i * st + np, e->q + ((size_t)rows[i] * j->H + h) * hd, a[i].kb, a[i].vb, rs,
               a[i].nk - np, hd, j->scale);
        if (i == m - 1 && next >= 0) att_prefetch_start(j, next);   /* comes in meanwhile */
        l[i] = exp_weights(s + i * st, a[i].nk);
    }
    for (int c0 = 0; c0 < np; c0 += ATT_PREFIX_CHUNK) {
        int n = np - c0 < ATT_PREFIX_CHUNK ? np - c0 : ATT_PREFIX_CHUNK;
        for (int i = 0; i < m; i++)
            weighted_values(e->att + ((size_t)rows[i] * j->H + h) * hd, s + i * st + c0,
                            a[0].vp + c0 * rs, rs, n, hd, c0 > 0);
    }
    for (int i = 0; i < m; i++) {
        float *o = e->att + ((size_t)rows[i] * j->H + h) * hd;
        weighted_values(o, s + i * st + np, a[i].vb, rs, a[i].nk - np, hd, np > 0);
        float inv = 1.0f / l[i];
        for (int d = 0; d < hd; d++) o[d] *= inv;
    }
}

/* Item t: each query head of kv head g, for every row of the group. */
static void att_item(const att_job *j, int t, int next, float *s)
{
    int m, g = t % j->KV, per = j->H / j->KV;
    const int *rows = item_rows(j, t, &m);
    att_runs a[SMP_GROUP_MAX];
    for (int i = 0; i < m; i++) a[i] = att_where(j, rows[i], g);
    for (int h = g * per; h < (g + 1) * per; h++)
        att_head(j, rows, m, a, h, s, h == (g + 1) * per - 1 ? next : -1);
}

/* Pool task t: items [n t / runs, n (t+1) / runs), each asking early for the
 * next one's first keys and values. */
static void att_task(void *arg, int t)
{
    const att_job *j = arg;
    int i0 = (int)((long long)j->n * t / j->runs), i1 = (int)((long long)j->n * (t + 1) / j->runs);
    if (i0 >= i1) return;
    float *s = j->e->scores + (size_t)t * SMP_GROUP_MAX * ATT_MAX_T;
    att_prefetch_start(j, i0);
    for (int i = i0; i < i1; i++) att_item(j, i, i + 1 < i1 ? i + 1 : -1, s);
}

static int by_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Groups the rows for attention: rows that share the same prefix (slot and
 * length) in groups of up to SMP_GROUP_MAX, every other row alone; returns
 * the number of groups. Key: prefix slot + 1 (0: none), prefix length, row. */
static int group_rows(smp_engine *e, const int32_t *slot, int M)
{
    for (int i = 0; i < M; i++) {
        const slot_cache *c = &e->sc[slot[i]];
        uint64_t pre = c->n_pre ? (uint64_t)c->pre + 1 : 0;
        e->keys[i] = pre << 40 | (uint64_t)c->n_pre << 20 | (uint64_t)i;
    }
    qsort(e->keys, (size_t)M, sizeof *e->keys, by_key);
    int n = 0;
    for (int i = 0; i < M; i++) {
        uint64_t shared = e->keys[i] >> 20;   /* prefix slot and length */
        int alone = (e->keys[i] >> 40) == 0;
        if (i == 0 || alone || shared != e->keys[i - 1] >> 20 ||
            i - e->group_at[n - 1] == SMP_GROUP_MAX)
            e->group_at[n++] = i;
        e->group[i] = (int)(e->keys[i] & 0xfffff);
    }
    e->group_at[n] = M;
    return n;
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
    int KVd = KV * hd, V = c->vocab;
    float eps = (float)c->norm_eps, theta = (float)c->rope_theta;
    if (M < 1 || M > e->max_rows || n_logits > M)
        return sieve_fail(err, "sample: forward of %d rows (%d logits) exceeds %d", M, n_logits,
                          e->max_rows);
    for (int i = 0; i < M; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return sieve_fail(err, "sample: token id %d outside the vocabulary [0, %d)", ids[i],
                              V);
        if (slot[i] < 0 || slot[i] >= e->n_slots || pos[i] < 0 || pos[i] >= slot_end(&e->sc[slot[i]]))
            return sieve_fail(err, "sample: row %d (slot %d, position %d) outside the cache", i,
                              slot[i], pos[i]);
        const slot_cache *sc = &e->sc[slot[i]];
        if (pos[i] < sc->n_pre)
            return sieve_fail(err, "sample: row %d (slot %d, position %d) inside the prefix it "
                              "shares (%d positions)", i, slot[i], pos[i], sc->n_pre);
        if (sc->n_pre && (sc->pre < 0 || sc->pre >= e->n_slots || slot_end(&e->sc[sc->pre]) < sc->n_pre))
            return sieve_fail(err, "sample: slot %d shares %d positions of slot %d, which holds "
                              "fewer", slot[i], sc->n_pre, sc->pre);
    }
    int groups = group_rows(e, slot, M);
    k->embedding(kc, e->x, ids, w->embed, M, D, V);
    for (int l = 0; l < c->n_layers; l++) {
        const sieve_llama_layer_w *lw = &w->layers[l];
        const layer_packed *lp = &e->lp[l];
        k->rmsnorm(kc, e->ln, NULL, e->x, lw->attn_norm, M, D, eps);
        sieve_rowmm_product qkv[3] = {{e->q, &lp->wq}, {e->kn, &lp->wk}, {e->vn, &lp->wv}};
        sieve_rowmm_matmul_multi(e->pool, e->ln, M, D, qkv, 3);
        k->rope(kc, e->q, pos, M, H, hd, theta);
        k->rope(kc, e->kn, pos, M, KV, hd, theta);
        for (int i = 0; i < M; i++) {
            slot_cache *sc = &e->sc[slot[i]];
            for (int g = 0; g < KV; g++) {
                size_t off = (((size_t)l * KV + g) * sc->rows + (size_t)(pos[i] - sc->n_pre)) * hd;
                memcpy(sc->k + off, e->kn + (size_t)i * KVd + (size_t)g * hd, (size_t)hd * sizeof(float));
                memcpy(sc->v + off, e->vn + (size_t)i * KVd + (size_t)g * hd, (size_t)hd * sizeof(float));
            }
        }
        int items = groups * KV, runs = e->att_runs_max;
        att_job aj = {e, l, H, KV, hd, slot, pos, 1.0f / sqrtf((float)hd), items,
                      runs < items ? runs : items};
        sieve_pool_run(e->pool, aj.runs, att_task, &aj);
        sieve_rowmm_matmul(e->pool, e->proj, e->att, &lp->wo, M);
        k->add(kc, e->x, e->x, e->proj, (size_t)M * D);
        k->rmsnorm(kc, e->ln, NULL, e->x, lw->mlp_norm, M, D, eps);
        sieve_rowmm_product gu[2] = {{e->gate, &lp->gate}, {e->up, &lp->up}};
        sieve_rowmm_matmul_multi(e->pool, e->ln, M, D, gu, 2);
        k->swiglu(kc, e->gate, e->gate, e->up, M, F);
        sieve_rowmm_matmul(e->pool, e->proj, e->gate, &lp->down, M);
        k->add(kc, e->x, e->x, e->proj, (size_t)M * D);
    }
    if (n_logits <= 0) return SIEVE_OK;
    for (int i = 0; i < n_logits; i++)
        memcpy(e->hsel + (size_t)i * D, e->x + (size_t)logit_rows[i] * D,
               (size_t)D * sizeof(float));
    k->rmsnorm(kc, e->hsel, NULL, e->hsel, w->final_norm, n_logits, D, eps);
    sieve_rowmm_matmul(e->pool, logits, e->hsel, &e->lm_head, n_logits);
    return SIEVE_OK;
}

sieve_status smp_prefill(smp_engine *e, int slot, const int32_t *ids, int n, float *logits,
                         sieve_err *err)
{
    if (n < 1) return sieve_fail(err, "sample: empty prompt");
    smp_slot_share(e, slot, 0, 0);   /* the slot's own positions from 0 on */
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
