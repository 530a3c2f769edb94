/* synth-math: solution paths. A path is a sequence of binary steps that
 * evaluates the problem's DAG. The walker keeps, for every quantity still to
 * compute, the list of its terms; a step combines two terms that are known
 * (leaves or finished quantities) into one. That alone gives every order of
 * independent sub-results, both operand orders of + and *, and every
 * grouping inside one sum or product. Before walking, some quantities may be
 * "inlined" into their only user (a sum inside a sum, a product inside a
 * product, 2*x inside a sum as x+x), which gives the regroupings across
 * quantities (50-(12+9) versus 50-12-9, 2*x+y versus x+x+y) without changing
 * the number of steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

#define MAX_ITEMS 8   /* terms of one quantity: at most steps + 1 = 7 */
#define MAX_DEPTH 8   /* steps of one path */
#define MAX_MOVES 512

typedef struct pitem {
    int64_t v;     /* the value when ref < 0 */
    int8_t ref;    /* >= 0: the quantity this term waits for */
    uint8_t neg;   /* subtracted (sums only) */
} pitem;

typedef struct pstate {
    pitem it[SYNTH_MAX_NODES][MAX_ITEMS];
    uint8_t n[SYNTH_MAX_NODES];
    uint8_t active[SYNTH_MAX_NODES]; /* computed by this path (not inlined) */
    uint8_t done[SYNTH_MAX_NODES];
    int64_t val[SYNTH_MAX_NODES];
} pstate;

typedef struct pstep {
    int8_t node;
    char op;
    uint8_t completes;
    int64_t a, b, r;
} pstep;

typedef struct pmove {
    int8_t u, i, j;
} pmove;

/* What inlining may do, worked out once per problem. */
typedef struct pinfo {
    const sieve_synth_problem *p;
    int n_inl;
    int inl[SYNTH_MAX_NODES]; /* inlinable nodes, in node order */
    int8_t parent[SYNTH_MAX_NODES];
    uint8_t reach[SYNTH_MAX_NODES];
    uint8_t doubled[SYNTH_MAX_NODES]; /* 2*x inlined into a sum as x+x */
} pinfo;

static bool is_two(const sieve_synth_problem *p, int u)
{
    return p->nodes[u].kind == SYNTH_LEAF && p->nodes[u].value == 2;
}

static void mark_reach(pinfo *pi, int u, int from)
{
    const synth_node *n = &pi->p->nodes[u];
    if (from >= 0) {
        /* -1: no user yet; -2: several users (shared, never inlined). */
        pi->parent[u] = pi->parent[u] == -1 && !pi->reach[u] ? (int8_t)from : -2;
    }
    if (pi->reach[u])
        return;
    pi->reach[u] = 1;
    for (int k = 0; k < n->n_kids; k++)
        mark_reach(pi, n->kid[k], u);
}

static void analyse(const sieve_synth_problem *p, pinfo *pi)
{
    memset(pi, 0, sizeof *pi);
    pi->p = p;
    memset(pi->parent, -1, sizeof pi->parent);
    mark_reach(pi, p->root, -1);
    for (int c = 0; c < p->n_nodes; c++) {
        const synth_node *n = &p->nodes[c];
        if (!pi->reach[c] || c == p->root || n->kind == SYNTH_LEAF || pi->parent[c] < 0)
            continue;
        int u = pi->parent[c];
        int pk = p->nodes[u].kind;
        if ((n->kind == SYNTH_SUM && pk == SYNTH_SUM) || (n->kind == SYNTH_MUL && pk == SYNTH_MUL)) {
            pi->inl[pi->n_inl++] = c;
        } else if (n->kind == SYNTH_MUL && pk == SYNTH_SUM && n->n_kids == 2 &&
                   (is_two(p, n->kid[0]) || is_two(p, n->kid[1]))) {
            pi->doubled[c] = 1;
            pi->inl[pi->n_inl++] = c;
        }
    }
}

static bool push_item(pstate *st, int u, int ref, int64_t v, bool neg)
{
    if (st->n[u] >= MAX_ITEMS)
        return false;
    pitem *it = &st->it[u][st->n[u]++];
    it->ref = (int8_t)ref;
    it->v = v;
    it->neg = neg;
    return true;
}

/* Adds term c (with sign neg) to quantity u, expanding inlined ones. */
static bool expand(const pinfo *pi, const uint8_t *inlined, pstate *st, int u, int c, bool neg)
{
    const synth_node *n = &pi->p->nodes[c];
    if (n->kind == SYNTH_LEAF)
        return push_item(st, u, -1, n->value, neg);
    if (!inlined[c])
        return push_item(st, u, c, 0, neg);
    if (pi->doubled[c]) {
        int x = is_two(pi->p, n->kid[0]) ? n->kid[1] : n->kid[0];
        if (inlined[x])
            return false; /* x is already spread into c: not both */
        for (int t = 0; t < 2; t++) {
            bool ok = pi->p->nodes[x].kind == SYNTH_LEAF
                          ? push_item(st, u, -1, pi->p->nodes[x].value, neg)
                          : push_item(st, u, x, 0, neg);
            if (!ok)
                return false;
        }
        return true;
    }
    for (int k = 0; k < n->n_kids; k++)
        if (!expand(pi, inlined, st, u, n->kid[k], n->kind == SYNTH_SUM && (neg ^ n->neg[k])))
            return false;
    return true;
}

/* The starting state for one choice of inlined quantities (bit i of mask
 * inlines pi->inl[i]). False when that choice is not a valid one. */
static bool init_state(const pinfo *pi, uint32_t mask, pstate *st)
{
    const sieve_synth_problem *p = pi->p;
    uint8_t inlined[SYNTH_MAX_NODES] = {0};
    for (int i = 0; i < pi->n_inl; i++)
        if (mask & (1u << i))
            inlined[pi->inl[i]] = 1;
    memset(st, 0, sizeof *st);
    for (int u = 0; u < p->n_nodes; u++) {
        const synth_node *n = &p->nodes[u];
        if (n->kind == SYNTH_LEAF) {
            st->done[u] = 1;
            st->val[u] = n->value;
        }
        if (!pi->reach[u] || n->kind == SYNTH_LEAF || inlined[u])
            continue;
        st->active[u] = 1;
        for (int k = 0; k < n->n_kids; k++)
            if (!expand(pi, inlined, st, u, n->kid[k], n->neg[k]))
                return false;
    }
    return true;
}

static bool ready(const pstate *st, const pitem *it)
{
    return it->ref < 0 || st->done[it->ref];
}

static int64_t value_of(const pstate *st, const pitem *it)
{
    return it->ref < 0 ? it->v : st->val[it->ref];
}

/* Every step possible from st, in a fixed order (node, then first term,
 * then second term). */
static int list_moves(const sieve_synth_problem *p, const pstate *st, pmove *out)
{
    int n = 0;
    for (int u = 0; u < p->n_nodes; u++) {
        if (!st->active[u] || st->done[u])
            continue;
        int kind = p->nodes[u].kind;
        for (int i = 0; i < st->n[u]; i++) {
            const pitem *a = &st->it[u][i];
            if (!ready(st, a))
                continue;
            for (int j = 0; j < st->n[u]; j++) {
                const pitem *b = &st->it[u][j];
                if (j == i || !ready(st, b))
                    continue;
                bool ok;
                if (kind == SYNTH_SUM)
                    /* a+b of two terms of one sign; a-b never below zero. */
                    ok = a->neg == b->neg || (!a->neg && value_of(st, a) >= value_of(st, b));
                else if (kind == SYNTH_MUL)
                    ok = true;
                else
                    ok = i == 0 && j == 1;
                if (ok && n < MAX_MOVES)
                    out[n++] = (pmove){(int8_t)u, (int8_t)i, (int8_t)j};
            }
        }
    }
    return n;
}

static void apply(const sieve_synth_problem *p, pstate *st, pmove m, pstep *step)
{
    int u = m.u;
    pitem *a = &st->it[u][m.i], *b = &st->it[u][m.j];
    int64_t x = value_of(st, a), y = value_of(st, b), r;
    char op;
    bool neg = a->neg;
    switch (p->nodes[u].kind) {
    case SYNTH_SUM:
        op = a->neg == b->neg ? '+' : '-';
        r = op == '+' ? x + y : x - y;
        break;
    case SYNTH_MUL:
        op = '*';
        r = x * y;
        break;
    default:
        op = '/';
        r = x / y;
        break;
    }
    /* The result takes the first term's place; the second one goes. */
    *a = (pitem){r, -1, neg};
    memmove(b, b + 1, (size_t)(st->n[u] - m.j - 1) * sizeof *b);
    st->n[u]--;
    *step = (pstep){(int8_t)u, op, 0, x, y, r};
    if (st->n[u] == 1) {
        st->done[u] = 1;
        st->val[u] = r;
        step->completes = 1;
    }
}

static int fmt_eq(char *buf, size_t cap, const pstep *s)
{
    return snprintf(buf, cap, "%lld%c%lld", (long long)s->a, s->op, (long long)s->b);
}

/* Hash of the equation list "a+b=r|c*d=e|...", the paper's dedup key. */
static uint64_t path_key(const pstep *steps, int n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    char buf[96];
    for (int s = 0; s < n; s++) {
        int len = fmt_eq(buf, sizeof buf, &steps[s]);
        len += snprintf(buf + len, sizeof buf - (size_t)len, "=%lld|", (long long)steps[s].r);
        for (int c = 0; c < len; c++) {
            h ^= (unsigned char)buf[c];
            h *= 0x100000001b3ULL;
        }
    }
    return synth_mix(h) | 1; /* never 0: 0 marks an empty slot */
}

uint64_t sieve_synth_answer_key(const char *answer)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *a = strstr(answer, "<<"); a; a = strstr(a, "<<")) {
        const char *end = strstr(a + 2, ">>");
        if (!end)
            break;
        for (const char *c = a + 2; c <= end; c++) {
            /* '>' of ">>" stands in for path_key's '|' separator. */
            unsigned char ch = c == end ? '|' : (unsigned char)*c;
            if (ch == ' ')
                continue;
            h ^= ch;
            h *= 0x100000001b3ULL;
        }
        a = end + 2;
    }
    return synth_mix(h) | 1;
}

static char *render(const sieve_synth_problem *p, const pstep *steps, int n)
{
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (int s = 0; s < n; s++) {
        const synth_node *node = &p->nodes[steps[s].node];
        const char *label = steps[s].completes ? node->done : node->part;
        char eq[64], line[320];
        fmt_eq(eq, sizeof eq, &steps[s]);
        const char *at = strchr(label, '@');
        int pre = at ? (int)(at - label) : (int)strlen(label);
        int l = snprintf(line, sizeof line, "%.*s%s = <<%s=%lld>>%lld%s\n", pre, label, eq, eq,
                         (long long)steps[s].r, (long long)steps[s].r, at ? at + 1 : "");
        if (len + (size_t)l + 32 > cap) {
            cap = 2 * cap + (size_t)l + 32;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, line, (size_t)l);
        len += (size_t)l;
    }
    snprintf(out + len, cap - len, "#### %lld", (long long)p->nodes[p->root].value);
    return out;
}

/* Walks from the start state taking, at each state, the move chosen by
 * pick (NULL: the first one, for the default path). Returns the number of
 * steps, or -1 when a value does not check against the DAG. */
static int walk(const pinfo *pi, uint32_t mask, synth_rng *pick, pstep *steps)
{
    const sieve_synth_problem *p = pi->p;
    pstate st;
    pmove moves[MAX_MOVES];
    if (!init_state(pi, mask, &st))
        return -1;
    int n = 0;
    while (!st.done[p->root]) {
        int nm = list_moves(p, &st, moves);
        if (nm == 0 || n >= MAX_DEPTH)
            return -1;
        pmove m = moves[0];
        if (pick) {
            m = moves[synth_range(pick, 0, nm - 1)];
        } else {
            for (int k = 0; k < nm; k++)
                if (moves[k].i < moves[k].j) { /* story order: earlier term first */
                    m = moves[k];
                    break;
                }
        }
        apply(p, &st, m, &steps[n]);
        if (steps[n].completes && st.val[m.u] != p->nodes[m.u].value)
            return -1;
        n++;
    }
    return n;
}

int synth_count_steps(const sieve_synth_problem *p)
{
    pinfo pi;
    pstep steps[MAX_DEPTH];
    analyse(p, &pi);
    return walk(&pi, 0, NULL, steps);
}

int64_t synth_bound(const sieve_synth_problem *p, int u)
{
    const synth_node *n = &p->nodes[u];
    if (n->kind == SYNTH_LEAF)
        return n->value;
    if (n->kind == SYNTH_DIV)
        return synth_bound(p, n->kid[0]);
    int64_t b = n->kind == SYNTH_MUL ? 1 : 0;
    for (int k = 0; k < n->n_kids; k++) {
        int64_t x = synth_bound(p, n->kid[k]);
        b = n->kind == SYNTH_MUL ? b * x : b + x;
        if (b > 1000000)
            return 1000000;
    }
    return b;
}

char *sieve_synth_canonical(const sieve_synth_problem *p)
{
    pinfo pi;
    pstep steps[MAX_DEPTH];
    analyse(p, &pi);
    int n = walk(&pi, 0, NULL, steps);
    return n < 0 ? NULL : render(p, steps, n);
}

/* ---- a set of path keys (open addressing; 0 is empty) ---- */
typedef struct keyset {
    uint64_t *slot;
    size_t cap; /* power of two */
    size_t n;
} keyset;

static bool keyset_init(keyset *s, size_t want)
{
    s->cap = 64;
    while (s->cap < 2 * want + 2)
        s->cap *= 2;
    s->n = 0;
    s->slot = calloc(s->cap, sizeof *s->slot);
    return s->slot != NULL;
}

/* True when key was not there (and is now). */
static bool keyset_add(keyset *s, uint64_t key)
{
    size_t i = (size_t)key & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == key)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = key;
    s->n++;
    return true;
}

int sieve_synth_draw(const sieve_synth_problem *p, uint64_t key, int k, char **answers)
{
    if (k <= 0)
        return 0;
    pinfo pi;
    keyset seen;
    analyse(p, &pi);
    if (!keyset_init(&seen, (size_t)k))
        return -1;
    int got = 0;
    /* Random walks repeat paths; enough tries to find k distinct ones when
     * the problem has them, bounded when it has fewer. */
    int64_t tries = 64 + 32 * (int64_t)k;
    for (int64_t t = 0; t < tries && got < k; t++) {
        synth_rng r = {synth_mix(key ^ 0x70617468ULL) + synth_mix((uint64_t)t + 1)};
        uint32_t mask = (uint32_t)synth_next(&r) & ((1u << pi.n_inl) - 1u);
        pstep steps[MAX_DEPTH];
        int n = walk(&pi, mask, &r, steps);
        if (n < 0 || !keyset_add(&seen, path_key(steps, n)))
            continue;
        answers[got] = render(p, steps, n);
        if (!answers[got]) {
            for (int i = 0; i < got; i++)
                free(answers[i]);
            free(seen.slot);
            return -1;
        }
        got++;
    }
    free(seen.slot);
    return got;
}

/* ---- exhaustive enumeration ---- */
typedef struct dfs {
    const pinfo *pi;
    pstep steps[MAX_DEPTH];
    keyset seen;
    int64_t cap;        /* stop after this many distinct lists */
    int64_t budget;     /* complete paths left to look at */
    char **answers;     /* NULL when only counting */
    bool oom;
} dfs;

static void dfs_run(dfs *d, const pstate *st, int depth)
{
    const sieve_synth_problem *p = d->pi->p;
    if ((int64_t)d->seen.n >= d->cap || d->budget <= 0 || d->oom)
        return;
    if (st->done[p->root]) {
        d->budget--;
        if (keyset_add(&d->seen, path_key(d->steps, depth)) && d->answers) {
            char *a = render(p, d->steps, depth);
            if (!a)
                d->oom = true;
            d->answers[d->seen.n - 1] = a;
        }
        return;
    }
    if (depth >= MAX_DEPTH)
        return;
    pmove moves[MAX_MOVES];
    int nm = list_moves(p, st, moves);
    for (int k = 0; k < nm; k++) {
        pstate next = *st;
        apply(p, &next, moves[k], &d->steps[depth]);
        dfs_run(d, &next, depth + 1);
    }
}

static int64_t enumerate(const sieve_synth_problem *p, int64_t cap, char **answers, bool *oom)
{
    pinfo pi;
    analyse(p, &pi);
    dfs *d = calloc(1, sizeof *d);
    if (!d || !keyset_init(&d->seen, (size_t)cap)) {
        free(d);
        *oom = true;
        return -1;
    }
    d->pi = &pi;
    d->cap = cap;
    d->budget = 200000;
    d->answers = answers;
    pstate *st = malloc(sizeof *st);
    if (!st) {
        d->oom = true;
    } else {
        for (uint32_t mask = 0; mask < (1u << pi.n_inl); mask++)
            if (init_state(&pi, mask, st))
                dfs_run(d, st, 0);
    }
    int64_t n = (int64_t)d->seen.n;
    *oom = d->oom;
    free(st);
    free(d->seen.slot);
    free(d);
    return n;
}

int64_t sieve_synth_count_paths(const sieve_synth_problem *p, int64_t cap)
{
    bool oom = false;
    if (cap <= 0)
        return 0;
    int64_t n = enumerate(p, cap, NULL, &oom);
    return oom ? -1 : n;
}

int sieve_synth_enumerate(const sieve_synth_problem *p, int k, char **answers)
{
    bool oom = false;
    if (k <= 0)
        return 0;
    for (int i = 0; i < k; i++)
        answers[i] = NULL;
    int64_t n = enumerate(p, k, answers, &oom);
    if (oom) {
        for (int i = 0; i < k; i++)
            free(answers[i]);
        return -1;
    }
    return (int)n;
}
