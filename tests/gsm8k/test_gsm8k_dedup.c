/* Dedup: the bit-parallel edit distance against the textbook dynamic
 * program, and the group's farthest rule against what the paper's dedup
 * keeps on ../shared/data/dedup (195 questions, 9 candidates each). */
#include "gsm8k.h"
#include "jsonl.h"

static size_t dp_distance(const uint32_t *a, size_t m, const uint32_t *b, size_t n)
{
    size_t *row = malloc((n + 1) * sizeof *row);
    for (size_t j = 0; j <= n; j++)
        row[j] = j;
    for (size_t i = 1; i <= m; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[n];
    free(row);
    return d;
}

static void test_bit_parallel_distance_equals_dynamic_program(void)
{
    uint32_t seed = 12345;
    static const uint32_t alphabet[] = {'a', 'b', 'c', ' ', '=', 0xe9, 0x4e2d, 0x1f600};
    uint32_t a[400], b[400];
    int bad = 0;
    for (int trial = 0; trial < 600; trial++) {
        seed = seed * 1664525u + 1013904223u;
        size_t m = (seed >> 8) % 300, n;
        seed = seed * 1664525u + 1013904223u;
        n = trial % 3 == 0 ? m : (seed >> 8) % 300;
        int sigma = 2 + trial % 7;
        for (size_t i = 0; i < m; i++) {
            seed = seed * 1664525u + 1013904223u;
            a[i] = alphabet[(seed >> 12) % (unsigned)sigma];
        }
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            /* often a mutated copy of a, so distances are small too */
            b[i] = (trial & 1) && i < m && (seed >> 20) % 8 ? a[i] : alphabet[(seed >> 12) % (unsigned)sigma];
        }
        long d = sieve_lev_distance2(a, m, b, n);
        size_t want = dp_distance(a, m, b, n);
        if (d != (long)want && bad++ < 5)
            fprintf(stderr, "m=%zu n=%zu: %ld, dp %zu\n", m, n, d, want);
    }
    CHECK(bad == 0);
    /* Lengths at the word boundaries. */
    for (size_t m = 60; m <= 132; m++) {
        for (size_t i = 0; i < m; i++) a[i] = 'x' + (i % 3), b[i] = 'x' + (i % 5);
        CHECK(sieve_lev_distance2(a, m, b, m - 1) == (long)dp_distance(a, m, b, m - 1));
    }
}

static void test_distance_counts_code_points_not_bytes(void)
{
    uint32_t a[16], b[16];
    size_t m = sieve_gsm8k_utf8_decode("caf\xc3\xa9", 5, a);    /* café */
    size_t n = sieve_gsm8k_utf8_decode("cafe", 4, b);
    CHECK(m == 4 && n == 4);
    CHECK(sieve_lev_distance2(a, m, b, n) == 1);              /* bytes would say 2 */
}

typedef struct dd_ctx {
    json_t *expected;      /* qid -> {kept, distinct_equation_lists} */
    long groups, bad;
} dd_ctx;

static void noop_free(void *p) { (void)p; }

static void dedup_one(json_t *o, long line, void *user)
{
    dd_ctx *c = user;
    (void)line;
    const char *qid = json_string_value(json_object_get(o, "qid"));
    json_t *comps = json_object_get(o, "completions");
    sieve_dedup_group *g = sieve_dedup_group_new();
    size_t i;
    json_t *jc;
    json_t *keys = json_object();
    json_array_foreach(comps, i, jc) {
        const char *t = json_string_value(jc);
        size_t len = json_string_length(jc);
        if (!sieve_gsm8k_equations_valid(t, len))
            continue;
        size_t kl;
        char *key = sieve_gsm8k_equation_key(t, len, &kl);
        json_object_set_new(keys, key, json_true());
        int outcome;
        CHECK(sieve_dedup_group_offer(g, key, kl, t, len, (void *)(uintptr_t)(i + 1), noop_free, &outcome) == 0);
        free(key);
    }
    json_t *exp = json_object_get(c->expected, qid);
    json_t *kept = json_object_get(exp, "kept");
    bool same = json_array_size(kept) == sieve_dedup_group_count(g) &&
                (long long)json_object_size(keys) ==
                    json_integer_value(json_object_get(exp, "distinct_equation_lists"));
    for (size_t k = 0; same && k < sieve_dedup_group_count(g); k++)
        same = (uintptr_t)sieve_dedup_group_item(g, k) - 1 ==
               (uintptr_t)json_integer_value(json_array_get(kept, k));
    if (!same) {
        c->bad++;
        fprintf(stderr, "%s: kept", qid);
        for (size_t k = 0; k < sieve_dedup_group_count(g); k++)
            fprintf(stderr, " %zu", (size_t)((uintptr_t)sieve_dedup_group_item(g, k) - 1));
        fprintf(stderr, "\n");
    }
    c->groups++;
    json_decref(keys);
    sieve_dedup_group_free(g, noop_free);
}

static void load_expected(json_t *o, long line, void *user)
{
    (void)line;
    json_object_set(user, json_string_value(json_object_get(o, "qid")), o);
}

static void test_dedup_keeps_what_the_paper_keeps(void)
{
    dd_ctx c = {.expected = json_object()};
    REQUIRE(jsonl_each(shared_path("dedup/expected.jsonl"), load_expected, c.expected) == 195);
    REQUIRE(jsonl_each(shared_path("dedup/candidates.jsonl"), dedup_one, &c) == 195);
    CHECK(c.groups == 195);
    CHECK_MSG(c.bad == 0, "%ld groups differ", c.bad);
    json_decref(c.expected);
}

static void count_free(void *p) { (*(int *)p)++; }

static void test_dedup_farthest_rule_replaces_closer_duplicate(void)
{
    /* Kept: A (key k1) and B (key k2). C has key k1 and is farther from B
     * than A is, so it replaces A in place; D (key k1) is closer, dropped. */
    int freed = 0;
    sieve_dedup_group *g = sieve_dedup_group_new();
    int out;
    const char *A = "aaaa", *B = "aaab", *C = "zzzzzz", *D = "aaaa";
    sieve_dedup_group_offer(g, "k1", 2, A, 4, &freed, count_free, &out);
    CHECK(out == 1);
    sieve_dedup_group_offer(g, "k2", 2, B, 4, &freed, count_free, &out);
    CHECK(out == 1);
    sieve_dedup_group_offer(g, "k1", 2, C, 6, &freed, count_free, &out);
    CHECK(out == 2 && freed == 1);                 /* A handed back */
    sieve_dedup_group_offer(g, "k1", 2, D, 4, &freed, count_free, &out);
    CHECK(out == 0 && freed == 2);                 /* D dropped */
    /* Equal distance is not strictly larger: the kept one stays. */
    sieve_dedup_group_offer(g, "k1", 2, "yyyyyy", 6, &freed, count_free, &out);
    CHECK(out == 0);
    CHECK(sieve_dedup_group_count(g) == 2);
    sieve_dedup_group_free(g, NULL);
}

int main(void)
{
    RUN_TEST(test_bit_parallel_distance_equals_dynamic_program);
    RUN_TEST(test_distance_counts_code_points_not_bytes);
    RUN_TEST(test_dedup_keeps_what_the_paper_keeps);
    RUN_TEST(test_dedup_farthest_rule_replaces_closer_duplicate);
    return sieve_test_summary();
}
