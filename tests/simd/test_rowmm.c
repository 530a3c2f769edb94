/* The row-invariant matmul (plugins/simd/rowmm.h): bit-identical rows
 * whatever M, the tile, the thread count or the products sharing a job, and
 * close to a double-precision dot product. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rowmm.h"
#include "testlib.h"

static void test_matmul_rows_identical_for_any_batch_and_thread_count(void)
{
    enum { M = 70, N = 101, K = 75 };   /* N % 24 != 0: a partial panel */
    float *in = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
    float *full = malloc(sizeof(float) * M * N), *part = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) in[i] = sieve_test_frand();
    for (int i = 0; i < N * K; i++) w[i] = sieve_test_frand();
    sieve_pool *p1 = sieve_pool_new(1), *p2 = sieve_pool_new(2), *p5 = sieve_pool_new(5);
    sieve_rowmm_packed pw = {0}, pw5 = {0};
    REQUIRE(!sieve_rowmm_pack(NULL, &pw, w, N, K));
    /* Packed by five threads, into the memory of an earlier, larger packing. */
    float *big = malloc(sizeof(float) * 2 * N * K);
    for (int i = 0; i < 2 * N * K; i++) big[i] = sieve_test_frand();
    REQUIRE(!sieve_rowmm_pack(NULL, &pw5, big, 2 * N, K));
    free(big);
    float *was = pw5.p;
    REQUIRE(!sieve_rowmm_pack(p5, &pw5, w, N, K));
    CHECK(pw5.p == was);
    sieve_rowmm_matmul(p1, full, in, &pw, M);
    sieve_rowmm_matmul(p1, part, in, &pw5, M);
    CHECK_MSG(!memcmp(full, part, sizeof(float) * M * N), "packed by a pool, memory reused");
    sieve_rowmm_free(&pw5);
    /* Against a double-precision reference: a plain f32 dot is within K ulps. */
    double worst = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)in[m * K + k] * w[n * K + k];
            double d = fabs(s - full[m * N + n]);
            if (d > worst) worst = d;
        }
    CHECK_MSG(worst < 1e-4, "worst %g", worst);
    sieve_pool *pools[3] = {p1, p2, p5};
    int chunks[] = {1, 2, 3, 7, 64, 70};
    for (int pi = 0; pi < 3; pi++)
        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            memset(part, 0, sizeof(float) * M * N);
            for (int m0 = 0; m0 < M; m0 += chunks[c]) {
                int rows = M - m0 < chunks[c] ? M - m0 : chunks[c];
                sieve_rowmm_matmul(pools[pi], part + m0 * N, in + m0 * K, &pw, rows);
            }
            CHECK_MSG(!memcmp(full, part, sizeof(float) * M * N), "pool %d, chunks of %d", pi,
                      chunks[c]);
        }
    sieve_pool_free(p1);
    sieve_pool_free(p2);
    sieve_pool_free(p5);
    sieve_rowmm_free(&pw);
    free(in);
    free(w);
    free(full);
    free(part);
}

/* Products of one input in one job (q/k/v): a pool task's run of panels may
 * cross from one product into the next. Each must equal its product alone. */
static void test_matmul_products_in_one_job_equal_each_alone(void)
{
    enum { M = 9, K = 75 };
    int Ns[3] = {101, 48, 7};
    float *in = malloc(sizeof(float) * M * K);
    for (int i = 0; i < M * K; i++) in[i] = sieve_test_frand();
    sieve_rowmm_packed pw[3] = {{0}};
    float *alone[3], *multi[3];
    for (int p = 0; p < 3; p++) {
        float *w = malloc(sizeof(float) * Ns[p] * K);
        for (int i = 0; i < Ns[p] * K; i++) w[i] = sieve_test_frand();
        REQUIRE(!sieve_rowmm_pack(NULL, &pw[p], w, Ns[p], K));
        free(w);
        alone[p] = malloc(sizeof(float) * M * Ns[p]);
        multi[p] = malloc(sizeof(float) * M * Ns[p]);
    }
    int threads[] = {1, 2, 5};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        sieve_pool *pool = sieve_pool_new(threads[t]);
        sieve_rowmm_product mm[3];
        for (int p = 0; p < 3; p++) {
            sieve_rowmm_matmul(pool, alone[p], in, &pw[p], M);
            memset(multi[p], 0, sizeof(float) * M * Ns[p]);
            mm[p] = (sieve_rowmm_product){multi[p], &pw[p]};
        }
        sieve_rowmm_matmul_multi(pool, in, M, K, mm, 3);
        for (int p = 0; p < 3; p++)
            CHECK_MSG(!memcmp(alone[p], multi[p], sizeof(float) * M * Ns[p]),
                      "%d threads, product %d", threads[t], p);
        sieve_pool_free(pool);
    }
    for (int p = 0; p < 3; p++) {
        sieve_rowmm_free(&pw[p]);
        free(alone[p]);
        free(multi[p]);
    }
    free(in);
}

int main(void)
{
    RUN_TEST(test_matmul_rows_identical_for_any_batch_and_thread_count);
    RUN_TEST(test_matmul_products_in_one_job_equal_each_alone);
    return sieve_test_summary();
}
