/* The stages of the llama plugin: their functions, ports and parameters,
 * assembled into descriptors in plugin.c. */
#ifndef SIEVE_LLAMA_STAGES_H
#define SIEVE_LLAMA_STAGES_H

#include "sieve/kernels.h"
#include "sieve/plugin.h"

/* score (stage_score.c) */
extern const sieve_port_desc llama_score_in[1];
extern const sieve_port_desc llama_score_out[2];
extern const sieve_param_desc llama_score_params[6];
sieve_status llama_score_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                                sieve_err *err);
sieve_status llama_score_process(void *state, const sieve_input *in, sieve_io *io,
                                 sieve_err *err);
void llama_score_destroy(void *state);

/* model-init (stage_init.c) */
extern const sieve_port_desc llama_init_out[1];
extern const sieve_param_desc llama_init_params[4];
sieve_status llama_init_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                               sieve_err *err);
sieve_status llama_init_process(void *state, const sieve_input *in, sieve_io *io,
                                sieve_err *err);
void llama_init_destroy(void *state);

/* The vtable of backend `backend`, checked for a compatible version. */
sieve_status llama_kernels_get(sieve_ctx *ctx, const char *backend, const sieve_kernels **out,
                               sieve_err *err);

#endif
