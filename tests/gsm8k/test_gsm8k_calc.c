/* The safe evaluator against Python 3.11's eval(): 6,000 random annotation
 * left-hand sides (tests/gsm8k/calc_golden.jsonl, written by
 * gen_calc_golden.py) must get the same verdict and the bit-identical float;
 * plus Python's float() on right-hand sides, and the bounds that keep model
 * text from costing unbounded time, memory or stack. */
#include <math.h>

#include "gsm8k.h"
#include "jsonl.h"

typedef struct tally { long n, bad; } tally;

static void golden_one(json_t *o, long line, void *user)
{
    tally *t = user;
    t->n++;
    json_t *je = json_object_get(o, "expr");
    const char *e = json_string_value(je);
    size_t len = json_string_length(je);
    bool want = json_is_true(json_object_get(o, "ok"));
    double v = 0;
    sieve_calc_status st = sieve_calc_eval(e, len, &v);
    bool ok = st == SIEVE_CALC_OK;
    bool same = ok == want;
    if (same && ok) {
        double w = strtod(json_string_value(json_object_get(o, "value")), NULL);
        same = (isnan(w) && isnan(v)) || (w == v && signbit(w) == signbit(v));
        if (!same)
            fprintf(stderr, "line %ld: %s -> %.17g, python %.17g\n", line, e, v, w);
    } else if (!same) {
        fprintf(stderr, "line %ld: %s -> %s, python %s\n", line, e, sieve_calc_status_name(st),
                want ? "ok" : "raises");
    }
    t->bad += !same;
}

static void test_calc_matches_python_eval_on_golden_file(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/gsm8k/calc_golden.jsonl", sieve_test_env("SIEVE_SOURCE_DIR"));
    tally t = {0};
    long n = jsonl_each(path, golden_one, &t);
    CHECK(n == 6000);
    CHECK_MSG(t.bad == 0, "%ld of %ld differ from Python", t.bad, t.n);
}

static sieve_calc_status ev(const char *s, double *v)
{
    return sieve_calc_eval(s, strlen(s), v);
}

static void test_calc_python_semantics_by_hand(void)
{
    double v;
    /* Values worked out by hand from Python's rules. */
    CHECK(ev("2^3", &v) == SIEVE_CALC_OK && v == 1);            /* XOR */
    CHECK(ev("-7//2", &v) == SIEVE_CALC_OK && v == -4);         /* floor */
    CHECK(ev("-7%3", &v) == SIEVE_CALC_OK && v == 2);           /* sign of divisor */
    CHECK(ev("7%-3", &v) == SIEVE_CALC_OK && v == -2);
    CHECK(ev("-2**2", &v) == SIEVE_CALC_OK && v == -4);
    CHECK(ev("2**3**2", &v) == SIEVE_CALC_OK && v == 512);
    CHECK(ev("2**-1", &v) == SIEVE_CALC_OK && v == 0.5);
    CHECK(ev("1_000*2", &v) == SIEVE_CALC_OK && v == 2000);
    CHECK(ev(".5+1e3", &v) == SIEVE_CALC_OK && v == 1000.5);
    CHECK(ev("0x10+0o10+0b10", &v) == SIEVE_CALC_OK && v == 26);
    CHECK(ev("~5", &v) == SIEVE_CALC_OK && v == -6);
    /* int / int is rounded once, as Python does: converting both to double
     * first and dividing would give a different last bit here (Python:
     * 432284841588.9044). */
    CHECK(ev("136498326688907047596812850092099088885/315760150615493121570945988", &v) ==
          SIEVE_CALC_OK && v == 432284841588.9044);
    CHECK(136498326688907047596812850092099088885.0 / 315760150615493121570945988.0 != 432284841588.9044);
    CHECK(ev("010", &v) == SIEVE_CALC_SYNTAX);
    CHECK(ev("2.0^1", &v) == SIEVE_CALC_TYPE);
    CHECK(ev("5/0", &v) == SIEVE_CALC_ZERO_DIV);
    CHECK(ev("5.0%0", &v) == SIEVE_CALC_ZERO_DIV);
    CHECK(ev("0**-1", &v) == SIEVE_CALC_ZERO_DIV);
    CHECK(ev("(-8)**(1/3)", &v) == SIEVE_CALC_COMPLEX);
    CHECK(ev("10.0**400", &v) == SIEVE_CALC_OVERFLOW);
    CHECK(ev("3(4)", &v) != SIEVE_CALC_OK);
    CHECK(ev("1,000", &v) != SIEVE_CALC_OK);
    CHECK(ev("abs(3)", &v) == SIEVE_CALC_NAME);     /* never called */
    CHECK(ev("__import__('os')", &v) == SIEVE_CALC_NAME);
    CHECK(ev("", &v) == SIEVE_CALC_SYNTAX);
    CHECK(ev("3\n4", &v) == SIEVE_CALC_SYNTAX);
    CHECK(ev("(3\n+4)", &v) == SIEVE_CALC_OK && v == 7);
}

static void test_calc_bounds_reject_towers_depth_and_length(void)
{
    double v;
    /* A power tower Python would spend forever on. */
    CHECK(ev("9**9**9**9", &v) == SIEVE_CALC_LIMIT);
    CHECK(ev("2**1000000000000", &v) == SIEVE_CALC_LIMIT);
    CHECK(ev("1**1000000000000", &v) == SIEVE_CALC_OK && v == 1);
    CHECK(ev("1<<1000000", &v) == SIEVE_CALC_LIMIT);
    /* 200 nested parentheses are fine in Python, 201 are not. */
    char buf[SIEVE_CALC_MAX_LEN + 16];
    size_t n = 0;
    for (int i = 0; i < 200; i++) buf[n++] = '(';
    buf[n++] = '1';
    for (int i = 0; i < 200; i++) buf[n++] = ')';
    CHECK(sieve_calc_eval(buf, n, &v) == SIEVE_CALC_OK && v == 1);
    n = 0;
    for (int i = 0; i < 201; i++) buf[n++] = '(';
    buf[n++] = '1';
    for (int i = 0; i < 201; i++) buf[n++] = ')';
    CHECK(sieve_calc_eval(buf, n, &v) == SIEVE_CALC_SYNTAX);
    /* Unary chains and power chains are bounded too. */
    n = 0;
    for (int i = 0; i < 5000; i++) buf[n++] = '-';
    buf[n++] = '1';
    CHECK(sieve_calc_eval(buf, n, &v) == SIEVE_CALC_LIMIT);
    n = 0;
    buf[n++] = '1';
    for (int i = 0; i < 2000; i++) { buf[n++] = '*'; buf[n++] = '*'; buf[n++] = '1'; }
    CHECK(sieve_calc_eval(buf, n, &v) == SIEVE_CALC_LIMIT);
    memset(buf, '1', sizeof buf);
    CHECK(sieve_calc_eval(buf, SIEVE_CALC_MAX_LEN + 1, &v) == SIEVE_CALC_LIMIT);
    CHECK(sieve_calc_eval(buf, 60, &v) == SIEVE_CALC_LIMIT);   /* 60-digit int */
}

static bool pf(const char *s, double *v) { return sieve_gsm8k_pyfloat(s, strlen(s), v); }

static void test_pyfloat_matches_python_float(void)
{
    double v;
    /* Each verdict checked against Python 3.11's float(). */
    CHECK(pf(" 7\n", &v) && v == 7);
    CHECK(pf("1_000", &v) && v == 1000);
    CHECK(!pf("1__0", &v) && !pf("_1", &v) && !pf("1_", &v) && !pf("1_.5", &v));
    CHECK(pf("1.5_0", &v) && v == 1.5);
    CHECK(pf("-Infinity", &v) && isinf(v) && v < 0);
    CHECK(pf("nAn", &v) && isnan(v));
    CHECK(pf("\xd9\xa3", &v) && v == 3);                       /* ARABIC-INDIC DIGIT THREE */
    CHECK(pf("\xd9\xa1.\xd9\xa5", &v) && v == 1.5);
    CHECK(pf("\xe3\x80\x80" "7\xe3\x80\x80", &v) && v == 7);   /* ideographic spaces */
    CHECK(pf("\xc2\xa0" "7", &v) && v == 7);
    CHECK(!pf("\x1c" "7", &v));
    CHECK(!pf("0x10", &v) && !pf(".", &v) && !pf("1,001", &v) && !pf("", &v) && !pf(" ", &v));
    CHECK(!pf("1 0", &v) && !pf("+-1", &v) && !pf("1e", &v));
    CHECK(pf("7.", &v) && v == 7 && pf(".7", &v) && v == 0.7 && pf("0007", &v) && v == 7);
    CHECK(!sieve_gsm8k_pyfloat("7\0", 2, &v));
}

static void test_annotation_rule(void)
{
    CHECK(sieve_gsm8k_annotation_valid("3+4=7=7", 7));       /* rhs ends at 2nd '=' */
    CHECK(!sieve_gsm8k_annotation_valid("3+4", 3));          /* no '=' */
    CHECK(sieve_gsm8k_annotation_valid("1/3=0.333", 9));     /* within 1e-3 */
    CHECK(!sieve_gsm8k_annotation_valid("1/3=0.33", 8));
    CHECK(!sieve_gsm8k_annotation_valid("1e400-1e400=nan", 15));  /* NaN never "less than" */
    CHECK(!sieve_gsm8k_annotation_valid("1000+1=1,001", 12));
}

int main(void)
{
    RUN_TEST(test_calc_matches_python_eval_on_golden_file);
    RUN_TEST(test_calc_python_semantics_by_hand);
    RUN_TEST(test_calc_bounds_reject_towers_depth_and_length);
    RUN_TEST(test_pyfloat_matches_python_float);
    RUN_TEST(test_annotation_rule);
    return sieve_test_summary();
}
