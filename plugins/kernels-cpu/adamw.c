/* AdamW as torch.optim.AdamW (foreach=False, maximize=False, amsgrad=False)
 * computes it, in the same order of operations:
 *   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i^t
 * with the bias corrections in double (Python floats in torch). Each element
 * is independent, so the result does not depend on the thread count; the
 * loop is vectorized (no errno from sqrt: every argument is >= 0). */
#pragma GCC optimize("no-math-errno")
#include "kcpu.h"

#include <math.h>

typedef struct {
    float *p, *m, *v;
    const float *g;
    float decay, b1, b2, omb1, omb2, step_size, bc2_sqrt, eps;
} adamw_arg;

typedef struct { const adamw_arg *a; long n; int parts; } adamw_job;

static void adamw_task(void *arg, int t)
{
    const adamw_job *j = arg;
    const adamw_arg *a = j->a;
    long lo, hi;
    kcpu_range(j->n, j->parts, t, &lo, &hi);
    float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v;
    const float *restrict g = a->g;
    for (long i = lo; i < hi; i++) {
        float pi = p[i] * a->decay;
        float mi = m[i] * a->b1 + g[i] * a->omb1;
        float vi = v[i] * a->b2 + (g[i] * g[i]) * a->omb2;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - a->step_size * (mi / (sqrtf(vi) / a->bc2_sqrt + a->eps));
    }
}

void kcpu_adamw_torch(sieve_kctx *kc, float *params, const float *grads, float *m, float *v,
                      size_t n, float lr, float beta1, float beta2, float eps,
                      float weight_decay, int step)
{
    double bc1 = 1.0 - pow((double)beta1, step), bc2 = 1.0 - pow((double)beta2, step);
    adamw_arg a = {params, m, v, grads, 1.0f - lr * weight_decay, beta1, beta2, 1.0f - beta1,
                   1.0f - beta2, (float)((double)lr / bc1), (float)sqrt(bc2), eps};
    int parts = kc->threads;
    if ((long)n < (1L << 15) * parts) parts = 1;
    adamw_job j = {&a, (long)n, parts};
    sieve_pool_run(kc->pool, parts, adamw_task, &j);
}
