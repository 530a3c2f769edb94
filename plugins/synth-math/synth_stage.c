/* synth-math: the source stage. Emits `n` generated problems as GSM8K
 * records (qid, question, answer, gold_answer, ...) in batches; with
 * paths > 1 each problem gives up to that many records, one per distinct
 * solution path, sharing qid and question. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sieve/sieve.h>

#include "synth.h"

enum { BATCH = 256, MAX_PATHS = 64 };

typedef struct synth_stage {
    sieve_synth_opts opts;
    int64_t n, next, offset;
    int paths;
    int64_t count_cap; /* > 0: add n_paths, distinct equation lists up to this */
    int canonical; /* answer 0 is the story-order path, not a random one */
    const char *split_name;
    sieve_ctx *ctx;
} synth_stage;

static sieve_status synth_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                                 sieve_err *err)
{
    const char *split = sieve_param_str(params, "split");
    const char *order = sieve_param_str(params, "order");
    int64_t n = sieve_param_int(params, "n"), paths = sieve_param_int(params, "paths");
    int64_t lo = sieve_param_int(params, "min_steps"), hi = sieve_param_int(params, "max_steps");
    int64_t distr = sieve_param_int(params, "distractors");
    int64_t offset = sieve_param_int(params, "offset");
    if (strcmp(split, "train") && strcmp(split, "test"))
        return sieve_fail(err, "param split: '%s' is neither train nor test", split);
    if (strcmp(order, "random") && strcmp(order, "canonical"))
        return sieve_fail(err, "param order: '%s' is neither random nor canonical", order);
    if (n < 0)
        return sieve_fail(err, "param n: %lld is negative", (long long)n);
    if (offset < 0)
        return sieve_fail(err, "param offset: %lld is negative", (long long)offset);
    if (paths < 1 || paths > MAX_PATHS)
        return sieve_fail(err, "param paths: %lld is not in 1..%d", (long long)paths, MAX_PATHS);
    if (lo < SIEVE_SYNTH_MIN_STEPS || hi > SIEVE_SYNTH_MAX_STEPS || lo > hi)
        return sieve_fail(err, "params min_steps/max_steps: need %d <= %lld <= %lld <= %d",
                          SIEVE_SYNTH_MIN_STEPS, (long long)lo, (long long)hi,
                          SIEVE_SYNTH_MAX_STEPS);
    int64_t count_cap = sieve_param_int(params, "count_paths");
    if (count_cap < 0 || count_cap > 100000)
        return sieve_fail(err, "param count_paths: %lld is not in 0..100000", (long long)count_cap);
    if (distr < 0 || distr > 3)
        return sieve_fail(err, "param distractors: %lld is not in 0..3", (long long)distr);
    /* templates: a list, each item possibly "a,b" (one CLI --param). */
    unsigned mask = 0;
    const char *const *items;
    int n_items = sieve_param_list(params, "templates", &items);
    for (int i = 0; i < n_items; i++) {
        const char *t = items[i];
        while (*t) {
            size_t len = strcspn(t, ", ");
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)len, t);
            int ti = len ? sieve_synth_template_index(name) : -2;
            if (ti == -1)
                return sieve_fail(err, "param templates: unknown template '%s' (shop, "
                                       "relations, share, groups, savings)", name);
            if (ti >= 0)
                mask |= 1u << ti;
            t += len;
            t += strspn(t, ", ");
        }
    }
    synth_stage *s = calloc(1, sizeof *s);
    if (!s)
        return sieve_fail(err, "out of memory");
    s->opts = (sieve_synth_opts){
        .seed = (uint64_t)sieve_param_int(params, "seed"),
        .split = split[1] == 'r' ? SIEVE_SYNTH_TRAIN : SIEVE_SYNTH_TEST,
        .min_steps = (int)lo,
        .max_steps = (int)hi,
        .max_distractors = (int)distr,
        .templates = mask,
    };
    s->split_name = s->opts.split == SIEVE_SYNTH_TRAIN ? "train" : "test";
    s->n = n;
    s->offset = offset;
    s->paths = (int)paths;
    s->count_cap = count_cap;
    s->canonical = !strcmp(order, "canonical");
    s->ctx = ctx;
    *state = s;
    return SIEVE_OK;
}

/* Answers for one problem: answers[0..return) malloc'd, -1 on OOM. */
static int problem_answers(const synth_stage *s, const sieve_synth_problem *p, int64_t index,
                           char **answers)
{
    uint64_t key = s->opts.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)index;
    if (!s->canonical)
        return sieve_synth_draw(p, key, s->paths, answers);
    answers[0] = sieve_synth_canonical(p);
    if (!answers[0])
        return -1;
    if (s->paths == 1)
        return 1;
    /* Draw one more than needed so dropping the canonical one still leaves
     * paths - 1 others. */
    char *more[MAX_PATHS + 1];
    int got = sieve_synth_draw(p, key, s->paths, more), n = 1;
    if (got < 0)
        return -1;
    uint64_t first = sieve_synth_answer_key(answers[0]);
    for (int i = 0; i < got; i++) {
        if (n < s->paths && sieve_synth_answer_key(more[i]) != first)
            answers[n++] = more[i];
        else
            free(more[i]);
    }
    return n;
}

static sieve_status add_records(const synth_stage *s, int64_t index, sieve_batch *batch,
                                sieve_err *err)
{
    sieve_synth_problem *p;
    if (sieve_synth_generate(&s->opts, index, &p, err) != SIEVE_OK)
        return SIEVE_ERR;
    char *answers[MAX_PATHS];
    int n = problem_answers(s, p, index, answers);
    if (n <= 0) {
        sieve_synth_free(p);
        return sieve_fail(err, "problem %lld: no solution path (out of memory?)",
                          (long long)index);
    }
    char qid[64], gold[32];
    snprintf(qid, sizeof qid, "synth-%s-%lld", s->split_name, (long long)index);
    snprintf(gold, sizeof gold, "%lld", (long long)sieve_synth_gold(p));
    int64_t n_paths = s->count_cap > 0 ? sieve_synth_count_paths(p, s->count_cap) : 0;
    int rc = n_paths < 0;
    for (int i = 0; i < n; i++) {
        sieve_record *r = sieve_batch_add(batch);
        rc |= !r;
        if (r) {
            rc |= sieve_record_set_cstr(r, "qid", qid);
            rc |= sieve_record_set_cstr(r, "question", sieve_synth_question(p));
            rc |= sieve_record_set_str_owned(r, "answer", answers[i], strlen(answers[i]));
            answers[i] = NULL;
            rc |= sieve_record_set_cstr(r, "gold_answer", gold);
            rc |= sieve_record_set_int(r, "path", i);
            rc |= sieve_record_set_int(r, "steps", sieve_synth_steps(p));
            rc |= sieve_record_set_cstr(r, "template", sieve_synth_template(p));
            if (s->count_cap > 0)
                rc |= sieve_record_set_int(r, "n_paths", n_paths);
        }
        free(answers[i]);
    }
    sieve_synth_free(p);
    return rc ? sieve_fail(err, "out of memory") : SIEVE_OK;
}

static sieve_status synth_process(void *state, const sieve_input *in, sieve_io *io,
                                  sieve_err *err)
{
    synth_stage *s = state;
    (void)in;
    if (s->next >= s->n)
        return SIEVE_EOS;
    if (sieve_ctx_stopping(s->ctx))
        return SIEVE_STOPPED;
    sieve_batch *batch = sieve_batch_new(BATCH);
    if (!batch)
        return sieve_fail(err, "out of memory");
    for (int i = 0; i < BATCH && s->next < s->n; i++, s->next++) {
        if (add_records(s, s->offset + s->next, batch, err) != SIEVE_OK) {
            sieve_batch_free(batch);
            return SIEVE_ERR;
        }
    }
    sieve_progress(s->ctx, s->next, s->n, "problems", NULL);
    sieve_status st = sieve_emit(io, 0, batch);
    return st; /* SIEVE_EOS comes on the call after the last batch */
}

static void synth_destroy(void *state) { free(state); }

static const sieve_port_desc outputs[] = {
    {"out", "records(qid,question,answer,gold_answer)",
     "generated problems with GSM8K-format answers; one record per path"},
};

static const sieve_param_desc params[] = {
    {"n", SIEVE_P_INT, "1000", "number of problems"},
    {"seed", SIEVE_P_INT, "1", "generator seed; same seed and params, same records"},
    {"split", SIEVE_P_STRING, "train", "train | test: disjoint sets of questions"},
    {"min_steps", SIEVE_P_INT, "2", "fewest calculation steps per problem (2..6)"},
    {"max_steps", SIEVE_P_INT, "6", "most calculation steps per problem (2..6)"},
    {"paths", SIEVE_P_INT, "1", "distinct solution paths (records) per problem, at most"},
    {"order", SIEVE_P_STRING, "random",
     "random: answers are random valid paths | canonical: the first is the story-order path"},
    {"distractors", SIEVE_P_INT, "1", "most irrelevant sentences per question (0..3)"},
    {"templates", SIEVE_P_LIST, "",
     "story templates to use (shop, relations, share, groups, savings); empty: all"},
    {"count_paths", SIEVE_P_INT, "0",
     "when > 0, add n_paths: distinct equation lists of the problem, counted up to this"},
    {"offset", SIEVE_P_INT, "0", "index of the first problem (for disjoint chunks of a split)"},
};

static const sieve_stage_desc stages[] = {{
    .name = "synth-math",
    .doc = "generate grade-school word problems in GSM8K format with many valid solution paths",
    .inputs = NULL,
    .n_inputs = 0,
    .outputs = outputs,
    .n_outputs = SIEVE_COUNTOF(outputs),
    .params = params,
    .n_params = SIEVE_COUNTOF(params),
    .flags = 0,
    .create = synth_create,
    .process = synth_process,
    .flush = NULL,
    .destroy = synth_destroy,
}};

SIEVE_PLUGIN_DEFINE("synth-math", "0.1.0", stages)
