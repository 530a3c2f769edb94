/* A small fork-join thread pool for the sampler's own kernels (row-invariant
 * matmul, ragged attention). Tasks are numbered 0..n-1 and handed out by an
 * atomic counter; which thread runs a task never changes its arithmetic, so
 * results do not depend on the thread count. */
#ifndef SIEVE_SAMPLE_POOL_H
#define SIEVE_SAMPLE_POOL_H

typedef struct smp_pool smp_pool;
typedef void (*smp_task_fn)(void *arg, int task);

/* threads >= 1, including the caller. NULL when out of memory. */
smp_pool *smp_pool_new(int threads);
void smp_pool_free(smp_pool *p);                 /* NULL is fine */
int smp_pool_threads(const smp_pool *p);
/* Runs fn(arg, t) for t in [0, n_tasks), returns when all are done. */
void smp_pool_run(smp_pool *p, int n_tasks, smp_task_fn fn, void *arg);

#endif
