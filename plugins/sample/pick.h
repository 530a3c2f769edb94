/* Choosing the next token: the counter-based random generator and the
 * greedy / temperature / top-k / top-p rules. */
#ifndef SIEVE_SAMPLE_PICK_H
#define SIEVE_SAMPLE_PICK_H

#include <stddef.h>
#include <stdint.h>

/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC'11): a keyed bijection on 128-bit counters. The sampler's uniform
 * for (seed, qid, sample_index, position) is Philox(key = seed, counter =
 * (qid, sample_index, position)) mapped to [0, 1) with 53 bits. No state:
 * the same key and counter give the same number in any order, on any thread. */
void smp_philox(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);
double smp_uniform(uint64_t seed, uint64_t qid, uint32_t sample_index, uint32_t position);

/* 64-bit FNV-1a of a string: the RNG's qid for string ids. */
uint64_t smp_hash_str(const char *s, size_t len);

typedef struct smp_pick_cfg {
    double temperature;   /* 0: greedy */
    int top_k;            /* 0: off */
    double top_p;         /* 1: off */
} smp_pick_cfg;

/* Scratch for picking (one per engine, V entries). */
typedef struct smp_pick_buf {
    int *idx;
    float *p;       /* V floats: weights, or a logits copy (top-k selection) */
    double *e;      /* candidate weights */
    int V;
} smp_pick_buf;
int smp_pick_buf_init(smp_pick_buf *b, int V);   /* 0 or -1 (out of memory) */
void smp_pick_buf_free(smp_pick_buf *b);

/* Picks a token from logits[V] with uniform u in [0, 1); *logprob gets
 * log softmax(logits)[token] under the model (temperature 1, no filtering).
 * Greedy: the first index of the largest logit (as torch.argmax). */
int smp_pick(const float *logits, int V, const smp_pick_cfg *cfg, double u, smp_pick_buf *b,
             double *logprob);

/* log softmax(logits)[token]; scratch holds V floats. */
double smp_logprob(const float *logits, int V, int token, float *scratch);

#endif
