/* Plots through Debian's gnuplot: the data goes to .dat files beside the
 * PNGs, so the figures can be redrawn or inspected without sieve. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Writes "<stage>.loss.dat" (step loss) for each stage; returns how many had data. */
static int write_loss_data(const char *dir, const char *metrics_path, const char *const *stages,
                           int n_stages, sieve_err *err)
{
    FILE *in = fopen(metrics_path, "r");
    if (!in) {
        sieve_fail(err, "%s: %s", metrics_path, strerror(errno));
        return -1;
    }
    FILE **outs = calloc((size_t)n_stages + 1, sizeof *outs);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int with_data = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
        sieve_record r;
        sieve_record_init(&r);
        sieve_err perr;
        if (sieve_record_from_json(&r, line, (size_t)len, &perr) != SIEVE_OK)
            continue;
        const char *stage;
        double step, loss;
        if (sieve_record_get_str(&r, "stage", &stage, NULL) && sieve_record_get_float(&r, "step", &step) &&
            sieve_record_get_float(&r, "loss", &loss)) {
            for (int s = 0; s < n_stages; s++) {
                if (strcmp(stage, stages[s]))
                    continue;
                if (!outs[s]) {
                    char path[4096];
                    snprintf(path, sizeof path, "%s/%s.loss.dat", dir, stages[s]);
                    outs[s] = fopen(path, "w");
                    with_data += outs[s] != NULL;
                }
                if (outs[s])
                    fprintf(outs[s], "%g %g\n", step, loss);
            }
        }
        sieve_record_free(&r);
    }
    free(line);
    fclose(in);
    for (int s = 0; s < n_stages; s++)
        if (outs[s])
            fclose(outs[s]);
    free(outs);
    return with_data;
}

static sieve_status run_gnuplot(const char *script, sieve_err *err)
{
    FILE *gp = popen("gnuplot 2>&1", "w");
    if (!gp)
        return sieve_fail(err, "cannot start gnuplot: %s", strerror(errno));
    fputs(script, gp);
    int status = pclose(gp);
    if (status != 0)
        return sieve_fail(err, "gnuplot failed (status %d); is gnuplot-nox installed?", status);
    return SIEVE_OK;
}

sieve_status sieve_report_plots(const char *dir, const char *metrics_path,
                                const char *const *stages, int n_stages,
                                const sieve_report_entry *entries, int n_entries, sieve_err *err)
{
    size_t cap = 8192 + 512 * (size_t)(n_stages + n_entries);
    char *script = malloc(cap);
    if (!script)
        return sieve_fail(err, "out of memory");
    size_t n = 0;
    int with_data = n_stages ? write_loss_data(dir, metrics_path, stages, n_stages, err) : 0;
    if (with_data > 0) {
        n += (size_t)snprintf(script + n, cap - n,
                              "set terminal pngcairo size 800,500\nset output '%s/loss.png'\n"
                              "set title 'training loss'\nset xlabel 'step'\nset ylabel 'loss (nats/token)'\n"
                              "set logscale y\nset grid\nplot ", dir);
        int first = 1;
        for (int s = 0; s < n_stages; s++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.loss.dat", dir, stages[s]);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            fclose(f);
            n += (size_t)snprintf(script + n, cap - n, "%s'%s' using 1:2 with lines title '%s'",
                                  first ? "" : ", ", path, stages[s]);
            first = 0;
        }
        n += (size_t)snprintf(script + n, cap - n, "\nunset logscale y\n");
    }
    if (n_entries) {
        char path[4096];
        snprintf(path, sizeof path, "%s/accuracy.dat", dir);
        FILE *f = fopen(path, "w");
        if (!f) {
            free(script);
            return sieve_fail(err, "%s: %s", path, strerror(errno));
        }
        for (int i = 0; i < n_entries; i++)
            fprintf(f, "%d %s %g %g %g\n", i, entries[i].name, 100 * entries[i].accuracy,
                    100 * entries[i].ci_lo, 100 * entries[i].ci_hi);
        fclose(f);
        n += (size_t)snprintf(script + n, cap - n,
                              "set terminal pngcairo size 600,450\nset output '%s/accuracy.png'\n"
                              "set title 'greedy accuracy on held-out problems (95%% interval)'\n"
                              "set xlabel ''\nset ylabel 'accuracy (%%)'\nset grid\nset xrange [-0.6:%d.6]\nset yrange [0:100]\n"
                              "set style fill solid 0.5\nset boxwidth 0.5\n"
                              "plot '%s' using 1:3:xtic(2) with boxes notitle, "
                              "'' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 7 notitle\n",
                              dir, n_entries - 1, path);
    }
    sieve_status st = n ? run_gnuplot(script, err) : SIEVE_OK;
    free(script);
    return st;
}
