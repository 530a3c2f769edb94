/* Stage parameters: checked once against the descriptors, then read by name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const char *type_name(sieve_param_type t)
{
    static const char *names[] = {"string", "int", "float", "bool", "list"};
    return names[t];
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof *row);
    if (!row)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

const char *sieve_rt_closest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    size_t limit = strlen(word) / 2 + 1;
    return best_d <= limit ? best : NULL;
}

static int parse_value(sieve_param_value *v, sieve_err *err)
{
    if (v->type == SIEVE_P_LIST || v->type == SIEVE_P_STRING)
        return 0;
    if (v->n_items != 1)
        return sieve_fail(err, "expects one %s value, got a list", type_name(v->type)), -1;
    const char *s = v->items[0];
    char *end;
    errno = 0;
    switch (v->type) {
    case SIEVE_P_INT:
        v->i = strtoll(s, &end, 0);
        if (errno || end == s || *end)
            return sieve_fail(err, "'%s' is not an integer", s), -1;
        v->f = (double)v->i;
        return 0;
    case SIEVE_P_FLOAT:
        v->f = strtod(s, &end);
        if (errno || end == s || *end)
            return sieve_fail(err, "'%s' is not a number", s), -1;
        return 0;
    case SIEVE_P_BOOL:
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcmp(s, "1"))
            v->b = true;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcmp(s, "0"))
            v->b = false;
        else
            return sieve_fail(err, "'%s' is not a boolean (true/false)", s), -1;
        return 0;
    default:
        return 0;
    }
}

static int set_items(sieve_param_value *v, const char *const *items, int n)
{
    v->items = calloc((size_t)(n ? n : 1), sizeof *v->items);
    if (!v->items)
        return -1;
    for (int i = 0; i < n; i++) {
        v->items[i] = strdup(items[i]);
        if (!v->items[i])
            return -1;
    }
    v->n_items = n;
    return 0;
}

void sieve_rt_params_free(sieve_params *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        for (int k = 0; k < p->values[i].n_items; k++)
            free(p->values[i].items[k]);
        free(p->values[i].items);
        free(p->values[i].name);
    }
    free(p->values);
    free(p);
}

sieve_status sieve_rt_params_build(const sieve_stage_desc *desc, const sieve_raw_param *raw,
                                   int n_raw, const char *file, const char *stage,
                                   int stage_line, int stage_col, sieve_params **out,
                                   sieve_err *err)
{
    char where[1024];
    if (file)
        snprintf(where, sizeof where, "%s:%d:%d: stage '%s'", file, stage_line, stage_col, stage);
    else
        snprintf(where, sizeof where, "stage '%s'", stage);
    *out = NULL;
    const char **known = calloc((size_t)desc->n_params + 1, sizeof *known);
    if (!known)
        return sieve_fail(err, "out of memory");
    for (int k = 0; k < desc->n_params; k++)
        known[k] = desc->params[k].name;
    for (int r = 0; r < n_raw; r++) {
        int found = 0;
        for (int k = 0; k < desc->n_params; k++)
            found |= strcmp(raw[r].name, desc->params[k].name) == 0;
        if (found)
            continue;
        const char *near = sieve_rt_closest(raw[r].name, known, desc->n_params);
        if (file && raw[r].line)
            snprintf(where, sizeof where, "%s:%d:%d: stage '%s'", file, raw[r].line, raw[r].col, stage);
        sieve_fail(err, "%s: unknown parameter '%s' for plugin '%s'%s%s%s", where,
                   raw[r].name, desc->name, near ? " (did you mean '" : "", near ? near : "",
                   near ? "'?)" : "");
        free(known);
        return SIEVE_ERR;
    }
    free(known);

    sieve_params *p = calloc(1, sizeof *p);
    if (!p)
        return sieve_fail(err, "out of memory");
    p->values = calloc((size_t)desc->n_params + 1, sizeof *p->values);
    if (!p->values) {
        free(p);
        return sieve_fail(err, "out of memory");
    }
    for (int k = 0; k < desc->n_params; k++) {
        const sieve_param_desc *d = &desc->params[k];
        sieve_param_value *v = &p->values[p->n++];
        v->name = strdup(d->name);
        v->type = d->type;
        const sieve_raw_param *given = NULL;
        for (int r = 0; r < n_raw; r++)   /* the last one wins: --set overrides YAML */
            if (strcmp(raw[r].name, d->name) == 0)
                given = &raw[r];
        int rc;
        if (given) {
            v->given = true;
            rc = set_items(v, given->items, given->n_items);
        } else if (d->default_value) {
            const char *one = d->default_value;
            /* An empty default for a list is the empty list. */
            rc = set_items(v, &one, d->type == SIEVE_P_LIST && !*one ? 0 : 1);
        } else {
            sieve_fail(err, "%s: missing required parameter '%s' (%s: %s)", where, d->name,
                       type_name(d->type), d->doc ? d->doc : "");
            sieve_rt_params_free(p);
            return SIEVE_ERR;
        }
        if (rc || !v->name) {
            sieve_rt_params_free(p);
            return sieve_fail(err, "out of memory");
        }
        if (parse_value(v, err)) {
            if (file && given && given->line)
                snprintf(where, sizeof where, "%s:%d:%d: stage '%s'", file, given->line, given->col, stage);
            sieve_err_prefix(err, "%s: parameter '%s'", where, d->name);
            sieve_rt_params_free(p);
            return SIEVE_ERR;
        }
    }
    *out = p;
    return SIEVE_OK;
}

static const sieve_param_value *find(const sieve_params *p, const char *name)
{
    for (int i = 0; p && i < p->n; i++)
        if (strcmp(p->values[i].name, name) == 0)
            return &p->values[i];
    return NULL;
}

const char *sieve_param_str(const sieve_params *p, const char *name)
{
    const sieve_param_value *v = find(p, name);
    return v && v->n_items ? v->items[0] : NULL;
}

int64_t sieve_param_int(const sieve_params *p, const char *name)
{
    const sieve_param_value *v = find(p, name);
    return v ? v->i : 0;
}

double sieve_param_float(const sieve_params *p, const char *name)
{
    const sieve_param_value *v = find(p, name);
    return v ? v->f : 0.0;
}

bool sieve_param_bool(const sieve_params *p, const char *name)
{
    const sieve_param_value *v = find(p, name);
    return v ? v->b : false;
}

int sieve_param_list(const sieve_params *p, const char *name, const char *const **items)
{
    const sieve_param_value *v = find(p, name);
    if (!v) {
        *items = NULL;
        return 0;
    }
    *items = (const char *const *)v->items;
    return v->n_items;
}

bool sieve_param_given(const sieve_params *p, const char *name)
{
    const sieve_param_value *v = find(p, name);
    return v && v->given;
}
