/* The report plugin: gathers named evaluation results and training curves of
 * a run into report.json, report.md and PNG plots. */
#ifndef SIEVE_REPORT_H
#define SIEVE_REPORT_H

#include <sieve/sieve.h>

typedef struct sieve_report_entry {
    char *name;          /* "sft", "rft" */
    double accuracy;     /* 0..1 */
    int64_t n;           /* questions evaluated */
    double ci_lo, ci_hi; /* 95% interval */
} sieve_report_entry;

/* Writes loss.png (training loss per step for each stage in `stages`, read
 * from the run's metrics.jsonl) and accuracy.png (each entry with its 95%
 * interval) into dir through gnuplot. Failure is not fatal to the run: the
 * reason is returned and logged. */
sieve_status sieve_report_plots(const char *dir, const char *metrics_path,
                                const char *const *stages, int n_stages,
                                const sieve_report_entry *entries, int n_entries, sieve_err *err);

#endif
