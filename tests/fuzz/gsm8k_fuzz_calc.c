/* libFuzzer target: the safe evaluator and Python float() on arbitrary
 * bytes. Whatever an annotation holds, evaluation must end quickly, stay
 * within its stack bound, allocate nothing unbounded and be deterministic;
 * ASan/UBSan catch the rest (signed overflow included). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gsm8k.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    double a = 0, b = 0;
    sieve_calc_status s1 = sieve_calc_eval(s, size, &a);
    sieve_calc_status s2 = sieve_calc_eval(s, size, &b);
    if (s1 != s2 || (s1 == SIEVE_CALC_OK && memcmp(&a, &b, sizeof a) != 0))
        abort();                                  /* must be deterministic */
    if (size > SIEVE_CALC_MAX_LEN && s1 != SIEVE_CALC_LIMIT)
        abort();
    double f;
    (void)sieve_gsm8k_pyfloat(s, size, &f);
    (void)sieve_gsm8k_annotation_valid(s, size);
    return 0;
}
