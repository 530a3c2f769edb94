/* Writes generated problems straight from the synth-math library as JSONL,
 * one record per problem, for the Python reference checker
 * (tools/synth_reference.py) and for eyeballing:
 *   synth_dump SPLIT SEED N MIN_STEPS MAX_STEPS K
 * Each record has qid, question, gold_answer, steps, template, answer (the
 * default path), answers (up to K drawn paths, as a JSON list) and
 * n_paths (distinct equation lists, counted up to 1000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sieve/record.h>

#include "synth.h"

/* Appends raw text to a growing buffer. */
static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t sl)
{
    if (*len + sl + 1 > *cap) {
        *cap = 2 * (*len + sl + 1);
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
    memcpy(*buf + *len, s, sl);
    *len += sl;
    (*buf)[*len] = 0;
}

/* Appends s as a JSON string (escaped by the library's own writer). */
static void append_json_string(char **buf, size_t *len, size_t *cap, const char *s)
{
    sieve_record r;
    sieve_record_init(&r);
    char *tmp = NULL;
    size_t tl = 0, tc = 0;
    if (sieve_record_set_cstr(&r, "s", s) || sieve_record_to_json(&r, &tmp, &tl, &tc))
        abort();
    sieve_record_free(&r);
    /* tmp is {"s": "..."}: keep the string. */
    const char *start = strchr(tmp, ':') + 1;
    while (*start == ' ')
        start++;
    append(buf, len, cap, start, strlen(start) - 1);
    free(tmp);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s train|test SEED N MIN_STEPS MAX_STEPS K\n", argv[0]);
        return 2;
    }
    sieve_synth_opts o = {
        .seed = strtoull(argv[2], NULL, 10),
        .split = strcmp(argv[1], "test") ? SIEVE_SYNTH_TRAIN : SIEVE_SYNTH_TEST,
        .min_steps = atoi(argv[4]),
        .max_steps = atoi(argv[5]),
        .max_distractors = 1,
    };
    long n = atol(argv[3]);
    int k = atoi(argv[6]);
    char **answers = calloc((size_t)(k > 0 ? k : 1), sizeof *answers);
    for (long i = 0; i < n; i++) {
        sieve_synth_problem *p;
        sieve_err err;
        if (sieve_synth_generate(&o, i, &p, &err) != SIEVE_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        sieve_record r;
        sieve_record_init(&r);
        char qid[64], gold[32];
        snprintf(qid, sizeof qid, "synth-%s-%ld", argv[1], i);
        snprintf(gold, sizeof gold, "%lld", (long long)sieve_synth_gold(p));
        char *canon = sieve_synth_canonical(p);
        int got = sieve_synth_draw(p, (uint64_t)i, k, answers);
        char *list = NULL;
        size_t ll = 0, lc = 0;
        append(&list, &ll, &lc, "[", 1);
        for (int a = 0; a < got; a++) {
            if (a)
                append(&list, &ll, &lc, ", ", 2);
            append_json_string(&list, &ll, &lc, answers[a]);
            free(answers[a]);
        }
        append(&list, &ll, &lc, "]", 1);
        sieve_record_set_cstr(&r, "qid", qid);
        sieve_record_set_cstr(&r, "question", sieve_synth_question(p));
        sieve_record_set_cstr(&r, "answer", canon);
        sieve_record_set_cstr(&r, "gold_answer", gold);
        sieve_record_set_int(&r, "steps", sieve_synth_steps(p));
        sieve_record_set_cstr(&r, "template", sieve_synth_template(p));
        sieve_record_set_json(&r, "answers", list, strlen(list));
        sieve_record_set_int(&r, "n_paths", sieve_synth_count_paths(p, 1000));
        char *out = NULL;
        size_t len = 0, cap = 0;
        sieve_record_to_json(&r, &out, &len, &cap);
        printf("%s\n", out);
        free(out);
        free(list);
        free(canon);
        sieve_record_free(&r);
        sieve_synth_free(p);
    }
    free(answers);
    return 0;
}
