/* The sampler's model runner: a LLaMA forward over ragged rows, each row one
 * token of some sequence slot at its own position, with a K/V cache per slot.
 *
 * One call serves both prefill (rows = consecutive positions of one slot) and
 * batched decode (one row per live slot, each at its own length). Matmuls go
 * through the row-invariant kernel (plugins/simd/rowmm.h) and attention
 * through a per-row loop here, so a row's result depends only on its token,
 * its position and its slot's cached keys/values: not on which rows run
 * beside it, on how a prompt is chunked, or on the thread count. The per-row
 * elementwise kernels (embedding, RMSNorm, RoPE, SwiGLU, add) come from the
 * backend's vtable, which promises row invariance for them; the backend must
 * use host memory.
 *
 * Slot caches are separate allocations, each as large as its slot is
 * reserved for (smp_slot_reserve). A slot can take its first positions from
 * another slot (smp_slot_share): the k samples of a question read one copy of
 * their prompt's keys and values. */
#ifndef SIEVE_SAMPLE_ENGINE_H
#define SIEVE_SAMPLE_ENGINE_H

#include <stdint.h>

#include "sieve/pool.h"
#include "sieve/kernels.h"
#include "sieve/llama.h"

typedef struct smp_engine smp_engine;

/* n_slots sequences, at most max_rows rows per forward call (longer prefills
 * are cut into chunks of max_rows by smp_prefill). The engine packs its own
 * copy of the model's matrices; with give_back, it gives the model's back
 * one by one as it goes (sieve_llama_drop_matrix), so memory peaks at one
 * model plus one matrix rather than two models. */
sieve_status smp_engine_new(sieve_llama *m, int give_back, const sieve_kernels *k,
                            sieve_kctx *kc, sieve_pool *pool, int n_slots, int max_rows,
                            smp_engine **out, sieve_err *err);
void smp_engine_free(smp_engine *e);   /* NULL is fine */

/* Makes slot able to attend to T positions, its shared ones included: a
 * cache for exactly the rest, with its pages in place (its contents are kept
 * only when it already could). */
sieve_status smp_slot_reserve(smp_engine *e, int slot, int T, sieve_err *err);
/* Slot dst's positions [0, n) are src's from now on: dst's rows attend to
 * src's keys and values there and to dst's own after, and dst stores only
 * those (rows at positions < n are refused). Call before dst's own positions
 * are written: they are not kept. src must keep its first n positions
 * unchanged while dst uses them. n = 0 ends the sharing; smp_prefill into dst
 * does too. */
void smp_slot_share(smp_engine *e, int dst, int src, int n);

/* Forward of M rows: row i is token ids[i] at position pos[i] of slot
 * slot[i]; the row's K/V go into the cache, and it attends to positions
 * 0..pos[i] of its slot (rows of one slot in one call must be in position
 * order). logits[n_logits, V] (host) gets the rows listed in logit_rows. */
sieve_status smp_forward(smp_engine *e, const int32_t *ids, const int32_t *slot,
                         const int32_t *pos, int M, const int *logit_rows, int n_logits,
                         float *logits, sieve_err *err);

/* Prefill of n tokens into slot from position 0, in chunks of max_rows
 * (reserving n positions when the slot has fewer); logits[V] of the last
 * position. */
sieve_status smp_prefill(smp_engine *e, int slot, const int32_t *ids, int n, float *logits,
                         sieve_err *err);

#endif
