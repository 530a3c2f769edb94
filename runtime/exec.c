/* The executor. Each stage runs on its own thread; items travel through one
 * bounded SPSC ring per edge, so a slow consumer stalls its producer
 * (backpressure). End-of-stream and stop travel the same way: a producer
 * that finishes pushes EOS to every consumer; the first error sets the shared
 * stop flag, and every blocked push/pop gives up and the thread unwinds
 * through flush-less destroy. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* What travels through a ring. Fan-out shares one message between consumers
 * with a reference count; a consumer that is not the last holder copies the
 * payload before handing it to its stage (copy on write). */
typedef struct msg {
    sieve_batch *batch;
    sieve_tensor *tensor;
    atomic_int refs;
} msg;

static msg eos_msg; /* the end-of-stream marker, never freed */

typedef struct exec_state exec_state;

typedef struct node_run {
    exec_state *ex;
    int index;
    sieve_ring **in_rings;   /* one per incoming edge, in edge order */
    int *in_edges;
    int n_in;
    sieve_ring **out_rings;  /* one per outgoing edge */
    int *out_edges;
    int n_out;
    sieve_ctx ctx;
    sieve_io io;
    sieve_stage_stats stats;
    atomic_int finished;     /* set when the thread is done: `after:` waits on it */
    /* Items taken off the input rings while waiting for `after:` stages, so a
     * producer that also feeds those stages is never blocked by us. */
    struct held { void **items; size_t n, cap, next; } *held;
    pthread_t thread;
} node_run;

struct exec_state {
    const sieve_graph *g;
    const sieve_exec_opts *opts;
    node_run *nodes;
    sieve_ring **edge_rings;
    atomic_int stop;
    pthread_mutex_t lock;
    bool failed;
    sieve_err first_err;
};

static void msg_free(msg *m)
{
    if (!m || m == &eos_msg)
        return;
    sieve_batch_free(m->batch);
    if (m->tensor) {
        sieve_tensor_release(m->tensor);
        free(m->tensor);
    }
    free(m);
}

static sieve_tensor *tensor_clone(const sieve_tensor *t)
{
    sieve_tensor *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (t->device.kind != SIEVE_DEV_CPU ||
        sieve_tensor_alloc(c, t->name, t->dtype, t->rank, t->shape, NULL) != SIEVE_OK) {
        free(c);
        return NULL;
    }
    memcpy(c->data, t->data, (size_t)sieve_tensor_numel(t) * sieve_dtype_size(t->dtype));
    return c;
}

/* Takes this consumer's share of a message as an exclusively owned payload. */
static int msg_take(msg *m, sieve_batch **batch, sieve_tensor **tensor)
{
    *batch = NULL;
    *tensor = NULL;
    if (atomic_load_explicit(&m->refs, memory_order_acquire) == 1) {
        *batch = m->batch;
        *tensor = m->tensor;
        free(m);
        return 0;
    }
    /* Shared: copy first (others only read), then drop our reference. */
    if (m->batch)
        *batch = sieve_batch_clone(m->batch);
    if (m->tensor)
        *tensor = tensor_clone(m->tensor);
    int ok = (!m->batch || *batch) && (!m->tensor || *tensor);
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        msg_free(m);
    return ok ? 0 : -1;
}

static void fail(exec_state *ex, int node, const sieve_err *err)
{
    pthread_mutex_lock(&ex->lock);
    if (!ex->failed) {
        ex->failed = true;
        const sieve_node *n = &ex->g->nodes[node];
        snprintf(ex->first_err.msg, sizeof ex->first_err.msg, "pipeline '%s', stage '%s' (%s): %s",
                 ex->g->pipeline->name, n->ps->name, n->desc->name, err->msg);
    }
    pthread_mutex_unlock(&ex->lock);
    atomic_store(&ex->stop, 1);
}

static sieve_status send(sieve_io *io, int port, sieve_batch *batch, sieve_tensor *tensor)
{
    node_run *nr = io->impl;
    exec_state *ex = nr->ex;
    const sieve_node *n = &ex->g->nodes[nr->index];
    int consumers = 0;
    for (int k = 0; k < nr->n_out; k++)
        consumers += ex->g->edges[nr->out_edges[k]].from_port == port;
    if (port < 0 || port >= n->desc->n_outputs) {
        sieve_batch_free(batch);
        if (tensor) {
            sieve_tensor_release(tensor);
            free(tensor);
        }
        return SIEVE_ERR;
    }
    if (batch) {
        nr->stats.batches_out++;
        nr->stats.records_out += (int64_t)batch->n_recs;
    }
    if (consumers == 0) { /* an unconnected port: the data is dropped */
        sieve_batch_free(batch);
        if (tensor) {
            sieve_tensor_release(tensor);
            free(tensor);
        }
        return SIEVE_OK;
    }
    msg *m = malloc(sizeof *m);
    if (!m) {
        sieve_batch_free(batch);
        return SIEVE_ERR;
    }
    m->batch = batch;
    m->tensor = tensor;
    atomic_init(&m->refs, consumers);
    for (int k = 0; k < nr->n_out; k++) {
        if (ex->g->edges[nr->out_edges[k]].from_port != port)
            continue;
        if (!sieve_ring_push(nr->out_rings[k], m, &ex->stop)) {
            /* Stopping: drop the references not handed out. */
            int left = 0;
            for (int j = k; j < nr->n_out; j++)
                left += ex->g->edges[nr->out_edges[j]].from_port == port;
            if (atomic_fetch_sub(&m->refs, left) == left)
                msg_free(m);
            return SIEVE_STOPPED;
        }
    }
    return SIEVE_OK;
}

static void send_eos(node_run *nr)
{
    for (int k = 0; k < nr->n_out; k++)
        sieve_ring_push(nr->out_rings[k], &eos_msg, &nr->ex->stop);
}

static sieve_status run_source(node_run *nr, void *state, sieve_err *err)
{
    const sieve_stage_desc *d = nr->ex->g->nodes[nr->index].desc;
    for (;;) {
        if (atomic_load(&nr->ex->stop))
            return SIEVE_STOPPED;
        sieve_status st = d->process(state, NULL, &nr->io, err);
        if (st == SIEVE_EOS)
            return SIEVE_OK;
        if (st != SIEVE_OK)
            return st;
    }
}

static sieve_status deliver(node_run *nr, void *state, int k, msg *m, sieve_err *err)
{
    const exec_state *ex = nr->ex;
    const sieve_edge *e = &ex->g->edges[nr->in_edges[k]];
    sieve_input in = {e->to_port, e->producer, NULL, NULL};
    if (msg_take(m, &in.batch, &in.tensor))
        return sieve_fail(err, "out of memory copying a fanned-out item");
    if (in.batch) {
        nr->stats.batches_in++;
        nr->stats.records_in += (int64_t)in.batch->n_recs;
    }
    sieve_status st = ex->g->nodes[nr->index].desc->process(state, &in, &nr->io, err);
    sieve_batch_free(in.batch);
    if (in.tensor) {
        sieve_tensor_release(in.tensor);
        free(in.tensor);
    }
    return st;
}

/* Next item of input k: held ones first, then the ring. */
static bool next_item(node_run *nr, int k, void **item)
{
    struct held *h = nr->held ? &nr->held[k] : NULL;
    if (h && h->next < h->n) {
        *item = h->items[h->next++];
        return true;
    }
    return sieve_ring_try_pop(nr->in_rings[k], item);
}

static bool hold_inputs(node_run *nr)
{
    bool got = false;
    for (int k = 0; k < nr->n_in; k++) {
        struct held *h = &nr->held[k];
        for (;;) {
            if (h->n == h->cap) {
                size_t cap = h->cap ? 2 * h->cap : 64;
                void **ni = realloc(h->items, cap * sizeof *ni);
                if (!ni)
                    return got; /* out of memory: leave the rest in the ring (backpressure) */
                h->items = ni;
                h->cap = cap;
            }
            if (!sieve_ring_try_pop(nr->in_rings[k], &h->items[h->n]))
                break;
            h->n++;
            got = true;
        }
    }
    return got;
}

static sieve_status run_filter(node_run *nr, void *state, sieve_err *err)
{
    bool *ended = calloc((size_t)nr->n_in, sizeof *ended);
    int n_ended = 0;
    unsigned idle = 0;
    sieve_status st = SIEVE_OK;
    while (n_ended < nr->n_in && st == SIEVE_OK) {
        bool got = false;
        for (int k = 0; k < nr->n_in && st == SIEVE_OK; k++) {
            void *item;
            if (ended[k] || !next_item(nr, k, &item))
                continue;
            got = true;
            if (item == &eos_msg) {
                ended[k] = true;
                n_ended++;
            } else {
                st = deliver(nr, state, k, item, err);
            }
        }
        if (got) {
            idle = 0;
            continue;
        }
        if (atomic_load(&nr->ex->stop)) {
            st = SIEVE_STOPPED;
            break;
        }
        /* Nothing anywhere: wait on the first open ring (blocking pop backs off). */
        for (int k = 0; k < nr->n_in; k++) {
            if (ended[k])
                continue;
            void *item;
            if (nr->n_in == 1) {
                if (!sieve_ring_pop(nr->in_rings[k], &item, &nr->ex->stop)) {
                    st = SIEVE_STOPPED;
                    break;
                }
                if (item == &eos_msg) {
                    ended[k] = true;
                    n_ended++;
                } else {
                    st = deliver(nr, state, k, item, err);
                }
            } else if (++idle > 64) {
                struct timespec ts = {0, 50000};
                nanosleep(&ts, NULL);
            }
            break;
        }
    }
    free(ended);
    const sieve_stage_desc *d = nr->ex->g->nodes[nr->index].desc;
    if (st == SIEVE_OK && d->flush)
        st = d->flush(state, &nr->io, err);
    return st;
}

static void *stage_thread(void *arg)
{
    node_run *nr = arg;
    exec_state *ex = nr->ex;
    const sieve_node *n = &ex->g->nodes[nr->index];
    sieve_err err = {{0}};
    void *state = NULL;
    /* `after:` stages must have finished (their outputs complete) first;
     * meanwhile our inputs are held so that no producer waits on us. */
    if (n->n_after && nr->n_in)
        nr->held = calloc((size_t)nr->n_in, sizeof *nr->held);
    for (int k = 0; k < n->n_after; k++)
        while (!atomic_load(&ex->nodes[n->after[k]].finished) && !atomic_load(&ex->stop)) {
            if (nr->held && hold_inputs(nr))
                continue;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    double t0 = sieve_rt_now();
    sieve_status st = atomic_load(&ex->stop) ? SIEVE_STOPPED : n->desc->create(n->params, &nr->ctx, &state, &err);
    if (st == SIEVE_OK)
        st = n->desc->n_inputs == 0 ? run_source(nr, state, &err) : run_filter(nr, state, &err);
    if (n->desc->destroy && state)
        n->desc->destroy(state);
    if (st == SIEVE_OK || st == SIEVE_EOS) {
        st = SIEVE_OK;
        send_eos(nr);
    } else if (st != SIEVE_STOPPED || !atomic_load(&ex->stop)) {
        if (!err.msg[0])
            snprintf(err.msg, sizeof err.msg, "failed without a message (status %d)", st);
        fail(ex, nr->index, &err);
    }
    nr->stats.seconds = sieve_rt_now() - t0;
    nr->stats.status = st;
    for (int k = 0; nr->held && k < nr->n_in; k++) { /* what a stop left unread */
        for (size_t i = nr->held[k].next; i < nr->held[k].n; i++) {
            msg *m = nr->held[k].items[i];
            if (m != &eos_msg && atomic_fetch_sub(&m->refs, 1) == 1)
                msg_free(m);
        }
        free(nr->held[k].items);
    }
    free(nr->held);
    nr->held = NULL;
    atomic_store(&nr->finished, 1);
    if (ex->opts->on_stage_done) {
        pthread_mutex_lock(&ex->lock);
        ex->opts->on_stage_done(ex->opts->user, nr->index, &nr->stats);
        pthread_mutex_unlock(&ex->lock);
    }
    return NULL;
}

const void *sieve_exec_load_kernels(void *rt, const char *name, sieve_err *err)
{
    return sieve_registry_kernels(rt, name, err);
}

sieve_status sieve_exec_run(const sieve_graph *g, const sieve_exec_opts *opts,
                            sieve_stage_stats *stats, sieve_err *err)
{
    exec_state ex = {0};
    ex.g = g;
    ex.opts = opts;
    atomic_init(&ex.stop, 0);
    pthread_mutex_init(&ex.lock, NULL);
    pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    ex.nodes = calloc((size_t)g->n_nodes, sizeof *ex.nodes);
    ex.edge_rings = calloc((size_t)g->n_edges + 1, sizeof *ex.edge_rings);
    for (int e = 0; e < g->n_edges; e++)
        ex.edge_rings[e] = sieve_ring_new((size_t)g->pipeline->ring_capacity);
    for (int i = 0; i < g->n_nodes; i++) {
        node_run *nr = &ex.nodes[i];
        nr->ex = &ex;
        nr->index = i;
        nr->in_rings = calloc((size_t)g->n_edges + 1, sizeof *nr->in_rings);
        nr->in_edges = calloc((size_t)g->n_edges + 1, sizeof *nr->in_edges);
        nr->out_rings = calloc((size_t)g->n_edges + 1, sizeof *nr->out_rings);
        nr->out_edges = calloc((size_t)g->n_edges + 1, sizeof *nr->out_edges);
        for (int e = 0; e < g->n_edges; e++) {
            if (g->edges[e].to == i) {
                nr->in_rings[nr->n_in] = ex.edge_rings[e];
                nr->in_edges[nr->n_in++] = e;
            }
            if (g->edges[e].from == i) {
                nr->out_rings[nr->n_out] = ex.edge_rings[e];
                nr->out_edges[nr->n_out++] = e;
            }
        }
        nr->ctx = (sieve_ctx){.stage = (char *)g->nodes[i].ps->name,
                              .pipeline = (char *)g->pipeline->name,
                              .run_dir = (char *)opts->run_dir,
                              .resuming = opts->resuming,
                              .resumable = true,
                              .stop = &ex.stop,
                              .log = opts->log,
                              .metrics = opts->metrics,
                              .lock = &log_lock,
                              .verbosity = opts->verbosity,
                              .load_kernels = sieve_exec_load_kernels,
                              .rt = (void *)opts->reg};
        nr->io = (sieve_io){send, nr};
    }
    int started = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        int i = g->order[k];
        if (pthread_create(&ex.nodes[i].thread, NULL, stage_thread, &ex.nodes[i])) {
            sieve_err e2;
            snprintf(e2.msg, sizeof e2.msg, "cannot start a thread");
            fail(&ex, i, &e2);
            break;
        }
        started++;
    }
    for (int k = 0; k < started; k++)
        pthread_join(ex.nodes[g->order[k]].thread, NULL);
    /* Whatever is still in the rings after a stop is freed here. */
    for (int e = 0; e < g->n_edges; e++) {
        void *item;
        while (sieve_ring_try_pop(ex.edge_rings[e], &item)) {
            msg *m = item;
            if (m != &eos_msg && atomic_fetch_sub(&m->refs, 1) == 1)
                msg_free(m);
        }
        sieve_ring_free(ex.edge_rings[e]);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (stats)
            stats[i] = ex.nodes[i].stats;
        free(ex.nodes[i].in_rings);
        free(ex.nodes[i].in_edges);
        free(ex.nodes[i].out_rings);
        free(ex.nodes[i].out_edges);
    }
    free(ex.nodes);
    free(ex.edge_rings);
    pthread_mutex_destroy(&ex.lock);
    if (ex.failed) {
        *err = ex.first_err;
        return SIEVE_ERR;
    }
    return SIEVE_OK;
}
