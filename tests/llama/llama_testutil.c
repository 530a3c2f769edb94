/* Helpers for the llama tests (see llama_testutil.h). */
#include "llama_testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

int lt_oracle(const char *fmt, ...)
{
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/oracle.py %s",
             sieve_test_env("SIEVE_SOURCE_DIR"), args);
    char *out = NULL, *err = NULL;
    int rc = sieve_test_run_cmd(cmd, NULL, 0, &out, &err);
    if (rc != 0) fprintf(stderr, "oracle failed (%d): %s\n%s\n", rc, cmd, err ? err : "");
    free(out);
    free(err);
    return rc;
}

int lt_oracle_batch(const char *script)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/oracle.py batch",
             sieve_test_env("SIEVE_SOURCE_DIR"));
    char *out = NULL, *err = NULL;
    int rc = sieve_test_run_cmd(cmd, script, strlen(script), &out, &err);
    if (rc != 0) fprintf(stderr, "oracle batch failed (%d):\n%s\n%s\n", rc, script, err ? err : "");
    free(out);
    free(err);
    return rc;
}

float *lt_read_f32(const char *path, size_t *n)
{
    size_t len;
    char *data = sieve_test_read_file(path, &len);
    if (!data) return NULL;
    float *f = malloc(len + 4);
    if (f) memcpy(f, data, len);
    free(data);
    *n = len / 4;
    return f;
}

char *lt_ids_text(const int32_t *ids, int n)
{
    char *s = malloc((size_t)n * 12 + 1);
    size_t len = 0;
    s[0] = 0;
    for (int i = 0; i < n; i++) len += (size_t)sprintf(s + len, "%s%d", i ? "," : "", ids[i]);
    return s;
}

void lt_fill_ids(int32_t *ids, int n, int V, uint64_t seed)
{
    uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)V);
    }
}

double lt_max_diff(const float *a, const float *b, size_t n, size_t *where)
{
    double worst = 0.0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || isnan(d)) {
            worst = isnan(d) ? INFINITY : d;
            w = i;
        }
    }
    if (where) *where = w;
    return worst;
}

char *lt_write(const char *dir, const char *name, const char *text)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    sieve_test_write_file(p, text, strlen(text));
    return p;
}
