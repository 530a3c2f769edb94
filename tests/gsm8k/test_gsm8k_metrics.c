/* Evaluation formulas against hand-computed values. */
#include <math.h>

#include "gsm8k.h"
#include "testlib.h"

static bool near(double a, double b) { return fabs(a - b) < 1e-9; }

static void test_pass_at_k_unbiased_estimator(void)
{
    /* 1 - C(n-c,k)/C(n,k): n=10 c=3 k=1 -> 0.3; k=2 -> 1 - 21/45; k=8 -> 1. */
    CHECK(near(sieve_gsm8k_pass_at_k(10, 3, 1), 0.3));
    CHECK(near(sieve_gsm8k_pass_at_k(10, 3, 2), 1.0 - 21.0 / 45.0));
    CHECK(near(sieve_gsm8k_pass_at_k(10, 3, 8), 1.0));
    CHECK(near(sieve_gsm8k_pass_at_k(10, 0, 5), 0.0));
    /* n=100 c=1 k=10: C(99,10)/C(100,10) = 90/100 -> 0.1 */
    CHECK(near(sieve_gsm8k_pass_at_k(100, 1, 10), 0.1));
}

static void test_wilson_interval(void)
{
    double lo, hi;
    /* 50 of 100: centre 0.5, half-width 1.96*sqrt(.25/100 + 1.96^2/40000)/(1+1.96^2/100) */
    sieve_gsm8k_wilson(50, 100, &lo, &hi);
    CHECK(fabs(lo - 0.4038) < 1e-4 && fabs(hi - 0.5962) < 1e-4);
    sieve_gsm8k_wilson(0, 10, &lo, &hi);
    CHECK(lo == 0 && fabs(hi - 0.2775) < 1e-4);
}

static void test_histogram_bins_of_paper(void)
{
    CHECK(sieve_gsm8k_hist_bin(0, 100) == 0);
    CHECK(sieve_gsm8k_hist_bin(1, 100) == 1);
    CHECK(sieve_gsm8k_hist_bin(20, 100) == 1);
    CHECK(sieve_gsm8k_hist_bin(21, 100) == 2);
    CHECK(sieve_gsm8k_hist_bin(80, 100) == 4);
    CHECK(sieve_gsm8k_hist_bin(81, 100) == 5);
    CHECK(sieve_gsm8k_hist_bin(100, 100) == 5);
    CHECK(sieve_gsm8k_hist_bin(1, 8) == 1 && sieve_gsm8k_hist_bin(2, 8) == 2);
}

int main(void)
{
    RUN_TEST(test_pass_at_k_unbiased_estimator);
    RUN_TEST(test_wilson_interval);
    RUN_TEST(test_histogram_bins_of_paper);
    return sieve_test_summary();
}
