/* exp() for 8 floats at a time with GCC vector extensions, and the same
 * algorithm for one float, so vector bodies and scalar tails agree bit for
 * bit. Cephes' expf: x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for
 * e^r, then scaling by 2^n through the exponent bits. About 1 ulp on
 * [-87, 88]; inputs below -87 give ~1e-38 (callers only sum these or use
 * them as softmax weights, where that is zero for all purposes).
 * No FMA contraction happens in ISO C mode, so every build gives the same bits. */
#ifndef SIEVE_KCPU_VEXP_H
#define SIEVE_KCPU_VEXP_H

#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define VEXP_HI 88.0f
#define VEXP_LO (-87.3365447504019f)

static inline v8f v8f_set1(float x) { return (v8f){x, x, x, x, x, x, x, x}; }

static inline v8f v8f_load(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v8f_store(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/* Lane-wise select: m ? a : b, with m from a vector comparison. */
static inline v8f v8f_sel(v8i m, v8f a, v8f b)
{
    return (v8f)(((v8i)a & m) | ((v8i)b & ~m));
}

static inline v8f v8f_max(v8f a, v8f b) { return v8f_sel(a > b, a, b); }

static inline v8f v8f_exp(v8f x)
{
    x = v8f_sel(x > v8f_set1(VEXP_HI), v8f_set1(VEXP_HI), x);
    x = v8f_sel(x < v8f_set1(VEXP_LO), v8f_set1(VEXP_LO), x);
    v8f fx = x * 1.44269504088896341f + 0.5f;
    v8i n = __builtin_convertvector(fx, v8i);
    v8f fn = __builtin_convertvector(n, v8f);
    n += (v8i)(fn > fx);                 /* truncation to floor: -1 where needed */
    fn = __builtin_convertvector(n, v8f);
    v8f r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    v8f p = v8f_set1(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    v8i bits = (n + 127) << 23;
    return p * (v8f)bits;
}

static inline float sexp(float x)
{
    if (x > VEXP_HI) x = VEXP_HI;
    if (x < VEXP_LO) x = VEXP_LO;
    float fx = x * 1.44269504088896341f + 0.5f;
    int32_t n = (int32_t)fx;
    if ((float)n > fx) n -= 1;
    float fn = (float)n;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

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
