/* The SPSC ring moves 10 million items between two threads with none lost,
 * duplicated or reordered, through single and bulk calls; also runs under
 * ThreadSanitizer (test_ring_tsan). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "sieve/ring.h"
#include "testlib.h"

#define N_ITEMS 10000000ull

typedef struct { sieve_ring *r; int bulk; uint64_t bad, got; } side;

static void *producer(void *arg)
{
    side *s = arg;
    uint64_t next = 1;
    void *items[32];
    while (next <= N_ITEMS) {
        if (s->bulk) {
            size_t n = 0;
            for (; n < 32 && next + n <= N_ITEMS; n++)
                items[n] = (void *)(uintptr_t)(next + n);
            size_t done = 0;
            while (done < n)
                done += sieve_ring_push_bulk(s->r, items + done, n - done);
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
    while (expect <= N_ITEMS) {
        size_t n;
        if (s->bulk) {
            n = sieve_ring_pop_bulk(s->r, items, 32);
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

static void run(int bulk, size_t capacity)
{
    side s = {sieve_ring_new(capacity), bulk, 0, 0};
    REQUIRE(s.r);
    pthread_t p, c;
    pthread_create(&c, NULL, consumer, &s);
    pthread_create(&p, NULL, producer, &s);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    void *extra;
    CHECK(!sieve_ring_try_pop(s.r, &extra)); /* nothing duplicated at the end */
    CHECK_MSG(s.bad == 0, "%llu items out of order", (unsigned long long)s.bad);
    CHECK(s.got == N_ITEMS);
    sieve_ring_free(s.r);
}

static void test_ring_moves_10m_items_in_order_one_by_one(void) { run(0, 64); }
static void test_ring_moves_10m_items_in_order_in_bulk(void) { run(1, 256); }

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
    return sieve_test_summary();
}
