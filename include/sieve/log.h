/* Logging and progress: one path for every stage, through its context. */
#ifndef SIEVE_LOG_H
#define SIEVE_LOG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sieve_ctx sieve_ctx;

typedef enum sieve_log_level {
    SIEVE_LOG_DEBUG, SIEVE_LOG_INFO, SIEVE_LOG_WARN, SIEVE_LOG_ERROR
} sieve_log_level;

/* Writes "[stage] message" to stderr and the run's log file. ctx may be NULL. */
void sieve_log(sieve_ctx *ctx, sieve_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress of long work: done out of total (total <= 0 when unknown), with a
 * unit ("tok", "rec", "step") and an optional short extra text
 * ("loss 1.234 lr 2e-5"). Rate-limited: cheap to call on every step. */
void sieve_progress(sieve_ctx *ctx, int64_t done, int64_t total, const char *unit,
                    const char *extra);

/* Appends one JSON object (a complete line, without the newline) to the
 * run's metrics.jsonl, with "stage" added by the runtime. */
void sieve_metric(sieve_ctx *ctx, const char *json_object);

#ifdef __cplusplus
}
#endif
#endif
