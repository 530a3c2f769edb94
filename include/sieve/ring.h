/* Bounded single-producer/single-consumer ring of pointers.
 *
 * Power-of-two capacity; free-running head and tail indices masked on access;
 * one acquire/release pair per side and no compare-and-swap (as DPDK's rte_ring
 * in SP/SC mode and Linux's kfifo). The blocking calls spin briefly, then
 * yield, then sleep, and give up when *stop becomes non-zero. */
#ifndef SIEVE_RING_H
#define SIEVE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sieve_ring sieve_ring;

/* capacity is rounded up to a power of two (at least 2). NULL on OOM. */
sieve_ring *sieve_ring_new(size_t capacity);
void sieve_ring_free(sieve_ring *r);
size_t sieve_ring_capacity(const sieve_ring *r);

/* Non-blocking; false when full / empty. */
bool sieve_ring_try_push(sieve_ring *r, void *item);
bool sieve_ring_try_pop(sieve_ring *r, void **item);
/* Bulk forms move up to n items and return how many moved. */
size_t sieve_ring_push_bulk(sieve_ring *r, void *const *items, size_t n);
size_t sieve_ring_pop_bulk(sieve_ring *r, void **items, size_t n);

/* Blocking; false only when *stop became non-zero first. */
bool sieve_ring_push(sieve_ring *r, void *item, const atomic_int *stop);
bool sieve_ring_pop(sieve_ring *r, void **item, const atomic_int *stop);

#ifdef __cplusplus
}
#endif
#endif
