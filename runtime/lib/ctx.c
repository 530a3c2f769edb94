/* The stage context: logging, progress, metrics, paths, and emitting data. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

double sieve_rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void lock(sieve_ctx *ctx)
{
    if (ctx && ctx->lock)
        pthread_mutex_lock(ctx->lock);
}

static void unlock(sieve_ctx *ctx)
{
    if (ctx && ctx->lock)
        pthread_mutex_unlock(ctx->lock);
}

void sieve_log(sieve_ctx *ctx, sieve_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int verbosity = ctx ? ctx->verbosity : 1;
    bool to_stderr = level >= SIEVE_LOG_WARN || (level == SIEVE_LOG_INFO && verbosity >= 1) ||
                     verbosity >= 2;
    const char *stage = ctx && ctx->stage ? ctx->stage : "sieve";
    lock(ctx);
    if (to_stderr) {
        if (ctx && ctx->progress_drawn)
            fputc('\n', stderr);
        fprintf(stderr, "[%s] %s%s%s\n", stage, level >= SIEVE_LOG_WARN ? names[level] : "",
                level >= SIEVE_LOG_WARN ? ": " : "", msg);
        if (ctx)
            ctx->progress_drawn = false;
    }
    if (ctx && ctx->log) {
        fprintf(ctx->log, "%s [%s] %s\n", names[level], stage, msg);
        fflush(ctx->log);
    }
    unlock(ctx);
}

void sieve_progress(sieve_ctx *ctx, int64_t done, int64_t total, const char *unit,
                    const char *extra)
{
    if (!ctx || ctx->verbosity < 1)
        return;
    double now = sieve_rt_now();
    bool final = total > 0 && done >= total;
    if ((!final && now - ctx->last_progress < 0.5) || (final && ctx->last_done == done))
        return;
    ctx->last_progress = now;
    ctx->last_done = done;
    char line[512];
    if (total > 0)
        snprintf(line, sizeof line, "[%s] %lld/%lld %s (%.0f%%)%s%s", ctx->stage, (long long)done,
                 (long long)total, unit, 100.0 * (double)done / (double)total, extra ? "  " : "",
                 extra ? extra : "");
    else
        snprintf(line, sizeof line, "[%s] %lld %s%s%s", ctx->stage, (long long)done, unit,
                 extra ? "  " : "", extra ? extra : "");
    lock(ctx);
    /* On a terminal the line redraws itself; in a log each update is a line. */
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\r%s\033[K", line);
        ctx->progress_drawn = !final;
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s\n", line);
    }
    unlock(ctx);
}

void sieve_metric(sieve_ctx *ctx, const char *json_object)
{
    if (!ctx || !ctx->metrics)
        return;
    const char *body = json_object;
    while (*body == ' ')
        body++;
    if (*body != '{')
        return;
    body++;
    while (*body == ' ')
        body++;
    lock(ctx);
    fprintf(ctx->metrics, "{\"stage\": \"%s\"%s%s\n", ctx->stage, *body == '}' ? "" : ", ", body);
    fflush(ctx->metrics);
    unlock(ctx);
}

const char *sieve_ctx_stage(const sieve_ctx *ctx) { return ctx->stage; }
const char *sieve_ctx_pipeline(const sieve_ctx *ctx) { return ctx->pipeline; }
const char *sieve_ctx_run_dir(const sieve_ctx *ctx) { return ctx->run_dir; }
bool sieve_ctx_resuming(const sieve_ctx *ctx) { return ctx->resuming; }
bool sieve_ctx_resumable(const sieve_ctx *ctx) { return ctx->resumable; }

bool sieve_ctx_stopping(const sieve_ctx *ctx)
{
    return ctx->stop && atomic_load_explicit(ctx->stop, memory_order_relaxed);
}

sieve_status sieve_ctx_state_dir(sieve_ctx *ctx, char *out, size_t out_len, sieve_err *err)
{
    char base[4096];
    snprintf(base, sizeof base, "%s/state", ctx->run_dir);
    if (mkdir(base, 0777) && errno != EEXIST)
        return sieve_fail(err, "cannot create %s: %s", base, strerror(errno));
    int n = snprintf(out, out_len, "%s/%s", base, ctx->stage);
    if (n < 0 || (size_t)n >= out_len)
        return sieve_fail(err, "state directory path too long");
    if (mkdir(out, 0777) && errno != EEXIST)
        return sieve_fail(err, "cannot create %s: %s", out, strerror(errno));
    return SIEVE_OK;
}

char *sieve_ctx_expand_path(const sieve_ctx *ctx, const char *path)
{
    const char *run = ctx && ctx->run_dir ? ctx->run_dir : ".";
    size_t cap = strlen(path) + 1, n = 0;
    for (const char *p = strstr(path, "{run}"); p; p = strstr(p + 5, "{run}"))
        cap += strlen(run);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = path; *p;) {
        if (strncmp(p, "{run}", 5) == 0) {
            memcpy(out + n, run, strlen(run));
            n += strlen(run);
            p += 5;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

const void *sieve_ctx_kernels(sieve_ctx *ctx, const char *name, sieve_err *err)
{
    if (!ctx->load_kernels) {
        sieve_fail(err, "no kernel loader in this context");
        return NULL;
    }
    return ctx->load_kernels(ctx->rt, name, err);
}

sieve_status sieve_emit(sieve_io *io, int out_port, sieve_batch *batch)
{
    return io->send(io, out_port, batch, NULL);
}

sieve_status sieve_emit_tensor(sieve_io *io, int out_port, sieve_tensor *t)
{
    sieve_tensor *moved = malloc(sizeof *moved);
    if (!moved) {
        sieve_tensor_release(t);
        return SIEVE_ERR;
    }
    sieve_tensor_move(moved, t);
    return io->send(io, out_port, NULL, moved);
}
