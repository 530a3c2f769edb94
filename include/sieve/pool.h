/* The one fork-join thread pool every plugin uses: sieve_pool_run(p, n, fn,
 * arg) calls fn(arg, i) for each i in [0, n) across the workers and the
 * calling thread, and returns when all are done. Workers sleep on a condition
 * variable between jobs (by default no spinning: an idle pool costs no CPU and
 * never steals cores from BLAS or from other stages). One thread calls run at
 * a time. */
#ifndef SIEVE_POOL_H
#define SIEVE_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sieve_pool sieve_pool;
typedef void (*sieve_pool_fn)(void *arg, int task);

/* threads counts the caller (1: no worker threads; <= 0: every core). NULL on failure. */
sieve_pool *sieve_pool_new(int threads);
void sieve_pool_free(sieve_pool *p);            /* NULL is fine */
int sieve_pool_threads(const sieve_pool *p);
void sieve_pool_run(sieve_pool *p, int n_tasks, sieve_pool_fn fn, void *arg);
/* Workers poll this long for the next job, and the caller for the job's end,
 * before sleeping (0, the default: sleep at once). Polling yields the core
 * between looks, so runnable threads of other stages still get it. For a
 * caller that runs many short jobs back to back (the sampler's decode loop):
 * a wake-up through the kernel costs tens of microseconds, as much as a whole
 * job at batch 1. */
void sieve_pool_spin(sieve_pool *p, int microseconds);

#ifdef __cplusplus
}
#endif
#endif
