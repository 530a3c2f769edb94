/* 8-lane float vectors for the sampler's kernels (AVX2+FMA when the build
 * has them, GCC's generic vectors otherwise). Every function computes each
 * lane by a fixed sequence of operations, so results never depend on where
 * an element sits in a batch. */
#ifndef SIEVE_SIMD_VEC_H
#define SIEVE_SIMD_VEC_H

#include <string.h>

#include "simd_exp.h"

#if defined(__FMA__)
#include <immintrin.h>
typedef __m256 v8f;
typedef __m256i v8i;
#define V8_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#else
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
#define V8_FMA(a, b, c) ((a) * (b) + (c))
#endif

static inline v8f v8_ld(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v8_st(float *p, v8f v) { memcpy(p, &v, sizeof v); }

static inline v8f v8_set1(float x)
{
#if defined(__FMA__)
    return _mm256_set1_ps(x);
#else
    v8f v;
    float l[8] = {x, x, x, x, x, x, x, x};
    memcpy(&v, l, sizeof v);
    return v;
#endif
}

static inline v8f v8_zero(void) { return v8_set1(0.0f); }

/* Lane-wise maximum (a NaN lane keeps a, as `b > a ? b : a` does). */
static inline v8f v8_max(v8f a, v8f b)
{
#if defined(__FMA__)
    return _mm256_max_ps(b, a);   /* returns a where unordered */
#else
    float la[8], lb[8];
    memcpy(la, &a, sizeof la);
    memcpy(lb, &b, sizeof lb);
    for (int j = 0; j < 8; j++) la[j] = lb[j] > la[j] ? lb[j] : la[j];
    return v8_ld(la);
#endif
}

/* Whether any lane of a equals the same lane of b. */
static inline int v8_any_eq(v8f a, v8f b)
{
#if defined(__FMA__)
    return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_EQ_OQ)) != 0;
#else
    float la[8], lb[8];
    memcpy(la, &a, sizeof la);
    memcpy(lb, &b, sizeof lb);
    int any = 0;
    for (int j = 0; j < 8; j++) any |= la[j] == lb[j];
    return any;
#endif
}

/* Fixed pairwise order over the eight lanes. */
static inline float v8_hsum(v8f v)
{
    float l[8];
    memcpy(l, &v, sizeof l);
    return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

/* out[j] = v8_hsum(a[j]) for eight vectors at once, with the same additions
 * in the same pairs (so the same bits): lanes i and i+4 first, then
 * neighbours, then the two halves. */
static inline void v8_hsum8(float out[8], const v8f a[8])
{
#if defined(__FMA__)
    __m256 h[4], q[2];
    for (int j = 0; j < 4; j++) /* [a_2j lanes 0..3 + 4..7 | a_2j+1 likewise] */
        h[j] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * j], a[2 * j + 1], 0x20),
                             _mm256_permute2f128_ps(a[2 * j], a[2 * j + 1], 0x31));
    q[0] = _mm256_hadd_ps(h[0], h[1]);   /* pairs (0+4)+(1+5), (2+6)+(3+7) */
    q[1] = _mm256_hadd_ps(h[2], h[3]);
    __m256 r = _mm256_hadd_ps(q[0], q[1]);   /* order: a0 a2 a4 a6 a1 a3 a5 a7 */
    r = _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_ps(out, r);
#else
    for (int j = 0; j < 8; j++) out[j] = v8_hsum(a[j]);
#endif
}

/* exp(x) per lane: the shared Cephes expf of plugins/simd (the CPU kernels
 * use the same bits). */
static inline v8f v8_exp(v8f x) { return (v8f)simd_exp8((simd_f8)x); }

#endif
