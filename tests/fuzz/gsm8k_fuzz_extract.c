/* libFuzzer target: answer extraction, annotation scanning, the equation
 * key and the whole equations check on arbitrary completion bytes. Checks
 * the invariants the regexes imply: an extracted answer is made of
 * [-0-9.] and no longer than the input; a key holds no spaces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gsm8k.h"

static bool count_cb(const char *a, size_t n, void *user)
{
    (void)a;
    *(size_t *)user += n;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char out[64];
    size_t n = 0;
    double v;
    if (sieve_gsm8k_extract(s, size, out, sizeof out, &n, &v)) {
        if (n > size || n >= sizeof out || strlen(out) != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!strchr("-0123456789.", out[i]))
                abort();
    }
    size_t total = 0;
    size_t count = sieve_gsm8k_annotations(s, size, count_cb, &total);
    if (total + 4 * count > size)
        abort();                                  /* each match is <<...>> inside the input */
    size_t kl;
    char *key = sieve_gsm8k_equation_key(s, size, &kl);
    if (!key || memchr(key, ' ', kl) || kl > size)
        abort();
    free(key);
    (void)sieve_gsm8k_equations_valid(s, size);
    return 0;
}
