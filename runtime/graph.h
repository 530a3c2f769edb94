/* The checked graph: stages bound to plugins, parameters built, edges typed,
 * no cycles. Everything `sieve validate` checks happens here. */
#ifndef SIEVE_GRAPH_H
#define SIEVE_GRAPH_H

#include "pipeline.h"
#include "registry.h"

typedef struct sieve_edge {
    int from, from_port;   /* producer node and its output port */
    int to, to_port;       /* consumer node and its input port */
    int producer;          /* index among the consumer port's producers */
} sieve_edge;

typedef struct sieve_node {
    const sieve_pstage *ps;
    const sieve_stage_desc *desc;
    const sieve_loaded_plugin *plugin;
    sieve_params *params;
    int *after;            /* nodes that must finish before this one starts */
    int n_after;
} sieve_node;

typedef struct sieve_graph {
    const sieve_pipeline *pipeline;
    sieve_node *nodes;
    int n_nodes;
    sieve_edge *edges;
    int n_edges;
    int *order;            /* a topological order of nodes */
} sieve_graph;

sieve_status sieve_graph_build(sieve_graph *g, const sieve_pipeline *p, const sieve_registry *reg,
                               sieve_err *err);
void sieve_graph_free(sieve_graph *g);

/* True when a producer port of type `out` may feed a consumer port of type `in`. */
bool sieve_port_types_match(const char *out, const char *in);

/* Writes the graph as Graphviz DOT. */
void sieve_graph_dot(const sieve_graph *g, FILE *f);
/* Writes the pipeline with every parameter resolved (defaults filled in) as YAML. */
void sieve_graph_write_resolved(const sieve_graph *g, FILE *f);

#endif
