/* Stage `model-init`: writes a randomly initialized LLaMA (HF init:
 * normal(0, initializer_range) weights, RMSNorm weights 1) as an HF
 * directory, then emits {"model": out}. `sieve model init --config C --out D
 * --seed S` maps onto this stage. */
#include <stdlib.h>

#include "sieve/llama.h"
#include "sieve/plugin.h"
#include "stages.h"

typedef struct {
    sieve_ctx *ctx;
    char *config, *out;
    uint64_t seed;
    sieve_dtype dtype;
    int done;
} init_state;

void llama_init_destroy(void *p)
{
    init_state *s = p;
    if (!s) return;
    free(s->config);
    free(s->out);
    free(s);
}

sieve_status llama_init_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                                sieve_err *err)
{
    init_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->ctx = ctx;
    s->config = sieve_ctx_expand_path(ctx, sieve_param_str(params, "config"));
    s->out = sieve_ctx_expand_path(ctx, sieve_param_str(params, "out"));
    if (!s->config || !s->out) return sieve_fail(err, "out of memory");
    int64_t seed = sieve_param_int(params, "seed");
    s->seed = (uint64_t)seed;
    const char *dt = sieve_param_str(params, "dtype");
    if (sieve_dtype_parse(dt, &s->dtype) != 0 || (s->dtype != SIEVE_F32 && s->dtype != SIEVE_BF16))
        return sieve_fail(err, "param 'dtype' = '%s' must be f32 or bf16", dt);
    return SIEVE_OK;
}

sieve_status llama_init_process(void *state, const sieve_input *in, sieve_io *io,
                                 sieve_err *err)
{
    (void)in;
    init_state *s = state;
    if (s->done) return SIEVE_EOS;
    s->done = 1;
    sieve_llama_config cfg;
    if (sieve_llama_config_load(s->config, &cfg, err)) return SIEVE_ERR;
    sieve_llama *m;
    if (sieve_llama_new(&cfg, &m, err)) return SIEVE_ERR;
    sieve_llama_init(m, s->seed);
    sieve_status st = sieve_llama_save(m, s->out, s->dtype, err);
    if (!st)
        sieve_log(s->ctx, SIEVE_LOG_INFO, "wrote %s: %zu parameters, seed %llu", s->out,
                  m->n_params, (unsigned long long)s->seed);
    sieve_llama_free(m);
    if (st) return st;
    sieve_batch *b = sieve_batch_new(1);
    sieve_record *r = b ? sieve_batch_add(b) : NULL;
    if (!r || sieve_record_set_cstr(r, "model", s->out)) {
        sieve_batch_free(b);
        return sieve_fail(err, "out of memory");
    }
    return sieve_emit(io, 0, b);
}

const sieve_port_desc llama_init_out[1] = {
    {"model", "model", "the written checkpoint directory"},
};
const sieve_param_desc llama_init_params[4] = {
    {"config", SIEVE_P_STRING, NULL, "config.json of the model to create"},
    {"out", SIEVE_P_STRING, NULL, "output directory (Hugging Face layout)"},
    {"seed", SIEVE_P_INT, "0", "random seed"},
    {"dtype", SIEVE_P_STRING, "f32", "weights dtype on disk: f32 or bf16"},
};
