/* The SPSC ring moves 10 million items between two threads with none lost,
 * duplicated or reordered, through single and bulk calls; also runs under
 * ThreadSanitizer (test_ring_tsan). Both sides pinned to one core must still
 * finish: CI machines run tests side by side, so a side that spins without
 * yielding starves the other for a whole time slice. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "sieve/ring.h"
#include "testlib.h"

#define N_ITEMS 10000000ull

typedef struct { sieve_ring *r; int bulk; uint64_t n_items, bad, got; } side;

static void *producer(void *arg)
{
    side *s = arg;
    uint64_t next = 1;
    void *items[32];
    while (next <= s->n_items) {
        if (s->bulk) {
            size_t n = 0;
            for (; n < 32 && next + n <= s->n_items; n++)
                items[n] = (void *)(uintptr_t)(next + n);
            size_t done = 0;
            while (done < n) {
                size_t moved = sieve_ring_push_bulk(s->r, items + done, n - done);
                if (!moved)
                    sched_yield(); /* full: let the consumer run */
                done += moved;
            }
            next += n;
        } else {
            sieve_ring_push(s->r, (void *)(uintptr_t)next, NULL);
            next++;
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    side *s = arg;
    uint64_t expect = 1;
    void *items[32];
    while (expect <= s->n_items) {
        size_t n;
        if (s->bulk) {
            n = sieve_ring_pop_bulk(s->r, items, 32);
            if (!n)
                sched_yield(); /* empty: let the producer run */
        } else {
            sieve_ring_pop(s->r, &items[0], NULL);
            n = 1;
        }
        for (size_t i = 0; i < n; i++) {
            if ((uintptr_t)items[i] != expect)
                s->bad++;
            expect++;
            s->got++;
        }
    }
    return NULL;
}

static void pin_to_cpu0(pthread_t t)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    CHECK(pthread_setaffinity_np(t, sizeof one, &one) == 0);
}

static void run(int bulk, size_t capacity, uint64_t n_items, int one_core)
{
    side s = {sieve_ring_new(capacity), bulk, n_items, 0, 0};
    REQUIRE(s.r);
    pthread_t p, c;
    pthread_create(&c, NULL, consumer, &s);
    pthread_create(&p, NULL, producer, &s);
    if (one_core) {
        pin_to_cpu0(c);
        pin_to_cpu0(p);
    }
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    void *extra;
    CHECK(!sieve_ring_try_pop(s.r, &extra)); /* nothing duplicated at the end */
    CHECK_MSG(s.bad == 0, "%llu items out of order", (unsigned long long)s.bad);
    CHECK(s.got == n_items);
    sieve_ring_free(s.r);
}

static void test_ring_moves_10m_items_in_order_one_by_one(void) { run(0, 64, N_ITEMS, 0); }
static void test_ring_moves_10m_items_in_order_in_bulk(void) { run(1, 256, N_ITEMS, 0); }
static void test_ring_both_sides_on_one_core_finish(void)
{
    run(0, 64, N_ITEMS / 10, 1);
    run(1, 256, N_ITEMS / 10, 1);
}

static void test_ring_capacity_rounds_up_and_reports_full(void)
{
    sieve_ring *r = sieve_ring_new(5);
    CHECK(sieve_ring_capacity(r) == 8);
    for (uintptr_t i = 1; i <= 8; i++)
        CHECK(sieve_ring_try_push(r, (void *)i));
    CHECK(!sieve_ring_try_push(r, (void *)9));
    void *x;
    CHECK(sieve_ring_try_pop(r, &x) && (uintptr_t)x == 1);
    CHECK(sieve_ring_try_push(r, (void *)9));
    atomic_int stop = 1;
    CHECK(!sieve_ring_push(r, (void *)10, &stop)); /* full + stop: gives up */
    sieve_ring_free(r);
}

int main(void)
{
    RUN_TEST(test_ring_capacity_rounds_up_and_reports_full);
    RUN_TEST(test_ring_moves_10m_items_in_order_one_by_one);
    RUN_TEST(test_ring_moves_10m_items_in_order_in_bulk);
    RUN_TEST(test_ring_both_sides_on_one_core_finish);
    return sieve_test_summary();
}
