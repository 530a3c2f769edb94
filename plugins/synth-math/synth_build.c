/* synth-math: building one problem. Draws a step count and a template from
 * the (seed, index, attempt) stream, lets the template build the DAG and the
 * sentences, adds distractor sentences, and keeps the problem only when its
 * question hashes into the requested split. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

static const char *const names[] = {
    "Ann", "Ben", "Tom", "Mia", "Sam", "Lily", "Max", "Zoe",
    "Leo", "Ava", "Jack", "Emma", "Noah", "Ella", "Owen", "Rosa",
};

static const char *const pets[] = {"cats", "dogs", "fish", "birds", "plants"};

const char *synth_name(synth_build *b)
{
    int n = (int)(sizeof names / sizeof names[0]);
    for (int tries = 0; tries < 64; tries++) {
        int i = (int)synth_range(&b->rng, 0, n - 1);
        if (!(b->names_used & (1u << i))) {
            b->names_used |= 1u << i;
            return names[i];
        }
    }
    for (int i = 0; i < n; i++)
        if (!(b->names_used & (1u << i))) {
            b->names_used |= 1u << i;
            return names[i];
        }
    b->overflow = true;
    return names[0];
}

static int new_node(synth_build *b)
{
    sieve_synth_problem *p = b->p;
    if (p->n_nodes >= SYNTH_MAX_NODES) {
        b->overflow = true;
        return 0;
    }
    int u = p->n_nodes++;
    memset(&p->nodes[u], 0, sizeof p->nodes[u]);
    p->nodes[u].value = -1;
    return u;
}

int synth_leaf(synth_build *b, int64_t v)
{
    int u = new_node(b);
    b->p->nodes[u].kind = SYNTH_LEAF;
    b->p->nodes[u].value = v;
    return u;
}

int synth_node_new(synth_build *b, int kind, const char *done, const char *part)
{
    int u = new_node(b);
    synth_node *n = &b->p->nodes[u];
    n->kind = (uint8_t)kind;
    snprintf(n->done, sizeof n->done, "%s", done ? done : "That is @.");
    snprintf(n->part, sizeof n->part, "%s", part ? part : "That is @.");
    return u;
}

void synth_kid(synth_build *b, int u, int kid, bool neg)
{
    synth_node *n = &b->p->nodes[u];
    if (n->n_kids >= SYNTH_MAX_KIDS) {
        b->overflow = true;
        return;
    }
    n->kid[n->n_kids] = (int8_t)kid;
    n->neg[n->n_kids] = neg;
    n->n_kids++;
}

void synth_label(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

void synth_fact(synth_build *b, const char *fmt, ...)
{
    if (b->n_facts >= SYNTH_MAX_FACTS) {
        b->overflow = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->facts[b->n_facts++], sizeof b->facts[0], fmt, ap);
    va_end(ap);
}

void synth_ask(synth_build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->ask, sizeof b->ask, fmt, ap);
    va_end(ap);
}

int64_t synth_eval(synth_build *b, int u)
{
    synth_node *n = &b->p->nodes[u];
    if (n->kind == SYNTH_LEAF)
        return n->value;
    int64_t v = n->kind == SYNTH_MUL ? 1 : 0;
    for (int k = 0; k < n->n_kids; k++) {
        int64_t x = synth_eval(b, n->kid[k]);
        if (x < 0)
            return -1;
        if (n->kind == SYNTH_SUM)
            v += n->neg[k] ? -x : x;
        else if (n->kind == SYNTH_MUL)
            v *= x;
        else if (k == 0)
            v = x;
        else if (x == 0 || v % x != 0)
            return -1;
        else
            v /= x;
        if (v > SYNTH_MAX_VALUE)
            return -1;
    }
    if (v < 0)
        return -1;
    n->value = v;
    return v;
}

/* FNV-1a over the question, then mixed: the split is a function of the
 * text alone, so no question can be in both splits. */
static int split_of(const char *q)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *s = (const unsigned char *)q; *s; s++) {
        h ^= *s;
        h *= 0x100000001b3ULL;
    }
    return (int)(synth_mix(h ^ 0x5eed5eed5eedULL) & 1);
}

static void add_distractors(synth_build *b, int max)
{
    int n = max > 0 ? (int)synth_range(&b->rng, 0, max) : 0;
    for (int d = 0; d < n && b->n_facts < SYNTH_MAX_FACTS; d++) {
        char text[160];
        int kind = (int)synth_range(&b->rng, 0, b->hero ? 2 : 1);
        int64_t v = synth_range(&b->rng, 2, 40);
        const char *pet = pets[synth_range(&b->rng, 0, (int)(sizeof pets / sizeof pets[0]) - 1)];
        if (kind == 0)
            snprintf(text, sizeof text, "%s is %lld years old.",
                     b->hero && synth_range(&b->rng, 0, 1) ? b->hero : synth_name(b),
                     (long long)(v + 5));
        else if (kind == 1)
            snprintf(text, sizeof text, "%s has %lld %s.", synth_name(b), (long long)v, pet);
        else
            snprintf(text, sizeof text, "%s also has %lld %s.", b->hero, (long long)v, pet);
        /* Anywhere among the facts, never after the question. */
        int at = (int)synth_range(&b->rng, 0, b->n_facts);
        memmove(b->facts[at + 1], b->facts[at], (size_t)(b->n_facts - at) * sizeof b->facts[0]);
        memcpy(b->facts[at], text, sizeof text);
        b->n_facts++;
    }
}

static char *join_question(const synth_build *b)
{
    size_t len = strlen(b->ask) + 1;
    for (int i = 0; i < b->n_facts; i++)
        len += strlen(b->facts[i]) + 1;
    char *q = malloc(len);
    if (!q)
        return NULL;
    size_t at = 0;
    for (int i = 0; i < b->n_facts; i++)
        at += (size_t)sprintf(q + at, "%s ", b->facts[i]);
    sprintf(q + at, "%s", b->ask);
    return q;
}

/* One attempt: a step count and template drawn from the stream, then the
 * template's own random choices. False when the attempt is rejected. */
static bool attempt(const sieve_synth_opts *o, int steps, synth_build *b)
{
    sieve_synth_problem *p = b->p;
    int allowed[16], n_allowed = 0;
    for (int i = 0; i < synth_n_templates; i++)
        if (!o->templates || (o->templates & (1u << i)))
            allowed[n_allowed++] = i;
    const synth_template *t = &synth_templates[allowed[synth_range(&b->rng, 0, n_allowed - 1)]];
    /* A template's random choices hit a given step count only sometimes. */
    for (int tries = 0; tries < 64; tries++) {
        memset(p->nodes, 0, sizeof p->nodes);
        p->n_nodes = 0;
        b->n_facts = 0;
        b->ask[0] = 0;
        b->hero = NULL;
        b->names_used = 0;
        b->overflow = false;
        if (!t->build(b, steps) || b->overflow)
            continue;
        if (synth_eval(b, p->root) < 0 || synth_bound(p, p->root) > SYNTH_MAX_VALUE)
            continue;
        if (synth_count_steps(p) != steps)
            continue;
        /* The point of the generator: more than one way to solve each one. */
        if (sieve_synth_count_paths(p, 2) < 2)
            continue;
        p->steps = steps;
        snprintf(p->tmpl, sizeof p->tmpl, "%s", t->name);
        add_distractors(b, o->max_distractors);
        return true;
    }
    return false;
}

sieve_status sieve_synth_generate(const sieve_synth_opts *o, int64_t index,
                                  sieve_synth_problem **out, sieve_err *err)
{
    *out = NULL;
    if (o->split != SIEVE_SYNTH_TRAIN && o->split != SIEVE_SYNTH_TEST)
        return sieve_fail(err, "synth-math: split must be train or test");
    if (o->min_steps < SIEVE_SYNTH_MIN_STEPS || o->max_steps > SIEVE_SYNTH_MAX_STEPS ||
        o->min_steps > o->max_steps)
        return sieve_fail(err, "synth-math: need %d <= min_steps (%d) <= max_steps (%d) <= %d",
                          SIEVE_SYNTH_MIN_STEPS, o->min_steps, o->max_steps,
                          SIEVE_SYNTH_MAX_STEPS);
    if (o->max_distractors < 0 || o->max_distractors > 3)
        return sieve_fail(err, "synth-math: distractors must be 0..3, not %d",
                          o->max_distractors);
    if (o->templates >> synth_n_templates)
        return sieve_fail(err, "synth-math: template mask 0x%x names templates beyond %d",
                          o->templates, synth_n_templates);
    if (index < 0)
        return sieve_fail(err, "synth-math: negative problem index %lld", (long long)index);
    synth_build *b = calloc(1, sizeof *b);
    sieve_synth_problem *p = calloc(1, sizeof *p);
    if (!b || !p) {
        free(b);
        free(p);
        return sieve_fail(err, "synth-math: out of memory");
    }
    b->p = p;
    uint64_t key = synth_mix(synth_mix(o->seed ^ 0x73796e7468ULL) + (uint64_t)index);
    /* The step count comes first and stays fixed over the attempts, so
     * problems spread evenly over min_steps..max_steps whichever shapes
     * the templates find easy to hit. */
    synth_rng first = {key};
    int steps = (int)synth_range(&first, o->min_steps, o->max_steps);
    /* Half the questions fall in each split, so a few attempts suffice;
     * the bound only guards against a template that never succeeds. */
    for (uint64_t a = 0; a < 4096; a++) {
        b->rng.s = key + synth_mix(a + 1);
        if (!attempt(o, steps, b))
            continue;
        char *q = join_question(b);
        if (!q)
            break;
        if (split_of(q) != o->split) {
            free(q);
            continue;
        }
        p->question = q;
        free(b);
        *out = p;
        return SIEVE_OK;
    }
    free(b);
    free(p);
    return sieve_fail(err, "synth-math: could not make problem %lld with %d steps",
                      (long long)index, steps);
}

void sieve_synth_free(sieve_synth_problem *p)
{
    if (!p)
        return;
    free(p->question);
    free(p);
}

const char *sieve_synth_question(const sieve_synth_problem *p) { return p->question; }
int64_t sieve_synth_gold(const sieve_synth_problem *p) { return p->nodes[p->root].value; }
int sieve_synth_steps(const sieve_synth_problem *p) { return p->steps; }
const char *sieve_synth_template(const sieve_synth_problem *p) { return p->tmpl; }

int sieve_synth_n_templates(void) { return synth_n_templates; }

const char *sieve_synth_template_name(int i)
{
    return i >= 0 && i < synth_n_templates ? synth_templates[i].name : NULL;
}

int sieve_synth_template_index(const char *name)
{
    for (int i = 0; i < synth_n_templates; i++)
        if (!strcmp(synth_templates[i].name, name))
            return i;
    return -1;
}
