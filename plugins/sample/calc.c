/* Calculator mode (see calc.h). The arithmetic is the gsm8k plugin's safe
 * evaluator (plugins/gsm8k/calc.c, compiled into this plugin by path): never
 * Python's eval, never a copy. */
#include "calc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SIEVE_SAMPLE_HAVE_CALC
#include "gsm8k.h"
#endif

bool smp_calc_available(void)
{
#ifdef SIEVE_SAMPLE_HAVE_CALC
    return true;
#else
    return false;
#endif
}

bool smp_calc_continuation(const char *text, size_t len, char *out, size_t cap)
{
    if (len < 3 || text[len - 1] != '=' || cap < 48) return false;
    /* The last "<<", with no ">>" after it: the open annotation. */
    size_t open = len;
    for (size_t i = len - 1; i > 0; i--) {
        if (text[i - 1] == '>' && text[i] == '>') return false;
        if (text[i - 1] == '<' && text[i] == '<') {
            open = i + 1;
            break;
        }
    }
    if (open >= len) return false;
    /* Only the first '=' of the annotation triggers: expr is everything up
     * to it, so the '=' just written must be the only one. */
    char expr[512];
    size_t n = 0;
    for (size_t i = open; i + 1 < len; i++) {
        char c = text[i];
        if (c == '=') return false;
        if (c == ',') continue;
        if (!strchr("0123456789*+-/.()", c) || n + 1 >= sizeof expr) return false;
        expr[n++] = c;
    }
    if (n == 0) return false;
    expr[n] = 0;
#ifdef SIEVE_SAMPLE_HAVE_CALC
    double v;
    if (sieve_calc_eval(expr, n, &v) != SIEVE_CALC_OK || !isfinite(v)) return false;
    int w;
    if (v == floor(v) && fabs(v) < 1e15) {
        w = snprintf(out, cap, "%.0f>>", v);
    } else {
        char buf[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
        w = snprintf(out, cap, "%s>>", buf);
    }
    return w > 0 && (size_t)w < cap;
#else
    (void)out;
    return false;
#endif
}

#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
int smp_calc_spell(const sieve_tokenizer *tok, const char *text, int32_t *ids, int max)
{
    int n = 0;
    for (const char *p = text; *p;) {
        if (n >= max) return 0;
        int id = -1;
        size_t len = strlen(p);
        for (size_t l = len < 16 ? len : 16; l > 0 && id < 0; l--) {
            id = sieve_tokenizer_piece_id(tok, p, l);
            if (id >= 0 && sieve_tokenizer_piece_type(tok, id) != SIEVE_PIECE_NORMAL) id = -1;
            if (id >= 0) p += l;
        }
        if (id < 0) {
            char byte[8];
            snprintf(byte, sizeof byte, "<0x%02X>", (unsigned char)*p);
            id = sieve_tokenizer_piece_id(tok, byte, strlen(byte));
            if (id < 0) return 0;
            p++;
        }
        ids[n++] = id;
    }
    return n;
}
#endif
