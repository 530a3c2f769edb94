/* A tiny helper for the gsm8k tests: iterate the lines of a JSONL file as
 * jansson objects. */
#ifndef GSM8K_TEST_JSONL_H
#define GSM8K_TEST_JSONL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

/* Calls fn(obj, line_no, user) for each line; returns the number of lines
 * or -1 when the file cannot be read or a line is not JSON. */
static inline long jsonl_each(const char *path, void (*fn)(json_t *, long, void *), void *user)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_error_t e;
        json_t *o = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &e);
        if (!o) {
            fprintf(stderr, "%s:%ld: %s\n", path, n + 1, e.text);
            n = -1;
            break;
        }
        fn(o, ++n, user);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return n;
}

/* Path of a file under SIEVE_SHARED_DATA (static buffer). */
static inline const char *shared_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", sieve_test_env("SIEVE_SHARED_DATA"), rel);
    return buf;
}

#endif
