/* A pipeline as written in YAML (before plugins are consulted), with the
 * line and column of everything so that later errors can point at it. */
#ifndef SIEVE_PIPELINE_H
#define SIEVE_PIPELINE_H

#include "internal.h"

typedef struct sieve_pinput {
    char *stage;   /* producer stage name */
    char *port;    /* producer output port, NULL for its first */
    int line, col;
} sieve_pinput;

/* A parameter as written: owns its name and items. */
typedef struct sieve_pparam {
    char *name;
    char **items;
    int n_items;
    int line, col;
} sieve_pparam;

typedef struct sieve_pstage {
    char *name;
    int line, col;
    char *plugin;
    int plugin_line, plugin_col;
    sieve_pinput *inputs;
    int n_inputs;
    sieve_pinput *after;    /* stages that must finish before this one starts */
    int n_after;
    sieve_pparam *params;
    int n_params;
} sieve_pstage;

typedef struct sieve_pipeline {
    char *file;
    char *name;
    int ring_capacity;      /* batches per edge */
    sieve_pparam *defaults;
    int n_defaults;
    sieve_pstage *stages;
    int n_stages;
} sieve_pipeline;

/* Parses a pipeline file. Errors are "file:line:col: message". */
sieve_status sieve_pipeline_load(sieve_pipeline *p, const char *path, sieve_err *err);
void sieve_pipeline_free(sieve_pipeline *p);

/* Applies "stage.param=value" or "defaults.param=value"; value "[a, b]" is a list. */
sieve_status sieve_pipeline_set(sieve_pipeline *p, const char *assignment, sieve_err *err);

sieve_pstage *sieve_pipeline_stage(sieve_pipeline *p, const char *name);
/* Appends or replaces a parameter in a list. */
int sieve_pparam_put(sieve_pparam **list, int *n, const char *name, const char *const *items,
                     int n_items, int line, int col);
void sieve_pparams_free(sieve_pparam *list, int n);

#endif
