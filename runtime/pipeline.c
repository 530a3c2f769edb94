/* YAML pipeline files → sieve_pipeline, through libyaml's document API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "pipeline.h"

typedef struct {
    yaml_document_t *doc;
    const char *file;
    sieve_err *err;
} yctx;

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
static int col_of(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

static sieve_status at(yctx *y, const yaml_node_t *n, const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return sieve_fail(y->err, "%s:%d:%d: %s", y->file, n ? line_of(n) : 0, n ? col_of(n) : 0, msg);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(yctx *y, int id) { return yaml_document_get_node(y->doc, id); }

void sieve_pparams_free(sieve_pparam *list, int n)
{
    for (int i = 0; i < n; i++) {
        free(list[i].name);
        for (int k = 0; k < list[i].n_items; k++)
            free(list[i].items[k]);
        free(list[i].items);
    }
    free(list);
}

int sieve_pparam_put(sieve_pparam **list, int *n, const char *name, const char *const *items,
                     int n_items, int line, int col)
{
    sieve_pparam *p = NULL;
    for (int i = 0; i < *n; i++)
        if (strcmp((*list)[i].name, name) == 0)
            p = &(*list)[i];
    if (p) {
        for (int k = 0; k < p->n_items; k++)
            free(p->items[k]);
        free(p->items);
    } else {
        sieve_pparam *nl = realloc(*list, (size_t)(*n + 1) * sizeof *nl);
        if (!nl)
            return -1;
        *list = nl;
        p = &nl[(*n)++];
        p->name = strdup(name);
    }
    p->items = calloc((size_t)(n_items ? n_items : 1), sizeof *p->items);
    for (int k = 0; k < n_items; k++)
        p->items[k] = strdup(items[k]);
    p->n_items = n_items;
    p->line = line;
    p->col = col;
    return 0;
}

/* A parameter value: a scalar, or a sequence of scalars. */
static sieve_status read_param(yctx *y, const char *name, yaml_node_t *v, sieve_pparam **list, int *n)
{
    const char *items[256];
    int count = 0;
    if (v->type == YAML_SCALAR_NODE) {
        items[count++] = scalar(v);
    } else if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            yaml_node_t *e = node(y, *it);
            if (!scalar(e))
                return at(y, e, "parameter '%s': list items must be plain values", name, NULL);
            if (count == 256)
                return at(y, e, "parameter '%s': more than 256 items", name, NULL);
            items[count++] = scalar(e);
        }
    } else {
        return at(y, v, "parameter '%s': expected a value or a list, found a mapping", name, NULL);
    }
    if (sieve_pparam_put(list, n, name, items, count, line_of(v), col_of(v)))
        return sieve_fail(y->err, "out of memory");
    return SIEVE_OK;
}

static sieve_status read_params(yctx *y, yaml_node_t *m, sieve_pparam **list, int *n)
{
    if (m->type != YAML_MAPPING_NODE)
        return at(y, m, "expected a mapping of name: value", NULL, NULL);
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        const char *k = scalar(node(y, pr->key));
        if (!k)
            return at(y, node(y, pr->key), "parameter names must be plain words", NULL, NULL);
        if (read_param(y, k, node(y, pr->value), list, n))
            return SIEVE_ERR;
    }
    return SIEVE_OK;
}

static sieve_status add_ref(yctx *y, sieve_pstage *s, yaml_node_t *v, sieve_pinput **list, int *n,
                            const char *key)
{
    const char *ref = scalar(v);
    if (!ref || !*ref)
        return at(y, v, "stage '%s': '%s' must name a stage (or stage.port)", s->name, key);
    sieve_pinput *ni = realloc(*list, (size_t)(*n + 1) * sizeof *ni);
    if (!ni)
        return sieve_fail(y->err, "out of memory");
    *list = ni;
    sieve_pinput *in = &ni[(*n)++];
    const char *dot = strchr(ref, '.');
    in->stage = dot ? strndup(ref, (size_t)(dot - ref)) : strdup(ref);
    in->port = dot ? strdup(dot + 1) : NULL;
    in->line = line_of(v);
    in->col = col_of(v);
    return SIEVE_OK;
}

/* A scalar or a sequence of stage references, for 'input' and 'after'. */
static sieve_status add_refs(yctx *y, sieve_pstage *s, yaml_node_t *v, sieve_pinput **list, int *n,
                             const char *key)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return add_ref(y, s, v, list, n, key);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
        if (add_ref(y, s, node(y, *it), list, n, key))
            return SIEVE_ERR;
    return SIEVE_OK;
}

static const char *stage_keys[] = {"plugin", "input", "after", "params", "backend", "threads", "doc"};

static sieve_status read_stage(yctx *y, sieve_pstage *s, yaml_node_t *m)
{
    if (m->type != YAML_MAPPING_NODE)
        return at(y, m, "stage '%s': expected a mapping with 'plugin:'", s->name, NULL);
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(y, pr->key), *v = node(y, pr->value);
        const char *k = scalar(kn);
        if (!k)
            return at(y, kn, "stage '%s': keys must be plain words", s->name, NULL);
        if (!strcmp(k, "plugin")) {
            if (!scalar(v))
                return at(y, v, "stage '%s': 'plugin' must name a stage type", s->name, NULL);
            free(s->plugin);
            s->plugin = strdup(scalar(v));
            s->plugin_line = line_of(v);
            s->plugin_col = col_of(v);
        } else if (!strcmp(k, "input")) {
            if (add_refs(y, s, v, &s->inputs, &s->n_inputs, "input"))
                return SIEVE_ERR;
        } else if (!strcmp(k, "after")) {
            if (add_refs(y, s, v, &s->after, &s->n_after, "after"))
                return SIEVE_ERR;
        } else if (!strcmp(k, "params")) {
            if (read_params(y, v, &s->params, &s->n_params))
                return SIEVE_ERR;
        } else if (!strcmp(k, "backend") || !strcmp(k, "threads")) {
            /* Shorthands for the parameters of the same name. */
            if (read_param(y, k, v, &s->params, &s->n_params))
                return SIEVE_ERR;
        } else if (strcmp(k, "doc") != 0) {
            const char *near = sieve_rt_closest(k, stage_keys, 7);
            char hint[128] = "";
            if (near)
                snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
            return at(y, kn, "unknown key '%s' in a stage; known: plugin, input, after, params, backend, threads, doc%s", k, hint);
        }
    }
    if (!s->plugin)
        return at(y, m, "stage '%s' has no 'plugin:'", s->name, NULL);
    return SIEVE_OK;
}

static sieve_status read_root(yctx *y, sieve_pipeline *p, yaml_node_t *root)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return at(y, root, "a pipeline is a mapping with 'pipeline:' and 'stages:'", NULL, NULL);
    yaml_node_t *stages = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(y, pr->key), *v = node(y, pr->value);
        const char *k = scalar(kn);
        if (!k)
            return at(y, kn, "top-level keys must be plain words", NULL, NULL);
        if (!strcmp(k, "pipeline")) {
            if (!scalar(v) || !*scalar(v))
                return at(y, v, "'pipeline' must be a name", NULL, NULL);
            free(p->name);
            p->name = strdup(scalar(v));
        } else if (!strcmp(k, "defaults")) {
            if (read_params(y, v, &p->defaults, &p->n_defaults))
                return SIEVE_ERR;
        } else if (!strcmp(k, "ring_capacity")) {
            char *end;
            long c = scalar(v) ? strtol(scalar(v), &end, 10) : 0;
            if (!scalar(v) || *end || c < 1 || c > 1 << 20)
                return at(y, v, "'ring_capacity' must be an integer in 1..1048576", NULL, NULL);
            p->ring_capacity = (int)c;
        } else if (!strcmp(k, "stages")) {
            stages = v;
        } else if (strcmp(k, "doc") != 0) {
            return at(y, kn, "unknown top-level key '%s' (known: pipeline, defaults, stages, ring_capacity, doc)", k, NULL);
        }
    }
    if (!stages)
        return at(y, root, "the pipeline has no 'stages:'", NULL, NULL);
    if (stages->type != YAML_MAPPING_NODE)
        return at(y, stages, "'stages' must be a mapping of stage name: {plugin: ...}", NULL, NULL);
    for (yaml_node_pair_t *pr = stages->data.mapping.pairs.start; pr < stages->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = node(y, pr->key);
        const char *name = scalar(kn);
        if (!name || !*name || strchr(name, '.'))
            return at(y, kn, "a stage name must be a plain word without '.'", NULL, NULL);
        if (sieve_pipeline_stage(p, name))
            return at(y, kn, "stage '%s' is defined twice", name, NULL);
        sieve_pstage *ns = realloc(p->stages, (size_t)(p->n_stages + 1) * sizeof *ns);
        if (!ns)
            return sieve_fail(y->err, "out of memory");
        p->stages = ns;
        sieve_pstage *s = &ns[p->n_stages++];
        memset(s, 0, sizeof *s);
        s->name = strdup(name);
        s->line = line_of(kn);
        s->col = col_of(kn);
        if (read_stage(y, s, node(y, pr->value)))
            return SIEVE_ERR;
    }
    if (!p->name)
        return at(y, root, "the pipeline has no 'pipeline:' name", NULL, NULL);
    return SIEVE_OK;
}

sieve_status sieve_pipeline_load(sieve_pipeline *p, const char *path, sieve_err *err)
{
    memset(p, 0, sizeof *p);
    p->file = strdup(path);
    p->ring_capacity = 16;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sieve_fail(err, "%s: cannot open: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        sieve_fail(err, "%s:%zu:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                   parser.problem_mark.column + 1, parser.problem ? parser.problem : "syntax error",
                   parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return SIEVE_ERR;
    }
    yctx y = {&doc, path, err};
    sieve_status st = read_root(&y, p, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return st;
}

void sieve_pipeline_free(sieve_pipeline *p)
{
    for (int i = 0; i < p->n_stages; i++) {
        sieve_pstage *s = &p->stages[i];
        free(s->name);
        free(s->plugin);
        for (int k = 0; k < s->n_inputs; k++) {
            free(s->inputs[k].stage);
            free(s->inputs[k].port);
        }
        free(s->inputs);
        for (int k = 0; k < s->n_after; k++) {
            free(s->after[k].stage);
            free(s->after[k].port);
        }
        free(s->after);
        sieve_pparams_free(s->params, s->n_params);
    }
    free(p->stages);
    sieve_pparams_free(p->defaults, p->n_defaults);
    free(p->name);
    free(p->file);
    memset(p, 0, sizeof *p);
}

sieve_pstage *sieve_pipeline_stage(sieve_pipeline *p, const char *name)
{
    for (int i = 0; i < p->n_stages; i++)
        if (strcmp(p->stages[i].name, name) == 0)
            return &p->stages[i];
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

sieve_status sieve_pipeline_set(sieve_pipeline *p, const char *assignment, sieve_err *err)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq)
        return sieve_fail(err, "--set %s: expected stage.param=value", assignment);
    char *stage = strndup(assignment, (size_t)(dot - assignment));
    char *param = strndup(dot + 1, (size_t)(eq - dot - 1));
    char *value = strdup(eq + 1);
    char *items[256];
    int n = 0;
    size_t vl = strlen(value);
    if (vl >= 2 && value[0] == '[' && value[vl - 1] == ']') {
        value[vl - 1] = '\0';
        char *save = NULL;
        for (char *t = strtok_r(value + 1, ",", &save); t && n < 256; t = strtok_r(NULL, ",", &save))
            items[n++] = trim(t);
    } else {
        items[n++] = value;
    }
    sieve_status st = SIEVE_OK;
    if (!strcmp(stage, "defaults")) {
        sieve_pparam_put(&p->defaults, &p->n_defaults, param, (const char *const *)items, n, 0, 0);
    } else {
        sieve_pstage *s = sieve_pipeline_stage(p, stage);
        if (!s)
            st = sieve_fail(err, "--set %s: no stage named '%s' in %s", assignment, stage, p->file);
        else
            sieve_pparam_put(&s->params, &s->n_params, param, (const char *const *)items, n, 0, 0);
    }
    free(stage);
    free(param);
    free(value);
    return st;
}
