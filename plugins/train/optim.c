/* AdamW with global gradient-norm clipping, over one flat parameter buffer
 * (the layout of sieve_llama_tensors): f32 master weights and moments. */
#include "train.h"

#include <math.h>
#include <stdlib.h>

sieve_status trn_optim_init(trn_optim *o, const sieve_kernels *k, sieve_kctx *kc, size_t n,
                            float beta1, float beta2, float eps, float weight_decay,
                            sieve_err *err)
{
    *o = (trn_optim){.k = k, .kc = kc, .n = n, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                     .weight_decay = weight_decay};
    if (!k->adamw) return sieve_fail(err, "train: backend '%s' has no adamw kernel", k->name);
    o->m = k->alloc(kc, n * sizeof(float), err);
    o->v = o->m ? k->alloc(kc, n * sizeof(float), err) : NULL;
    if (!o->v) {
        trn_optim_free(o);
        sieve_err_prefix(err, "train: optimizer state of %zu parameters", n);
        return SIEVE_ERR;
    }
    if (!(k->flags & SIEVE_KERNELS_HOST_MEMORY)) {
        o->host = malloc(n * sizeof(float));
        if (!o->host) {
            trn_optim_free(o);
            return sieve_fail(err, "train: out of memory");
        }
    }
    return SIEVE_OK;
}

void trn_optim_free(trn_optim *o)
{
    if (o->k) {
        o->k->free(o->kc, o->m);
        o->k->free(o->kc, o->v);
    }
    free(o->host);
    o->m = o->v = o->host = NULL;
}

double trn_optim_step(trn_optim *o, float *params, float *grads, float lr, float max_norm)
{
    float *g = grads;
    if (o->host) {
        o->k->copy_to_host(o->kc, o->host, grads, o->n * sizeof(float));
        g = o->host;
    }
    /* Blocks of 4096 summed in float lanes, blocks added in double: fixed order. */
    double ss = 0.0;
    for (size_t i = 0; i < o->n; i += 4096) {
        size_t e = i + 4096 < o->n ? i + 4096 : o->n;
        double s = 0.0;
        for (size_t j = i; j < e; j++) s += (double)g[j] * g[j];
        ss += s;
    }
    double norm = sqrt(ss);
    if (max_norm > 0.0f) {
        double coef = (double)max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
            for (size_t i = 0; i < o->n; i++) g[i] *= c;
            if (o->host) o->k->copy_to_device(o->kc, grads, o->host, o->n * sizeof(float));
        }
    }
    o->step++;
    o->k->adamw(o->kc, params, grads, o->m, o->v, o->n, lr, o->beta1, o->beta2, o->eps,
                o->weight_decay, (int)o->step);
    return norm;
}
