/* 8-lane float helpers for the CPU kernels (GCC vector extensions). exp() is
 * the shared plugins/simd/simd_exp.h's, called directly: simd_exp8 and, for
 * tails, its scalar twin simd_expf (the sampler uses the same bits). */
#ifndef SIEVE_KCPU_VEXP_H
#define SIEVE_KCPU_VEXP_H

#include <stdint.h>
#include <string.h>

#include "simd_exp.h"

typedef simd_f8 v8f;
typedef simd_i8 v8i;

static inline v8f v8f_set1(float x) { return simd_f8_set1(x); }

static inline v8f v8f_load(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v8f_store(float *p, v8f v) { memcpy(p, &v, sizeof v); }

static inline v8f v8f_sel(v8i m, v8f a, v8f b) { return simd_f8_sel(m, a, b); }

static inline v8f v8f_max(v8f a, v8f b) { return v8f_sel(a > b, a, b); }

/* Sum of the 8 lanes in a fixed order. */
static inline float v8f_hsum(v8f v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

static inline float v8f_hmax(v8f v)
{
    float m = v[0];
    for (int i = 1; i < 8; i++) m = v[i] > m ? v[i] : m;
    return m;
}

#endif
