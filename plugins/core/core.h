/* The core plugin's stages: JSONL in and out, and record-stream plumbing.
 * plugin.c holds the descriptors (ports, parameters, docs); each stage's
 * functions live in the file named after it. */
#ifndef SIEVE_CORE_H
#define SIEVE_CORE_H

#include <sieve/sieve.h>

#define SIEVE_CORE_STAGE(name)                                                                  \
    sieve_status sieve_core_##name##_create(const sieve_params *p, sieve_ctx *ctx, void **state, \
                                            sieve_err *err);                                    \
    sieve_status sieve_core_##name##_process(void *state, const sieve_input *in, sieve_io *io,  \
                                             sieve_err *err);                                   \
    sieve_status sieve_core_##name##_flush(void *state, sieve_io *io, sieve_err *err);          \
    void sieve_core_##name##_destroy(void *state);

SIEVE_CORE_STAGE(jsonl_read)
SIEVE_CORE_STAGE(jsonl_write)
SIEVE_CORE_STAGE(head)
SIEVE_CORE_STAGE(shuffle)
SIEVE_CORE_STAGE(split)
SIEVE_CORE_STAGE(concat)

/* splitmix64 of (seed, x): the one hash behind every seeded choice here, so
 * that a record's fate depends only on the seed and the record, never on
 * batch boundaries or thread timing. */
uint64_t sieve_core_hash(uint64_t seed, uint64_t x);
uint64_t sieve_core_hash_bytes(uint64_t seed, const void *data, size_t len);

/* Emits records [from, to) of `src`, moved, in batches of at most `batch`. */
sieve_status sieve_core_emit_moved(sieve_io *io, int port, sieve_record *recs, size_t n,
                                   size_t batch, sieve_err *err);

#endif
