/* `sieve stage NAME`: one stage, JSONL on stdin to JSONL on stdout, on the
 * calling thread; and `sieve model init`, which runs the model-init stage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exec.h"

typedef struct stdout_sink {
    char *buf;
    size_t len, cap;
    int64_t records;
    int failed;
} stdout_sink;

static sieve_status write_out(sieve_io *io, int port, sieve_batch *batch, sieve_tensor *tensor)
{
    stdout_sink *s = io->impl;
    if (batch && port == 0) {
        for (size_t i = 0; i < batch->n_recs; i++) {
            s->len = 0;
            if (sieve_record_to_json(&batch->recs[i], &s->buf, &s->len, &s->cap)) {
                s->failed = 1;
                break;
            }
            s->buf[s->len++] = '\n';
            if (fwrite(s->buf, 1, s->len, stdout) != s->len)
                s->failed = 1;
            s->records++;
        }
    }
    if (tensor) {
        /* Tensors have no JSONL form: describe them. */
        printf("{\"tensor\": \"%s\", \"port\": %d, \"dtype\": \"%s\", \"shape\": [", tensor->name, port,
               sieve_dtype_name(tensor->dtype));
        for (int d = 0; d < tensor->rank; d++)
            printf("%s%lld", d ? ", " : "", (long long)tensor->shape[d]);
        printf("]}\n");
        sieve_tensor_release(tensor);
        free(tensor);
    }
    sieve_batch_free(batch);
    return s->failed ? SIEVE_ERR : SIEVE_OK;
}

static void add_raw(sieve_raw_param *raw, int *n, char **store, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char *name = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
    char *value = strdup(eq ? eq + 1 : "true");
    store[2 * *n] = name;
    store[2 * *n + 1] = value;
    raw[*n].name = name;
    raw[*n].items = (const char *const *)&store[2 * *n + 1];
    raw[*n].n_items = 1;
    (*n)++;
}

/* Runs one stage over stdin. params: name=value strings. */
static int run_one(const char *stage, char **kvs, int n_kvs, const char *run_dir,
                   const char *metrics_path, size_t batch_size, int verbosity)
{
    sieve_registry reg;
    sieve_err err = {{0}};
    if (sieve_registry_load(&reg, &err) != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        return 2;
    }
    const sieve_stage_desc *d = sieve_registry_find(&reg, stage, NULL);
    if (!d) {
        const char *near = sieve_registry_closest(&reg, stage);
        char *known = sieve_registry_stage_list(&reg);
        fprintf(stderr, "sieve stage: unknown stage '%s'%s%s%s; known: %s\n", stage,
                near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", known ? known : "");
        free(known);
        sieve_registry_free(&reg);
        return 2;
    }
    sieve_raw_param *raw = calloc((size_t)n_kvs + 1, sizeof *raw);
    char **store = calloc(2 * (size_t)n_kvs + 2, sizeof *store);
    int n_raw = 0;
    for (int i = 0; i < n_kvs; i++)
        add_raw(raw, &n_raw, store, kvs[i]);
    sieve_params *params = NULL;
    int rc = 0;
    if (sieve_rt_params_build(d, raw, n_raw, NULL, stage, 0, 0, &params, &err) != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    FILE *metrics = NULL;
    if (metrics_path && !(metrics = fopen(metrics_path, "a"))) {
        fprintf(stderr, "sieve stage: cannot open --metrics file '%s': %s\n", metrics_path,
                strerror(errno));
        rc = 2;
        goto out;
    }
    atomic_int stop;
    atomic_init(&stop, 0);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    sieve_ctx ctx = {.stage = (char *)stage, .pipeline = "stage", .run_dir = (char *)run_dir,
                     .stop = &stop, .lock = &lock, .verbosity = verbosity, .metrics = metrics,
                     .load_kernels = sieve_exec_load_kernels, .rt = &reg};
    stdout_sink sink = {0};
    sieve_io io = {write_out, &sink};
    void *state = NULL;
    sieve_status st = d->create(params, &ctx, &state, &err);
    if (st == SIEVE_OK && d->n_inputs == 0) {
        while ((st = d->process(state, NULL, &io, &err)) == SIEVE_OK)
            ;
        if (st == SIEVE_EOS)
            st = SIEVE_OK;
    } else if (st == SIEVE_OK) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        size_t lineno = 0;
        sieve_batch *b = sieve_batch_new(batch_size);
        while (st == SIEVE_OK && (len = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (len == 0)
                continue;
            sieve_record *r = sieve_batch_add(b);
            if (sieve_record_from_json(r, line, (size_t)len, &err) != SIEVE_OK) {
                sieve_err_prefix(&err, "<stdin>:%zu", lineno);
                st = SIEVE_ERR;
                break;
            }
            if (b->n_recs == batch_size) {
                sieve_input in = {0, 0, b, NULL};
                st = d->process(state, &in, &io, &err);
                sieve_batch_free(b);
                b = sieve_batch_new(batch_size);
            }
        }
        if (st == SIEVE_OK && b->n_recs) {
            sieve_input in = {0, 0, b, NULL};
            st = d->process(state, &in, &io, &err);
        }
        sieve_batch_free(b);
        free(line);
        if (st == SIEVE_OK && d->flush)
            st = d->flush(state, &io, &err);
    }
    if (d->destroy && state)
        d->destroy(state);
    fflush(stdout);
    free(sink.buf);
    if (metrics)
        fclose(metrics);
    if (st != SIEVE_OK) {
        fprintf(stderr, "sieve: stage '%s': %s\n", stage, err.msg[0] ? err.msg : "failed");
        rc = 1;
    } else if (sink.failed || ferror(stdout)) {
        fprintf(stderr, "sieve: stage '%s': cannot write to stdout: %s\n", stage, strerror(errno));
        rc = 1;
    }
out:
    sieve_rt_params_free(params);
    for (int i = 0; i < 2 * n_raw; i++)
        free(store[i]);
    free(store);
    free(raw);
    sieve_registry_free(&reg);
    return rc;
}

int sieve_cmd_stage(int argc, char **argv)
{
    if (argc < 2 || sieve_wants_help(argc, argv)) {
        puts("usage: sieve stage NAME [--param key=value]... [--run-dir DIR] [--metrics FILE]\n"
             "                   [--batch N] [-q]\n\n"
             "Runs one stage on this thread: JSONL records on stdin (one object per line) go to\n"
             "its first input port in batches of N (256); what it emits on its first output port\n"
             "is written to stdout as JSONL. A source stage (no inputs) ignores stdin. {run} in\n"
             "path parameters means DIR (.). --metrics appends the stage's metric lines (as in\n"
             "a run's metrics.jsonl) to FILE. 'sieve plugins NAME' lists the parameters.");
        return argc < 2 ? 2 : 0;
    }
    const char *stage = NULL, *run_dir = ".", *metrics = NULL;
    size_t batch = 256;
    int verbosity = 1;
    char **kvs = calloc((size_t)argc, sizeof *kvs);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "--param") || !strcmp(argv[i], "-p")) && i + 1 < argc)
            kvs[n++] = argv[++i];
        else if (!strncmp(argv[i], "--param=", 8))
            kvs[n++] = argv[i] + 8;
        else if (!strcmp(argv[i], "--run-dir") && i + 1 < argc)
            run_dir = argv[++i];
        else if (!strcmp(argv[i], "--metrics") && i + 1 < argc)
            metrics = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            verbosity = 0;
        else if (argv[i][0] != '-' && !stage)
            stage = argv[i];
        else {
            fprintf(stderr, "sieve stage: unexpected argument '%s'\n", argv[i]);
            free(kvs);
            return 2;
        }
    }
    if (!stage || !batch) {
        fprintf(stderr, "sieve stage: %s\n", !stage ? "no stage name given" : "--batch must be >= 1");
        free(kvs);
        return 2;
    }
    int rc = run_one(stage, kvs, n, run_dir, metrics, batch, verbosity);
    free(kvs);
    return rc;
}

int sieve_cmd_model(int argc, char **argv)
{
    if (argc < 2 || sieve_wants_help(argc, argv) || strcmp(argv[1], "init")) {
        puts("usage: sieve model init --config CONFIG.json --out DIR [--seed S]\n\n"
             "Writes a randomly initialised LLaMA model in the Hugging Face layout\n"
             "(config.json + model.safetensors), with Hugging Face's initialisation:\n"
             "normal(0, initializer_range) weights and norms of 1. Runs the model-init stage.");
        return argc < 2 || strcmp(argc > 1 ? argv[1] : "", "init") ? (sieve_wants_help(argc, argv) ? 0 : 2) : 0;
    }
    char *kvs[3];
    char bufs[3][4200];
    int n = 0;
    for (int i = 2; i < argc; i++) {
        const char *key = NULL;
        if (!strcmp(argv[i], "--config"))
            key = "config";
        else if (!strcmp(argv[i], "--out"))
            key = "out";
        else if (!strcmp(argv[i], "--seed"))
            key = "seed";
        if (!key || i + 1 >= argc || n == 3) {
            fprintf(stderr, "sieve model init: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        snprintf(bufs[n], sizeof bufs[n], "%s=%s", key, argv[++i]);
        kvs[n] = bufs[n];
        n++;
    }
    return run_one("model-init", kvs, n, ".", NULL, 1, 1);
}
