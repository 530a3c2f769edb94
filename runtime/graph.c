/* Building and checking the stage graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* "records" and "records(a,b)" all connect; "tensor(any,2)" matches any dtype. */
static bool one_type_matches(const char *out, const char *in)
{
    if (!strncmp(out, "records", 7) && !strncmp(in, "records", 7))
        return true;
    if (!strncmp(out, "tensor(", 7) && !strncmp(in, "tensor(", 7)) {
        char od[16] = "", id[16] = "", orank[16] = "", irank[16] = "";
        if (sscanf(out, "tensor(%15[^,],%15[^)])", od, orank) != 2 ||
            sscanf(in, "tensor(%15[^,],%15[^)])", id, irank) != 2)
            return false;
        bool dt = !strcmp(od, id) || !strcmp(od, "any") || !strcmp(id, "any");
        bool rk = !strcmp(orank, irank) || !strcmp(orank, "any") || !strcmp(irank, "any");
        return dt && rk;
    }
    return strcmp(out, in) == 0;
}

/* The next alternative of a type that may be a union, "A | B" (a '|' inside
 * parentheses, as in records(a|b), is part of one type): copied trimmed into
 * buf; returns where the rest starts, or NULL after the last. */
static const char *next_alternative(const char *t, char *buf, size_t cap)
{
    while (*t == ' ') t++;
    size_t n = 0;
    int depth = 0;
    for (; *t && !(*t == '|' && depth == 0); t++) {
        depth += *t == '(' ? 1 : *t == ')' ? -1 : 0;
        if (n + 1 < cap) buf[n++] = *t;
    }
    while (n && buf[n - 1] == ' ') n--;
    buf[n] = 0;
    return *t ? t + 1 : NULL;
}

/* True when some alternative of `out` matches some alternative of `in`. */
bool sieve_port_types_match(const char *out, const char *in)
{
    char o[256], i[256];
    for (const char *po = out; po;) {
        po = next_alternative(po, o, sizeof o);
        for (const char *pi = in; pi;) {
            pi = next_alternative(pi, i, sizeof i);
            if (one_type_matches(o, i))
                return true;
        }
    }
    return false;
}

static int node_index(const sieve_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].ps->name, name))
            return i;
    return -1;
}

static sieve_status bind_stage(sieve_graph *g, int i, const sieve_registry *reg, sieve_err *err)
{
    const sieve_pipeline *p = g->pipeline;
    sieve_node *n = &g->nodes[i];
    const sieve_pstage *s = n->ps;
    n->desc = sieve_registry_find(reg, s->plugin, &n->plugin);
    if (!n->desc) {
        const char *near = sieve_registry_closest(reg, s->plugin);
        char *known = sieve_registry_stage_list(reg);
        sieve_fail(err, "%s:%d:%d: stage '%s': unknown plugin '%s'%s%s%s; known: %s", p->file,
                   s->plugin_line, s->plugin_col, s->name, s->plugin, near ? " (did you mean '" : "",
                   near ? near : "", near ? "'?)" : "", known ? known : "");
        free(known);
        return SIEVE_ERR;
    }
    /* Defaults first (only those this stage declares), then the stage's own:
     * the last value of a name wins. */
    int cap = p->n_defaults + s->n_params;
    sieve_raw_param *raw = calloc((size_t)(cap ? cap : 1), sizeof *raw);
    int n_raw = 0;
    for (int d = 0; d < p->n_defaults; d++)
        for (int k = 0; k < n->desc->n_params; k++)
            if (!strcmp(p->defaults[d].name, n->desc->params[k].name))
                raw[n_raw++] = (sieve_raw_param){p->defaults[d].name,
                                                 (const char *const *)p->defaults[d].items,
                                                 p->defaults[d].n_items, p->defaults[d].line,
                                                 p->defaults[d].col};
    for (int k = 0; k < s->n_params; k++)
        raw[n_raw++] = (sieve_raw_param){s->params[k].name, (const char *const *)s->params[k].items,
                                         s->params[k].n_items, s->params[k].line, s->params[k].col};
    sieve_status st = sieve_rt_params_build(n->desc, raw, n_raw, p->file, s->name, s->line, s->col,
                                            &n->params, err);
    free(raw);
    if (st != SIEVE_OK)
        return st;
    /* A stage with a `backend` parameter needs that kernel backend here and
     * now (a CUDA stage on a machine without a GPU fails at validate time). */
    for (int k = 0; k < n->desc->n_params; k++) {
        if (strcmp(n->desc->params[k].name, "backend"))
            continue;
        const char *backend = sieve_param_str(n->params, "backend");
        sieve_err kerr = {{0}};
        if (backend && !sieve_registry_kernels(reg, backend, &kerr))
            return sieve_fail(err, "%s:%d:%d: stage '%s': backend '%s' cannot be used: %s", p->file, s->line,
                              s->col, s->name, backend, kerr.msg);
    }
    return SIEVE_OK;
}

static sieve_status stage_not_found(const sieve_graph *g, const sieve_pinput *in, const char *stage,
                                    const char *what, sieve_err *err)
{
    char known[2048] = "";
    for (int j = 0; j < g->n_nodes; j++)
        if (strlen(known) + strlen(g->nodes[j].ps->name) + 3 < sizeof known) {
            if (*known)
                strcat(known, ", ");
            strcat(known, g->nodes[j].ps->name);
        }
    return sieve_fail(err, "%s:%d:%d: stage '%s': %s '%s' is not a stage of this pipeline; stages: %s",
                      g->pipeline->file, in->line, in->col, stage, what, in->stage, known);
}

static sieve_status add_after(sieve_graph *g, int i, sieve_err *err)
{
    const sieve_pstage *s = g->nodes[i].ps;
    if (!s->n_after)
        return SIEVE_OK;
    g->nodes[i].after = calloc((size_t)s->n_after, sizeof *g->nodes[i].after);
    if (!g->nodes[i].after)
        return sieve_fail(err, "out of memory");
    for (int k = 0; k < s->n_after; k++) {
        int j = node_index(g, s->after[k].stage);
        if (j < 0 || s->after[k].port)
            return stage_not_found(g, &s->after[k], s->name, "after:", err);
        g->nodes[i].after[g->nodes[i].n_after++] = j;
    }
    return SIEVE_OK;
}

static sieve_status add_edges(sieve_graph *g, int i, sieve_err *err)
{
    const sieve_pipeline *p = g->pipeline;
    sieve_node *n = &g->nodes[i];
    const sieve_pstage *s = n->ps;
    const sieve_stage_desc *d = n->desc;
    bool variadic = d->flags & SIEVE_STAGE_VARIADIC;
    if (d->n_inputs == 0 && s->n_inputs > 0)
        return sieve_fail(err, "%s:%d:%d: stage '%s' (%s) takes no input", p->file, s->inputs[0].line,
                          s->inputs[0].col, s->name, s->plugin);
    if (s->n_inputs < d->n_inputs || (!variadic && s->n_inputs > d->n_inputs))
        return sieve_fail(err, "%s:%d:%d: stage '%s' (%s) needs %s%d input%s, got %d", p->file, s->line,
                          s->col, s->name, s->plugin, variadic ? "at least " : "", d->n_inputs,
                          d->n_inputs == 1 ? "" : "s", s->n_inputs);
    int per_port[64] = {0};
    for (int k = 0; k < s->n_inputs; k++) {
        const sieve_pinput *in = &s->inputs[k];
        int from = node_index(g, in->stage);
        if (from < 0)
            return stage_not_found(g, in, s->name, "input", err);
        const sieve_stage_desc *fd = g->nodes[from].desc;
        int from_port = 0;
        if (in->port) {
            from_port = -1;
            for (int q = 0; q < fd->n_outputs; q++)
                if (!strcmp(fd->outputs[q].name, in->port))
                    from_port = q;
            if (from_port < 0)
                return sieve_fail(err, "%s:%d:%d: stage '%s': '%s' (%s) has no output port '%s'",
                                  p->file, in->line, in->col, s->name, in->stage, fd->name, in->port);
        }
        if (fd->n_outputs == 0)
            return sieve_fail(err, "%s:%d:%d: stage '%s': '%s' (%s) has no output", p->file, in->line,
                              in->col, s->name, in->stage, fd->name);
        int to_port = k < d->n_inputs ? k : d->n_inputs - 1;
        const char *ot = fd->outputs[from_port].type, *it = d->inputs[to_port].type;
        if (!sieve_port_types_match(ot, it))
            return sieve_fail(err, "%s:%d:%d: type mismatch: %s.%s is %s but %s.%s takes %s", p->file,
                              in->line, in->col, in->stage, fd->outputs[from_port].name, ot, s->name,
                              d->inputs[to_port].name, it);
        sieve_edge *ne = realloc(g->edges, (size_t)(g->n_edges + 1) * sizeof *ne);
        if (!ne)
            return sieve_fail(err, "out of memory");
        g->edges = ne;
        g->edges[g->n_edges++] = (sieve_edge){from, from_port, i, to_port, to_port < 64 ? per_port[to_port]++ : 0};
    }
    return SIEVE_OK;
}

/* Depth-first search; on a back edge, names the cycle. */
static sieve_status visit(sieve_graph *g, int v, int *mark, int *stack, int depth, int *n_order,
                          sieve_err *err)
{
    if (mark[v] == 2)
        return SIEVE_OK;
    stack[depth] = v;
    if (mark[v] == 1) {
        char cyc[2048] = "";
        int start = 0;
        while (stack[start] != v)
            start++;
        for (int k = start; k <= depth; k++) {
            if (k > start)
                strcat(cyc, " -> ");
            strncat(cyc, g->nodes[stack[k]].ps->name, sizeof cyc - strlen(cyc) - 8);
        }
        return sieve_fail(err, "%s: the stages form a cycle: %s", g->pipeline->file, cyc);
    }
    mark[v] = 1;
    for (int e = 0; e < g->n_edges; e++)
        if (g->edges[e].to == v && visit(g, g->edges[e].from, mark, stack, depth + 1, n_order, err))
            return SIEVE_ERR;
    for (int k = 0; k < g->nodes[v].n_after; k++)
        if (visit(g, g->nodes[v].after[k], mark, stack, depth + 1, n_order, err))
            return SIEVE_ERR;
    mark[v] = 2;
    g->order[(*n_order)++] = v;
    return SIEVE_OK;
}

sieve_status sieve_graph_build(sieve_graph *g, const sieve_pipeline *p, const sieve_registry *reg,
                               sieve_err *err)
{
    memset(g, 0, sizeof *g);
    g->pipeline = p;
    if (p->n_stages == 0)
        return sieve_fail(err, "%s: the pipeline has no stages", p->file);
    g->nodes = calloc((size_t)p->n_stages, sizeof *g->nodes);
    g->order = calloc((size_t)p->n_stages, sizeof *g->order);
    if (!g->nodes || !g->order)
        return sieve_fail(err, "out of memory");
    g->n_nodes = p->n_stages;
    for (int i = 0; i < p->n_stages; i++)
        g->nodes[i].ps = &p->stages[i];
    for (int i = 0; i < g->n_nodes; i++)
        if (bind_stage(g, i, reg, err))
            return SIEVE_ERR;
    for (int i = 0; i < g->n_nodes; i++)
        if (add_edges(g, i, err) || add_after(g, i, err))
            return SIEVE_ERR;
    int *mark = calloc((size_t)g->n_nodes, sizeof *mark);
    int *stack = calloc((size_t)g->n_nodes + 1, sizeof *stack);
    int n_order = 0;
    sieve_status st = SIEVE_OK;
    for (int v = 0; v < g->n_nodes && st == SIEVE_OK; v++)
        st = visit(g, v, mark, stack, 0, &n_order, err);
    free(mark);
    free(stack);
    return st;
}

void sieve_graph_free(sieve_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        sieve_rt_params_free(g->nodes[i].params);
        free(g->nodes[i].after);
    }
    free(g->nodes);
    free(g->edges);
    free(g->order);
    memset(g, 0, sizeof *g);
}

void sieve_graph_dot(const sieve_graph *g, FILE *f)
{
    fprintf(f, "digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
            g->pipeline->name);
    for (int i = 0; i < g->n_nodes; i++)
        fprintf(f, "  \"%s\" [label=\"%s\\n(%s)\"];\n", g->nodes[i].ps->name, g->nodes[i].ps->name,
                g->nodes[i].desc->name);
    for (int e = 0; e < g->n_edges; e++) {
        const sieve_edge *ed = &g->edges[e];
        const sieve_port_desc *op = &g->nodes[ed->from].desc->outputs[ed->from_port];
        fprintf(f, "  \"%s\" -> \"%s\" [label=\"%s: %s\"];\n", g->nodes[ed->from].ps->name,
                g->nodes[ed->to].ps->name, op->name, op->type);
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_after; k++)
            fprintf(f, "  \"%s\" -> \"%s\" [style=dashed, label=\"after\"];\n",
                    g->nodes[g->nodes[i].after[k]].ps->name, g->nodes[i].ps->name);
    fputs("}\n", f);
}

/* YAML double-quoted scalar. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void sieve_graph_write_resolved(const sieve_graph *g, FILE *f)
{
    fprintf(f, "# resolved by sieve: every parameter of every stage, defaults filled in\n");
    fprintf(f, "pipeline: ");
    put_quoted(f, g->pipeline->name);
    fprintf(f, "\nring_capacity: %d\nstages:\n", g->pipeline->ring_capacity);
    for (int i = 0; i < g->n_nodes; i++) {
        const sieve_node *n = &g->nodes[i];
        fprintf(f, "  %s:\n    plugin: %s\n", n->ps->name, n->desc->name);
        if (n->ps->n_inputs) {
            fprintf(f, "    input: [");
            for (int k = 0; k < n->ps->n_inputs; k++)
                fprintf(f, "%s%s%s%s", k ? ", " : "", n->ps->inputs[k].stage,
                        n->ps->inputs[k].port ? "." : "", n->ps->inputs[k].port ? n->ps->inputs[k].port : "");
            fprintf(f, "]\n");
        }
        if (n->n_after) {
            fprintf(f, "    after: [");
            for (int k = 0; k < n->n_after; k++)
                fprintf(f, "%s%s", k ? ", " : "", g->nodes[n->after[k]].ps->name);
            fprintf(f, "]\n");
        }
        if (!n->params->n)
            continue;
        fprintf(f, "    params:\n");
        for (int k = 0; k < n->params->n; k++) {
            const sieve_param_value *v = &n->params->values[k];
            fprintf(f, "      %s: ", v->name);
            if (v->type == SIEVE_P_LIST) {
                fputc('[', f);
                for (int j = 0; j < v->n_items; j++) {
                    if (j)
                        fputs(", ", f);
                    put_quoted(f, v->items[j]);
                }
                fputc(']', f);
            } else {
                put_quoted(f, v->n_items ? v->items[0] : "");
            }
            fputc('\n', f);
        }
    }
}
