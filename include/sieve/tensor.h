/* Tensors that cross plugin boundaries.
 *
 * Ownership follows the Arrow C Data Interface: whoever holds a sieve_tensor
 * owns it and calls sieve_tensor_release() exactly once. The producer sets
 * `release` and `private_data`; no allocator is shared between plugins.
 * Moving a tensor means copying the struct and marking the source released
 * (release = NULL). */
#ifndef SIEVE_TENSOR_H
#define SIEVE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIEVE_MAX_RANK 4

typedef enum sieve_dtype {
    SIEVE_F32, SIEVE_BF16, SIEVE_F16, SIEVE_I32, SIEVE_I64, SIEVE_U8
} sieve_dtype;

typedef enum sieve_device_kind { SIEVE_DEV_CPU, SIEVE_DEV_CUDA } sieve_device_kind;

typedef struct sieve_device {
    sieve_device_kind kind;
    int index;                    /* cuda:N; 0 for cpu */
} sieve_device;

typedef struct sieve_tensor {
    char name[32];                /* what it holds: "tokens", "targets", ... */
    sieve_dtype dtype;
    int rank;                     /* 0..SIEVE_MAX_RANK */
    int64_t shape[SIEVE_MAX_RANK];
    int64_t strides[SIEVE_MAX_RANK]; /* in elements, row-major contiguous */
    sieve_device device;
    void *data;
    void (*release)(struct sieve_tensor *t); /* NULL once released */
    void *private_data;
} sieve_tensor;

size_t sieve_dtype_size(sieve_dtype dt);
const char *sieve_dtype_name(sieve_dtype dt);      /* "f32", "i32", ... */
int sieve_dtype_parse(const char *s, sieve_dtype *out); /* 0 or -1 */
int64_t sieve_tensor_numel(const sieve_tensor *t);

/* A CPU tensor whose data this library allocates (zeroed) and frees on release. */
sieve_status sieve_tensor_alloc(sieve_tensor *t, const char *name, sieve_dtype dt,
                                int rank, const int64_t *shape, sieve_err *err);
/* Calls t->release if set; safe on a released tensor. */
void sieve_tensor_release(sieve_tensor *t);
/* Moves src into dst; src is marked released. */
void sieve_tensor_move(sieve_tensor *dst, sieve_tensor *src);

#ifdef __cplusplus
}
#endif
#endif
