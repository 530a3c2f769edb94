/* Records to and from JSON. Parsing goes through jansson (object key order is
 * kept, NUL bytes in strings allowed); writing is our own, because it is the
 * hot path of every JSONL sink and needs no intermediate tree. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/record.h"

/* Numeric arrays become INTS (all integers) or FLOATS (numbers with at least
 * one real); anything else keeps its JSON text. */
static int set_array(sieve_record *r, const char *key, json_t *arr)
{
    size_t n = json_array_size(arr), i;
    int all_int = 1;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_real(v))
            all_int = 0;
        else if (!json_is_integer(v))
            goto as_json;
    }
    if (all_int) {
        int64_t *p = malloc((n ? n : 1) * sizeof *p);
        if (!p)
            return -1;
        json_array_foreach(arr, i, v) p[i] = json_integer_value(v);
        int rc = sieve_record_set_ints(r, key, p, n);
        free(p);
        return rc;
    } else {
        double *p = malloc(n * sizeof *p);
        if (!p)
            return -1;
        json_array_foreach(arr, i, v) p[i] = json_number_value(v);
        int rc = sieve_record_set_floats(r, key, p, n);
        free(p);
        return rc;
    }
as_json:;
    char *text = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!text)
        return -1;
    int rc = sieve_record_set_json(r, key, text, strlen(text));
    free(text);
    return rc;
}

sieve_status sieve_record_from_json(sieve_record *r, const char *text, size_t len, sieve_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!root)
        return sieve_fail(err, "column %d: %s", jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sieve_fail(err, "expected a JSON object");
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        switch (json_typeof(v)) {
        case JSON_STRING:
            rc = sieve_record_set_str(r, key, json_string_value(v), json_string_length(v));
            break;
        case JSON_INTEGER: rc = sieve_record_set_int(r, key, json_integer_value(v)); break;
        case JSON_REAL: rc = sieve_record_set_float(r, key, json_real_value(v)); break;
        case JSON_TRUE: rc = sieve_record_set_bool(r, key, true); break;
        case JSON_FALSE: rc = sieve_record_set_bool(r, key, false); break;
        case JSON_NULL: rc = sieve_record_set_null(r, key); break;
        case JSON_ARRAY: rc = set_array(r, key, v); break;
        case JSON_OBJECT: {
            char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            rc = t ? sieve_record_set_json(r, key, t, strlen(t)) : -1;
            free(t);
            break;
        }
        }
        if (rc)
            break;
    }
    json_decref(root);
    if (rc) {
        sieve_record_free(r);
        return sieve_fail(err, "out of memory");
    }
    return SIEVE_OK;
}

/* ---- writer ---- */
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
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char)c;
            continue;
        }
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
