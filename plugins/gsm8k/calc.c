/* A safe evaluator of the Python arithmetic that calculator annotations hold.
 *
 * The paper's check runs eval() on whatever the model wrote before '='. We
 * never execute model text: this file tokenizes and evaluates the subset of
 * Python that numbers and operators form, with Python's exact semantics
 * (int/float promotion, floor division and modulo signs, correctly rounded
 * int true division, float_pow's special cases, `^` as integer XOR, chained
 * comparisons with their short-circuit), and
 * judges everything else (names, calls, strings, tuples) invalid, as
 * Python's eval would raise on all of them except a few builtins.
 *
 * Bounds: the expression length, parenthesis depth (Python's own 200) and
 * nesting of unary/power operators are capped; integers are exact within
 * 127 bits (Python's are unbounded: an annotation needing more is judged
 * invalid, which is also what a 2**2**2**2**2 tower deserves). No allocation
 * beyond a bounded stack buffer; recursion depth is bounded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gsm8k.h"

typedef __int128 i128;
typedef unsigned __int128 u128;

#define I128_MAX ((i128)(((u128)1 << 127) - 1))
#define I128_MIN (-I128_MAX - 1)
#define MAX_LITERAL 1024

typedef struct val {
    bool is_int;
    i128 i;
    double f;
} val;

typedef enum tok_kind {
    T_EOF, T_NEWLINE, T_NUM, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_DSLASH, T_PERCENT,
    T_DSTAR, T_CARET, T_AMP, T_PIPE, T_LSHIFT, T_RSHIFT, T_TILDE, T_LPAREN, T_RPAREN,
    T_LT, T_GT, T_LE, T_GE, T_EQ, T_NE
} tok_kind;

typedef struct lexer {
    const char *p, *end;
    int depth;            /* open parentheses */
    int pending_indent;   /* indentation of the current physical line at depth 0 */
    bool at_line_start;   /* a new physical line begins (depth 0) */
    bool cont_indent;     /* it follows a backslash on a line with no token yet */
    bool line_content;    /* the current logical line has tokens */
    tok_kind kind;        /* current token */
    val num;              /* its value when T_NUM */
    int nest;             /* unary / power nesting, bounded */
    int skip;             /* > 0: parsing a short-circuited comparison operand */
    sieve_calc_status err;
} lexer;

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (unsigned char)c >= 0x80;
}

static bool fail(lexer *lx, sieve_calc_status s)
{
    if (lx->err == SIEVE_CALC_OK)
        lx->err = s;
    return false;
}

/* digit (_? digit)* in the given base; NULL when no digit at p. */
static const char *digits(const char *p, const char *end, int base)
{
    #define OK_DIGIT(c) (base == 16 ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || \
                                      (c >= 'A' && c <= 'F')) : (c >= '0' && c < '0' + base))
    if (p >= end || !OK_DIGIT(*p))
        return NULL;
    p++;
    while (p < end) {
        if (OK_DIGIT(*p))
            p++;
        else if (*p == '_' && p + 1 < end && OK_DIGIT(p[1]))
            p += 2;
        else
            break;
    }
    return p;
    #undef OK_DIGIT
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

static bool int_literal(lexer *lx, const char *b, const char *e, int base)
{
    u128 v = 0;
    for (const char *c = b; c < e; c++) {
        if (*c == '_')
            continue;
        if (__builtin_mul_overflow(v, (u128)base, &v) || __builtin_add_overflow(v, (u128)digit_value(*c), &v))
            v = (u128)I128_MAX + 1;
    }
    if (v > (u128)I128_MAX) {
        if (!lx->skip)
            return fail(lx, SIEVE_CALC_LIMIT);
        v = 0;                          /* never evaluated */
    }
    lx->num = (val){.is_int = true, .i = (i128)v};
    return true;
}

/* A number token at lx->p, with Python's tokenizer rules. */
static bool lex_number(lexer *lx)
{
    const char *s = lx->p, *end = lx->end, *q;
    if (s[0] == '0' && s + 1 < end && strchr("xXoObB", s[1]) && s[1]) {
        int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
        const char *b = s + 2;
        if (b < end && *b == '_')
            b++;                             /* 0x_1f is allowed */
        q = digits(b, end, base);
        if (!q)
            return fail(lx, SIEVE_CALC_SYNTAX);
        if (q < end && (is_digit(*q) || is_name_char(*q)))
            return fail(lx, SIEVE_CALC_SYNTAX);   /* 0b102, 0x1g */
        lx->p = q;
        return int_literal(lx, b, q, base);
    }
    bool is_float = false;
    q = digits(s, end, 10);
    if (!q) {                                /* ".5" */
        q = digits(s + 1, end, 10);
        is_float = true;
    } else if (q < end && *q == '.') {
        is_float = true;
        const char *f = digits(q + 1, end, 10);
        q = f ? f : q + 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *e = q + 1;
        if (e < end && (*e == '+' || *e == '-'))
            e++;
        e = digits(e, end, 10);
        if (!e)
            return fail(lx, SIEVE_CALC_SYNTAX);   /* "1e", "1e+", "1_e3" */
        q = e;
        is_float = true;
    }
    if (q < end && (*q == 'j' || *q == 'J'))
        return fail(lx, SIEVE_CALC_COMPLEX);
    if (q < end && (*q == '_' || (is_float && is_digit(*q))))
        return fail(lx, SIEVE_CALC_SYNTAX);       /* "1_", "1__0" */
    lx->p = q;
    if (!is_float) {
        if (s[0] == '0')
            for (const char *c = s; c < q; c++)
                if (*c != '0' && *c != '_')
                    return fail(lx, SIEVE_CALC_SYNTAX);  /* 010: leading zeros */
        return int_literal(lx, s, q, 10);
    }
    if (q - s > MAX_LITERAL)
        return fail(lx, SIEVE_CALC_LIMIT);
    char buf[MAX_LITERAL + 1];
    size_t k = 0;
    for (const char *c = s; c < q; c++)
        if (*c != '_')
            buf[k++] = *c;
    buf[k] = 0;
    lx->num = (val){.is_int = false, .f = strtod(buf, NULL)};
    return true;
}

static bool is_newline(char c) { return c == '\n' || c == '\r'; }

static const char *skip_newline(const char *p, const char *end)
{
    if (*p == '\r' && p + 1 < end && p[1] == '\n')
        return p + 2;
    return p + 1;
}

/* Advances to the next token (lx->kind). False on a lexical error. The line
 * rules follow Python's tokenizer for eval input: newlines inside
 * parentheses are whitespace; at depth 0 they end the logical line; blank
 * and comment lines are ignored; an indented line with content is an
 * IndentationError; a backslash joins lines. */
static bool next(lexer *lx)
{
    const char *end = lx->end;
    for (;;) {
        if (lx->at_line_start && lx->depth == 0) {
            /* After "\\<newline>" on a line without a token yet, Python goes on
             * counting that line's indentation ("\\\n  1" is indented). */
            int col = lx->cont_indent ? lx->pending_indent : 0;
            lx->cont_indent = false;
            while (lx->p < end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\f')) {
                col = *lx->p == '\f' ? 0 : col + 1;
                lx->p++;
            }
            lx->at_line_start = false;
            if (lx->p == end && col > 0)
                return fail(lx, SIEVE_CALC_SYNTAX);
            lx->pending_indent = col;
        }
        while (lx->p < end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\f'))
            lx->p++;
        if (lx->p == end) {
            if (lx->depth > 0)
                return fail(lx, SIEVE_CALC_SYNTAX);
            if (lx->line_content) {
                lx->line_content = false;
                lx->kind = T_NEWLINE;
                return true;
            }
            lx->kind = T_EOF;
            return true;
        }
        char c = *lx->p;
        if (c == '#') {
            while (lx->p < end && !is_newline(*lx->p))
                lx->p++;
            continue;
        }
        if (c == '\\') {
            if (lx->p + 1 < end && is_newline(lx->p[1])) {
                lx->p = skip_newline(lx->p + 1, end);
                if (lx->p == end)
                    return fail(lx, SIEVE_CALC_SYNTAX);
                if (lx->depth == 0 && !lx->line_content)
                    lx->at_line_start = lx->cont_indent = true;
                continue;
            }
            return fail(lx, SIEVE_CALC_SYNTAX);
        }
        if (is_newline(c)) {
            lx->p = skip_newline(lx->p, end);
            if (lx->depth > 0)
                continue;
            lx->at_line_start = true;
            if (lx->line_content) {
                lx->line_content = false;
                lx->kind = T_NEWLINE;
                return true;
            }
            continue;
        }
        break;
    }
    /* A content token. */
    if (lx->depth == 0 && lx->pending_indent > 0)
        return fail(lx, SIEVE_CALC_SYNTAX);
    lx->pending_indent = 0;
    lx->line_content = true;
    const char *p = lx->p;
    char c = *p, c1 = p + 1 < end ? p[1] : 0;
    if (is_digit(c) || (c == '.' && is_digit(c1))) {
        lx->kind = T_NUM;
        return lex_number(lx);
    }
    int n = 1;
    switch (c) {
    case '+': lx->kind = T_PLUS; break;
    case '-': lx->kind = T_MINUS; break;
    case '*': if (c1 == '*') { lx->kind = T_DSTAR; n = 2; } else lx->kind = T_STAR; break;
    case '/': if (c1 == '/') { lx->kind = T_DSLASH; n = 2; } else lx->kind = T_SLASH; break;
    case '%': lx->kind = T_PERCENT; break;
    case '^': lx->kind = T_CARET; break;
    case '&': lx->kind = T_AMP; break;
    case '|': lx->kind = T_PIPE; break;
    case '~': lx->kind = T_TILDE; break;
    case '<':
        if (c1 == '<') { lx->kind = T_LSHIFT; n = 2; }
        else if (c1 == '=') { lx->kind = T_LE; n = 2; }
        else lx->kind = T_LT;
        break;
    case '>':
        if (c1 == '>') { lx->kind = T_RSHIFT; n = 2; }
        else if (c1 == '=') { lx->kind = T_GE; n = 2; }
        else lx->kind = T_GT;
        break;
    case '=': if (c1 != '=') return fail(lx, SIEVE_CALC_NAME); lx->kind = T_EQ; n = 2; break;
    case '!': if (c1 != '=') return fail(lx, SIEVE_CALC_SYNTAX); lx->kind = T_NE; n = 2; break;
    case '(':
        if (lx->depth >= SIEVE_CALC_MAX_PARENS)
            return fail(lx, SIEVE_CALC_SYNTAX);
        lx->depth++;
        lx->kind = T_LPAREN;
        break;
    case ')':
        if (lx->depth == 0)
            return fail(lx, SIEVE_CALC_SYNTAX);
        lx->depth--;
        lx->kind = T_RPAREN;
        break;
    default:
        /* Names, strings, brackets, commas, comparisons: Python would look a
         * name up, call, subscript or build a tuple; sieve never does. */
        if (is_name_char(c) || strchr("'\"[]{},.=!<>:@;", c))
            return fail(lx, SIEVE_CALC_NAME);
        return fail(lx, SIEVE_CALC_SYNTAX);
    }
    /* Augmented assignment ("+=", "<<=") is a statement, not an expression. */
    lx->p = p + n;
    return true;
}

/* ---------- arithmetic with Python's semantics ---------- */

static double to_float(val v) { return v.is_int ? (double)v.i : v.f; }

static int bit_length(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    return hi ? 128 - __builtin_clzll(hi) : lo ? 64 - __builtin_clzll(lo) : 0;
}

/* a / b correctly rounded to nearest-even (b > 0), as Python's long_true_divide. */
static double udiv_to_double(u128 a, u128 b)
{
    if (a == 0)
        return 0.0;
    u128 q = a / b, r = a % b;
    int exp = 0;
    while (bit_length(q) < 55) {      /* r < b <= 2^127: 2r cannot overflow */
        r <<= 1;
        q <<= 1;
        if (r >= b) {
            r -= b;
            q |= 1;
        }
        exp--;
    }
    int sh = bit_length(q) - 53;
    u128 mant = q >> sh, rem = q & (((u128)1 << sh) - 1), half = (u128)1 << (sh - 1);
    if (rem > half || (rem == half && (r != 0 || (mant & 1))))
        mant++;
    return ldexp((double)mant, exp + sh);
}

static u128 mag(i128 x) { return x < 0 ? (u128)0 - (u128)x : (u128)x; }

static bool int_truediv(lexer *lx, i128 a, i128 b, val *out)
{
    if (b == 0)
        return fail(lx, SIEVE_CALC_ZERO_DIV);
    const i128 lim = (i128)1 << 53;
    double r;
    if (a <= lim && a >= -lim && b <= lim && b >= -lim)
        r = (double)a / (double)b;    /* both exact: one correctly rounded op */
    else {
        r = udiv_to_double(mag(a), mag(b));
        if ((a < 0) != (b < 0))
            r = -r;
    }
    *out = (val){.is_int = false, .f = r};
    return true;
}

/* Python's float_divmod / float_rem / float_floor_div. */
static void float_divmod(double vx, double wx, double *floordiv, double *modulo)
{
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod != 0.0) {
        if ((wx < 0) != (mod < 0)) {
            mod += wx;
            div -= 1.0;
        }
    } else {
        mod = copysign(0.0, wx);
    }
    double fd;
    if (div != 0.0) {
        fd = floor(div);
        if (div - fd > 0.5)
            fd += 1.0;
    } else {
        fd = copysign(0.0, vx / wx);
    }
    *floordiv = fd;
    *modulo = mod;
}

static bool is_odd_integer(double x) { return fmod(fabs(x), 2.0) == 1.0; }

/* Python 3.11's float_pow, including its errors. */
static bool float_pow(lexer *lx, double iv, double iw, val *out)
{
    double r;
    if (iw == 0.0) r = 1.0;
    else if (isnan(iv)) r = iv;
    else if (isnan(iw)) r = iv == 1.0 ? 1.0 : iw;
    else if (isinf(iw)) {
        double a = fabs(iv);
        if (a == 1.0) r = 1.0;
        else if ((iw > 0.0) == (a > 1.0)) r = fabs(iw);
        else r = 0.0;
    } else if (isinf(iv)) {
        bool odd = is_odd_integer(iw);
        if (iw > 0.0) r = odd ? iv : fabs(iv);
        else r = odd ? copysign(0.0, iv) : 0.0;
    } else if (iv == 0.0) {
        if (iw < 0.0)
            return fail(lx, SIEVE_CALC_ZERO_DIV);
        r = is_odd_integer(iw) ? iv : 0.0;
    } else if (iv == 1.0) r = 1.0;
    else {
        bool negate = false;
        if (iv < 0.0) {
            if (iw != floor(iw))
                return fail(lx, SIEVE_CALC_COMPLEX);
            iv = -iv;
            negate = is_odd_integer(iw);
        }
        if (iv == 1.0)
            r = negate ? -1.0 : 1.0;
        else {
            r = pow(iv, iw);
            if (isinf(r))
                return fail(lx, SIEVE_CALC_OVERFLOW);
            if (negate)
                r = -r;
        }
    }
    *out = (val){.is_int = false, .f = r};
    return true;
}

static bool int_pow(lexer *lx, i128 b, i128 e, val *out)
{
    if (e < 0)
        return float_pow(lx, (double)b, (double)e, out);
    i128 r = 1;
    if (e == 0 || b == 1) r = 1;
    else if (b == 0) r = 0;
    else if (b == -1) r = (e & 1) ? -1 : 1;
    else if (e >= 128) return fail(lx, SIEVE_CALC_LIMIT);
    else {
        i128 base = b;
        while (e) {
            if ((e & 1) && __builtin_mul_overflow(r, base, &r))
                return fail(lx, SIEVE_CALC_LIMIT);
            e >>= 1;
            if (e && __builtin_mul_overflow(base, base, &base))
                return fail(lx, SIEVE_CALC_LIMIT);
        }
    }
    *out = (val){.is_int = true, .i = r};
    return true;
}

static bool binop(lexer *lx, tok_kind op, val a, val b, val *out)
{
    if (lx->skip) {                 /* never evaluated: Python short-circuits */
        *out = a;
        return true;
    }
    if (a.is_int && b.is_int) {
        i128 x = a.i, y = b.i, r;
        switch (op) {
        case T_PLUS: if (__builtin_add_overflow(x, y, &r)) return fail(lx, SIEVE_CALC_LIMIT); break;
        case T_MINUS: if (__builtin_sub_overflow(x, y, &r)) return fail(lx, SIEVE_CALC_LIMIT); break;
        case T_STAR: if (__builtin_mul_overflow(x, y, &r)) return fail(lx, SIEVE_CALC_LIMIT); break;
        case T_SLASH: return int_truediv(lx, x, y, out);
        case T_DSLASH:
        case T_PERCENT:
            if (y == 0)
                return fail(lx, SIEVE_CALC_ZERO_DIV);
            if (x == I128_MIN && y == -1) {
                if (op == T_DSLASH)
                    return fail(lx, SIEVE_CALC_LIMIT);
                r = 0;
                break;
            }
            if (op == T_DSLASH) {
                r = x / y;
                if (x % y != 0 && ((x < 0) != (y < 0)))
                    r--;
            } else {
                r = x % y;
                if (r != 0 && ((r < 0) != (y < 0)))
                    r += y;
            }
            break;
        case T_DSTAR: return int_pow(lx, x, y, out);
        case T_CARET: r = x ^ y; break;
        case T_AMP: r = x & y; break;
        case T_PIPE: r = x | y; break;
        case T_LSHIFT:
            if (y < 0) return fail(lx, SIEVE_CALC_OVERFLOW);   /* ValueError: negative shift count */
            if (x == 0) { r = 0; break; }
            if (y >= 127) return fail(lx, SIEVE_CALC_LIMIT);
            r = (i128)((u128)x << y);
            if ((r >> y) != x) return fail(lx, SIEVE_CALC_LIMIT);
            break;
        case T_RSHIFT:
            if (y < 0) return fail(lx, SIEVE_CALC_OVERFLOW);
            r = y >= 127 ? (x < 0 ? -1 : 0) : x >> y;        /* arithmetic: floor, as Python */
            break;
        default: return fail(lx, SIEVE_CALC_SYNTAX);
        }
        *out = (val){.is_int = true, .i = r};
        return true;
    }
    if (op == T_CARET || op == T_AMP || op == T_PIPE || op == T_LSHIFT || op == T_RSHIFT)
        return fail(lx, SIEVE_CALC_TYPE);   /* no bitwise operators on floats */
    double x = to_float(a), y = to_float(b), r, m;
    switch (op) {
    case T_PLUS: r = x + y; break;
    case T_MINUS: r = x - y; break;
    case T_STAR: r = x * y; break;
    case T_SLASH:
        if (y == 0.0) return fail(lx, SIEVE_CALC_ZERO_DIV);
        r = x / y;
        break;
    case T_DSLASH:
        if (y == 0.0) return fail(lx, SIEVE_CALC_ZERO_DIV);
        float_divmod(x, y, &r, &m);
        break;
    case T_PERCENT:
        if (y == 0.0) return fail(lx, SIEVE_CALC_ZERO_DIV);
        float_divmod(x, y, &m, &r);
        break;
    case T_DSTAR: return float_pow(lx, x, y, out);
    default: return fail(lx, SIEVE_CALC_SYNTAX);
    }
    *out = (val){.is_int = false, .f = r};
    return true;
}

/* ---------- the grammar, evaluated as it is parsed ---------- */

static bool parse_or(lexer *lx, val *out);
static bool parse_comparison(lexer *lx, val *out);
static bool parse_factor(lexer *lx, val *out);

/* atom: NUMBER | '(' expr ')' */
static bool parse_atom(lexer *lx, val *out)
{
    if (lx->kind == T_NUM) {
        *out = lx->num;
        return next(lx);
    }
    if (lx->kind == T_LPAREN) {
        if (!next(lx) || !parse_comparison(lx, out))
            return false;
        if (lx->kind != T_RPAREN)
            return fail(lx, SIEVE_CALC_SYNTAX);
        return next(lx);
    }
    return fail(lx, SIEVE_CALC_SYNTAX);
}

/* power: atom ['**' factor] (right-associative through factor) */
static bool parse_power(lexer *lx, val *out)
{
    if (!parse_atom(lx, out))
        return false;
    if (lx->kind != T_DSTAR)
        return true;
    val e;
    if (!next(lx) || !parse_factor(lx, &e))
        return false;
    /* The atom after '(' cannot be followed by a call: "(2)(3)" is a
     * syntax error here and a TypeError in Python; both invalid. */
    return binop(lx, T_DSTAR, *out, e, out);
}

/* factor: ('+'|'-'|'~') factor | power */
static bool parse_factor(lexer *lx, val *out)
{
    if (++lx->nest > SIEVE_CALC_MAX_UNARY)
        return fail(lx, SIEVE_CALC_LIMIT);
    bool ok;
    tok_kind op = lx->kind;
    if (op == T_PLUS || op == T_MINUS || op == T_TILDE) {
        ok = next(lx) && parse_factor(lx, out);
        if (ok) {
            if (op == T_MINUS) {
                if (lx->skip) {
                } else if (out->is_int) {
                    if (out->i == I128_MIN)
                        ok = fail(lx, SIEVE_CALC_LIMIT);
                    else
                        out->i = -out->i;
                } else {
                    out->f = -out->f;
                }
            } else if (op == T_TILDE) {
                if (out->is_int)
                    out->i = ~out->i;
                else if (!lx->skip)
                    ok = fail(lx, SIEVE_CALC_TYPE);
            }
        }
    } else {
        ok = parse_power(lx, out);
    }
    lx->nest--;
    return ok;
}

typedef bool (*parse_fn)(lexer *, val *);

/* One left-associative level: operand (op operand)* for the ops listed. */
static bool parse_level(lexer *lx, val *out, parse_fn operand, const tok_kind *ops, int n_ops)
{
    if (!operand(lx, out))
        return false;
    for (;;) {
        tok_kind op = lx->kind;
        bool match = false;
        for (int i = 0; i < n_ops; i++)
            match |= ops[i] == op;
        if (!match)
            return true;
        val rhs;
        if (!next(lx) || !operand(lx, &rhs) || !binop(lx, op, *out, rhs, out))
            return false;
    }
}

static bool parse_term(lexer *lx, val *out)
{
    static const tok_kind ops[] = {T_STAR, T_SLASH, T_DSLASH, T_PERCENT};
    return parse_level(lx, out, parse_factor, ops, 4);
}
static bool parse_arith(lexer *lx, val *out)
{
    static const tok_kind ops[] = {T_PLUS, T_MINUS};
    return parse_level(lx, out, parse_term, ops, 2);
}
static bool parse_shift(lexer *lx, val *out)
{
    static const tok_kind ops[] = {T_LSHIFT, T_RSHIFT};
    return parse_level(lx, out, parse_arith, ops, 2);
}
static bool parse_and(lexer *lx, val *out)
{
    static const tok_kind ops[] = {T_AMP};
    return parse_level(lx, out, parse_shift, ops, 1);
}
static bool parse_xor(lexer *lx, val *out)
{
    static const tok_kind ops[] = {T_CARET};
    return parse_level(lx, out, parse_and, ops, 1);
}
static bool parse_or(lexer *lx, val *out)
{
    static const tok_kind ops[] = {T_PIPE};
    return parse_level(lx, out, parse_xor, ops, 1);
}

/* i < d, i <= d, ... exactly, as Python compares an int with a float. */
static int cmp_int_float(i128 i, double d)  /* -1, 0, 1; 2 when d is NaN */
{
    if (isnan(d))
        return 2;
    if (d >= 0x1p127)
        return -1;
    if (d < -0x1p127)
        return 1;
    double fl = floor(d);
    i128 f = (i128)fl;
    if (i < f) return -1;
    if (i > f) return 1;
    return fl == d ? 0 : -1;         /* i == floor(d) < d when d has a fraction */
}

static bool compare(tok_kind op, val a, val b)
{
    int c;
    if (a.is_int && b.is_int)
        c = a.i < b.i ? -1 : a.i > b.i;
    else if (a.is_int)
        c = cmp_int_float(a.i, b.f);
    else if (b.is_int) {
        c = cmp_int_float(b.i, a.f);
        c = c == 2 ? 2 : -c;
    } else
        c = a.f < b.f ? -1 : a.f > b.f ? 1 : a.f == b.f ? 0 : 2;
    if (c == 2)                      /* NaN: only != holds */
        return op == T_NE;
    switch (op) {
    case T_LT: return c < 0;
    case T_GT: return c > 0;
    case T_LE: return c <= 0;
    case T_GE: return c >= 0;
    case T_EQ: return c == 0;
    default: return c != 0;
    }
}

/* comparison: or_expr (compop or_expr)*, chained as a < b and b < c, each
 * operand evaluated once; after a false link the rest is parsed, never
 * evaluated (Python short-circuits, so "1<0<1/0" is False, not an error).
 * The result is a bool, i.e. the int 0 or 1 in arithmetic. */
static bool parse_comparison(lexer *lx, val *out)
{
    if (!parse_or(lx, out))
        return false;
    tok_kind op = lx->kind;
    if (op < T_LT)
        return true;
    bool result = true;
    int skipped = 0;
    val left = *out;
    while (lx->kind >= T_LT) {
        op = lx->kind;
        val right;
        if (!next(lx) || !parse_or(lx, &right))
            return false;
        if (result && !lx->skip) {
            result = compare(op, left, right);
            if (!result) {
                lx->skip++;
                skipped = 1;
            }
        }
        left = right;
    }
    lx->skip -= skipped;
    *out = (val){.is_int = true, .i = result};
    return true;
}

sieve_calc_status sieve_calc_eval(const char *expr, size_t len, double *out)
{
    if (len > SIEVE_CALC_MAX_LEN)
        return SIEVE_CALC_LIMIT;
    if (memchr(expr, 0, len))
        return SIEVE_CALC_SYNTAX;   /* "source code string cannot contain null bytes" */
    lexer lx = {.p = expr, .end = expr + len, .at_line_start = true};
    /* eval() strips leading spaces and tabs before tokenizing. */
    while (lx.p < lx.end && (*lx.p == ' ' || *lx.p == '\t'))
        lx.p++;
    val v;
    if (!next(&lx) || !parse_comparison(&lx, &v))
        return lx.err ? lx.err : SIEVE_CALC_SYNTAX;
    if (lx.kind == T_NEWLINE && !next(&lx))
        return lx.err;
    if (lx.kind != T_EOF)
        return lx.err ? lx.err : SIEVE_CALC_SYNTAX;
    *out = to_float(v);
    return SIEVE_CALC_OK;
}

const char *sieve_calc_status_name(sieve_calc_status s)
{
    static const char *names[] = {"ok", "syntax", "name", "zero-division", "type",
                                  "overflow", "complex", "limit"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
