/* simd_exp.h: every body gives the generic body's bits, within 1 ulp of
 * libm's expf (correctly rounded in glibc) where exp is a normal float. The
 * bodies were once found equal on all 2^32 inputs, and within 1 ulp of expf on
 * every float in [-87.3, 88]; here a sample of about 70 million inputs and the
 * edges (signed zeros, the clamps and their neighbours, subnormals,
 * infinities, NaN) keep that true. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "simd_exp.h"
#include "testlib.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Equal bits, or both NaN (a NaN's payload is not part of the contract). */
static int same(float a, float b) { return to_bits(a) == to_bits(b) || (isnan(a) && isnan(b)); }

/* Every width on x[0..16): the generic 8-lane body is the reference. Returns
 * the number of lanes where a body disagrees, naming the first. */
static int compare16(const float *x)
{
    float ref[16], got[16];
    int bad = 0;
    for (int h = 0; h < 2; h++) {
        simd_f8 v, g, f;
        memcpy(&v, x + 8 * h, sizeof v);
        g = simd_exp8_generic(v);
        f = simd_exp8(v);
        memcpy(ref + 8 * h, &g, sizeof g);
        memcpy(got + 8 * h, &f, sizeof f);
    }
    for (int i = 0; i < 16; i++) {
        if (!same(got[i], ref[i]) && bad++ == 0)
            fprintf(stderr, "simd_exp8(%a) = %a, generic %a\n", x[i], got[i], ref[i]);
        float s = simd_expf(x[i]);
        if (!same(s, ref[i]) && bad++ == 0)
            fprintf(stderr, "simd_expf(%a) = %a, generic %a\n", x[i], s, ref[i]);
    }
#if defined(__AVX512F__)
    simd_f16 v, g, f;
    memcpy(&v, x, sizeof v);
    g = simd_exp16_generic(v);
    f = simd_exp16(v);
    memcpy(got, &g, sizeof g);
    for (int i = 0; i < 16; i++)
        if (!same(got[i], ref[i]) && bad++ == 0)
            fprintf(stderr, "simd_exp16_generic(%a) = %a, 8-lane %a\n", x[i], got[i], ref[i]);
    memcpy(got, &f, sizeof f);
    for (int i = 0; i < 16; i++)
        if (!same(got[i], ref[i]) && bad++ == 0)
            fprintf(stderr, "simd_exp16(%a) = %a, generic %a\n", x[i], got[i], ref[i]);
#endif
    return bad;
}

static void test_every_body_gives_the_generic_bits(void)
{
    int bad = 0;
    float x[16];
    /* Every 61st bit pattern, with a shifting phase so all low bits occur. */
    for (uint64_t u = 0; u < ((uint64_t)1 << 32) && bad == 0; u += 61 * 16) {
        for (int i = 0; i < 16; i++) x[i] = from_bits((uint32_t)(u + (uint64_t)i * 61));
        bad += compare16(x);
    }
    const float edges[] = {0.0f, -0.0f, SIMD_EXP_HI, SIMD_EXP_LO, INFINITY, -INFINITY, NAN, -NAN,
                           FLT_MIN, -FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MAX, -FLT_MAX,
                           0.5f * 0.693359375f, -0.5f * 0.693359375f, 1.0f, -1.0f};
    int n = (int)(sizeof edges / sizeof *edges);
    for (int i = 0; i < n; i++) {
        float e = edges[i];
        float around[16] = {e, nextafterf(e, INFINITY), nextafterf(e, -INFINITY)};
        for (int j = 3; j < 16; j++) around[j] = e * (float)j;
        bad += compare16(around);
    }
    CHECK_MSG(bad == 0, "%d lanes differ", bad);
}

static void test_within_one_ulp_of_libm(void)
{
    double worst = 0.0;
    float at = 0.0f;
    /* Where exp(x) is a normal float: [-87.33, 88.72]; the clamp at 88 is
     * checked below. */
    for (float x = -87.3f; x < 88.0f; x += 0.0013f) {
        float want = expf(x), got = simd_expf(x);
        double ulp = (double)nextafterf(want, INFINITY) - want;
        double err = fabs((double)got - want) / ulp;
        if (err > worst) {
            worst = err;
            at = x;
        }
    }
    CHECK_MSG(worst <= 1.0, "%.2f ulp at x = %a", worst, at);
    CHECK(simd_expf(100.0f) == simd_expf(SIMD_EXP_HI));
    CHECK(fabsf(simd_expf(SIMD_EXP_HI) / expf(88.0f) - 1.0f) < 1e-6f);
    float tiny = simd_expf(-1000.0f);
    CHECK(tiny > 0.0f && tiny < 2.0f * FLT_MIN);   /* the clamp: ~1e-38, never 0 or less */
    CHECK(isnan(simd_expf(NAN)));
}

int main(void)
{
    RUN_TEST(test_every_body_gives_the_generic_bits);
    RUN_TEST(test_within_one_ulp_of_libm);
    return sieve_test_summary();
}
