/* sieve_record → JSON text: the hot path of every JSONL sink, written
 * directly from the fields (reading is in json_read.c). Non-ASCII UTF-8 is
 * written as is; control characters, quotes and backslashes are escaped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "sieve/record.h"

typedef struct { char **buf; size_t *len, *cap; int oom; } out_t;

static int reserve(out_t *o, size_t extra)
{
    if (*o->len + extra + 1 <= *o->cap)
        return 0;
    size_t cap = *o->cap ? *o->cap : 256;
    while (cap < *o->len + extra + 1)
        cap *= 2;
    char *nb = realloc(*o->buf, cap);
    if (!nb) {
        o->oom = 1;
        return -1;
    }
    *o->buf = nb;
    *o->cap = cap;
    return 0;
}

static void put(out_t *o, const char *s, size_t n)
{
    if (reserve(o, n))
        return;
    memcpy(*o->buf + *o->len, s, n);
    *o->len += n;
    (*o->buf)[*o->len] = '\0';
}

static void put_string(out_t *o, const char *s, size_t n)
{
    /* Worst case every byte becomes \u00XX. */
    if (reserve(o, n * 6 + 2))
        return;
    char *p = *o->buf + *o->len;
    *p++ = '"';
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        size_t run = sieve_json_plain_run(u + i, u + n, 0);
        memcpy(p, u + i, run);
        p += run;
        i += run;
        if (i == n)
            break;
        unsigned char c = u[i];
        *p++ = '\\';
        switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\n': *p++ = 'n'; break;
        case '\t': *p++ = 't'; break;
        case '\r': *p++ = 'r'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        default:
            p += sprintf(p, "u%04x", c);
        }
    }
    *p++ = '"';
    *p = '\0';
    *o->len = (size_t)(p - *o->buf);
}

/* Shortest text that reads back as the same double, always with a '.' or an
 * exponent so that it stays a float (as Python writes 1.0). */
static void put_double(out_t *o, double v)
{
    char tmp[40];
    if (!isfinite(v)) {
        put(o, "null", 4);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (!strpbrk(tmp, ".eEn"))
        strcat(tmp, ".0");
    put(o, tmp, strlen(tmp));
}

static void put_int(out_t *o, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    put(o, tmp, (size_t)n);
}

int sieve_record_to_json(const sieve_record *r, char **buf, size_t *len, size_t *cap)
{
    out_t o = {buf, len, cap, 0};
    put(&o, "{", 1);
    for (size_t i = 0; i < r->n_fields; i++) {
        const sieve_field *f = &r->fields[i];
        if (i)
            put(&o, ", ", 2);
        put_string(&o, f->name, strlen(f->name));
        put(&o, ": ", 2);
        switch (f->type) {
        case SIEVE_F_NULL: put(&o, "null", 4); break;
        case SIEVE_F_BOOL: f->v.b ? put(&o, "true", 4) : put(&o, "false", 5); break;
        case SIEVE_F_INT: put_int(&o, f->v.i); break;
        case SIEVE_F_FLOAT: put_double(&o, f->v.f); break;
        case SIEVE_F_STRING: put_string(&o, f->v.str.ptr, f->v.str.len); break;
        case SIEVE_F_JSON: put(&o, f->v.str.ptr, f->v.str.len); break;
        case SIEVE_F_INTS:
            put(&o, "[", 1);
            for (size_t k = 0; k < f->v.ints.len; k++) {
                if (k)
                    put(&o, ", ", 2);
                put_int(&o, f->v.ints.ptr[k]);
            }
            put(&o, "]", 1);
            break;
        case SIEVE_F_FLOATS:
            put(&o, "[", 1);
            for (size_t k = 0; k < f->v.floats.len; k++) {
                if (k)
                    put(&o, ", ", 2);
                put_double(&o, f->v.floats.ptr[k]);
            }
            put(&o, "]", 1);
            break;
        }
    }
    put(&o, "}", 1);
    return o.oom ? -1 : 0;
}
