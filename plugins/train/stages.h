/* The stages of the train plugin (see each file's top comment). */
#ifndef SIEVE_TRAIN_STAGES_H
#define SIEVE_TRAIN_STAGES_H

#include "sieve/plugin.h"

sieve_status train_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err);
sieve_status train_process(void *p, const sieve_input *in, sieve_io *io, sieve_err *err);
sieve_status train_flush(void *p, sieve_io *io, sieve_err *err);
void train_destroy(void *p);

#endif
