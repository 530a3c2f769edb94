/* Helpers for the llama tests: the CPU kernels (linked directly), the PyTorch
 * oracle (tools/oracle.py, run live), f32 files and comparisons. */
#ifndef SIEVE_LLAMA_TESTUTIL_H
#define SIEVE_LLAMA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/kernels.h"
#include "sieve/llama.h"

/* From the kernels-cpu static library. */
const sieve_kernels *sieve_kernels_cpu(void);

/* Runs `/usr/bin/python3 tools/oracle.py ARGS`; 0 on success (prints its
 * stderr on failure). */
int lt_oracle(const char *args_fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs `oracle.py batch` with one subcommand per line of script (torch is
 * imported once). 0 on success. */
int lt_oracle_batch(const char *script);

/* Reads a whole little-endian f32 file; *n floats. NULL on failure. */
float *lt_read_f32(const char *path, size_t *n);

/* "a,b,c" text of ids (caller frees). */
char *lt_ids_text(const int32_t *ids, int n);

/* Deterministic pseudo-random ids in [0, V). */
void lt_fill_ids(int32_t *ids, int n, int V, uint64_t seed);

/* Largest |a - b| over n floats; *where gets its index. */
double lt_max_diff(const float *a, const float *b, size_t n, size_t *where);

/* Writes text to dir/name; returns the malloc'd path. */
char *lt_write(const char *dir, const char *name, const char *text);

#endif
