/* Stages that exist to test the runtime: a counting source, a stage that
 * fails on purpose, a slow pass-through (for kill/resume tests), and tensor
 * producer/consumer stages that count releases. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdatomic.h>
#include <stdio.h>

#include <sieve/sieve.h>

/* Tensors made and released by test-tensor-out, printed when the process
 * ends: the release-exactly-once test compares the two. (Test-only global
 * state: the counts must outlive every stage.) */
static atomic_long tensors_made, tensors_released;

__attribute__((destructor)) static void report_tensors(void)
{
    if (atomic_load(&tensors_made))
        fprintf(stderr, "testkit: tensors made %ld released %ld\n", atomic_load(&tensors_made),
                atomic_load(&tensors_released));
}

static void counted_release(sieve_tensor *t)
{
    free(t->data);
    t->data = NULL;
    t->release = NULL;
    atomic_fetch_add(&tensors_released, 1);
}

typedef struct kit {
    sieve_ctx *ctx;
    int64_t n, i, fail_at, seen, sleep_us;
} kit;

static sieve_status kit_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    kit *k = calloc(1, sizeof *k);
    if (!k)
        return sieve_fail(err, "out of memory");
    k->ctx = ctx;
    k->n = sieve_param_int(p, "n");
    k->fail_at = sieve_param_int(p, "fail_at");
    k->sleep_us = sieve_param_int(p, "sleep_us");
    *state = k;
    return SIEVE_OK;
}

static void kit_destroy(void *state)
{
    kit *k = state;
    /* Proof of cleanup for the error-propagation test. */
    sieve_log(k->ctx, SIEVE_LOG_INFO, "destroyed after %lld records", (long long)k->seen);
    free(k);
}

/* test-count: emits {"i": 0..n-1} in batches of 100. */
static sieve_status count_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)in;
    kit *k = state;
    if (k->i >= k->n)
        return SIEVE_EOS;
    sieve_batch *b = sieve_batch_new(100);
    for (int j = 0; j < 100 && k->i < k->n; j++, k->i++) {
        sieve_record *r = sieve_batch_add(b);
        sieve_record_set_int(r, "i", k->i);
        if (k->sleep_us) {
            struct timespec ts = {0, k->sleep_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
    k->seen = k->i;
    if (k->fail_at >= 0 && k->i > k->fail_at)
        return sieve_fail(err, "failing on purpose after %lld records", (long long)k->i);
    return sieve_emit(io, 0, b);
}

/* test-fail: passes records on and fails once it has seen fail_at of them. */
static sieve_status fail_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    kit *k = state;
    k->seen += (int64_t)in->batch->n_recs;
    if (k->seen > k->fail_at)
        return sieve_fail(err, "failing on purpose at record %lld", (long long)k->fail_at);
    sieve_batch *b = sieve_batch_new(in->batch->n_recs);
    for (size_t i = 0; i < in->batch->n_recs; i++)
        sieve_batch_push(b, &in->batch->recs[i]);
    return sieve_emit(io, 0, b);
}

/* test-tensor-out: one i32 tensor [n, 3] per input batch, counting up from 0,
 * so the consumer can check it got every value exactly once. */
static sieve_status tensor_out_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    kit *k = state;
    int64_t shape[2] = {(int64_t)in->batch->n_recs, 3};
    sieve_tensor t;
    if (sieve_tensor_alloc(&t, "ids", SIEVE_I32, 2, shape, err))
        return SIEVE_ERR;
    t.release = counted_release; /* same malloc'd buffer, counted release */
    atomic_fetch_add(&tensors_made, 1);
    int32_t *d = t.data;
    for (int64_t i = 0; i < shape[0] * 3; i++)
        d[i] = (int32_t)(k->seen * 3 + i);
    k->seen += shape[0];
    return sieve_emit_tensor(io, 0, &t);
}

/* test-tensor-in: sums what it receives and emits {"rows", "sum"} at the end. */
static sieve_status tensor_in_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    kit *k = state;
    if (!in->tensor || in->tensor->dtype != SIEVE_I32 || in->tensor->rank != 2)
        return sieve_fail(err, "expected an i32 tensor of rank 2");
    const int32_t *d = in->tensor->data;
    for (int64_t i = 0; i < sieve_tensor_numel(in->tensor); i++)
        k->i += d[i];
    k->seen += in->tensor->shape[0];
    return SIEVE_OK;
}

static sieve_status tensor_in_flush(void *state, sieve_io *io, sieve_err *err)
{
    (void)err;
    kit *k = state;
    sieve_batch *b = sieve_batch_new(1);
    sieve_record *r = sieve_batch_add(b);
    sieve_record_set_int(r, "rows", k->seen);
    sieve_record_set_int(r, "sum", k->i);
    return sieve_emit(io, 0, b);
}

static const sieve_port_desc rin[] = {{"in", "records", NULL}};
static const sieve_port_desc rout[] = {{"out", "records", NULL}};
static const sieve_port_desc tout[] = {{"ids", "tensor(i32,2)", "token ids"}};
static const sieve_port_desc tin[] = {{"ids", "tensor(i32,2)", "token ids"}};
static const sieve_port_desc tin_f32[] = {{"x", "tensor(f32,2)", "features"}};
/* alternatives; the '|' inside records(..) is part of one type */
static const sieve_port_desc either_in[] = {{"in", "tensor(f32,2) | records(x|y)", NULL}};
static const sieve_param_desc params[] = {
    {"n", SIEVE_P_INT, "1000", "records to emit"},
    {"fail_at", SIEVE_P_INT, "-1", "fail after this many records (-1: never)"},
    {"sleep_us", SIEVE_P_INT, "0", "sleep per record"},
};

static const sieve_stage_desc stages[] = {
    {"test-count", "Emit n counting records", NULL, 0, rout, 1, params, 3, 0, kit_create,
     count_process, NULL, kit_destroy},
    {"test-fail", "Fail after fail_at records", rin, 1, rout, 1, params, 3, 0, kit_create,
     fail_process, NULL, kit_destroy},
    {"test-tensor-out", "Records to i32 tensors", rin, 1, tout, 1, params, 3, 0, kit_create,
     tensor_out_process, NULL, kit_destroy},
    {"test-tensor-in", "Sum i32 tensors", tin, 1, rout, 1, params, 3, 0, kit_create,
     tensor_in_process, tensor_in_flush, kit_destroy},
    {"test-f32-in", "Takes f32 tensors (for type checks)", tin_f32, 1, rout, 1, params, 3, 0,
     kit_create, tensor_in_process, NULL, kit_destroy},
    {"test-either-in", "Takes f32 tensors or records (for type checks)", either_in, 1, rout, 1,
     params, 3, 0, kit_create, tensor_in_process, NULL, kit_destroy},
};

SIEVE_PLUGIN_DEFINE("testkit", "0.1.0", stages)
