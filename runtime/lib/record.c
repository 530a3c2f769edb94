/* Records and batches: ordered named fields with owned payloads. */
#include <stdlib.h>
#include <string.h>

#include "sieve/record.h"

static char *dup_bytes(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void field_clear_payload(sieve_field *f)
{
    switch (f->type) {
    case SIEVE_F_STRING:
    case SIEVE_F_JSON: free(f->v.str.ptr); break;
    case SIEVE_F_INTS: free(f->v.ints.ptr); break;
    case SIEVE_F_FLOATS: free(f->v.floats.ptr); break;
    default: break;
    }
    f->type = SIEVE_F_NULL;
}

void sieve_record_init(sieve_record *r)
{
    memset(r, 0, sizeof *r);
}

void sieve_record_free(sieve_record *r)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        field_clear_payload(&r->fields[i]);
        free(r->fields[i].name);
    }
    free(r->fields);
    sieve_record_init(r);
}

const sieve_field *sieve_record_get(const sieve_record *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->fields[i].name, name) == 0)
            return &r->fields[i];
    return NULL;
}

/* Returns the field to overwrite (payload cleared) or a new one at the end. */
static sieve_field *slot(sieve_record *r, const char *name)
{
    sieve_field *f = (sieve_field *)sieve_record_get(r, name);
    if (f) {
        field_clear_payload(f);
        return f;
    }
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 8;
        sieve_field *nf = realloc(r->fields, cap * sizeof *nf);
        if (!nf)
            return NULL;
        r->fields = nf;
        r->cap_fields = cap;
    }
    f = &r->fields[r->n_fields];
    f->name = dup_bytes(name, strlen(name));
    if (!f->name)
        return NULL;
    f->type = SIEVE_F_NULL;
    r->n_fields++;
    return f;
}

bool sieve_record_remove(sieve_record *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, name) != 0)
            continue;
        field_clear_payload(&r->fields[i]);
        free(r->fields[i].name);
        memmove(&r->fields[i], &r->fields[i + 1], (r->n_fields - i - 1) * sizeof *r->fields);
        r->n_fields--;
        return true;
    }
    return false;
}

bool sieve_record_get_str(const sieve_record *r, const char *name, const char **s, size_t *len)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f || f->type != SIEVE_F_STRING)
        return false;
    *s = f->v.str.ptr;
    if (len)
        *len = f->v.str.len;
    return true;
}

bool sieve_record_get_int(const sieve_record *r, const char *name, int64_t *out)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f)
        return false;
    if (f->type == SIEVE_F_INT) {
        *out = f->v.i;
        return true;
    }
    if (f->type == SIEVE_F_FLOAT && f->v.f == (double)(int64_t)f->v.f) {
        *out = (int64_t)f->v.f;
        return true;
    }
    return false;
}

bool sieve_record_get_float(const sieve_record *r, const char *name, double *out)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f)
        return false;
    if (f->type == SIEVE_F_FLOAT) {
        *out = f->v.f;
        return true;
    }
    if (f->type == SIEVE_F_INT) {
        *out = (double)f->v.i;
        return true;
    }
    return false;
}

bool sieve_record_get_bool(const sieve_record *r, const char *name, bool *out)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f || f->type != SIEVE_F_BOOL)
        return false;
    *out = f->v.b;
    return true;
}

bool sieve_record_get_ints(const sieve_record *r, const char *name, const int64_t **p, size_t *n)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f || f->type != SIEVE_F_INTS)
        return false;
    *p = f->v.ints.ptr;
    *n = f->v.ints.len;
    return true;
}

int sieve_record_set_null(sieve_record *r, const char *name)
{
    return slot(r, name) ? 0 : -1;
}

int sieve_record_set_bool(sieve_record *r, const char *name, bool v)
{
    sieve_field *f = slot(r, name);
    if (!f)
        return -1;
    f->type = SIEVE_F_BOOL;
    f->v.b = v;
    return 0;
}

int sieve_record_set_int(sieve_record *r, const char *name, int64_t v)
{
    sieve_field *f = slot(r, name);
    if (!f)
        return -1;
    f->type = SIEVE_F_INT;
    f->v.i = v;
    return 0;
}

int sieve_record_set_float(sieve_record *r, const char *name, double v)
{
    sieve_field *f = slot(r, name);
    if (!f)
        return -1;
    f->type = SIEVE_F_FLOAT;
    f->v.f = v;
    return 0;
}

int sieve_record_set_str_owned(sieve_record *r, const char *name, char *s, size_t len)
{
    sieve_field *f = slot(r, name);
    if (!f) {
        free(s);
        return -1;
    }
    f->type = SIEVE_F_STRING;
    f->v.str.ptr = s;
    f->v.str.len = len;
    return 0;
}

int sieve_record_set_str(sieve_record *r, const char *name, const char *s, size_t len)
{
    char *copy = dup_bytes(s, len);
    if (!copy)
        return -1;
    return sieve_record_set_str_owned(r, name, copy, len);
}

int sieve_record_set_cstr(sieve_record *r, const char *name, const char *s)
{
    return sieve_record_set_str(r, name, s, strlen(s));
}

int sieve_record_set_json(sieve_record *r, const char *name, const char *json, size_t len)
{
    char *copy = dup_bytes(json, len);
    if (!copy)
        return -1;
    sieve_field *f = slot(r, name);
    if (!f) {
        free(copy);
        return -1;
    }
    f->type = SIEVE_F_JSON;
    f->v.str.ptr = copy;
    f->v.str.len = len;
    return 0;
}

int sieve_record_set_ints(sieve_record *r, const char *name, const int64_t *p, size_t n)
{
    int64_t *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return -1;
    if (n)
        memcpy(copy, p, n * sizeof *copy);
    sieve_field *f = slot(r, name);
    if (!f) {
        free(copy);
        return -1;
    }
    f->type = SIEVE_F_INTS;
    f->v.ints.ptr = copy;
    f->v.ints.len = n;
    return 0;
}

int sieve_record_set_floats(sieve_record *r, const char *name, const double *p, size_t n)
{
    double *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return -1;
    if (n)
        memcpy(copy, p, n * sizeof *copy);
    sieve_field *f = slot(r, name);
    if (!f) {
        free(copy);
        return -1;
    }
    f->type = SIEVE_F_FLOATS;
    f->v.floats.ptr = copy;
    f->v.floats.len = n;
    return 0;
}

int sieve_record_copy(sieve_record *dst, const sieve_record *src)
{
    sieve_record_init(dst);
    for (size_t i = 0; i < src->n_fields; i++) {
        const sieve_field *f = &src->fields[i];
        int rc = 0;
        switch (f->type) {
        case SIEVE_F_NULL: rc = sieve_record_set_null(dst, f->name); break;
        case SIEVE_F_BOOL: rc = sieve_record_set_bool(dst, f->name, f->v.b); break;
        case SIEVE_F_INT: rc = sieve_record_set_int(dst, f->name, f->v.i); break;
        case SIEVE_F_FLOAT: rc = sieve_record_set_float(dst, f->name, f->v.f); break;
        case SIEVE_F_STRING: rc = sieve_record_set_str(dst, f->name, f->v.str.ptr, f->v.str.len); break;
        case SIEVE_F_JSON: rc = sieve_record_set_json(dst, f->name, f->v.str.ptr, f->v.str.len); break;
        case SIEVE_F_INTS: rc = sieve_record_set_ints(dst, f->name, f->v.ints.ptr, f->v.ints.len); break;
        case SIEVE_F_FLOATS: rc = sieve_record_set_floats(dst, f->name, f->v.floats.ptr, f->v.floats.len); break;
        }
        if (rc) {
            sieve_record_free(dst);
            return -1;
        }
    }
    return 0;
}

sieve_batch *sieve_batch_new(size_t capacity_hint)
{
    sieve_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (capacity_hint) {
        b->recs = malloc(capacity_hint * sizeof *b->recs);
        if (!b->recs) {
            free(b);
            return NULL;
        }
        b->cap_recs = capacity_hint;
    }
    return b;
}

void sieve_batch_free(sieve_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_recs; i++)
        sieve_record_free(&b->recs[i]);
    free(b->recs);
    free(b);
}

sieve_record *sieve_batch_add(sieve_batch *b)
{
    if (b->n_recs == b->cap_recs) {
        size_t cap = b->cap_recs ? b->cap_recs * 2 : 16;
        sieve_record *nr = realloc(b->recs, cap * sizeof *nr);
        if (!nr)
            return NULL;
        b->recs = nr;
        b->cap_recs = cap;
    }
    sieve_record *r = &b->recs[b->n_recs++];
    sieve_record_init(r);
    return r;
}

int sieve_batch_push(sieve_batch *b, sieve_record *r)
{
    sieve_record *slot_rec = sieve_batch_add(b);
    if (!slot_rec)
        return -1;
    *slot_rec = *r;
    sieve_record_init(r);
    return 0;
}

sieve_batch *sieve_batch_clone(const sieve_batch *b)
{
    sieve_batch *c = sieve_batch_new(b->n_recs);
    if (!c)
        return NULL;
    for (size_t i = 0; i < b->n_recs; i++) {
        if (sieve_record_copy(&c->recs[i], &b->recs[i])) {
            c->n_recs = i;
            sieve_batch_free(c);
            return NULL;
        }
        c->n_recs = i + 1;
    }
    return c;
}
