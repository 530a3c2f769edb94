/* The GSM8K rules of the RFT paper (Yuan et al. 2023, collect_rejection_sampling.py
 * and eval.py) as plain C with no dependency on the sieve runtime: answer
 * extraction, the calculator-annotation check, the equation-list key, edit
 * distance over code points, the per-question dedup and the evaluation
 * metrics. The stages in stage_*.c are thin wrappers over these; the tests
 * call them directly. */
#ifndef SIEVE_GSM8K_H
#define SIEVE_GSM8K_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pyfloat.c: Python's float(str) ---- */
/* Parses s[0..len) as Python 3.11's float() does: surrounding Unicode
 * whitespace, Unicode decimal digits, underscores between digits, inf/nan.
 * Returns false where Python raises ValueError. */
bool sieve_gsm8k_pyfloat(const char *s, size_t len, double *out);

/* ---- calc.c: a safe evaluator of Python arithmetic ---- */
typedef enum sieve_calc_status {
    SIEVE_CALC_OK = 0,
    SIEVE_CALC_SYNTAX,     /* Python: SyntaxError / IndentationError */
    SIEVE_CALC_NAME,       /* a name, call, attribute, string...: never evaluated */
    SIEVE_CALC_ZERO_DIV,   /* ZeroDivisionError */
    SIEVE_CALC_TYPE,       /* TypeError (e.g. float ^ int) */
    SIEVE_CALC_OVERFLOW,   /* OverflowError, or ValueError (negative shift) */
    SIEVE_CALC_COMPLEX,    /* Python would make a complex number */
    SIEVE_CALC_LIMIT       /* beyond sieve's bounds (length, depth, 127-bit ints) */
} sieve_calc_status;

/* Limits: inputs beyond them are judged invalid without being evaluated. */
#define SIEVE_CALC_MAX_LEN 8192      /* bytes of expression */
#define SIEVE_CALC_MAX_PARENS 200    /* Python's own tokenizer limit */
#define SIEVE_CALC_MAX_UNARY 1000    /* nested unary operators */

/* Evaluates a Python expression of numbers, + - * / // % ** ^ & | << >> ~,
 * unary signs, parentheses and chained comparisons, as eval() would, and converts the result to a
 * float as Python's int - float does. Integers are exact within 127 bits;
 * an integer beyond that is SIEVE_CALC_LIMIT (Python would go on exactly).
 * Never allocates; recursion is bounded by the limits above. */
sieve_calc_status sieve_calc_eval(const char *expr, size_t len, double *out);
const char *sieve_calc_status_name(sieve_calc_status s);

/* ---- answer.c: the paper's answer and annotation rules ---- */
/* Answer: cut at the first NUL, first match of `#### (\-?[0-9\.\,]+)`, commas
 * removed, must parse as a float. On success copies the answer text (commas
 * removed, NUL-terminated) into out (truncated to out_cap - 1 bytes; the
 * value comes from the full text), sets *value and returns true. */
bool sieve_gsm8k_extract(const char *text, size_t len, char *out, size_t out_cap,
                         size_t *out_len, double *value);
/* Gold answer text ("1,000", "18") as the paper's gold: commas removed, float(). */
bool sieve_gsm8k_parse_gold(const char *s, size_t len, double *value);
/* |answer - gold| < 1e-4 */
bool sieve_gsm8k_is_correct(double answer, double gold);

/* Annotations: each non-overlapping match of `<<([^>]*)>>`, in order. Calls
 * fn(content, content_len, user) for each; stops early when fn returns false.
 * Returns the number of annotations visited. */
size_t sieve_gsm8k_annotations(const char *text, size_t len,
                               bool (*fn)(const char *a, size_t n, void *user), void *user);
/* One annotation "lhs=rhs[=...]": valid when eval(lhs) and float(rhs) differ
 * by less than 1e-3 (the part between the first and second '='). */
bool sieve_gsm8k_annotation_valid(const char *a, size_t n);
/* Every annotation of the text is valid (true when there are none). */
bool sieve_gsm8k_equations_valid(const char *text, size_t len);
/* The dedup key: annotation contents joined by '|', spaces removed. Returns a
 * malloc'd NUL-terminated string (NULL when out of memory). */
char *sieve_gsm8k_equation_key(const char *text, size_t len, size_t *key_len);

/* ---- levenshtein.c: edit distance over Unicode code points ---- */
/* UTF-8 to code points; an invalid byte counts as one code point (U+DC00+byte,
 * as Python's surrogateescape would). Returns the count written (<= len). */
size_t sieve_gsm8k_utf8_decode(const char *s, size_t len, uint32_t *out);
/* A pattern prepared once (bit masks per code point), compared to many texts. */
typedef struct sieve_lev_pattern sieve_lev_pattern;
sieve_lev_pattern *sieve_lev_pattern_new(const uint32_t *p, size_t m);
void sieve_lev_pattern_free(sieve_lev_pattern *pat);
/* Re-targets a pattern at p[0..m), reusing its buffers. 0, or -1 on OOM. */
int sieve_lev_pattern_set(sieve_lev_pattern *pat, const uint32_t *p, size_t m);
/* Levenshtein distance between the pattern and t[0..n) (Myers/Hyyrö bit-parallel). */
size_t sieve_lev_distance(const sieve_lev_pattern *pat, const uint32_t *t, size_t n);
/* Distance between two code point strings, common prefix and suffix cut
 * first (-1 on OOM). */
long sieve_lev_distance2(const uint32_t *a, size_t m, const uint32_t *b, size_t n);
/* The same with a caller's pattern as workspace (no allocation once warm). */
long sieve_lev_distance_ws(sieve_lev_pattern *ws, const uint32_t *a, size_t m,
                           const uint32_t *b, size_t n);

/* ---- dedup.c: one question's kept set under the farthest rule ---- */
typedef struct sieve_dedup_group sieve_dedup_group;
sieve_dedup_group *sieve_dedup_group_new(void);
void sieve_dedup_group_free(sieve_dedup_group *g, void (*free_item)(void *item));
/* Offers a correct, equation-valid path with its key and text. The group
 * takes ownership of item: it is kept, or it replaces a kept item (which is
 * handed to free_item), or it is dropped (handed to free_item). Returns 0,
 * or -1 when out of memory (item then freed too). *outcome: 0 dropped,
 * 1 new key appended, 2 replaced a kept path. */
int sieve_dedup_group_offer(sieve_dedup_group *g, const char *key, size_t key_len,
                            const char *text, size_t text_len, void *item,
                            void (*free_item)(void *item), int *outcome);
size_t sieve_dedup_group_count(const sieve_dedup_group *g);
/* The i-th kept item, in kept order. */
void *sieve_dedup_group_item(const sieve_dedup_group *g, size_t i);
/* Forgets every item without freeing them (after they were moved out). */
void sieve_dedup_group_clear(sieve_dedup_group *g);

/* ---- metrics.c: the evaluation metrics ---- */
/* Unbiased pass@k of one question with n samples of which c are correct:
 * 1 - C(n-c, k) / C(n, k) (Chen et al. 2021). k > n gives c > 0 ? 1 : 0. */
double sieve_gsm8k_pass_at_k(int64_t n, int64_t c, int64_t k);
/* Wilson score interval of a proportion (z = 1.96). */
void sieve_gsm8k_wilson(int64_t successes, int64_t n, double *lo, double *hi);
/* The paper's histogram bin of "how many of k samples solved it": bin 0 is
 * exactly 0, bins 1..5 are (0, k/5], (k/5, 2k/5], ... (4k/5, k]. */
int sieve_gsm8k_hist_bin(int64_t solved, int64_t k);

#endif
