/* Evaluation formulas: the unbiased pass@k estimator, the Wilson interval
 * for accuracy, and the paper's "solved by how many of k samples" bins. */
#include <math.h>

#include "gsm8k.h"

double sieve_gsm8k_pass_at_k(int64_t n, int64_t c, int64_t k)
{
    if (c <= 0)
        return 0.0;
    if (k > n || n - c < k)
        return 1.0;
    /* 1 - prod_{i=n-c+1}^{n} (1 - k/i), the numerically stable form. */
    double prod = 1.0;
    for (int64_t i = n - c + 1; i <= n; i++)
        prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}

void sieve_gsm8k_wilson(int64_t successes, int64_t n, double *lo, double *hi)
{
    if (n <= 0) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    const double z = 1.959963984540054;
    double p = (double)successes / (double)n, nn = (double)n;
    double denom = 1.0 + z * z / nn;
    double centre = (p + z * z / (2 * nn)) / denom;
    double half = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom;
    *lo = centre - half < 0 ? 0 : centre - half;
    *hi = centre + half > 1 ? 1 : centre + half;
}

int sieve_gsm8k_hist_bin(int64_t solved, int64_t k)
{
    if (solved <= 0 || k <= 0)
        return 0;
    /* bin b in 1..5 holds (k*(b-1)/5, k*b/5]: for k = 100, 1-20, 21-40, ... */
    for (int b = 1; b <= 5; b++)
        if (solved * 5 <= k * b)
            return b;
    return 5;
}
