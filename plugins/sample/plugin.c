/* The sample plugin: `sample`, the RFT sampling engine (batched, KV-cached,
 * prefix-shared, reproducible), and `prompt`, the template renderer. */
#include "stages.h"

static const sieve_stage_desc stages[] = {
    {
        .name = "sample",
        .doc = "k completions per prompt from a LLaMA model (greedy or sampled), reproducible",
        .inputs = smp_sample_in, .n_inputs = 1,
        .outputs = smp_sample_out, .n_outputs = 1,
        .params = smp_sample_params, .n_params = 13,
        .create = smp_sample_create,
        .process = smp_sample_process,
        .flush = smp_sample_flush,
        .destroy = smp_sample_destroy,
    },
    {
        .name = "prompt",
        .doc = "render records through a prompt template (alpaca, plain, or a string)",
        .inputs = smp_prompt_in, .n_inputs = 1,
        .outputs = smp_prompt_out, .n_outputs = 1,
        .params = smp_prompt_params, .n_params = 2,
        .create = smp_prompt_create,
        .process = smp_prompt_process,
        .destroy = smp_prompt_destroy,
    },
};

SIEVE_PLUGIN_DEFINE("sample", "0.1.0", stages)
