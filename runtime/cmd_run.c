/* `sieve run`, `sieve validate`, `sieve graph`: load, check and execute pipelines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"

int sieve_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

typedef struct run_args {
    const char *file;
    const char *resume;
    const char *runs_dir;
    const char **sets;
    int n_sets;
    int verbosity;
} run_args;

static int parse_args(int argc, char **argv, run_args *a, const char *cmd)
{
    memset(a, 0, sizeof *a);
    a->runs_dir = "runs";
    a->verbosity = 1;
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc)
            a->sets[a->n_sets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6))
            a->sets[a->n_sets++] = argv[i] + 6;
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc)
            a->resume = argv[++i];
        else if (!strcmp(argv[i], "--runs-dir") && i + 1 < argc)
            a->runs_dir = argv[++i];
        else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            a->verbosity = 0;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            a->verbosity = 2;
        else if (argv[i][0] != '-' && !a->file)
            a->file = argv[i];
        else {
            fprintf(stderr, "sieve %s: unexpected argument '%s' (see sieve %s --help)\n", cmd, argv[i], cmd);
            return 2;
        }
    }
    return 0;
}

/* Loads the pipeline, applies --set, loads plugins and builds the graph. */
static int prepare(const run_args *a, const char *file, sieve_pipeline *p, sieve_registry *reg,
                   sieve_graph *g)
{
    sieve_err err = {{0}};
    memset(g, 0, sizeof *g);
    memset(reg, 0, sizeof *reg);
    if (sieve_pipeline_load(p, file, &err) != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        return 2;
    }
    for (int i = 0; i < a->n_sets; i++)
        if (sieve_pipeline_set(p, a->sets[i], &err) != SIEVE_OK) {
            fprintf(stderr, "sieve: %s\n", err.msg);
            return 2;
        }
    if (sieve_registry_load(reg, &err) != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        return 2;
    }
    if (sieve_graph_build(g, p, reg, &err) != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        return 2;
    }
    return 0;
}

static void cleanup(sieve_pipeline *p, sieve_registry *reg, sieve_graph *g)
{
    sieve_graph_free(g);
    sieve_registry_free(reg);
    sieve_pipeline_free(p);
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

/* ---- manifest ---- */
typedef struct manifest {
    const sieve_graph *g;
    char path[4096];
    const char *status;
    sieve_stage_stats *stats;
    bool *done;
    time_t started;
} manifest;

static void manifest_write(manifest *m)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", m->path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "{\n  \"pipeline\": \"%s\",\n  \"status\": \"%s\",\n  \"started\": %lld,\n  \"stages\": {",
            m->g->pipeline->name, m->status, (long long)m->started);
    for (int i = 0; i < m->g->n_nodes; i++) {
        const sieve_stage_stats *s = &m->stats[i];
        fprintf(f, "%s\n    \"%s\": {\"plugin\": \"%s\", \"status\": \"%s\", \"records_in\": %lld, "
                   "\"records_out\": %lld, \"seconds\": %.3f}",
                i ? "," : "", m->g->nodes[i].ps->name, m->g->nodes[i].desc->name,
                !m->done[i] ? "pending" : s->status == SIEVE_OK ? "done" : "failed",
                (long long)s->records_in, (long long)s->records_out, s->seconds);
    }
    fprintf(f, "\n  }\n}\n");
    fclose(f);
    rename(tmp, m->path);
}

static void on_stage_done(void *user, int node, const sieve_stage_stats *stats)
{
    manifest *m = user;
    m->stats[node] = *stats;
    m->done[node] = true;
    manifest_write(m);
}

/* runs/<pipeline>/<YYYYmmdd-HHMMSS>, with a suffix if that exists already. */
static int make_run_dir(const char *runs_dir, const char *name, char *out, size_t n)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    char base[4096];
    snprintf(base, sizeof base, "%s/%s", runs_dir, name);
    if (mkdirs(base))
        return -1;
    for (int k = 0; k < 1000; k++) {
        if (k)
            snprintf(out, n, "%s/%s-%d", base, stamp, k);
        else
            snprintf(out, n, "%s/%s", base, stamp);
        if (mkdir(out, 0777) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

int sieve_cmd_run(int argc, char **argv)
{
    if (sieve_wants_help(argc, argv)) {
        puts("usage: sieve run PIPELINE.yaml [--set stage.param=value]... [--runs-dir DIR] [-q|-v]\n"
             "       sieve run --resume RUN_DIR [--set ...]\n\n"
             "Runs the pipeline in a new run directory DIR/<pipeline>/<timestamp>/ (DIR: runs):\n"
             "pipeline.yaml (every parameter resolved), manifest.json (stage states), log.txt,\n"
             "metrics.jsonl, and the outputs its stages write under {run}.\n"
             "--set stage.param=value overrides a parameter; defaults.param=value sets a default.\n"
             "--resume continues a killed run in its own directory from its resolved pipeline;\n"
             "stages that keep state (writers, samplers, trainers) pick up where they stopped.\n"
             "Exit status: 0 done, 1 a stage failed, 2 the pipeline is invalid.");
        return 0;
    }
    run_args a;
    if (parse_args(argc, argv, &a, "run"))
        return 2;
    char run_dir[4096];
    char file[4200];
    if (a.resume) {
        snprintf(run_dir, sizeof run_dir, "%s", a.resume);
        snprintf(file, sizeof file, "%s/pipeline.yaml", a.resume);
        if (access(file, R_OK)) {
            fprintf(stderr, "sieve run: %s: not a run directory (no readable pipeline.yaml: %s)\n",
                    a.resume, strerror(errno));
            return 2;
        }
    } else if (!a.file) {
        fprintf(stderr, "sieve run: no pipeline file given (see sieve run --help)\n");
        return 2;
    } else {
        snprintf(file, sizeof file, "%s", a.file);
    }
    sieve_pipeline p;
    sieve_registry reg;
    sieve_graph g;
    int rc = prepare(&a, file, &p, &reg, &g);
    if (rc) {
        cleanup(&p, &reg, &g);
        free(a.sets);
        return rc;
    }
    if (!a.resume && make_run_dir(a.runs_dir, p.name, run_dir, sizeof run_dir)) {
        fprintf(stderr, "sieve run: cannot create a run directory under %s: %s\n", a.runs_dir, strerror(errno));
        cleanup(&p, &reg, &g);
        free(a.sets);
        return 1;
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/pipeline.yaml", run_dir);
    if (!a.resume || a.n_sets) {
        FILE *pf = fopen(path, "w");
        if (!pf) {
            fprintf(stderr, "sieve run: cannot write %s: %s\n", path, strerror(errno));
            cleanup(&p, &reg, &g);
            free(a.sets);
            return 1;
        }
        sieve_graph_write_resolved(&g, pf);
        fclose(pf);
    }
    snprintf(path, sizeof path, "%s/log.txt", run_dir);
    FILE *log = fopen(path, "a");
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    FILE *metrics = fopen(path, "a");
    manifest m = {.g = &g, .status = "running", .started = time(NULL)};
    snprintf(m.path, sizeof m.path, "%s/manifest.json", run_dir);
    m.stats = calloc((size_t)g.n_nodes, sizeof *m.stats);
    m.done = calloc((size_t)g.n_nodes, sizeof *m.done);
    manifest_write(&m);
    if (a.verbosity)
        fprintf(stderr, "sieve: %s pipeline '%s' in %s\n", a.resume ? "resuming" : "running", p.name, run_dir);

    sieve_exec_opts opts = {.run_dir = run_dir, .resuming = a.resume != NULL, .verbosity = a.verbosity,
                            .log = log, .metrics = metrics, .reg = &reg,
                            .on_stage_done = on_stage_done, .user = &m};
    sieve_err err = {{0}};
    double t0 = sieve_rt_now();
    sieve_status st = sieve_exec_run(&g, &opts, m.stats, &err);
    m.status = st == SIEVE_OK ? "done" : "failed";
    manifest_write(&m);
    if (st != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        if (log)
            fprintf(log, "error %s\n", err.msg);
        fprintf(stderr, "sieve: run failed; state kept in %s (sieve run --resume %s)\n", run_dir, run_dir);
    } else if (a.verbosity) {
        fprintf(stderr, "sieve: done in %.1f s: %s\n", sieve_rt_now() - t0, run_dir);
        for (int k = 0; k < g.n_nodes; k++) {
            int i = g.order[k];
            fprintf(stderr, "  %-16s %-14s in %10lld  out %10lld  %8.2f s\n", g.nodes[i].ps->name,
                    g.nodes[i].desc->name, (long long)m.stats[i].records_in,
                    (long long)m.stats[i].records_out, m.stats[i].seconds);
        }
    }
    if (log)
        fclose(log);
    if (metrics)
        fclose(metrics);
    free(m.stats);
    free(m.done);
    cleanup(&p, &reg, &g);
    free(a.sets);
    return st == SIEVE_OK ? 0 : 1;
}

/* validate and graph: check the pipeline, then report on the checked graph. */
static int check_then(int argc, char **argv, const char *cmd, const char *help,
                      void (*report)(const char *file, const sieve_graph *g))
{
    if (sieve_wants_help(argc, argv)) {
        puts(help);
        return 0;
    }
    run_args a;
    if (parse_args(argc, argv, &a, cmd))
        return 2;
    if (!a.file) {
        fprintf(stderr, "sieve %s: no pipeline file given\n", cmd);
        free(a.sets);
        return 2;
    }
    sieve_pipeline p;
    sieve_registry reg;
    sieve_graph g;
    int rc = prepare(&a, a.file, &p, &reg, &g);
    if (!rc)
        report(a.file, &g);
    cleanup(&p, &reg, &g);
    free(a.sets);
    return rc;
}

static void say_valid(const char *file, const sieve_graph *g)
{
    printf("%s: pipeline '%s' is valid: %d stages, %d edges\n", file, g->pipeline->name, g->n_nodes,
           g->n_edges);
}

static void print_dot(const char *file, const sieve_graph *g)
{
    (void)file;
    sieve_graph_dot(g, stdout);
}

int sieve_cmd_validate(int argc, char **argv)
{
    return check_then(argc, argv, "validate",
                      "usage: sieve validate PIPELINE.yaml [--set stage.param=value]...\n\n"
                      "Builds the graph without running it: YAML syntax, plugins, parameters (names,\n"
                      "types, required ones), port types of every edge, cycles, kernel backends.\n"
                      "Exit status 0 when valid, 2 with a message naming the file, line and field.",
                      say_valid);
}

int sieve_cmd_graph(int argc, char **argv)
{
    return check_then(argc, argv, "graph",
                      "usage: sieve graph PIPELINE.yaml [--set ...]\n\n"
                      "Prints the checked pipeline as Graphviz DOT: stages as boxes, edges labelled with\n"
                      "their port name and type, `after:` dependencies dashed.\n"
                      "Render with: sieve graph p.yaml | dot -Tpng > p.png",
                      print_dot);
}
