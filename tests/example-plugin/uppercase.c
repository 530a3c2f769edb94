/* An example third-party plugin, built outside sieve's tree with nothing but
 * the installed headers and `pkg-config sieve` (see Makefile). Its stage
 * `uppercase` upper-cases one string field (ASCII letters) and passes every
 * other field through untouched. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sieve/sieve.h>

typedef struct upper { char *field; } upper;

static sieve_status upper_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    (void)ctx;
    upper *u = malloc(sizeof *u);
    if (!u || !(u->field = strdup(sieve_param_str(p, "field"))))
        return free(u), sieve_fail(err, "out of memory");
    *state = u;
    return SIEVE_OK;
}

static sieve_status upper_process(void *state, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    upper *u = state;
    sieve_batch *out = sieve_batch_new(in->batch->n_recs);
    if (!out)
        return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < in->batch->n_recs; i++) {
        sieve_record *r = &in->batch->recs[i];
        const sieve_field *f = sieve_record_get(r, u->field);
        if (f && f->type == SIEVE_F_STRING)
            for (size_t k = 0; k < f->v.str.len; k++)
                f->v.str.ptr[k] = (char)toupper((unsigned char)f->v.str.ptr[k]);
        sieve_batch_push(out, r); /* moved: the other fields pass through */
    }
    return sieve_emit(io, 0, out);
}

static void upper_destroy(void *state)
{
    upper *u = state;
    free(u->field);
    free(u);
}

static const sieve_port_desc in_ports[] = {{"in", "records", "records"}};
static const sieve_port_desc out_ports[] = {{"out", "records", "the same records, one field upper-cased"}};
static const sieve_param_desc params[] = {{"field", SIEVE_P_STRING, "text", "the field to upper-case"}};

static const sieve_stage_desc stages[] = {{
    .name = "uppercase", .doc = "Upper-case one string field (an out-of-tree example)",
    .inputs = in_ports, .n_inputs = 1, .outputs = out_ports, .n_outputs = 1,
    .params = params, .n_params = SIEVE_COUNTOF(params),
    .create = upper_create, .process = upper_process, .destroy = upper_destroy,
}};

SIEVE_PLUGIN_DEFINE("example-uppercase", "1.0.0", stages)
