/* The fork-join thread pool (see sieve/pool.h). */
#include "sieve/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct sieve_pool {
    int threads;             /* including the caller */
    pthread_t *workers;      /* threads - 1 of them */
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* a new job or quit */
    pthread_cond_t done;     /* the last worker finished the job */
    /* generation is bumped (release) after fn/arg/n_tasks/busy are set, so a
     * worker that sees it change (acquire) sees the job; the caller changes
     * them only when busy is 0, after every worker is out of drain(). */
    atomic_uint_least64_t generation;
    atomic_int busy;         /* workers still inside the current job */
    atomic_int quit;
    atomic_int spin_ns;      /* how long to poll before sleeping (0: never poll) */
    sieve_pool_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next;         /* next task index to hand out */
};

static void drain(sieve_pool *p)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks) return;
        p->fn(p->arg, t);
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Polls until ready(p, want) or spin_ns pass; true if ready. Between looks it
 * yields the core rather than spinning on it: when another thread (another
 * stage's pool, say) is runnable it gets the core at once, and when none is,
 * sched_yield returns at once and the poll goes on. A pure spin here made two
 * samplers on two cores 4-8x slower. */
static bool poll_for(sieve_pool *p, bool (*ready)(sieve_pool *, uint64_t), uint64_t want)
{
    int spin = atomic_load_explicit(&p->spin_ns, memory_order_relaxed);
    if (spin <= 0) return ready(p, want);
    int64_t until = now_ns() + spin;
    for (unsigned i = 1;; i++) {
        if (ready(p, want)) return true;
        sched_yield();
        if (i % 16 == 0 && now_ns() > until) return false;
    }
}

static bool job_after(sieve_pool *p, uint64_t seen)
{
    return atomic_load_explicit(&p->quit, memory_order_relaxed) ||
           atomic_load_explicit(&p->generation, memory_order_acquire) != seen;
}

static bool job_done(sieve_pool *p, uint64_t unused)
{
    (void)unused;
    return atomic_load_explicit(&p->busy, memory_order_acquire) == 0;
}

static void *worker(void *arg)
{
    sieve_pool *p = arg;
    uint64_t seen = 0;
    for (;;) {
        if (!poll_for(p, job_after, seen)) {
            pthread_mutex_lock(&p->mu);
            while (!job_after(p, seen)) pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->quit, memory_order_relaxed)) break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        drain(p);
        if (atomic_fetch_sub_explicit(&p->busy, 1, memory_order_acq_rel) == 1) {
            /* Under the mutex, so a caller between its check and its wait
             * cannot miss this. */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

sieve_pool *sieve_pool_new(int threads)
{
    if (threads < 1) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)cores : 1;
    }
    sieve_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->busy, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->spin_ns, 0);
    atomic_init(&p->next, 0);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        if (!p->workers) { sieve_pool_free(p); return NULL; }
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&p->workers[i], NULL, worker, p) != 0) {
                p->threads = i + 1;  /* only i workers exist */
                sieve_pool_free(p);
                return NULL;
            }
        }
    }
    return p;
}

void sieve_pool_free(sieve_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->threads - 1 && p->workers; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int sieve_pool_threads(const sieve_pool *p) { return p->threads; }

void sieve_pool_spin(sieve_pool *p, int microseconds)
{
    atomic_store(&p->spin_ns, microseconds > 0 ? microseconds * 1000 : 0);
}

void sieve_pool_run(sieve_pool *p, int n_tasks, sieve_pool_fn fn, void *arg)
{
    if (n_tasks <= 0) return;
    if (p->threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->busy, p->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p);
    if (!poll_for(p, job_done, 0)) {
        pthread_mutex_lock(&p->mu);
        while (!job_done(p, 0)) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
