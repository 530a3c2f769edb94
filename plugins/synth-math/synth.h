/* synth-math: a seeded generator of grade-school word problems in GSM8K's
 * format, for the embedded default pipeline (no downloaded data needed).
 *
 * A problem is a small expression DAG over the numbers in its question.
 * A solution path is one way to evaluate that DAG with binary steps: any
 * order of independent sub-results, either order of + and * operands, and
 * the regroupings a person would also write (a+b+c as (a+c)+b; 50-12-9 as
 * 50-(12+9); 2*x+y as x+x+y). Every path has the same number of steps and the
 * same final answer, and is written in GSM8K's answer format:
 *   "The pens cost 3*4 = <<3*4=12>>12 dollars.\n...\n#### 35"
 *
 * Everything is a pure function of (options, index): the same seed gives
 * the same problems whatever the batch boundaries. The train and test splits
 * are disjoint by construction: a hash of the question text decides which
 * split a problem belongs to, and each split skips the other's problems. */
#ifndef SIEVE_SYNTH_H
#define SIEVE_SYNTH_H

#include <stdint.h>

#include <sieve/status.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { SIEVE_SYNTH_TRAIN = 0, SIEVE_SYNTH_TEST = 1 };
enum { SIEVE_SYNTH_MIN_STEPS = 2, SIEVE_SYNTH_MAX_STEPS = 6 };

typedef struct sieve_synth_opts {
    uint64_t seed;
    int split;            /* SIEVE_SYNTH_TRAIN or SIEVE_SYNTH_TEST */
    int min_steps;        /* 2..6: every path of a problem has this many steps or more */
    int max_steps;        /* min_steps..6 */
    int max_distractors;  /* 0..3 irrelevant sentences with numbers per question */
    unsigned templates;   /* bit i allows template i (sieve_synth_template_name); 0: all */
} sieve_synth_opts;

/* The story templates, by index: "shop", "relations", "share", "groups",
 * "savings". Index of a name, or -1. */
int sieve_synth_n_templates(void);
const char *sieve_synth_template_name(int i);
int sieve_synth_template_index(const char *name);

typedef struct sieve_synth_problem sieve_synth_problem;

/* Makes problem number `index` of the split. SIEVE_ERR on bad options. */
sieve_status sieve_synth_generate(const sieve_synth_opts *o, int64_t index,
                                  sieve_synth_problem **out, sieve_err *err);
void sieve_synth_free(sieve_synth_problem *p);

const char *sieve_synth_question(const sieve_synth_problem *p);
int64_t sieve_synth_gold(const sieve_synth_problem *p);
int sieve_synth_steps(const sieve_synth_problem *p);       /* annotations per path */
const char *sieve_synth_template(const sieve_synth_problem *p); /* "shop", ... */

/* The path a person would write first: story order, no regrouping.
 * Malloc'd GSM8K answer text; NULL when out of memory. */
char *sieve_synth_canonical(const sieve_synth_problem *p);

/* Randomly draws up to k answers whose equation lists (the <<...>> contents
 * joined with '|') are pairwise distinct; deterministic in `key`. Fills
 * answers[0..n) with malloc'd strings and returns n (< k when the problem
 * has fewer paths), or -1 when out of memory. */
int sieve_synth_draw(const sieve_synth_problem *p, uint64_t key, int k, char **answers);

/* Enumerates paths depth first and writes up to k answers with distinct
 * equation lists, in a fixed order. Returns how many, or -1 on OOM. */
int sieve_synth_enumerate(const sieve_synth_problem *p, int k, char **answers);

/* Hash of an answer's equation list: the <<...>> contents, spaces removed,
 * joined with '|' (the paper's dedup key). Equal lists, equal hashes. */
uint64_t sieve_synth_answer_key(const char *answer);

/* Number of distinct equation lists over every path, counting up to cap
 * (a result equal to cap means "cap or more"). */
int64_t sieve_synth_count_paths(const sieve_synth_problem *p, int64_t cap);

#ifdef __cplusplus
}
#endif
#endif
