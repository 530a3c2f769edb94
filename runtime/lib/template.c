/* Prompt templates (see sieve/template.h). `alpaca` is the RFT paper's (Yuan et al. 2023, the
 * Alpaca "prompt_no_input" with the question as the instruction); `plain` is
 * the question alone; any other text is a template of {field} placeholders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/template.h"

static const char ALPACA[] =
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{query}\n\n### Response:";

const char *sieve_template_text(const char *name_or_text)
{
    if (!strcmp(name_or_text, "alpaca")) return ALPACA;
    if (!strcmp(name_or_text, "plain")) return "{query}";
    return name_or_text;
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *p = realloc(*buf, c);
    if (!p) return -1;
    *buf = p;
    *cap = c;
    return 0;
}

/* A field's text: strings as they are, numbers as JSON; `query` falls back
 * to `question` (GSM8K records carry `question`; the paper calls it query). */
static int field_text(const sieve_record *r, const char *name, const char **s, size_t *n,
                      char *num, size_t num_cap)
{
    const sieve_field *f = sieve_record_get(r, name);
    if (!f && !strcmp(name, "query")) f = sieve_record_get(r, "question");
    if (!f) return -1;
    switch (f->type) {
    case SIEVE_F_STRING:
    case SIEVE_F_JSON:
        *s = f->v.str.ptr;
        *n = f->v.str.len;
        return 0;
    case SIEVE_F_INT:
        *n = (size_t)snprintf(num, num_cap, "%lld", (long long)f->v.i);
        *s = num;
        return 0;
    case SIEVE_F_FLOAT:
        *n = (size_t)snprintf(num, num_cap, "%.17g", f->v.f);
        *s = num;
        return 0;
    case SIEVE_F_BOOL:
        *s = f->v.b ? "true" : "false";
        *n = strlen(*s);
        return 0;
    default:
        return -1;
    }
}

char *sieve_template_render(const char *tmpl, const sieve_record *r, size_t *len, sieve_err *err)
{
    char *out = NULL, num[64];
    size_t n = 0, cap = 0;
    for (const char *p = tmpl; *p;) {
        const char *lit = p;
        size_t litn = 1;
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p += 2;
        } else if (p[0] == '{') {
            const char *end = strchr(p, '}');
            if (!end) {
                free(out);
                sieve_fail(err, "template: '{' without '}' in \"%s\"", tmpl);
                return NULL;
            }
            char name[128];
            size_t nl = (size_t)(end - p - 1);
            if (nl == 0 || nl >= sizeof name) {
                free(out);
                sieve_fail(err, "template: bad placeholder in \"%s\"", tmpl);
                return NULL;
            }
            memcpy(name, p + 1, nl);
            name[nl] = 0;
            if (field_text(r, name, &lit, &litn, num, sizeof num)) {
                free(out);
                sieve_fail(err, "template: the record has no text field '%s'%s", name,
                           strcmp(name, "query") ? "" : " (nor 'question')");
                return NULL;
            }
            p = end + 1;
        } else {
            p++;
        }
        if (grow(&out, &cap, n + litn + 1)) {
            free(out);
            sieve_fail(err, "out of memory");
            return NULL;
        }
        memcpy(out + n, lit, litn);
        n += litn;
    }
    if (grow(&out, &cap, n + 1)) {
        free(out);
        sieve_fail(err, "out of memory");
        return NULL;
    }
    out[n] = 0;
    if (len) *len = n;
    return out;
}
