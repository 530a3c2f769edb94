/* The sample plugin's stages: `sample` (the RFT sampling engine) and
 * `prompt` (renders records through a template). */
#ifndef SIEVE_SAMPLE_STAGES_H
#define SIEVE_SAMPLE_STAGES_H

#include "sieve/plugin.h"
#include "sieve/template.h"

sieve_status smp_sample_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                               sieve_err *err);
sieve_status smp_sample_process(void *state, const sieve_input *in, sieve_io *io,
                                sieve_err *err);
sieve_status smp_sample_flush(void *state, sieve_io *io, sieve_err *err);
void smp_sample_destroy(void *state);
extern const sieve_port_desc smp_sample_in[1], smp_sample_out[1];
extern const sieve_param_desc smp_sample_params[];
extern const int smp_sample_n_params;

sieve_status smp_prompt_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                               sieve_err *err);
sieve_status smp_prompt_process(void *state, const sieve_input *in, sieve_io *io,
                                sieve_err *err);
void smp_prompt_destroy(void *state);
extern const sieve_port_desc smp_prompt_in[1], smp_prompt_out[1];
extern const sieve_param_desc smp_prompt_params[];
extern const int smp_prompt_n_params;

#endif
