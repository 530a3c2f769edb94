/* A small fork-join thread pool for the CPU kernels: run(n_tasks, fn, arg)
 * calls fn(arg, i) for every i in [0, n_tasks) across the workers and the
 * calling thread, and returns when all are done. Workers sleep on a condition
 * variable between calls (no spinning, so they never steal cores from BLAS
 * or from other stages). */
#ifndef SIEVE_KCPU_POOL_H
#define SIEVE_KCPU_POOL_H

typedef struct kpool kpool;
typedef void (*kpool_fn)(void *arg, int task);

/* threads counts the caller: threads == 1 makes no worker threads. NULL on failure. */
kpool *kpool_new(int threads);
void kpool_free(kpool *p);
int kpool_threads(const kpool *p);
void kpool_run(kpool *p, int n_tasks, kpool_fn fn, void *arg);

#endif
