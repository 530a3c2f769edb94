/* Bounded SPSC ring of pointers (see sieve/ring.h for the contract). */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "sieve/ring.h"

#define CACHE_LINE 64

struct sieve_ring {
    /* Producer and consumer indices on separate cache lines so the two
     * threads do not false-share. Each side also caches the other's index
     * and only reloads it (acquire) when the cached value says full/empty. */
    _Alignas(CACHE_LINE) atomic_size_t head;   /* next slot to write; producer-owned */
    size_t tail_cache;
    _Alignas(CACHE_LINE) atomic_size_t tail;   /* next slot to read; consumer-owned */
    size_t head_cache;
    _Alignas(CACHE_LINE) size_t mask;
    void **slots;
};

sieve_ring *sieve_ring_new(size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity)
        cap <<= 1;
    sieve_ring *r = aligned_alloc(CACHE_LINE, sizeof *r);
    if (!r)
        return NULL;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = r->head_cache = 0;
    r->mask = cap - 1;
    return r;
}

void sieve_ring_free(sieve_ring *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

size_t sieve_ring_capacity(const sieve_ring *r) { return r->mask + 1; }

size_t sieve_ring_push_bulk(sieve_ring *r, void *const *items, size_t n)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t cap = r->mask + 1;
    size_t free_slots = cap - (head - r->tail_cache);
    if (free_slots < n) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        free_slots = cap - (head - r->tail_cache);
    }
    if (n > free_slots)
        n = free_slots;
    for (size_t i = 0; i < n; i++)
        r->slots[(head + i) & r->mask] = items[i];
    if (n)
        atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

size_t sieve_ring_pop_bulk(sieve_ring *r, void **items, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t avail = r->head_cache - tail;
    if (avail < n) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
    }
    if (n > avail)
        n = avail;
    for (size_t i = 0; i < n; i++)
        items[i] = r->slots[(tail + i) & r->mask];
    if (n)
        atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

bool sieve_ring_try_push(sieve_ring *r, void *item) { return sieve_ring_push_bulk(r, &item, 1) == 1; }
bool sieve_ring_try_pop(sieve_ring *r, void **item) { return sieve_ring_pop_bulk(r, item, 1) == 1; }

/* Spin, then yield, then sleep up to 1 ms: cheap when the other side is
 * keeping up, and no busy core when a stage is slow. */
static void backoff(unsigned *round)
{
    unsigned k = (*round)++;
    if (k < 64)
        return;
    if (k < 128) {
        sched_yield();
        return;
    }
    long ns = 1000L << (k - 128 < 10 ? k - 128 : 10);
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

bool sieve_ring_push(sieve_ring *r, void *item, const atomic_int *stop)
{
    unsigned round = 0;
    while (!sieve_ring_try_push(r, item)) {
        if (stop && atomic_load_explicit(stop, memory_order_relaxed))
            return false;
        backoff(&round);
    }
    return true;
}

bool sieve_ring_pop(sieve_ring *r, void **item, const atomic_int *stop)
{
    unsigned round = 0;
    while (!sieve_ring_try_pop(r, item)) {
        if (stop && atomic_load_explicit(stop, memory_order_relaxed))
            return false;
        backoff(&round);
    }
    return true;
}
