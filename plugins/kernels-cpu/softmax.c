/* Log-softmax and cross-entropy over vocabulary rows. One row = one thread;
 * the max and the sum of exponentials run in a fixed lane order (8 lanes in
 * f32 over blocks of 256 columns, blocks summed in double), so a row's result
 * does not depend on the batch it came in. */
#include "kcpu.h"
#include "vexp.h"

#include <math.h>

static float row_max(const float *x, int V)
{
    int i = 0;
    float m = -INFINITY;
    if (V >= 8) {
        v8f vm = v8f_load(x);
        for (i = 8; i + 8 <= V; i += 8) vm = v8f_max(vm, v8f_load(x + i));
        m = v8f_hmax(vm);
    }
    for (; i < V; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* log(sum(exp(x - mx))) + mx */
static float row_lse(const float *x, int V)
{
    float mx = row_max(x, V);
    if (!isfinite(mx)) return mx;
    v8f vmx = v8f_set1(mx);
    double total = 0.0;
    int i = 0;
    while (i + 8 <= V) {
        v8f acc = v8f_set1(0.0f);
        int end = i + 256 <= V ? i + 256 : V;
        for (; i + 8 <= end; i += 8) acc += simd_exp8(v8f_load(x + i) - vmx);
        total += v8f_hsum(acc);
    }
    for (; i < V; i++) total += simd_expf(x[i] - mx);
    return mx + (float)log(total);
}

typedef struct {
    float *out, *logprob, *lse;
    const float *logits;
    const int32_t *targets;
    int M, V, parts;
} sm_job;

static void lsm_task(void *arg, int t)
{
    const sm_job *j = arg;
    long lo, hi;
    kcpu_range(j->M, j->parts, t, &lo, &hi);
    for (long m = lo; m < hi; m++) {
        const float *x = j->logits + m * (long)j->V;
        float *o = j->out + m * (long)j->V;
        float l = row_lse(x, j->V);
        for (int i = 0; i < j->V; i++) o[i] = x[i] - l;
    }
}

static void ce_task(void *arg, int t)
{
    const sm_job *j = arg;
    long lo, hi;
    kcpu_range(j->M, j->parts, t, &lo, &hi);
    for (long m = lo; m < hi; m++) {
        const float *x = j->logits + m * (long)j->V;
        int tgt = j->targets[m];
        float l = tgt >= 0 || j->lse ? row_lse(x, j->V) : 0.0f;
        if (j->lse) j->lse[m] = l;
        if (j->logprob) j->logprob[m] = tgt >= 0 && tgt < j->V ? x[tgt] - l : 0.0f;
    }
}

static int parts_for(sieve_kctx *kc, int M)
{
    int most = 4 * kc->threads;   /* several rows per task, several tasks per thread */
    return M < most ? (M > 0 ? M : 1) : most;
}

void kcpu_log_softmax(sieve_kctx *kc, float *out, const float *logits, int M, int V)
{
    sm_job j = {out, NULL, NULL, logits, NULL, M, V, parts_for(kc, M)};
    sieve_pool_run(kc->pool, j.parts, lsm_task, &j);
}

void kcpu_cross_entropy(sieve_kctx *kc, float *logprob, float *lse, const float *logits,
                        const int32_t *targets, int M, int V)
{
    sm_job j = {NULL, logprob, lse, logits, targets, M, V, parts_for(kc, M)};
    sieve_pool_run(kc->pool, j.parts, ce_task, &j);
}
