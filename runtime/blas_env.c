/* OpenBLAS kernel choice, made before any plugin loads OpenBLAS. */
#include <stdlib.h>

#include "cli.h"

/* OpenBLAS 0.3.21 (Debian 12's) does not know AMD's AVX-512 cores (Zen 4,
 * Zen 5) and runs its AVX2 "Haswell" kernels there; its "SkylakeX" kernels
 * run on them and nearly double sgemm (measured on Zen 5, 2 threads: 83 ->
 * 150-160 GMAC/s; bench-train 1283 -> 1983 tokens/s). OpenBLAS reads the
 * variable when it is loaded, i.e. when kernels-cpu is, so setting it here in
 * time is enough. A value the user set is kept. */
void sieve_cli_prefer_blas_kernels(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (getenv("OPENBLAS_CORETYPE") || !__builtin_cpu_is("amd"))
        return;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
#endif
}
