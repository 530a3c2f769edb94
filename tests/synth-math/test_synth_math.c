/* synth-math generator tests. Answers are checked with this file's own
 * expression evaluator and annotation parser (nothing from the generator),
 * against the GSM8K format rules, and small problems against solution sets
 * enumerated by hand. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"
#include "testlib.h"

/* ---- an independent evaluator for annotation left-hand sides ---- */
typedef struct ev {
    const char *s;
    bool bad;
} ev;

static double ev_expr(ev *e);

static double ev_factor(ev *e)
{
    if (*e->s == '(') {
        e->s++;
        double v = ev_expr(e);
        if (*e->s != ')')
            e->bad = true;
        else
            e->s++;
        return v;
    }
    if (*e->s < '0' || *e->s > '9') {
        e->bad = true;
        return 0;
    }
    double v = 0;
    while (*e->s >= '0' && *e->s <= '9')
        v = v * 10 + (*e->s++ - '0');
    return v;
}

static double ev_term(ev *e)
{
    double v = ev_factor(e);
    while (*e->s == '*' || *e->s == '/') {
        char op = *e->s++;
        double w = ev_factor(e);
        if (op == '/' && w == 0)
            e->bad = true;
        v = op == '*' ? v * w : (w ? v / w : 0);
    }
    return v;
}

static double ev_expr(ev *e)
{
    double v = ev_term(e);
    while (*e->s == '+' || *e->s == '-') {
        char op = *e->s++;
        double w = ev_term(e);
        v = op == '+' ? v + w : v - w;
    }
    return v;
}

/* Evaluates s[0..len); false when it is not a plain arithmetic expression. */
static bool eval_expr(const char *s, size_t len, double *out)
{
    char buf[128];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    ev e = {buf, false};
    *out = ev_expr(&e);
    return !e.bad && *e.s == 0;
}

/* ---- reading an answer ---- */
typedef struct parsed {
    int n;                  /* annotations */
    double result[16];
    char key[1024];         /* "lhs=rhs|lhs=rhs|..." */
    long long final;        /* the number after "#### " */
    bool ok;                /* format and arithmetic held */
    char why[256];
} parsed;

static void parse_answer(const char *answer, parsed *p)
{
    memset(p, 0, sizeof *p);
    p->ok = true;
    const char *line = answer;
    size_t keylen = 0;
    while (true) {
        const char *nl = strchr(line, '\n');
        if (!nl) {
            char *end;
            if (strncmp(line, "#### ", 5) != 0) {
                p->ok = false;
                snprintf(p->why, sizeof p->why, "last line '%s'", line);
                return;
            }
            p->final = strtoll(line + 5, &end, 10);
            if (*end || end == line + 5) {
                p->ok = false;
                snprintf(p->why, sizeof p->why, "final '%s'", line);
            }
            return;
        }
        const char *open = strstr(line, "<<"), *close = open ? strstr(open, ">>") : NULL;
        const char *eq = open ? memchr(open, '=', (size_t)(close ? close - open : 0)) : NULL;
        if (!open || !close || close > nl || !eq || p->n >= 16) {
            p->ok = false;
            snprintf(p->why, sizeof p->why, "no annotation in '%.*s'", (int)(nl - line), line);
            return;
        }
        const char *lhs = open + 2;
        size_t lhs_len = (size_t)(eq - lhs), rhs_len = (size_t)(close - eq - 1);
        double v, r;
        char rhs[32];
        snprintf(rhs, sizeof rhs, "%.*s", (int)rhs_len, eq + 1);
        r = strtod(rhs, NULL);
        if (!eval_expr(lhs, lhs_len, &v) || v - r > 1e-3 || r - v > 1e-3) {
            p->ok = false;
            snprintf(p->why, sizeof p->why, "bad annotation '%.*s'", (int)(close - open + 2),
                     open);
        }
        /* GSM8K's form: "lhs = <<lhs=rhs>>rhs". */
        if ((size_t)(open - line) < lhs_len + 3 || memcmp(open - lhs_len - 3, lhs, lhs_len) ||
            memcmp(open - 3, " = ", 3) || strncmp(close + 2, rhs, rhs_len)) {
            p->ok = false;
            snprintf(p->why, sizeof p->why, "not 'e = <<e=r>>r': '%.*s'", (int)(nl - line),
                     line);
        }
        p->result[p->n++] = r;
        keylen += (size_t)snprintf(p->key + keylen, sizeof p->key - keylen, "%s%.*s",
                                   p->n > 1 ? "|" : "", (int)(close - lhs), lhs);
        line = nl + 1;
    }
}

/* Numbers of a question, with "twice" and "half" standing for 2. */
static int question_numbers(const char *q, long long *out, int cap)
{
    int n = 0;
    for (const char *s = q; *s && n < cap; s++)
        if (*s >= '0' && *s <= '9' && (s == q || s[-1] < '0' || s[-1] > '9'))
            out[n++] = strtoll(s, NULL, 10);
    if ((strstr(q, "twice") || strstr(q, "half")) && n < cap)
        out[n++] = 2;
    return n;
}

/* Every operand of every annotation is a number of the question or the
 * result of an earlier step. */
static bool grounded(const char *q, const char *answer, char *why, size_t why_len)
{
    long long known[64];
    int nk = question_numbers(q, known, 48);
    for (const char *a = strstr(answer, "<<"); a; a = strstr(a, "<<")) {
        a += 2;
        const char *eq = strchr(a, '=');
        for (const char *s = a; s < eq; s++) {
            if (*s < '0' || *s > '9' || (s > a && s[-1] >= '0' && s[-1] <= '9'))
                continue;
            long long x = strtoll(s, NULL, 10);
            bool found = false;
            for (int i = 0; i < nk; i++)
                found |= known[i] == x;
            if (!found) {
                snprintf(why, why_len, "operand %lld of '%.*s' is not in the question", x,
                         (int)(eq - a), a);
                return false;
            }
        }
        if (nk < 64)
            known[nk++] = strtoll(eq + 1, NULL, 10);
    }
    return true;
}

static sieve_synth_opts opts(uint64_t seed, int split, int lo, int hi)
{
    return (sieve_synth_opts){seed, split, lo, hi, 1, 0};
}

static sieve_synth_problem *make(sieve_synth_opts o, int64_t i)
{
    sieve_synth_problem *p = NULL;
    sieve_err err;
    if (sieve_synth_generate(&o, i, &p, &err) != SIEVE_OK)
        fprintf(stderr, "generate %lld: %s\n", (long long)i, err.msg);
    return p;
}

/* Checks one answer fully; returns its parse. */
static void check_answer(const sieve_synth_problem *p, const char *answer, parsed *pa)
{
    char why[256];
    parse_answer(answer, pa);
    CHECK_MSG(pa->ok, "%s\n%s", pa->why, answer);
    CHECK_MSG(pa->final == sieve_synth_gold(p), "#### %lld, gold %lld", pa->final,
              (long long)sieve_synth_gold(p));
    CHECK_MSG(pa->n > 0 && pa->result[pa->n - 1] == (double)pa->final,
              "last result is not the final answer:\n%s", answer);
    CHECK_MSG(pa->n == sieve_synth_steps(p), "%d annotations, %d steps:\n%s", pa->n,
              sieve_synth_steps(p), answer);
    for (int i = 0; i < pa->n; i++)
        CHECK_MSG(pa->result[i] >= 0 && pa->result[i] < 10000, "result %g", pa->result[i]);
    CHECK_MSG(grounded(sieve_synth_question(p), answer, why, sizeof why), "%s\n%s\n%s", why,
              sieve_synth_question(p), answer);
}

static void test_every_annotation_evaluates_and_the_last_line_is_the_gold_answer(void)
{
    int answers = 0;
    for (int split = 0; split < 2; split++) {
        for (int64_t i = 0; i < 200; i++) {
            sieve_synth_problem *p = make(opts(7, split, 2, 6), i);
            REQUIRE(p);
            parsed pa;
            char *canon = sieve_synth_canonical(p);
            REQUIRE(canon);
            check_answer(p, canon, &pa);
            free(canon);
            char *drawn[8], *listed[8];
            int nd = sieve_synth_draw(p, (uint64_t)i, 8, drawn);
            int nl = sieve_synth_enumerate(p, 8, listed);
            CHECK(nd >= 2 && nl >= 2);
            for (int k = 0; k < nd; k++) {
                check_answer(p, drawn[k], &pa);
                free(drawn[k]);
            }
            for (int k = 0; k < nl; k++) {
                check_answer(p, listed[k], &pa);
                free(listed[k]);
            }
            answers += 1 + nd + nl;
            sieve_synth_free(p);
        }
    }
    fprintf(stderr, "  %d answers checked\n", answers);
}

static void test_step_counts_stay_within_min_and_max_steps(void)
{
    int seen[7] = {0};
    for (int64_t i = 0; i < 150; i++) {
        sieve_synth_problem *p = make(opts(3, 0, 3, 5), i);
        REQUIRE(p);
        int s = sieve_synth_steps(p);
        CHECK(s >= 3 && s <= 5);
        seen[s]++;
        sieve_synth_free(p);
    }
    CHECK(seen[3] > 20 && seen[4] > 20 && seen[5] > 20);
    for (int s = 2; s <= 6; s++) {
        sieve_synth_problem *p = make(opts(4, 1, s, s), 0);
        REQUIRE(p);
        CHECK(sieve_synth_steps(p) == s);
        sieve_synth_free(p);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Questions of one split (two seeds), sorted. */
static char **split_questions(int split, int n)
{
    char **q = calloc(2 * (size_t)n, sizeof *q);
    for (uint64_t seed = 1; q && seed <= 2; seed++)
        for (int64_t i = 0; i < n; i++) {
            sieve_synth_problem *p = make(opts(seed, split, 2, 4), i);
            if (!p)
                return q;
            q[(seed - 1) * (uint64_t)n + (uint64_t)i] = strdup(sieve_synth_question(p));
            sieve_synth_free(p);
        }
    if (q)
        qsort(q, 2 * (size_t)n, sizeof *q, cmp_str);
    return q;
}

static void test_train_and_test_splits_share_no_question(void)
{
    enum { N = 3000 };
    char **train = split_questions(SIEVE_SYNTH_TRAIN, N), **test = split_questions(SIEVE_SYNTH_TEST, N);
    REQUIRE(train && test && train[2 * N - 1] && test[2 * N - 1]);
    int shared = 0, distinct = 0;
    for (int i = 0, j = 0; i < 2 * N && j < 2 * N;) {
        int c = strcmp(train[i], test[j]);
        shared += c == 0;
        if (c <= 0)
            i++;
        else
            j++;
    }
    for (int i = 0; i < 2 * N; i++)
        distinct += i == 0 || strcmp(train[i - 1], train[i]) != 0;
    fprintf(stderr, "  %d train (%d distinct) and %d test questions, %d in both\n", 2 * N,
            distinct, 2 * N, shared);
    CHECK_MSG(shared == 0, "%d questions in both splits", shared);
    CHECK(distinct > 2 * N * 9 / 10); /* seeds and indices give different problems */
    for (int i = 0; i < 2 * N; i++) {
        free(train[i]);
        free(test[i]);
    }
    free(train);
    free(test);
}

/* Everything a problem produces, as one string. */
static char *fingerprint(sieve_synth_opts o, int64_t i)
{
    sieve_synth_problem *p = make(o, i);
    if (!p)
        return NULL;
    char *d[4];
    int nd = sieve_synth_draw(p, 99, 4, d);
    char *c = sieve_synth_canonical(p);
    size_t len = strlen(sieve_synth_question(p)) + strlen(c) + 64;
    for (int k = 0; k < nd; k++)
        len += strlen(d[k]) + 1;
    char *out = malloc(len);
    size_t at = (size_t)sprintf(out, "%s\n%s\n%lld\n", sieve_synth_question(p), c,
                                (long long)sieve_synth_count_paths(p, 500));
    for (int k = 0; k < nd; k++) {
        at += (size_t)sprintf(out + at, "%s\n", d[k]);
        free(d[k]);
    }
    free(c);
    sieve_synth_free(p);
    return out;
}

static void test_same_seed_gives_identical_problems_in_any_order(void)
{
    int differ = 0;
    /* Problem i alone, after others, or in reverse order: same text. */
    char *first[100];
    for (int64_t i = 0; i < 100; i++)
        first[i] = fingerprint(opts(11, 0, 2, 6), i);
    for (int64_t i = 99; i >= 0; i--) {
        char *again = fingerprint(opts(11, 0, 2, 6), i);
        REQUIRE(first[i] && again);
        CHECK_MSG(!strcmp(first[i], again), "problem %lld differs on a second run", (long long)i);
        char *other = fingerprint(opts(12, 0, 2, 6), i);
        differ += strcmp(first[i], other) != 0;
        free(again);
        free(other);
    }
    for (int i = 0; i < 100; i++)
        free(first[i]);
    CHECK_MSG(differ >= 95, "only %d of 100 problems change with the seed", differ);
}

static void test_drawn_paths_have_distinct_equation_lists_and_one_final_answer(void)
{
    int problems = 0, draws = 0;
    for (int64_t i = 0; i < 150; i++) {
        sieve_synth_problem *p = make(opts(5, 0, 2, 6), i);
        REQUIRE(p);
        char *d[16];
        int nd = sieve_synth_draw(p, (uint64_t)i * 31, 16, d);
        int64_t total = sieve_synth_count_paths(p, 1000);
        CHECK_MSG(nd == (total < 16 ? total : 16), "drew %d of %lld paths", nd, (long long)total);
        parsed pa[16];
        for (int k = 0; k < nd; k++) {
            parse_answer(d[k], &pa[k]);
            CHECK(pa[k].ok && pa[k].final == sieve_synth_gold(p));
            for (int j = 0; j < k; j++)
                CHECK_MSG(strcmp(pa[j].key, pa[k].key) != 0, "repeated list %s", pa[k].key);
            free(d[k]);
        }
        problems++;
        draws += nd;
        sieve_synth_free(p);
    }
    fprintf(stderr, "  %d problems, %d distinct paths drawn\n", problems, draws);
}

/* Count, enumeration and random draws describe one set of paths. */
static void test_enumeration_counts_and_contains_every_drawn_path(void)
{
    for (int64_t i = 0; i < 60; i++) {
        sieve_synth_problem *p = make(opts(8, 1, 2, 4), i);
        REQUIRE(p);
        int64_t total = sieve_synth_count_paths(p, 400);
        if (total >= 400) {
            sieve_synth_free(p);
            continue;
        }
        char **all = calloc((size_t)total + 1, sizeof *all);
        int na = sieve_synth_enumerate(p, (int)total + 1, all);
        CHECK_MSG(na == total, "enumerated %d, counted %lld", na, (long long)total);
        parsed *keys = malloc((size_t)(na > 0 ? na : 1) * sizeof *keys);
        for (int k = 0; k < na; k++)
            parse_answer(all[k], &keys[k]);
        char *d[12];
        int nd = sieve_synth_draw(p, 5, 12, d);
        for (int k = 0; k < nd; k++) {
            parsed pd;
            parse_answer(d[k], &pd);
            bool found = false;
            for (int j = 0; j < na && !found; j++)
                found = !strcmp(keys[j].key, pd.key);
            CHECK_MSG(found, "drawn path %s is not enumerated", pd.key);
            free(d[k]);
        }
        for (int k = 0; k < na; k++)
            free(all[k]);
        free(all);
        free(keys);
        sieve_synth_free(p);
    }
}

/* Two shapes whose paths are easy to list by hand:
 *   "X buys Q Ns for $P each. X pays with a $B bill." (change):
 *     Q*P|B-QP and P*Q|B-QP; when Q or P is 2, with x the other factor,
 *     also x+x|B-2x and B-x|(B-x)-x (2*x spelled x+x).
 *   "A has V s. B has N more s than A. How many s do A and B have together?":
 *     V+N|V+(V+N), V+N|(V+N)+V, N+V|V+(N+V), N+V|(N+V)+V, V+V|2V+N, V+V|N+2V. */
static int hand_cases(sieve_synth_problem *p, char expect[8][128])
{
    const char *q = sieve_synth_question(p);
    regex_t re;
    regmatch_t m[6];
    int n = 0;
    regcomp(&re, "^[A-Za-z]+ buys ([0-9]+) [a-z]+ for \\$([0-9]+) each\\. [A-Za-z]+ pays with "
                 "a \\$([0-9]+) bill\\. How many dollars of change",
            REG_EXTENDED);
    if (regexec(&re, q, 6, m, 0) == 0) {
        long long Q = atoll(q + m[1].rm_so), P = atoll(q + m[2].rm_so), B = atoll(q + m[3].rm_so);
        snprintf(expect[n++], 128, "%lld*%lld=%lld|%lld-%lld=%lld", Q, P, Q * P, B, Q * P, B - Q * P);
        snprintf(expect[n++], 128, "%lld*%lld=%lld|%lld-%lld=%lld", P, Q, Q * P, B, Q * P, B - Q * P);
        if (Q == 2 || P == 2) {
            long long x = Q == 2 ? P : Q;
            snprintf(expect[n++], 128, "%lld+%lld=%lld|%lld-%lld=%lld", x, x, 2 * x, B, 2 * x,
                     B - 2 * x);
            snprintf(expect[n++], 128, "%lld-%lld=%lld|%lld-%lld=%lld", B, x, B - x, B - x, x,
                     B - 2 * x);
        }
    }
    regfree(&re);
    regcomp(&re, "^([A-Za-z]+) has ([0-9]+) ([a-z]+)\\. ([A-Za-z]+) has ([0-9]+) more [a-z]+ "
                 "than [A-Za-z]+\\. How many [a-z]+ do [A-Za-z]+ and [A-Za-z]+ have together",
            REG_EXTENDED);
    if (n == 0 && regexec(&re, q, 6, m, 0) == 0) {
        long long V = atoll(q + m[2].rm_so), N = atoll(q + m[5].rm_so), B = V + N;
        const char *fmt[] = {"%lld+%lld=%lld|%lld+%lld=%lld"};
        snprintf(expect[n++], 128, fmt[0], V, N, B, V, B, V + B);
        snprintf(expect[n++], 128, fmt[0], V, N, B, B, V, V + B);
        snprintf(expect[n++], 128, fmt[0], N, V, B, V, B, V + B);
        snprintf(expect[n++], 128, fmt[0], N, V, B, B, V, V + B);
        snprintf(expect[n++], 128, fmt[0], V, V, 2 * V, 2 * V, N, V + B);
        snprintf(expect[n++], 128, fmt[0], V, V, 2 * V, N, 2 * V, V + B);
    }
    regfree(&re);
    /* Equal numbers make some lists coincide: keep distinct ones. */
    int k = 0;
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int j = 0; j < k; j++)
            dup |= !strcmp(expect[j], expect[i]);
        if (!dup)
            memmove(expect[k++], expect[i], 128);
    }
    return k;
}

static void test_small_problems_have_exactly_the_paths_listed_by_hand(void)
{
    int found[2] = {0, 0};
    sieve_synth_opts o = opts(21, 0, 2, 2);
    o.max_distractors = 0;
    for (int64_t i = 0; i < 3000 && (found[0] < 5 || found[1] < 5); i++) {
        sieve_synth_problem *p = make(o, i);
        REQUIRE(p);
        char expect[8][128];
        int ne = hand_cases(p, expect);
        if (ne == 0) {
            sieve_synth_free(p);
            continue;
        }
        found[strstr(sieve_synth_question(p), "bill") ? 0 : 1]++;
        char *all[16];
        int na = sieve_synth_enumerate(p, 16, all);
        CHECK_MSG(na == ne, "%d paths, by hand %d: %s", na, ne, sieve_synth_question(p));
        for (int k = 0; k < na; k++) {
            parsed pa;
            parse_answer(all[k], &pa);
            bool ok = false;
            for (int j = 0; j < ne; j++)
                ok |= !strcmp(expect[j], pa.key);
            CHECK_MSG(ok, "unexpected path %s for %s", pa.key, sieve_synth_question(p));
            free(all[k]);
        }
        sieve_synth_free(p);
    }
    fprintf(stderr, "  hand-checked %d change and %d together problems\n", found[0], found[1]);
    CHECK(found[0] >= 5 && found[1] >= 5);
}

static void test_paths_per_problem_are_reported_and_grow_with_steps(void)
{
    double avg[7] = {0};
    int64_t min_paths = 1 << 30;
    for (int s = 2; s <= 6; s++) {
        int64_t sum = 0;
        for (int64_t i = 0; i < 100; i++) {
            sieve_synth_problem *p = make(opts(1, 0, s, s), i);
            REQUIRE(p);
            int64_t c = sieve_synth_count_paths(p, 1000);
            sum += c;
            if (c < min_paths)
                min_paths = c;
            sieve_synth_free(p);
        }
        avg[s] = (double)sum / 100.0;
    }
    fprintf(stderr, "  distinct equation lists per problem (capped at 1000): "
                    "2 steps %.1f, 3: %.1f, 4: %.1f, 5: %.1f, 6: %.1f; fewest %lld\n",
            avg[2], avg[3], avg[4], avg[5], avg[6], (long long)min_paths);
    CHECK(min_paths >= 2);
    for (int s = 3; s <= 6; s++)
        CHECK(avg[s] > avg[s - 1]);
    CHECK(avg[2] >= 3.0);
}

static void test_templates_option_keeps_only_the_chosen_stories(void)
{
    int shop = sieve_synth_template_index("shop"), groups = sieve_synth_template_index("groups");
    REQUIRE(shop >= 0 && groups >= 0 && sieve_synth_template_index("poetry") == -1);
    sieve_synth_opts o = opts(2, 0, 2, 6);
    o.templates = (1u << shop) | (1u << groups);
    int seen[2] = {0, 0};
    for (int64_t i = 0; i < 100; i++) {
        sieve_synth_problem *p = make(o, i);
        REQUIRE(p);
        const char *t = sieve_synth_template(p);
        CHECK_MSG(!strcmp(t, "shop") || !strcmp(t, "groups"), "template %s", t);
        seen[!strcmp(t, "shop")]++;
        sieve_synth_free(p);
    }
    CHECK(seen[0] > 20 && seen[1] > 20);
}

static void test_bad_options_are_refused_with_a_message(void)
{
    sieve_synth_problem *p = NULL;
    sieve_err err;
    sieve_synth_opts o = opts(1, 0, 1, 4);
    CHECK(sieve_synth_generate(&o, 0, &p, &err) == SIEVE_ERR && strstr(err.msg, "min_steps"));
    o = opts(1, 0, 5, 4);
    CHECK(sieve_synth_generate(&o, 0, &p, &err) == SIEVE_ERR);
    o = opts(1, 2, 2, 4);
    CHECK(sieve_synth_generate(&o, 0, &p, &err) == SIEVE_ERR && strstr(err.msg, "split"));
    o = opts(1, 0, 2, 4);
    o.templates = 1u << 20;
    CHECK(sieve_synth_generate(&o, 0, &p, &err) == SIEVE_ERR && strstr(err.msg, "template"));
    CHECK(p == NULL);
}

int main(void)
{
    RUN_TEST(test_every_annotation_evaluates_and_the_last_line_is_the_gold_answer);
    RUN_TEST(test_step_counts_stay_within_min_and_max_steps);
    RUN_TEST(test_train_and_test_splits_share_no_question);
    RUN_TEST(test_same_seed_gives_identical_problems_in_any_order);
    RUN_TEST(test_drawn_paths_have_distinct_equation_lists_and_one_final_answer);
    RUN_TEST(test_enumeration_counts_and_contains_every_drawn_path);
    RUN_TEST(test_small_problems_have_exactly_the_paths_listed_by_hand);
    RUN_TEST(test_paths_per_problem_are_reported_and_grow_with_steps);
    RUN_TEST(test_templates_option_keeps_only_the_chosen_stories);
    RUN_TEST(test_bad_options_are_refused_with_a_message);
    return sieve_test_summary();
}
