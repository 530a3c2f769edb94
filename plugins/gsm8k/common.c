/* Helpers every gsm8k stage uses: typed field access, group keys, a small
 * string map and emitting records a stage held back. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"

int gsm8k_field_text(const sieve_record *r, const char *name, const char **s, size_t *len)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f)
        return -1;
    if (f->type == SIEVE_F_STRING) {
        *s = f->v.str.ptr;
        *len = f->v.str.len;
        return 1;
    }
    if (f->type == SIEVE_F_NULL) {
        *s = "";
        *len = 0;
        return 0;
    }
    return -1;
}

bool gsm8k_field_key_view(const sieve_record *r, const char *name, char *num,
                          const char **key, size_t *len)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f)
        return false;
    *key = num;
    switch (f->type) {
    case SIEVE_F_STRING:
    case SIEVE_F_JSON:
        *key = f->v.str.ptr;
        *len = f->v.str.len;
        break;
    case SIEVE_F_INT: *len = (size_t)snprintf(num, 64, "%" PRId64, f->v.i); break;
    case SIEVE_F_FLOAT: *len = (size_t)snprintf(num, 64, "%.17g", f->v.f); break;
    case SIEVE_F_BOOL: *len = (size_t)snprintf(num, 64, "%s", f->v.b ? "true" : "false"); break;
    default: *len = (size_t)snprintf(num, 64, "null"); break;
    }
    return true;
}

char *gsm8k_field_key(const sieve_record *r, const char *name, size_t *len)
{
    char num[64];
    const char *src;
    size_t n;
    if (!gsm8k_field_key_view(r, name, num, &src, &n))
        return NULL;
    char *k = malloc(n + 1);
    if (!k)
        return NULL;
    memcpy(k, src, n);
    k[n] = 0;
    *len = n;
    return k;
}

int gsm8k_field_bool(const sieve_record *r, const char *name)
{
    bool b;
    return sieve_record_get_bool(r, name, &b) ? b : -1;
}

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;     /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

size_t gsm8k_map_get(const gsm8k_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return (size_t)-1;
    for (size_t i = hash(key, len) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return (size_t)-1;
        if (m->lens[i] == len && !memcmp(m->keys[i], key, len))
            return m->vals[i];
    }
}

static void put_slot(gsm8k_map *m, char *key, size_t len, size_t val)
{
    size_t i = hash(key, len) & (m->cap - 1);
    while (m->keys[i] && !(m->lens[i] == len && !memcmp(m->keys[i], key, len)))
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i]) {
        free(m->keys[i]);
        m->n--;
    }
    m->keys[i] = key;
    m->lens[i] = len;
    m->vals[i] = val;
    m->n++;
}

int gsm8k_map_put(gsm8k_map *m, const char *key, size_t len, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        gsm8k_map old = *m;
        size_t cap = m->cap ? m->cap * 2 : 64;
        m->keys = calloc(cap, sizeof *m->keys);
        m->lens = malloc(cap * sizeof *m->lens);
        m->vals = malloc(cap * sizeof *m->vals);
        if (!m->keys || !m->lens || !m->vals) {
            free(m->keys);
            free(m->lens);
            free(m->vals);
            *m = old;
            return -1;
        }
        m->cap = cap;
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                put_slot(m, old.keys[i], old.lens[i], old.vals[i]);
        free(old.keys);
        free(old.lens);
        free(old.vals);
    }
    char *k = malloc(len + 1);
    if (!k)
        return -1;
    memcpy(k, key, len);
    k[len] = 0;
    put_slot(m, k, len, val);
    return 0;
}

void gsm8k_map_free(gsm8k_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->lens);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

sieve_record *gsm8k_record_take(sieve_record *src)
{
    sieve_record *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    *r = *src;
    sieve_record_init(src);
    return r;
}

void gsm8k_record_free(void *rec)
{
    if (!rec)
        return;
    sieve_record_free(rec);
    free(rec);
}

sieve_status gsm8k_emit_taken(sieve_io *io, sieve_record **recs, size_t n, sieve_err *err)
{
    size_t i = 0;
    sieve_status st = SIEVE_OK;
    while (i < n && st == SIEVE_OK) {
        size_t m = n - i < 256 ? n - i : 256;
        sieve_batch *b = sieve_batch_new(m);
        if (!b) {
            st = sieve_fail(err, "out of memory");
            break;
        }
        for (size_t k = 0; k < m; k++, i++) {
            if (sieve_batch_push(b, recs[i]) != 0) {
                sieve_batch_free(b);
                st = sieve_fail(err, "out of memory");
                break;
            }
            free(recs[i]);
            recs[i] = NULL;
        }
        if (st == SIEVE_OK)
            st = sieve_emit(io, 0, b);
    }
    for (; i < n; i++)
        gsm8k_record_free(recs[i]);
    return st;
}

bool gsm8k_path_read(const sieve_record *r, const char *field, gsm8k_path *p)
{
    if (gsm8k_field_text(r, field, &p->text, &p->len) < 0)
        return false;
    p->correct = gsm8k_field_bool(r, "correct");
    int v = gsm8k_field_bool(r, "equations_valid");
    p->valid = v >= 0 ? v : sieve_gsm8k_equations_valid(p->text, p->len);
    return true;
}
