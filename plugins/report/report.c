/* report: the last stage of an experiment. Each producer is named (param
 * `names`, in input order). A producer whose records carry `accuracy` is an
 * evaluation: its last record gives accuracy, n and the 95% interval. Any
 * other producer is a data stream: its records and distinct `qid`s are counted
 * (e.g. the RFT paths, giving paths per question). `compare: [a, b]` adds b's
 * gain over a with the standard error of the difference. Writes
 * report.json, report.md and PNG plots (training loss from the run's
 * metrics.jsonl for the stages in `loss_stages`, accuracy with error bars). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

typedef struct stream_count {
    int64_t records;
    char **qids;          /* distinct, unsorted; linear probing table */
    size_t cap, n_qids;
} stream_count;

typedef struct report {
    sieve_ctx *ctx;
    const char *const *names;
    int n_names;
    const char *const *compare;
    int n_compare;
    const char *const *loss_stages;
    int n_loss_stages;
    char *dir;
    const char *title;
    bool *is_eval;
    sieve_report_entry *evals;   /* per producer */
    stream_count *counts;        /* per producer */
} report;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int count_qid(stream_count *c, const char *qid)
{
    if (2 * (c->n_qids + 1) > c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        char **nq = calloc(cap, sizeof *nq);
        if (!nq)
            return -1;
        for (size_t i = 0; i < c->cap; i++)
            if (c->qids[i]) {
                size_t j = hash_str(c->qids[i]) & (cap - 1);
                while (nq[j])
                    j = (j + 1) & (cap - 1);
                nq[j] = c->qids[i];
            }
        free(c->qids);
        c->qids = nq;
        c->cap = cap;
    }
    size_t j = hash_str(qid) & (c->cap - 1);
    while (c->qids[j]) {
        if (!strcmp(c->qids[j], qid))
            return 0;
        j = (j + 1) & (c->cap - 1);
    }
    c->qids[j] = strdup(qid);
    c->n_qids++;
    return c->qids[j] ? 0 : -1;
}

static sieve_status report_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    report *r = calloc(1, sizeof *r);
    if (!r)
        return sieve_fail(err, "out of memory");
    *state = r;
    r->ctx = ctx;
    r->n_names = sieve_param_list(p, "names", &r->names);
    r->n_compare = sieve_param_list(p, "compare", &r->compare);
    r->n_loss_stages = sieve_param_list(p, "loss_stages", &r->loss_stages);
    r->title = sieve_param_str(p, "title");
    r->dir = sieve_ctx_expand_path(ctx, sieve_param_str(p, "output_dir"));
    if (r->n_compare && r->n_compare != 2)
        return sieve_fail(err, "parameter 'compare' takes two names (baseline, candidate), got %d", r->n_compare);
    r->is_eval = calloc((size_t)r->n_names + 1, sizeof *r->is_eval);
    r->evals = calloc((size_t)r->n_names + 1, sizeof *r->evals);
    r->counts = calloc((size_t)r->n_names + 1, sizeof *r->counts);
    if (!r->dir || !r->is_eval || !r->evals || !r->counts)
        return sieve_fail(err, "out of memory");
    return SIEVE_OK;
}

static sieve_status report_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    report *r = state;
    if (in->producer >= r->n_names)
        return sieve_fail(err, "input %d has no name: give one per input in parameter 'names'", in->producer + 1);
    int k = in->producer;
    for (size_t i = 0; i < in->batch->n_recs; i++) {
        const sieve_record *rec = &in->batch->recs[i];
        double acc;
        if (sieve_record_get_float(rec, "accuracy", &acc)) {
            sieve_report_entry *e = &r->evals[k];
            r->is_eval[k] = true;
            e->accuracy = acc;
            /* The evaluate stage's names first, then the short ones. */
            if (!sieve_record_get_int(rec, "questions", &e->n) && !sieve_record_get_int(rec, "n", &e->n))
                e->n = 0;
            const sieve_field *ci = sieve_record_get(rec, "accuracy_ci95");
            if (!ci)
                ci = sieve_record_get(rec, "ci95");
            if (ci && ci->type == SIEVE_F_FLOATS && ci->v.floats.len == 2) {
                e->ci_lo = ci->v.floats.ptr[0];
                e->ci_hi = ci->v.floats.ptr[1];
            } else { /* normal approximation when the evaluator gave none */
                double se = e->n ? sqrt(acc * (1 - acc) / (double)e->n) : 0;
                e->ci_lo = acc - 1.96 * se;
                e->ci_hi = acc + 1.96 * se;
            }
            continue;
        }
        r->counts[k].records++;
        const char *qid;
        if (sieve_record_get_str(rec, "qid", &qid, NULL) && count_qid(&r->counts[k], qid))
            return sieve_fail(err, "out of memory");
    }
    return SIEVE_OK;
}

static int find_name(const report *r, const char *name)
{
    for (int i = 0; i < r->n_names; i++)
        if (!strcmp(r->names[i], name))
            return i;
    return -1;
}

static sieve_status report_flush(void *state, sieve_io *io, sieve_err *err)
{
    report *r = state;
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", r->dir);
    FILE *js = fopen(path, "w");
    if (!js)
        return sieve_fail(err, "%s: cannot write: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/report.md", r->dir);
    FILE *md = fopen(path, "w");
    if (!md) {
        fclose(js);
        return sieve_fail(err, "%s: cannot write: %s", path, strerror(errno));
    }
    fprintf(js, "{\"title\": \"%s\"", r->title);
    fprintf(md, "# %s\n\n| model | accuracy | 95%% interval | n |\n|---|---|---|---|\n", r->title);
    sieve_report_entry *plotted = calloc((size_t)r->n_names + 1, sizeof *plotted);
    int n_plotted = 0;
    for (int k = 0; k < r->n_names; k++) {
        if (r->is_eval[k]) {
            const sieve_report_entry *e = &r->evals[k];
            fprintf(js, ", \"%s\": {\"accuracy\": %.6f, \"n\": %lld, \"ci95\": [%.6f, %.6f]}", r->names[k],
                    e->accuracy, (long long)e->n, e->ci_lo, e->ci_hi);
            fprintf(md, "| %s | %.1f%% | %.1f%% – %.1f%% | %lld |\n", r->names[k], 100 * e->accuracy,
                    100 * e->ci_lo, 100 * e->ci_hi, (long long)e->n);
            plotted[n_plotted] = *e;
            plotted[n_plotted++].name = (char *)r->names[k];
        } else {
            const stream_count *c = &r->counts[k];
            double per_q = c->n_qids ? (double)c->records / (double)c->n_qids : 0;
            fprintf(js, ", \"%s\": {\"records\": %lld, \"questions\": %zu, \"per_question\": %.4f}", r->names[k],
                    (long long)c->records, c->n_qids, per_q);
        }
    }
    fprintf(md, "\n");
    for (int k = 0; k < r->n_names; k++)
        if (!r->is_eval[k])
            fprintf(md, "- %s: %lld records over %zu questions (%.2f per question)\n", r->names[k],
                    (long long)r->counts[k].records, r->counts[k].n_qids,
                    r->counts[k].n_qids ? (double)r->counts[k].records / (double)r->counts[k].n_qids : 0.0);
    if (r->n_compare == 2) {
        int a = find_name(r, r->compare[0]), b = find_name(r, r->compare[1]);
        if (a < 0 || b < 0 || !r->is_eval[a] || !r->is_eval[b]) {
            fclose(js);
            fclose(md);
            free(plotted);
            return sieve_fail(err, "parameter 'compare': '%s' and '%s' must both name evaluation inputs",
                              r->compare[0], r->compare[1]);
        }
        const sieve_report_entry *x = &r->evals[a], *y = &r->evals[b];
        double gain = y->accuracy - x->accuracy;
        double se = sqrt((x->n ? x->accuracy * (1 - x->accuracy) / (double)x->n : 0) +
                         (y->n ? y->accuracy * (1 - y->accuracy) / (double)y->n : 0));
        double z = se > 0 ? gain / se : 0;
        fprintf(js, ", \"difference\": {\"of\": \"%s - %s\", \"gain\": %.6f, \"se\": %.6f, \"z\": %.3f}",
                r->compare[1], r->compare[0], gain, se, z);
        fprintf(md, "- %s − %s: %+.1f points, standard error of the difference %.1f points (%.2f SE)\n",
                r->compare[1], r->compare[0], 100 * gain, 100 * se, z);
    }
    fprintf(js, "}\n");
    fclose(js);
    fclose(md);
    snprintf(path, sizeof path, "%s/metrics.jsonl", sieve_ctx_run_dir(r->ctx));
    sieve_err perr = {{0}};
    if (sieve_report_plots(r->dir, path, r->loss_stages, r->n_loss_stages, plotted, n_plotted, &perr))
        sieve_log(r->ctx, SIEVE_LOG_WARN, "plots not drawn: %s", perr.msg);
    free(plotted);
    /* The Markdown summary also goes to the log, so the user sees it at the end. */
    snprintf(path, sizeof path, "%s/report.md", r->dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (*line)
                sieve_log(r->ctx, SIEVE_LOG_INFO, "%s", line);
        }
        fclose(f);
    }
    sieve_batch *b = sieve_batch_new(1);
    sieve_record *rec = b ? sieve_batch_add(b) : NULL;
    if (!rec || sieve_record_set_cstr(rec, "report", path))
        return sieve_batch_free(b), sieve_fail(err, "out of memory");
    return sieve_emit(io, 0, b);
}

static void report_destroy(void *state)
{
    report *r = state;
    for (int k = 0; r->counts && k < r->n_names; k++) {
        for (size_t i = 0; i < r->counts[k].cap; i++)
            free(r->counts[k].qids[i]);
        free(r->counts[k].qids);
    }
    free(r->counts);
    free(r->evals);
    free(r->is_eval);
    free(r->dir);
    free(r);
}

static const sieve_port_desc inputs[] = {{"in", "records", "evaluation results and data streams, one input per name"}};
static const sieve_port_desc outputs[] = {{"out", "records", "one record {report: path of report.md}"}};
static const sieve_param_desc params[] = {
    {"names", SIEVE_P_LIST, NULL, "a name for each input, in order (e.g. [sft, rft, paths])"},
    {"compare", SIEVE_P_LIST, "", "two evaluation names [baseline, candidate]: report the gain and its SE"},
    {"loss_stages", SIEVE_P_LIST, "", "training stages whose loss curves to plot (from metrics.jsonl)"},
    {"output_dir", SIEVE_P_STRING, "{run}", "where report.json, report.md and the PNGs go"},
    {"title", SIEVE_P_STRING, "sieve report", "the report's title"},
};
static const sieve_stage_desc stages[] = {{
    .name = "report", .doc = "Summarise evaluations and data counts into report.json, report.md and plots",
    .inputs = inputs, .n_inputs = 1, .outputs = outputs, .n_outputs = 1, .params = params,
    .n_params = SIEVE_COUNTOF(params), .flags = SIEVE_STAGE_VARIADIC, .create = report_create,
    .process = report_process, .flush = report_flush, .destroy = report_destroy,
}};
SIEVE_PLUGIN_DEFINE("report", "0.1.0", stages)
