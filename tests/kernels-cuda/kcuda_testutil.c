/* Helpers for the CUDA backend tests (see kcuda_testutil.h). With
 * KT_CUDA_SO set, the "cuda" table comes from that file instead (the build of
 * kernels-cuda on the CPU emulator, tests/kernels-cuda/emu). */
#include "kcuda_testutil.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/plugin.h"

/* The kernel table of $SIEVE_PLUGIN_PATH/kernels-<name>.so; *handle gets the
 * dlopen handle. Returns 0, KT_SKIP (no such plugin / no device) or 1. */
static int load(const char *name, void **handle, const sieve_kernels **out)
{
    const char *dir = getenv("SIEVE_PLUGIN_PATH");
    if (!dir) {
        fprintf(stderr, "SIEVE_PLUGIN_PATH is not set\n");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/kernels-%s.so", dir, name);
    /* KT_CUDA_SO: another build of kernels-cuda (the CPU-emulated one). */
    const char *alt = getenv("KT_CUDA_SO");
    if (alt && *alt && strcmp(name, "cuda") == 0) snprintf(path, sizeof path, "%s", alt);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        if (strcmp(name, "cuda") == 0) {
            printf("SKIP: %s was not built (no nvcc at configure time): %s\n", path, dlerror());
            return KT_SKIP;
        }
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return 1;
    }
    sieve_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, SIEVE_PLUGIN_ENTRY_SYMBOL);
    const sieve_plugin_desc *d = entry ? entry() : NULL;
    if (!d || !d->kernels) {
        fprintf(stderr, "%s is not a kernel backend plugin\n", path);
        return 1;
    }
    const sieve_kernels *k = d->kernels();
    if (!k) {
        printf("SKIP: no GPU: kernels-%s reports no usable CUDA device on this machine\n", name);
        return KT_SKIP;
    }
    if (k->version != SIEVE_KERNELS_VERSION || k->size < sizeof(sieve_kernels)) {
        fprintf(stderr, "%s: kernel table version %u size %u, expected %u %zu\n", path,
                k->version, k->size, SIEVE_KERNELS_VERSION, sizeof(sieve_kernels));
        return 1;
    }
    *handle = h;
    *out = k;
    return 0;
}

int kt_open(kt_env *e)
{
    memset(e, 0, sizeof *e);
    void *hc = NULL, *hg = NULL;
    int rc = load("cuda", &hg, &e->cuda);
    if (rc) return rc;
    rc = load("cpu", &hc, &e->cpu);
    if (rc) return rc;
    *(void **)&e->cuda_error = dlsym(hg, "sieve_kernels_cuda_error");
    sieve_err err = {{0}};
    if (e->cpu->kctx_new(2, &e->ccpu, &err) || e->cuda->kctx_new(0, &e->ccuda, &err)) {
        fprintf(stderr, "kctx_new: %s\n", err.msg);
        return 1;
    }
    return 0;
}

void kt_close(kt_env *e)
{
    if (e->cuda && e->ccuda) e->cuda->kctx_free(e->ccuda);
    if (e->cpu && e->ccpu) e->cpu->kctx_free(e->ccpu);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kt_fill(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((double)(splitmix(&s) >> 11) / 9007199254740992.0);
}

void *kt_dev(kt_env *e, const void *host, size_t bytes)
{
    sieve_err err = {{0}};
    void *p = e->cuda->alloc(e->ccuda, bytes, &err);
    if (!p) {
        fprintf(stderr, "alloc: %s\n", err.msg);
        abort();
    }
    if (host) e->cuda->copy_to_device(e->ccuda, p, host, bytes);
    return p;
}

float *kt_host(kt_env *e, const void *dev, size_t bytes)
{
    float *h = malloc(bytes ? bytes : 1);
    if (!h) abort();
    e->cuda->copy_to_host(e->ccuda, h, dev, bytes);
    return h;
}

double kt_rel(const float *got, const float *want, size_t n, size_t *worst)
{
    double dmax = 0.0, mag = 0.0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= dmax)) {   /* NaN counts as worst */
            dmax = isnan(d) ? INFINITY : d;
            w = i;
        }
        if (fabs(want[i]) > mag) mag = fabs(want[i]);
    }
    if (worst) *worst = w;
    if (dmax == 0.0) return 0.0;
    return mag > 0.0 ? dmax / mag : INFINITY;
}
