/* Helpers for the CUDA backend tests: both kernel tables loaded the way the
 * runtime loads them (dlopen of $SIEVE_PLUGIN_PATH/kernels-<name>.so), host
 * and device buffers, deterministic random data, and the parity measure. */
#ifndef SIEVE_KCUDA_TESTUTIL_H
#define SIEVE_KCUDA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/kernels.h"

#define KT_SKIP 77   /* ctest SKIP_RETURN_CODE */

typedef struct kt_env {
    const sieve_kernels *cpu, *cuda;
    sieve_kctx *ccpu, *ccuda;
    const char *(*cuda_error)(const sieve_kctx *);   /* sieve_kernels_cuda_error */
} kt_env;

/* Loads both tables and makes a context for each. Returns 0, or KT_SKIP after
 * printing why (plugin not built, no GPU), or 1 on a real failure. */
int kt_open(kt_env *e);
void kt_close(kt_env *e);

/* Uniform floats in [lo, hi) from a seed (splitmix64). */
void kt_fill(float *x, size_t n, float lo, float hi, uint64_t seed);
/* Device copy of n host floats (or bytes, for kt_dev_bytes). */
void *kt_dev(kt_env *e, const void *host, size_t bytes);
/* Host copy (malloc) of a device buffer. */
float *kt_host(kt_env *e, const void *dev, size_t bytes);

/* max |got - want| / max |want| over n floats (0/0 = 0); *worst gets the index
 * of the largest |got - want|. This is "within x relative" in the tests. */
double kt_rel(const float *got, const float *want, size_t n, size_t *worst);

#endif
