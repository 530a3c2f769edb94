/* Row-wise CPU kernels: residual add, RMSNorm, SwiGLU and embedding lookup
 * (RoPE is in rope.c, AdamW in adamw.c). Each output row is computed by one
 * thread in a fixed order, so results do not depend on the thread count or on
 * the batch. */
#include "kcpu.h"
#include "vexp.h"

#include <math.h>
#include <string.h>

/* Runs body over rows [0, M) in one chunk per thread (rows cost the same). */
typedef struct {
    void (*body)(void *arg, long lo, long hi);
    void *arg;
    long n;
    int parts;
} rows_job;

static void rows_task(void *arg, int t)
{
    const rows_job *j = arg;
    long lo, hi;
    kcpu_range(j->n, j->parts, t, &lo, &hi);
    if (hi > lo) j->body(j->arg, lo, hi);
}

void kcpu_for_rows(sieve_kctx *kc, long n, long min_per_thread,
                   void (*body)(void *, long, long), void *arg)
{
    /* up to 4 chunks per thread: a preempted thread does not stall the join */
    long per = n / min_per_thread, most = 4L * kc->threads;
    int parts = per < 1 ? 1 : per < most ? (int)per : (int)most;
    rows_job j = {body, arg, n, parts};
    sieve_pool_run(kc->pool, parts, rows_task, &j);
}

/* ---- add ---- */
typedef struct { float *out; const float *a, *b; } add_arg;

static void add_body(void *arg, long lo, long hi)
{
    const add_arg *x = arg;
    for (long i = lo; i < hi; i++) x->out[i] = x->a[i] + x->b[i];
}

void kcpu_add(sieve_kctx *kc, float *out, const float *a, const float *b, size_t n)
{
    add_arg x = {out, a, b};
    kcpu_for_rows(kc, (long)n, 1 << 15, add_body, &x);
}

/* ---- rmsnorm ---- */
typedef struct { float *out, *rstd; const float *in, *w; int D; float eps; } rms_arg;

static void rms_body(void *arg, long lo, long hi)
{
    const rms_arg *x = arg;
    int D = x->D;
    for (long m = lo; m < hi; m++) {
        const float *row = x->in + m * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)row[i] * row[i];
        /* HF: variance in f32, then rsqrt(variance + eps); double here is at
         * least as accurate and fixed-order. */
        float r = (float)(1.0 / sqrt(ss / D + (double)x->eps));
        if (x->rstd) x->rstd[m] = r;
        float *o = x->out + m * D;
        for (int i = 0; i < D; i++) o[i] = (row[i] * r) * x->w[i];
    }
}

void kcpu_rmsnorm(sieve_kctx *kc, float *out, float *rstd, const float *in,
                  const float *w, int M, int D, float eps)
{
    rms_arg x = {out, rstd, in, w, D, eps};
    kcpu_for_rows(kc, M, 16, rms_body, &x);
}

/* ---- swiglu ---- */
typedef struct { float *out; const float *gate, *up; } swi_arg;

static void swi_body(void *arg, long lo, long hi)
{
    const swi_arg *a = arg;
    long i = lo;
    for (; i + 8 <= hi; i += 8) {
        v8f g = v8f_load(a->gate + i), u = v8f_load(a->up + i);
        v8f s = g / (1.0f + simd_exp8(-g));
        v8f_store(a->out + i, s * u);
    }
    for (; i < hi; i++) {
        float g = a->gate[i];
        a->out[i] = g / (1.0f + simd_expf(-g)) * a->up[i];
    }
}

void kcpu_swiglu(sieve_kctx *kc, float *out, const float *gate, const float *up,
                 int M, int F)
{
    swi_arg a = {out, gate, up};
    kcpu_for_rows(kc, (long)M * F, 1 << 14, swi_body, &a);
}

/* ---- embedding ---- */
void kcpu_embedding(sieve_kctx *kc, float *out, const int32_t *ids, const float *table,
                    int M, int D, int V)
{
    (void)kc;
    for (int m = 0; m < M; m++) {
        int id = ids[m];
        if (id < 0 || id >= V) memset(out + (long)m * D, 0, (size_t)D * sizeof *out);
        else memcpy(out + (long)m * D, table + (long)id * D, (size_t)D * sizeof *out);
    }
}
