/* The tokenizer plugin's stages, declared for plugin.c's descriptor table. */
#ifndef SIEVE_TOK_STAGES_H
#define SIEVE_TOK_STAGES_H

#include "sieve/sieve.h"
#include "sieve/tokenizer.h"

#define TOK_STAGE_DECL(n)                                                                  \
    sieve_status tok_##n##_create(const sieve_params *p, sieve_ctx *ctx, void **state,     \
                                  sieve_err *err);                                         \
    sieve_status tok_##n##_process(void *state, const sieve_input *in, sieve_io *io,       \
                                   sieve_err *err);                                        \
    sieve_status tok_##n##_flush(void *state, sieve_io *io, sieve_err *err);               \
    void tok_##n##_destroy(void *state);

TOK_STAGE_DECL(tokenize)
TOK_STAGE_DECL(detokenize)
TOK_STAGE_DECL(train)

/* Moves every record of in's batch into a new batch and emits it on port 0. */
sieve_status tok_forward(const sieve_input *in, sieve_io *io, sieve_err *err);

#endif
