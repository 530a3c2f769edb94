/* What the runtime executable sees of libsieve beyond the public ABI: how to
 * build parameter sets, contexts and io handles. Not installed. */
#ifndef SIEVE_RT_INTERNAL_H
#define SIEVE_RT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "sieve/sieve.h"

/* ---- parameters ---- */
typedef struct sieve_param_value {
    char *name;
    sieve_param_type type;
    bool given;
    char **items;   /* string form; one item unless type is LIST */
    int n_items;
    int64_t i;
    double f;
    bool b;
} sieve_param_value;

struct sieve_params {
    sieve_param_value *values;
    int n;
};

/* Checks raw name=value strings against the descriptors: unknown names (with
 * the closest known one), missing required ones, values that do not parse.
 * Messages start "FILE:LINE:COL: stage 'S': " (FILE may be NULL; the line is
 * the parameter's when known, else stage_line). On success *out
 * holds every declared parameter. raw_lists[i] may carry several items. */
typedef struct sieve_raw_param {
    const char *name;
    const char *const *items;
    int n_items;
    int line, col;     /* where it was written, 0 when not from YAML */
} sieve_raw_param;

sieve_status sieve_rt_params_build(const sieve_stage_desc *desc, const sieve_raw_param *raw,
                                   int n_raw, const char *file, const char *stage,
                                   int stage_line, int stage_col, sieve_params **out,
                                   sieve_err *err);
void sieve_rt_params_free(sieve_params *p);
/* Text of the closest candidate by edit distance, or NULL when none is close. */
const char *sieve_rt_closest(const char *word, const char *const *cands, int n);

/* ---- context ---- */
typedef const void *(*sieve_kernels_loader)(void *rt, const char *name, sieve_err *err);

struct sieve_ctx {
    char *stage, *pipeline, *run_dir;
    bool resuming;
    bool resumable;                 /* inside `sieve run` (not `sieve stage`) */
    atomic_int *stop;               /* shared by every stage of a pipeline */
    FILE *log;                      /* run log, or NULL; shared, guarded by lock */
    FILE *metrics;                  /* metrics.jsonl, or NULL */
    pthread_mutex_t *lock;
    double last_progress;           /* seconds, for rate limiting */
    int64_t last_done;              /* the last progress value shown */
    bool progress_drawn;
    int verbosity;                  /* 0 quiet, 1 info, 2 debug */
    sieve_kernels_loader load_kernels;
    void *rt;
};

/* ---- io ---- */
struct sieve_io {
    /* Exactly one of batch/tensor is set. Takes ownership in every case. */
    sieve_status (*send)(sieve_io *io, int port, sieve_batch *batch, sieve_tensor *tensor);
    void *impl;
};

double sieve_rt_now(void);  /* monotonic seconds */

#endif
