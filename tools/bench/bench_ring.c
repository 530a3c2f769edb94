/* Ring throughput: items/s moved between two threads, one by one and in
 * bulk. Prints one JSON object. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "sieve/ring.h"

typedef struct { sieve_ring *r; uint64_t n; int bulk; uint64_t sum; } job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *produce(void *arg)
{
    job *j = arg;
    void *items[64];
    for (uint64_t i = 1; i <= j->n;) {
        if (j->bulk) {
            size_t k = 0;
            for (; k < 64 && i + k <= j->n; k++)
                items[k] = (void *)(uintptr_t)(i + k);
            for (size_t done = 0; done < k;)
                done += sieve_ring_push_bulk(j->r, items + done, k - done);
            i += k;
        } else {
            sieve_ring_push(j->r, (void *)(uintptr_t)i++, NULL);
        }
    }
    return NULL;
}

static double run(uint64_t n, int bulk)
{
    job j = {sieve_ring_new(1024), n, bulk, 0};
    pthread_t t;
    double t0 = now();
    pthread_create(&t, NULL, produce, &j);
    void *items[64];
    for (uint64_t got = 0; got < n;) {
        size_t k = bulk ? sieve_ring_pop_bulk(j.r, items, 64) : (sieve_ring_pop(j.r, items, NULL), 1);
        for (size_t i = 0; i < k; i++)
            j.sum += (uintptr_t)items[i];
        got += k;
    }
    pthread_join(t, NULL);
    double dt = now() - t0;
    sieve_ring_free(j.r);
    if (j.sum != n * (n + 1) / 2)
        fprintf(stderr, "bench_ring: checksum mismatch\n");
    return (double)n / dt;
}

int main(void)
{
    uint64_t n = 20000000;
    double single = run(n, 0), bulk = run(n, 1);
    printf("{\"ring_items_per_s\": %.0f, \"ring_bulk_items_per_s\": %.0f}\n", single, bulk);
    return 0;
}
