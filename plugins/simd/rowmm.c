/* Row-invariant matmul over packed weights (see rowmm.h). A pool task owns
 * a run of consecutive panels and runs every group of up to MM_MR input rows
 * over each: the panel stays in L1/L2 while the rows pass, and the rows (M x
 * K, small in decode) stay in L2. Meanwhile the passes ask for the run's next
 * panel, a slice each, so it comes from memory while this one is computed
 * (the weights of a large model, and the lm_head of any, stream from DRAM
 * every step). Tiles only decide which elements share a pass over k, never
 * how one element is summed. */
#include "rowmm.h"

#include <stdlib.h>
#include <string.h>

#include "vec.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Columns per packed panel: three vectors of the widest registers built for. */
#if defined(__AVX512F__)
#define PANEL 48
#else
#define PANEL 24
#endif

typedef struct {
    sieve_rowmm_packed *pw;
    const float *w;
} pack_job;

static void pack_panel(void *arg, int p)
{
    const pack_job *j = arg;
    int N = j->pw->N, K = j->pw->K;
    float *dst = j->pw->p + (size_t)p * K * PANEL;
    for (int c = 0; c < PANEL; c++) {
        int n = p * PANEL + c;
        for (int k = 0; k < K; k++)
            dst[(size_t)k * PANEL + c] = n < N ? j->w[(size_t)n * K + k] : 0.0f;
    }
}

int sieve_rowmm_pack(sieve_pool *pool, sieve_rowmm_packed *pw, const float *w, int N, int K)
{
    int panels = (N + PANEL - 1) / PANEL;
    size_t floats = ((size_t)panels * K * PANEL + 15) / 16 * 16;   /* whole 64-byte lines */
    if (floats > pw->cap) {
        sieve_rowmm_free(pw);
        pw->p = aligned_alloc(64, floats * sizeof(float));
        if (!pw->p) return -1;
        pw->cap = floats;
    }
    pw->N = N;
    pw->K = K;
    pack_job j = {pw, w};
    if (pool)
        sieve_pool_run(pool, panels, pack_panel, &j);
    else
        for (int p = 0; p < panels; p++) pack_panel(&j, p);
    return 0;
}

void sieve_rowmm_free(sieve_rowmm_packed *pw)
{
    free(pw->p);
    *pw = (sieve_rowmm_packed){0};
}

#if defined(__AVX512F__)
/* 16-lane registers: a panel row is three of them, and 8 rows x 3 leave 24 of
 * the 32 registers for accumulators. Each element is still one fused
 * multiply-add chain in k order, so the bits equal the 8-lane build's. */
#define MM_MR 8
typedef __m512 mm_vec;
#define MM_LANES 16
#define MM_ZERO() _mm512_setzero_ps()
#define MM_LOAD(p) _mm512_load_ps(p)   /* panels are 64-byte aligned */
#define MM_STORE(p, v) _mm512_storeu_ps(p, v)
#define MM_SET1(x) _mm512_set1_ps(x)
#define MM_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MM_UNROLL _Pragma("GCC unroll 2")
#else
#define MM_MR 4
typedef v8f mm_vec;
#define MM_LANES 8
#define MM_ZERO() v8_zero()
#define MM_LOAD(p) v8_ld(p)
#define MM_STORE(p, v) v8_st(p, v)
#define MM_SET1(x) v8_set1(x)
#define MM_FMA(a, b, c) V8_FMA(a, b, c)
#define MM_UNROLL _Pragma("GCC unroll 4")
#endif

/* What a tile asks for while it runs: pf_per_k lines of pf per k step, the
 * first pf_n lines of pf in all (pf NULL: nothing). */
typedef struct {
    const char *pf;
    int pf_per_k, pf_n;
} mm_ahead;

/* R rows of x (stride K) times one panel (three registers wide): out[r][0..cols). */
static inline __attribute__((always_inline)) void tile(int R, const float *x, int K,
                                                       const float *pk, float *out, int ldo,
                                                       int cols, mm_ahead a)
{
    mm_vec c0[MM_MR], c1[MM_MR], c2[MM_MR];
    for (int r = 0; r < R; r++) c0[r] = c1[r] = c2[r] = MM_ZERO();
    MM_UNROLL
    for (int k = 0; k < K; k++) {
        const float *w = pk + (size_t)k * PANEL;
        for (int i = 0, l = k * a.pf_per_k; a.pf && i < a.pf_per_k && l + i < a.pf_n; i++)
            __builtin_prefetch(a.pf + (size_t)(l + i) * 64, 0, 2);
        mm_vec w0 = MM_LOAD(w), w1 = MM_LOAD(w + MM_LANES), w2 = MM_LOAD(w + 2 * MM_LANES);
        for (int r = 0; r < R; r++) {
            mm_vec xb = MM_SET1(x[(size_t)r * K + k]);
            c0[r] = MM_FMA(xb, w0, c0[r]);
            c1[r] = MM_FMA(xb, w1, c1[r]);
            c2[r] = MM_FMA(xb, w2, c2[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *o = out + (size_t)r * ldo;
        float buf[PANEL];
        float *dst = cols == PANEL ? o : buf;   /* the last panel may be narrower */
        MM_STORE(dst, c0[r]);
        MM_STORE(dst + MM_LANES, c1[r]);
        MM_STORE(dst + 2 * MM_LANES, c2[r]);
        if (dst == buf) memcpy(o, buf, (size_t)cols * sizeof *o);
    }
}

/* Constant row counts, so each tile keeps its accumulators in registers. */
#define TILE(R)                                                                          \
    static void tile_##R(const float *x, int K, const float *pk, float *out, int ldo,     \
                         int cols, mm_ahead a)                                           \
    {                                                                                    \
        tile(R, x, K, pk, out, ldo, cols, a);                                            \
    }
TILE(1) TILE(2) TILE(3) TILE(4)
typedef void (*tile_fn)(const float *, int, const float *, float *, int, int, mm_ahead);
#if MM_MR == 8
TILE(5) TILE(6) TILE(7) TILE(8)
static const tile_fn tiles[MM_MR + 1] = {NULL,   tile_1, tile_2, tile_3, tile_4,
                                         tile_5, tile_6, tile_7, tile_8};
#else
static const tile_fn tiles[MM_MR + 1] = {NULL, tile_1, tile_2, tile_3, tile_4};
#endif

typedef struct {
    const float *in;
    int M, K, n, runs;
    const sieve_rowmm_product *mm;
    int first[5];   /* first panel of each product, counted across them; first[n] = total */
} mm_job;

/* Panel g of the job: its product and packed weights. */
static const float *panel(const mm_job *j, int g, int *product)
{
    int p = 0;
    while (g >= j->first[p + 1]) p++;
    *product = p;
    return j->mm[p].w->p + (size_t)(g - j->first[p]) * j->K * PANEL;
}

/* Run t: panels [total t / runs, total (t+1) / runs). */
static void mm_task(void *arg, int t)
{
    const mm_job *j = arg;
    int total = j->first[j->n], K = j->K;
    int g0 = (int)((long long)total * t / j->runs);
    int g1 = (int)((long long)total * (t + 1) / j->runs);
    int groups = (j->M + MM_MR - 1) / MM_MR, lines = K * PANEL * (int)sizeof(float) / 64;
    int per_k = (lines + groups * K - 1) / (groups * K);   /* the groups share the next panel */
    for (int g = g0; g < g1; g++) {
        int p, ignored;
        const float *pk = panel(j, g, &p);
        const char *next = g + 1 < g1 ? (const char *)panel(j, g + 1, &ignored) : NULL;
        const sieve_rowmm_product *m = &j->mm[p];
        int N = m->w->N, c0 = (g - j->first[p]) * PANEL;
        int cols = N - c0 < PANEL ? N - c0 : PANEL;
        for (int r = 0, gr = 0; r < j->M; r += MM_MR, gr++) {
            int R = j->M - r < MM_MR ? j->M - r : MM_MR, from = gr * K * per_k;
            mm_ahead a = {next ? next + (size_t)from * 64 : NULL, per_k, lines - from};
            tiles[R](j->in + (size_t)r * K, K, pk, m->out + (size_t)r * N + c0, N, cols, a);
        }
    }
}

void sieve_rowmm_matmul_multi(sieve_pool *pool, const float *in, int M, int K,
                              const sieve_rowmm_product *mm, int n)
{
    if (M <= 0 || n <= 0 || n > 4) return;
    mm_job j = {in, M, K, n, 0, mm, {0}};
    for (int i = 0; i < n; i++)
        j.first[i + 1] = j.first[i] + (mm[i].w->N + PANEL - 1) / PANEL;
    /* Runs of about four panels or more, so most panels have a next one to
     * ask for; at least one per thread and up to four, which evens out
     * threads that run slower. (Against four runs per thread whatever the
     * size: 32 sequences 2.5% faster over 18 interleaved pairs.) */
    int th = sieve_pool_threads(pool), runs = j.first[n] / 4;
    runs = runs > 4 * th ? 4 * th : runs;
    runs = runs < th ? th : runs;
    j.runs = runs < j.first[n] ? runs : j.first[n];
    sieve_pool_run(pool, j.runs, mm_task, &j);
}

void sieve_rowmm_matmul(sieve_pool *pool, float *out, const float *in,
                        const sieve_rowmm_packed *w, int M)
{
    sieve_rowmm_product mm = {out, w};
    sieve_rowmm_matmul_multi(pool, in, M, w->K, &mm, 1);
}
