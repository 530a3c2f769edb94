/* synth-math internals shared by the builder, the templates and the path
 * walker: the expression DAG, the counter-based RNG and the build context. */
#ifndef SIEVE_SYNTH_INTERNAL_H
#define SIEVE_SYNTH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "synth.h"

#define SYNTH_MAX_NODES 24
#define SYNTH_MAX_KIDS 8
#define SYNTH_MAX_FACTS 12
#define SYNTH_MAX_VALUE 9999 /* every intermediate result stays below 10000 */

enum { SYNTH_LEAF, SYNTH_SUM, SYNTH_MUL, SYNTH_DIV };

/* One quantity. SUM adds its kids (subtracting those with neg set), MUL
 * multiplies them, DIV divides kid 0 by kid 1 exactly. */
typedef struct synth_node {
    uint8_t kind;
    uint8_t n_kids;
    int8_t kid[SYNTH_MAX_KIDS];
    uint8_t neg[SYNTH_MAX_KIDS];
    int64_t value;
    /* Step sentences, '@' standing for "a+b = <<a+b=r>>r": `done` for the
     * step that finishes this quantity, `part` for one that only combines
     * some of its terms (only reachable after regrouping). */
    char done[112];
    char part[64];
} synth_node;

struct sieve_synth_problem {
    int steps;
    int root;
    int n_nodes;
    synth_node nodes[SYNTH_MAX_NODES];
    char tmpl[16];
    char *question;
};

/* splitmix64: a counter-based stream, so problem i depends on (seed, i) only. */
typedef struct synth_rng {
    uint64_t s;
} synth_rng;

static inline uint64_t synth_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t synth_next(synth_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return synth_mix(r->s);
}

/* Uniform in [lo, hi] (hi >= lo). */
static inline int64_t synth_range(synth_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(synth_next(r) % (uint64_t)(hi - lo + 1));
}

/* The state a template builds a problem in. */
typedef struct synth_build {
    sieve_synth_problem *p;
    synth_rng rng;
    char facts[SYNTH_MAX_FACTS][160];
    int n_facts;
    char ask[160];
    const char *hero;   /* the story's main person, for distractors; may be NULL */
    unsigned names_used;
    bool overflow;      /* a table or text limit was hit: reject this attempt */
} synth_build;

/* Builder helpers (synth_build.c). Node ids are ints; -1 never escapes
 * because overflow marks the attempt as rejected instead. */
int synth_leaf(synth_build *b, int64_t v);
int synth_node_new(synth_build *b, int kind, const char *done, const char *part);
void synth_kid(synth_build *b, int u, int kid, bool neg);
void synth_fact(synth_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void synth_ask(synth_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats a label into a node field. */
void synth_label(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Value of a node, or -1 when a subtraction goes negative, a division is
 * not exact, or a value reaches 10000. */
int64_t synth_eval(synth_build *b, int u);
const char *synth_name(synth_build *b);  /* a person's name not used yet */

/* Templates (synth_templates.c): each builds one problem with exactly
 * `steps` steps, or returns false to ask for another random attempt. */
typedef bool (*synth_template_fn)(synth_build *b, int steps);
typedef struct synth_template {
    const char *name;
    synth_template_fn build;
} synth_template;
extern const synth_template synth_templates[];
extern const int synth_n_templates;

/* Paths (synth_paths.c): steps of the default path, or -1 when the DAG is
 * malformed (a node with too many terms, a value that does not check). */
int synth_count_steps(const sieve_synth_problem *p);
/* Largest value any path can produce on the way (a bound). */
int64_t synth_bound(const sieve_synth_problem *p, int u);

#endif
