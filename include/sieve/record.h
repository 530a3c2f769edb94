/* Records and record batches: the rows that flow between stages.
 *
 * A record is an ordered list of named, typed fields. Field order is kept so
 * that JSONL written back out has the keys in the order they were read.
 * Anything that is not a scalar, a string or a numeric array (nested objects,
 * lists of strings) travels as SIEVE_F_JSON: its JSON text, kept verbatim.
 *
 * Ownership: a batch owns its records, a record owns its fields, a field owns
 * its name and payload. Whoever holds a batch releases it exactly once. */
#ifndef SIEVE_RECORD_H
#define SIEVE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sieve_ftype {
    SIEVE_F_NULL,
    SIEVE_F_BOOL,
    SIEVE_F_INT,
    SIEVE_F_FLOAT,
    SIEVE_F_STRING,
    SIEVE_F_INTS,    /* int64 array */
    SIEVE_F_FLOATS,  /* double array */
    SIEVE_F_JSON     /* any other JSON value, as text */
} sieve_ftype;

typedef struct sieve_field {
    char *name;
    sieve_ftype type;
    union {
        bool b;
        int64_t i;
        double f;
        struct { char *ptr; size_t len; } str;      /* STRING and JSON; NUL-terminated too */
        struct { int64_t *ptr; size_t len; } ints;
        struct { double *ptr; size_t len; } floats;
    } v;
} sieve_field;

typedef struct sieve_record {
    sieve_field *fields;
    size_t n_fields, cap_fields;
} sieve_record;

typedef struct sieve_batch {
    sieve_record *recs;
    size_t n_recs, cap_recs;
} sieve_batch;

/* ---- records ---- */
void sieve_record_init(sieve_record *r);
void sieve_record_free(sieve_record *r);            /* frees fields, leaves r empty */
int  sieve_record_copy(sieve_record *dst, const sieve_record *src); /* 0 on success */

/* Lookup: NULL when the field is absent. */
const sieve_field *sieve_record_get(const sieve_record *r, const char *name);
/* Typed getters: return false when absent or of another type.
 * get_int also accepts an integral float; get_float also accepts an int. */
bool sieve_record_get_str(const sieve_record *r, const char *name, const char **s, size_t *len);
bool sieve_record_get_int(const sieve_record *r, const char *name, int64_t *out);
bool sieve_record_get_float(const sieve_record *r, const char *name, double *out);
bool sieve_record_get_bool(const sieve_record *r, const char *name, bool *out);
bool sieve_record_get_ints(const sieve_record *r, const char *name, const int64_t **p, size_t *n);

/* Setters replace a field of that name in place (keeping its position) or
 * append it. They copy their input. Return 0, or -1 when out of memory. */
int sieve_record_set_null(sieve_record *r, const char *name);
int sieve_record_set_bool(sieve_record *r, const char *name, bool v);
int sieve_record_set_int(sieve_record *r, const char *name, int64_t v);
int sieve_record_set_float(sieve_record *r, const char *name, double v);
int sieve_record_set_str(sieve_record *r, const char *name, const char *s, size_t len);
int sieve_record_set_cstr(sieve_record *r, const char *name, const char *s);
int sieve_record_set_ints(sieve_record *r, const char *name, const int64_t *p, size_t n);
int sieve_record_set_floats(sieve_record *r, const char *name, const double *p, size_t n);
int sieve_record_set_json(sieve_record *r, const char *name, const char *json, size_t len);
/* Takes ownership of a malloc'd string (no copy). */
int sieve_record_set_str_owned(sieve_record *r, const char *name, char *s, size_t len);
bool sieve_record_remove(sieve_record *r, const char *name);

/* ---- batches ---- */
sieve_batch *sieve_batch_new(size_t capacity_hint);
void sieve_batch_free(sieve_batch *b);               /* NULL is fine */
/* Appends a fresh empty record and returns it (NULL when out of memory). */
sieve_record *sieve_batch_add(sieve_batch *b);
/* Moves *r into the batch (r is left empty). Returns 0 or -1. */
int sieve_batch_push(sieve_batch *b, sieve_record *r);
sieve_batch *sieve_batch_clone(const sieve_batch *b);

/* ---- JSON (one record = one JSON object) ---- */
/* Parses one JSON object into r (r must be empty). On failure fills err with
 * the reason (no location: the caller knows the file and line). */
sieve_status sieve_record_from_json(sieve_record *r, const char *text, size_t len, sieve_err *err);
/* Appends the record as one line of JSON (no newline) to a growing buffer.
 * *buf is realloc'd as needed; *len and *cap track it. Returns 0 or -1. */
int sieve_record_to_json(const sieve_record *r, char **buf, size_t *len, size_t *cap);

#ifdef __cplusplus
}
#endif
#endif
