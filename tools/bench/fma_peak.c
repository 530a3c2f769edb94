/* The machine's multiply-add peak: THREADS threads each run independent fused
 * multiply-add chains in the widest vector registers this build has, for about
 * a second. Prints multiply-adds per second (all threads) and the lane width.
 * tools/bench-sample uses it for its machine bound: OpenBLAS's sgemm is no
 * measure of the peak where it runs narrower kernels than the CPU has (0.3.21
 * picks its AVX2 "Haswell" kernels on AVX-512 Zen 5).
 *
 * usage: fma_peak [THREADS] */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET1(x) _mm512_set1_ps(x)
#define FIRST(v) _mm512_cvtss_f32(v)
#elif defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET1(x) _mm256_set1_ps(x)
#define FIRST(v) _mm256_cvtss_f32(v)
#else   /* no FMA: separate multiply and add on SSE registers */
typedef __m128 vec;
#define LANES 4
#define FMA(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define SET1(x) _mm_set1_ps(x)
#define FIRST(v) _mm_cvtss_f32(v)
#endif

#define CHAINS 12   /* enough independent chains to cover latency x pipes */
#define ROUNDS 1000000L

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *spin(void *arg)
{
    float *sink = arg;
    vec a = SET1(0.999999f), b = SET1(1e-7f);
    vec c[CHAINS];
    for (int i = 0; i < CHAINS; i++) c[i] = SET1((float)i);
    for (long r = 0; r < ROUNDS; r++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) c[i] = FMA(c[i], a, b);
    }
    float s = 0.0f;
    for (int i = 0; i < CHAINS; i++) s += FIRST(c[i]);
    *sink = s;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "usage: fma_peak [THREADS]\n");
        return 2;
    }
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    float *sink = calloc((size_t)threads, sizeof *sink);
    if (!t || !sink) return 1;
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, spin, &sink[i]);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double rate = (double)threads * ROUNDS * CHAINS * LANES / (now_s() - t0);
        best = rate > best ? rate : best;
    }
    printf("%.1f %d\n", best / 1e9, LANES);
    free(t);
    free(sink);
    return 0;
}
