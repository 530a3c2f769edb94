/* Stage `prompt`: adds a `prompt` field to every record, rendered through a
 * template (alpaca, plain, or a template string with {field} placeholders). */
#include <stdlib.h>
#include <string.h>

#include "stages.h"

typedef struct {
    const char *tmpl;
    char *field;
    int64_t n;
} prompt_state;

sieve_status smp_prompt_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                               sieve_err *err)
{
    (void)ctx;
    prompt_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->tmpl = sieve_template_text(sieve_param_str(params, "template"));
    s->field = strdup(sieve_param_str(params, "field"));
    if (!s->field) return sieve_fail(err, "out of memory");
    return SIEVE_OK;
}

sieve_status smp_prompt_process(void *state, const sieve_input *in, sieve_io *io,
                                sieve_err *err)
{
    prompt_state *s = state;
    sieve_batch *b = in->batch;
    for (size_t i = 0; i < b->n_recs; i++) {
        size_t n;
        char *text = sieve_template_render(s->tmpl, &b->recs[i], &n, err);
        if (!text) {
            sieve_err_prefix(err, "record %lld", (long long)(s->n + (int64_t)i));
            return SIEVE_ERR;
        }
        if (sieve_record_set_str_owned(&b->recs[i], s->field, text, n))
            return sieve_fail(err, "out of memory");
    }
    s->n += (int64_t)b->n_recs;
    sieve_batch *out = sieve_batch_new(b->n_recs);
    if (!out) return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < b->n_recs; i++) {
        if (sieve_batch_push(out, &b->recs[i])) {
            sieve_batch_free(out);
            return sieve_fail(err, "out of memory");
        }
    }
    return sieve_emit(io, 0, out);
}

void smp_prompt_destroy(void *state)
{
    prompt_state *s = state;
    if (!s) return;
    free(s->field);
    free(s);
}

const sieve_port_desc smp_prompt_in[1] = {{"in", "records(question)", "records to render"}};
const sieve_port_desc smp_prompt_out[1] = {{"out", "records(prompt)", "the records plus the prompt"}};
const sieve_param_desc smp_prompt_params[] = {
    {"template", SIEVE_P_STRING, "alpaca",
     "alpaca (the RFT paper's), plain ({query}), or a template with {field} placeholders"},
    {"field", SIEVE_P_STRING, "prompt", "name of the output field"},
};
const int smp_prompt_n_params = SIEVE_COUNTOF(smp_prompt_params);
