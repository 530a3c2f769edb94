/* The checker's C API against the verdicts of the paper's rules recorded in
 * ../shared/data/checker (2,640 real model solutions and 49 edge cases):
 * extracted answer, correctness and annotation validity, record by record. */
#include <math.h>

#include "gsm8k.h"
#include "jsonl.h"

typedef struct tally { long n, bad_extract, bad_correct, bad_eq; } tally;

static void check_one(json_t *o, long line, void *user)
{
    tally *t = user;
    t->n++;
    json_t *jc = json_object_get(o, "completion");
    const char *comp = json_string_value(jc);
    size_t len = json_string_length(jc);
    const char *gold_s = json_string_value(json_object_get(o, "gold_answer"));
    json_t *jx = json_object_get(o, "extracted");
    char buf[256];
    size_t blen = 0;
    double v = 0;
    bool got = sieve_gsm8k_extract(comp, len, buf, sizeof buf, &blen, &v);
    bool want = json_is_string(jx);
    if (got != want || (got && strcmp(buf, json_string_value(jx)) != 0)) {
        t->bad_extract++;
        fprintf(stderr, "line %ld: extracted %s, expected %s\n", line, got ? buf : "null",
                want ? json_string_value(jx) : "null");
    }
    double gold = 0;
    bool have_gold = sieve_gsm8k_parse_gold(gold_s, strlen(gold_s), &gold);
    CHECK_MSG(have_gold, "line %ld: gold %s", line, gold_s);
    bool correct = got && have_gold && sieve_gsm8k_is_correct(v, gold);
    if (correct != json_is_true(json_object_get(o, "correct"))) {
        t->bad_correct++;
        fprintf(stderr, "line %ld: correct %d\n", line, correct);
    }
    bool eq = sieve_gsm8k_equations_valid(comp, len);
    if (eq != json_is_true(json_object_get(o, "equations_valid"))) {
        t->bad_eq++;
        fprintf(stderr, "line %ld: equations_valid %d: %.200s\n", line, eq, comp);
    }
}

static void run_file(const char *rel, long expect_lines)
{
    tally t = {0};
    long n = jsonl_each(shared_path(rel), check_one, &t);
    CHECK_MSG(n == expect_lines, "%s: %ld lines", rel, n);
    CHECK_MSG(t.bad_extract == 0, "%s: %ld extraction mismatches", rel, t.bad_extract);
    CHECK_MSG(t.bad_correct == 0, "%s: %ld correctness mismatches", rel, t.bad_correct);
    CHECK_MSG(t.bad_eq == 0, "%s: %ld equations_valid mismatches", rel, t.bad_eq);
    fprintf(stderr, "  %s: %ld records agree\n", rel, t.n);
}

static void test_checker_agrees_with_paper_rules_on_conformance_set(void)
{
    run_file("checker/conformance.jsonl", 2640);
}

static void test_checker_agrees_with_paper_rules_on_edge_cases(void)
{
    run_file("checker/edge_cases.jsonl", 49);
}

static void test_extract_takes_first_match_after_failed_position(void)
{
    /* "#### -" cannot match; the regex search moves on to the next "#### ". */
    const char *s = "#### - then #### 1,234.5";
    char buf[32];
    size_t n;
    double v;
    REQUIRE(sieve_gsm8k_extract(s, strlen(s), buf, sizeof buf, &n, &v));
    CHECK(strcmp(buf, "1234.5") == 0 && v == 1234.5);
    /* A first match that is not a number ends the search: no answer. */
    s = "#### 1.2.3\n#### 5";
    CHECK(!sieve_gsm8k_extract(s, strlen(s), buf, sizeof buf, &n, &v));
    s = "##### -7";
    REQUIRE(sieve_gsm8k_extract(s, strlen(s), buf, sizeof buf, &n, &v));
    CHECK(v == -7.0);
}

static bool collect(const char *a, size_t n, void *user)
{
    char *out = user;
    strncat(out, a, n);
    strcat(out, "/");
    return true;
}

static void test_annotations_match_python_findall(void)
{
    /* re.findall(r'<<([^>]*)>>', s) on these gives the lists below. */
    char out[256] = "";
    const char *s = "<<<3=3>> <<a>b>> <<4=4> <<5=5>>> <<\n6=6>><<>>";
    sieve_gsm8k_annotations(s, strlen(s), collect, out);
    CHECK_MSG(strcmp(out, "<3=3/5=5/\n6=6//") == 0, "%s", out);
    size_t kl;
    char *key = sieve_gsm8k_equation_key("a <<3 + 4=7>> b <<7*2 = 14>>", 28, &kl);
    CHECK_MSG(key && strcmp(key, "3+4=7|7*2=14") == 0, "%s", key);
    free(key);
}

int main(void)
{
    RUN_TEST(test_checker_agrees_with_paper_rules_on_conformance_set);
    RUN_TEST(test_checker_agrees_with_paper_rules_on_edge_cases);
    RUN_TEST(test_extract_takes_first_match_after_failed_position);
    RUN_TEST(test_annotations_match_python_findall);
    return sieve_test_summary();
}
