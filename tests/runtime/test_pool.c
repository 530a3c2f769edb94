/* The thread pool runs every task of every job exactly once and returns only
 * when all are done, sleeping between jobs or polling (sieve_pool_spin), with
 * jobs back to back, gaps longer than the poll, and more threads than cores;
 * also runs under ThreadSanitizer (test_pool_tsan). */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "sieve/pool.h"
#include "testlib.h"

#define MAX_TASKS 64

typedef struct {
    atomic_int hits[MAX_TASKS];
    int plain[MAX_TASKS];   /* written without atomics: TSan sees any overlap with the caller */
} job;

static void task(void *arg, int t)
{
    job *j = arg;
    atomic_fetch_add_explicit(&j->hits[t], 1, memory_order_relaxed);
    j->plain[t] = t + 1;
}

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* n_jobs jobs of 1..MAX_TASKS tasks; every gap_every-th job after a gap of gap_us. */
static void run_jobs(int threads, int spin_us, int n_jobs, int gap_every, long gap_us)
{
    sieve_pool *p = sieve_pool_new(threads);
    REQUIRE(p);
    sieve_pool_spin(p, spin_us);
    unsigned seed = 12345;
    int bad = 0;
    for (int i = 0; i < n_jobs; i++) {
        int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % MAX_TASKS;
        job j;
        for (int t = 0; t < MAX_TASKS; t++) {
            atomic_init(&j.hits[t], 0);
            j.plain[t] = 0;
        }
        sieve_pool_run(p, n, task, &j);
        for (int t = 0; t < MAX_TASKS; t++) {
            int want = t < n;
            if (atomic_load(&j.hits[t]) != want || j.plain[t] != (want ? t + 1 : 0)) bad++;
        }
        if (gap_every && i % gap_every == 0) nap_us(gap_us);
    }
    CHECK_MSG(bad == 0, "%d task slots wrong (threads %d, spin %d us)", bad, threads, spin_us);
    sieve_pool_free(p);
}

static void test_pool_sleeping_runs_each_task_once(void) { run_jobs(2, 0, 20000, 100, 200); }
static void test_pool_polling_runs_each_task_once(void) { run_jobs(2, 1000, 20000, 100, 200); }
static void test_pool_polling_with_gaps_longer_than_the_poll(void) { run_jobs(3, 50, 2000, 2, 300); }
static void test_pool_more_threads_than_cores(void)
{
    run_jobs(5, 0, 3000, 0, 0);
    run_jobs(5, 200, 3000, 0, 0);
}

static void test_pool_freed_while_workers_poll(void)
{
    for (int i = 0; i < 50; i++) {
        sieve_pool *p = sieve_pool_new(3);
        REQUIRE(p);
        sieve_pool_spin(p, 100000);   /* workers are still polling when free comes */
        job j;
        for (int t = 0; t < MAX_TASKS; t++) atomic_init(&j.hits[t], 0);
        sieve_pool_run(p, 8, task, &j);
        sieve_pool_free(p);
    }
}

int main(void)
{
    RUN_TEST(test_pool_sleeping_runs_each_task_once);
    RUN_TEST(test_pool_polling_runs_each_task_once);
    RUN_TEST(test_pool_polling_with_gaps_longer_than_the_poll);
    RUN_TEST(test_pool_more_threads_than_cores);
    RUN_TEST(test_pool_freed_while_workers_poll);
    return sieve_test_summary();
}
