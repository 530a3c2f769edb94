/* CPU kernel context (thread pool) and memory: device memory is host memory. */
#include "kcpu.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

sieve_status kcpu_kctx_new(int threads, sieve_kctx **out, sieve_err *err)
{
    *out = NULL;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    sieve_kctx *kc = calloc(1, sizeof *kc);
    if (!kc) return sieve_fail(err, "kernels-cpu: out of memory");
    kc->threads = threads;
    kc->pool = sieve_pool_new(threads);
    if (!kc->pool) {
        free(kc);
        return sieve_fail(err, "kernels-cpu: cannot start %d threads", threads);
    }
    /* Our pool splits every GEMM across the threads and calls BLAS from each,
     * so BLAS itself must not start (and spin) threads of its own. */
    openblas_set_num_threads(1);
    *out = kc;
    return SIEVE_OK;
}

void kcpu_kctx_free(sieve_kctx *kc)
{
    if (!kc) return;
    sieve_pool_free(kc->pool);
    kcpu_rope_table_free(&kc->rope);
    sieve_rowmm_free(&kc->bi_w);
    free(kc);
}

int kcpu_kctx_threads(const sieve_kctx *kc) { return kc->threads; }

sieve_status kcpu_kctx_option(sieve_kctx *kc, const char *name, int value, sieve_err *err)
{
    if (strcmp(name, "batch_invariant") == 0 && (value == 0 || value == 1)) {
        kc->batch_invariant = value;
        return SIEVE_OK;
    }
    return sieve_fail(err, "kernels-cpu: unknown option %s = %d", name, value);
}

/* Every block carries a 64-byte header (its size and origin) just before the
 * pointer handed out. Large blocks come straight from mmap: already zero (no
 * memset, no page touched until used) and marked for transparent huge pages,
 * which cuts the page faults of first use by up to 512x. */
#define KCPU_HDR 64
#ifdef __SANITIZE_ADDRESS__
#define KCPU_BIG SIZE_MAX   /* ASan builds: every block on the heap, bounds checked */
#else
#define KCPU_BIG ((size_t)4 << 20)
#endif

typedef struct { size_t bytes; int mapped; } kcpu_hdr;

void *kcpu_alloc(sieve_kctx *kc, size_t bytes, sieve_err *err)
{
    (void)kc;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    uint8_t *p;
    if (rounded >= KCPU_BIG) {
        size_t len = rounded + 4096;
        void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED) {
            sieve_fail(err, "kernels-cpu: cannot allocate %zu bytes", bytes);
            return NULL;
        }
        madvise(map, len, MADV_HUGEPAGE);   /* a hint: fine if refused */
        p = (uint8_t *)map + 4096;
        *(kcpu_hdr *)(p - KCPU_HDR) = (kcpu_hdr){len, 1};
        return p;
    }
    uint8_t *raw = aligned_alloc(64, rounded + KCPU_HDR);
    if (!raw) {
        sieve_fail(err, "kernels-cpu: cannot allocate %zu bytes", bytes);
        return NULL;
    }
    p = raw + KCPU_HDR;
    memset(p, 0, rounded);
    *(kcpu_hdr *)raw = (kcpu_hdr){rounded, 0};
    return p;
}

void kcpu_free(sieve_kctx *kc, void *ptr)
{
    (void)kc;
    if (!ptr) return;
    uint8_t *p = ptr;
    kcpu_hdr h = *(kcpu_hdr *)(p - KCPU_HDR);
    if (h.mapped) munmap(p - 4096, h.bytes);
    else free(p - KCPU_HDR);
}

void kcpu_zero(sieve_kctx *kc, void *p, size_t bytes)
{
    (void)kc;
    memset(p, 0, bytes);
}

void kcpu_copy(sieve_kctx *kc, void *dst, const void *src, size_t bytes)
{
    (void)kc;
    if (dst != src) memmove(dst, src, bytes);
}

void kcpu_sync(sieve_kctx *kc) { (void)kc; }
