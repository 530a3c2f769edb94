/* Running a checked graph: one thread per stage, one SPSC ring per edge. */
#ifndef SIEVE_EXEC_H
#define SIEVE_EXEC_H

#include "graph.h"

typedef struct sieve_stage_stats {
    int64_t batches_in, records_in, batches_out, records_out;
    double seconds;
    sieve_status status;
} sieve_stage_stats;

typedef struct sieve_exec_opts {
    const char *run_dir;
    bool resuming;
    int verbosity;
    FILE *log;       /* may be NULL */
    FILE *metrics;   /* may be NULL */
    const sieve_registry *reg;
    /* Called (under a lock) when a stage finishes, for the manifest. */
    void (*on_stage_done)(void *user, int node, const sieve_stage_stats *stats);
    void *user;
} sieve_exec_opts;

/* Runs to completion. On failure err holds the first error, prefixed with
 * the pipeline and stage names. stats (n_nodes entries) may be NULL. */
sieve_status sieve_exec_run(const sieve_graph *g, const sieve_exec_opts *opts,
                            sieve_stage_stats *stats, sieve_err *err);

/* The kernel loader handed to stage contexts (rt is the registry). */
const void *sieve_exec_load_kernels(void *rt, const char *name, sieve_err *err);

#endif
