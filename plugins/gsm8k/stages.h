/* Shared pieces of the gsm8k stages: field access, group keys, a string
 * map, emitting held records, and the stage entry points plugin.c lists. */
#ifndef SIEVE_GSM8K_STAGES_H
#define SIEVE_GSM8K_STAGES_H

#include <sieve/sieve.h>

#include "gsm8k.h"

/* Text of a field: 1 when a string, 0 when JSON null (s = "", len 0),
 * -1 when absent or of another type. */
int gsm8k_field_text(const sieve_record *r, const char *name, const char **s, size_t *len);
/* A field's value as a group key (strings as is, numbers in decimal, other
 * JSON as its text). malloc'd; NULL when absent or out of memory. */
char *gsm8k_field_key(const sieve_record *r, const char *name, size_t *len);
/* The same without copying: *key points into the record, or into buf for
 * numbers (buf must hold 64 bytes). false when absent. */
bool gsm8k_field_key_view(const sieve_record *r, const char *name, char *buf,
                          const char **key, size_t *len);
/* The boolean value of a field: 1 true, 0 false, -1 absent or not a bool. */
int gsm8k_field_bool(const sieve_record *r, const char *name);

/* A string -> index map (open addressing), for group lookups. */
typedef struct gsm8k_map {
    char **keys;
    size_t *lens;
    size_t *vals;
    size_t n, cap;
} gsm8k_map;
/* Index stored for key, or (size_t)-1. */
size_t gsm8k_map_get(const gsm8k_map *m, const char *key, size_t len);
/* Stores key -> val (copies the key). 0 or -1 when out of memory. */
int gsm8k_map_put(gsm8k_map *m, const char *key, size_t len, size_t val);
void gsm8k_map_free(gsm8k_map *m);

/* Heap records held by a stage: move in, emit in batches, free. */
sieve_record *gsm8k_record_take(sieve_record *src);   /* moves *src to the heap */
void gsm8k_record_free(void *rec);                     /* frees a taken record */
/* Emits recs[0..n) (taken records, freed here) in batches of 256. */
sieve_status gsm8k_emit_taken(sieve_io *io, sieve_record **recs, size_t n, sieve_err *err);

/* The paper's dedup decision inputs for one record. */
typedef struct gsm8k_path {
    const char *text;
    size_t len;
    int correct;            /* 1, 0, or -1 when the record has no `correct` */
    bool valid;             /* equations valid (field or computed) */
} gsm8k_path;
/* Reads text field `field` (null counts as ""), `correct` and
 * `equations_valid` (computed when absent). false when the text is absent. */
bool gsm8k_path_read(const sieve_record *r, const char *field, gsm8k_path *p);

#define GSM8K_STAGE_DECL(n) \
    sieve_status gsm8k_##n##_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err); \
    sieve_status gsm8k_##n##_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err); \
    sieve_status gsm8k_##n##_flush(void *state, sieve_io *io, sieve_err *err); \
    void gsm8k_##n##_destroy(void *state);
GSM8K_STAGE_DECL(check)
GSM8K_STAGE_DECL(dedup)
GSM8K_STAGE_DECL(aggregate)
GSM8K_STAGE_DECL(evaluate)

#endif
