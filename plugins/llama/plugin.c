/* The llama plugin: stages `score` and `model-init` over the sieve_llama
 * library (config, checkpoints, forward on the kernel vtable). */
#include "sieve/plugin.h"
#include "stages.h"

static const sieve_stage_desc stages[] = {
    {
        .name = "score",
        .doc = "log-probability of each token and mean NLL (loss) under a LLaMA model",
        .inputs = llama_score_in, .n_inputs = 1,
        .outputs = llama_score_out, .n_outputs = 2,
        .params = llama_score_params, .n_params = 6,
        .create = llama_score_create,
        .process = llama_score_process,
        .destroy = llama_score_destroy,
    },
    {
        .name = "model-init",
        .doc = "write a randomly initialized LLaMA checkpoint (HF init) from a config.json",
        .inputs = NULL, .n_inputs = 0,
        .outputs = llama_init_out, .n_outputs = 1,
        .params = llama_init_params, .n_params = 4,
        .create = llama_init_create,
        .process = llama_init_process,
        .destroy = llama_init_destroy,
    },
};

SIEVE_PLUGIN_DEFINE("llama", "0.1.0", stages)
