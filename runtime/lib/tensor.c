/* Tensor helpers: dtype facts and CPU tensors owned by this library. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "sieve/tensor.h"

static const struct { const char *name; size_t size; } dtypes[] = {
    [SIEVE_F32] = {"f32", 4}, [SIEVE_BF16] = {"bf16", 2}, [SIEVE_F16] = {"f16", 2},
    [SIEVE_I32] = {"i32", 4}, [SIEVE_I64] = {"i64", 8},   [SIEVE_U8] = {"u8", 1},
};

size_t sieve_dtype_size(sieve_dtype dt) { return dtypes[dt].size; }
const char *sieve_dtype_name(sieve_dtype dt) { return dtypes[dt].name; }

int sieve_dtype_parse(const char *s, sieve_dtype *out)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (sieve_dtype)i;
            return 0;
        }
    return -1;
}

int64_t sieve_tensor_numel(const sieve_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->shape[i];
    return n;
}

static void release_malloced(sieve_tensor *t)
{
    free(t->data);
    t->data = NULL;
    t->release = NULL;
}

sieve_status sieve_tensor_alloc(sieve_tensor *t, const char *name, sieve_dtype dt, int rank,
                                const int64_t *shape, sieve_err *err)
{
    memset(t, 0, sizeof *t);
    if (rank < 0 || rank > SIEVE_MAX_RANK)
        return sieve_fail(err, "tensor '%s': rank %d is outside 0..%d", name, rank, SIEVE_MAX_RANK);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return sieve_fail(err, "tensor '%s': negative dimension %lld", name, (long long)shape[i]);
        t->shape[i] = shape[i];
    }
    int64_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        t->strides[i] = stride;
        stride *= shape[i];
    }
    size_t bytes = (size_t)sieve_tensor_numel(t) * sieve_dtype_size(dt);
    t->data = calloc(1, bytes ? bytes : 1);
    if (!t->data)
        return sieve_fail(err, "tensor '%s': out of memory for %zu bytes", name, bytes);
    t->device.kind = SIEVE_DEV_CPU;
    t->release = release_malloced;
    return SIEVE_OK;
}

void sieve_tensor_release(sieve_tensor *t)
{
    if (t && t->release)
        t->release(t);
    if (t)
        t->release = NULL;
}

void sieve_tensor_move(sieve_tensor *dst, sieve_tensor *src)
{
    *dst = *src;
    src->release = NULL;
    src->data = NULL;
    src->private_data = NULL;
}
