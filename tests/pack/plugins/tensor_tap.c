/* Test-only stages for tensor streams.
 * test-tensor-tap: a pass-through that counts releases: every
 * tensor it forwards gets a release callback that counts, then calls the
 * producer's own. When the process ends it prints
 *   tensor-tap: tensors passed N released M
 * so a test sees that the consumer released each producer tensor exactly
 * once (a second call would find the box gone: ASan reports it). Test-only
 * global state, as tests/runtime's testkit: the counts must outlive every
 * stage.
 * test-tensor-dump: each tensor as a record {"tensor", "shape", "values"}
 * (f32 values as floats, i32 as ints), so a test reads them as JSONL. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <sieve/sieve.h>

static atomic_long passed, released;

__attribute__((destructor)) static void report(void)
{
    if (atomic_load(&passed))
        fprintf(stderr, "tensor-tap: tensors passed %ld released %ld\n", atomic_load(&passed),
                atomic_load(&released));
}

typedef struct {
    void (*release)(sieve_tensor *t);
    void *private_data;
} box;

static void counted_release(sieve_tensor *t)
{
    box *b = t->private_data;
    t->release = b->release;
    t->private_data = b->private_data;
    free(b);
    sieve_tensor_release(t);
    t->release = NULL;
    atomic_fetch_add(&released, 1);
}

static sieve_status tap_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    (void)p;
    (void)ctx;
    (void)err;
    *state = NULL;
    return SIEVE_OK;
}

static sieve_status tap_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)state;
    if (!in || !in->tensor) return SIEVE_OK;
    box *b = malloc(sizeof *b);
    if (!b) return sieve_fail(err, "out of memory");
    sieve_tensor t;
    sieve_tensor_move(&t, in->tensor);
    b->release = t.release;
    b->private_data = t.private_data;
    t.release = counted_release;
    t.private_data = b;
    atomic_fetch_add(&passed, 1);
    return sieve_emit_tensor(io, 0, &t);
}

static sieve_status dump_process(void *state, const sieve_input *in, sieve_io *io,
                                 sieve_err *err)
{
    (void)state;
    if (!in || !in->tensor) return SIEVE_OK;
    const sieve_tensor *t = in->tensor;
    size_t n = (size_t)sieve_tensor_numel(t);
    int64_t shape[SIEVE_MAX_RANK];
    for (int i = 0; i < t->rank; i++) shape[i] = t->shape[i];
    sieve_batch *b = sieve_batch_new(1);
    sieve_record *r = b ? sieve_batch_add(b) : NULL;
    int bad = !r || sieve_record_set_cstr(r, "tensor", t->name) ||
              sieve_record_set_ints(r, "shape", shape, (size_t)t->rank);
    if (!bad && t->dtype == SIEVE_F32) {
        double *v = malloc((n ? n : 1) * sizeof *v);
        for (size_t i = 0; v && i < n; i++) v[i] = ((const float *)t->data)[i];
        bad = !v || sieve_record_set_floats(r, "values", v, n);
        free(v);
    } else if (!bad && t->dtype == SIEVE_I32) {
        int64_t *v = malloc((n ? n : 1) * sizeof *v);
        for (size_t i = 0; v && i < n; i++) v[i] = ((const int32_t *)t->data)[i];
        bad = !v || sieve_record_set_ints(r, "values", v, n);
        free(v);
    }
    if (bad) {
        sieve_batch_free(b);
        return sieve_fail(err, "out of memory");
    }
    return sieve_emit(io, 0, b);
}

static const sieve_port_desc tap_in[] = {{"in", "tensor(any,any)", "any tensors"}};
static const sieve_port_desc tap_out[] = {{"out", "tensor(i32,2)", "the same tensors"}};

static const sieve_port_desc dump_out[] = {{"out", "records(tensor,shape,values)", "one per tensor"}};

static const sieve_stage_desc stages[] = {
    {
        .name = "test-tensor-tap",
        .doc = "pass tensors through, counting their releases (tests)",
        .inputs = tap_in, .n_inputs = 1,
        .outputs = tap_out, .n_outputs = 1,
        .create = tap_create,
        .process = tap_process,
    },
    {
        .name = "test-tensor-dump",
        .doc = "each tensor as a record {tensor, shape, values} (tests)",
        .inputs = tap_in, .n_inputs = 1,
        .outputs = dump_out, .n_outputs = 1,
        .create = tap_create,
        .process = dump_process,
    },
};

SIEVE_PLUGIN_DEFINE("tensor-tap", "0.1.0", stages)
