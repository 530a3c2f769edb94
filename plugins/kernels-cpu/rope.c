/* RoPE (rotate-half, as HF LLaMA) and its backward, the inverse rotation.
 *
 * cos and sin of pos * theta^(-2i/hd) come from a table in the context, built
 * on the caller's thread and grown as larger positions arrive: computing them
 * per call (a pow and a sincos per row, pair and call) took 0.07 s of a 2.2 s
 * bench-sample run of 32 sequences, the table 0.01 s. It holds exactly the
 * values the per-call computation gave, so the bits are unchanged. */
#include "kcpu.h"

#include <math.h>
#include <stdlib.h>

static void angle(float theta, int hd, int pos, int i, float *c, float *s)
{
    double inv = pow((double)theta, -2.0 * i / hd);
    double ang = (double)pos * inv;
    *c = (float)cos(ang);
    *s = (float)sin(ang);
}

/* Makes the table cover positions [0, max_pos] for (theta, hd); 0 when it
 * does, -1 when out of memory (the caller then computes angles itself). */
static int table_cover(kcpu_rope_table *t, float theta, int hd, int max_pos)
{
    if (t->hd == hd && t->theta == theta && max_pos < t->n_pos) return 0;
    int n = t->hd == hd && t->theta == theta ? 2 * t->n_pos : 0;
    if (n <= max_pos) n = max_pos + 1 > 256 ? max_pos + 1 : 256;
    int half = hd / 2;
    float *cs = malloc((size_t)n * half * sizeof *cs), *sn = malloc((size_t)n * half * sizeof *sn);
    if (!cs || !sn) {
        free(cs);
        free(sn);
        return -1;
    }
    for (int p = 0; p < n; p++)
        for (int i = 0; i < half; i++)
            angle(theta, hd, p, i, &cs[(size_t)p * half + i], &sn[(size_t)p * half + i]);
    kcpu_rope_table_free(t);
    *t = (kcpu_rope_table){cs, sn, n, hd, theta};
    return 0;
}

void kcpu_rope_table_free(kcpu_rope_table *t)
{
    free(t->cs);
    free(t->sn);
    *t = (kcpu_rope_table){0};
}

typedef struct {
    float *x;
    const int32_t *pos;
    int nh, hd;
    float theta;
    int inverse;
    const kcpu_rope_table *t;   /* NULL: compute the angles */
} rope_arg;

static void rope_body(void *arg, long lo, long hi)
{
    const rope_arg *a = arg;
    int half = a->hd / 2;
    float cbuf[512], sbuf[512];   /* hd <= 1024, checked by the caller */
    for (long m = lo; m < hi; m++) {
        const float *cs = cbuf, *sn = sbuf;
        if (a->t) {
            cs = a->t->cs + (size_t)a->pos[m] * half;
            sn = a->t->sn + (size_t)a->pos[m] * half;
        } else {
            for (int i = 0; i < half; i++) angle(a->theta, a->hd, a->pos[m], i, &cbuf[i], &sbuf[i]);
        }
        /* The inverse rotation (rope's backward) is the rotation by -angle. */
        float sign = a->inverse ? -1.0f : 1.0f;
        for (int h = 0; h < a->nh; h++) {
            float *v = a->x + (m * a->nh + h) * (long)a->hd;
            for (int i = 0; i < half; i++) {
                float x0 = v[i], x1 = v[i + half], s = sign * sn[i];
                v[i] = x0 * cs[i] - x1 * s;
                v[i + half] = x1 * cs[i] + x0 * s;
            }
        }
    }
}

static void rope(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
                 float theta, int inverse)
{
    if (hd > 1024 || hd % 2 || M <= 0) return;   /* the model rejects such configs first */
    int lo = pos[0], hi = pos[0];
    for (int m = 1; m < M; m++) {
        lo = pos[m] < lo ? pos[m] : lo;
        hi = pos[m] > hi ? pos[m] : hi;
    }
    int have = lo >= 0 && table_cover(&kc->rope, theta, hd, hi) == 0;
    rope_arg a = {x, pos, nh, hd, theta, inverse, have ? &kc->rope : NULL};
    kcpu_for_rows(kc, M, 8, rope_body, &a);
}

void kcpu_rope(sieve_kctx *kc, float *x, const int32_t *pos, int M, int nh, int hd,
               float theta)
{
    rope(kc, x, pos, M, nh, hd, theta, 0);
}

void kcpu_rope_backward(sieve_kctx *kc, float *dx, const int32_t *pos, int M, int nh, int hd,
                        float theta)
{
    rope(kc, dx, pos, M, nh, hd, theta, 1);
}
