/* The train plugin: stage `train`, SFT / RFT of a LLaMA checkpoint from
 * records or from `pack`'s token batches. */
#include "sieve/plugin.h"
#include "stages.h"

static const sieve_port_desc train_in[] = {
    {"in", "records(query,response) | tensor(i32,2)",
     "{query, response}, {question, answer} or {prompt_ids, response_ids} records; or "
     "pack's steps: tensors tokens, targets, positions [rows, T] per optimizer step"},
};
static const sieve_port_desc train_out[] = {
    {"model", "model", "one record {\"model\": \"<output directory>\"}"},
};

/* epochs, batch_size, template, seed, max_len and group_by_length shape the
 * data: with pack's tensors they are pack's, and setting them here is an
 * error. */
static const sieve_param_desc train_params[] = {
    {"model", SIEVE_P_STRING, NULL, "starting checkpoint (HF directory)"},
    {"output", SIEVE_P_STRING, "{run}/model", "directory of the final checkpoint"},
    {"epochs", SIEVE_P_INT, "3", "passes over the data"},
    {"lr", SIEVE_P_FLOAT, "2e-5", "peak learning rate (AdamW)"},
    {"batch_size", SIEVE_P_INT, "128", "examples per optimizer step"},
    {"micro_batch_size", SIEVE_P_INT, "4", "examples per forward/backward (gradients accumulate)"},
    {"template", SIEVE_P_STRING, "alpaca",
     "prompt around {query}: 'alpaca' (the paper's), 'plain', or a text with {query}"},
    {"seed", SIEVE_P_INT, "1", "shuffling seed"},
    {"weight_decay", SIEVE_P_FLOAT, "0", "AdamW decoupled weight decay"},
    {"warmup_ratio", SIEVE_P_FLOAT, "0.03", "share of steps with linear warmup (then cosine)"},
    {"max_grad_norm", SIEVE_P_FLOAT, "1.0", "global gradient-norm clipping (0: none)"},
    {"adam_beta1", SIEVE_P_FLOAT, "0.9", "AdamW beta1"},
    {"adam_beta2", SIEVE_P_FLOAT, "0.999", "AdamW beta2"},
    {"adam_epsilon", SIEVE_P_FLOAT, "1e-8", "AdamW epsilon"},
    {"max_len", SIEVE_P_INT, "512", "tokens per example (longer ones are truncated)"},
    {"group_by_length", SIEVE_P_BOOL, "true", "batch examples of similar length together"},
    {"save_every", SIEVE_P_INT, "100", "checkpoint every N steps (0: only at the end)"},
    {"save_dtype", SIEVE_P_STRING, "f32", "dtype of the output checkpoint: f32 or bf16"},
    {"threads", SIEVE_P_INT, "0", "kernel threads (0: all cores); resume with the same number"},
    {"backend", SIEVE_P_STRING, "cpu", "kernel backend: cpu or cuda"},
};

static const sieve_stage_desc stages[] = {
    {
        .name = "train",
        .doc = "fine-tune a LLaMA checkpoint on prompt/response records or pack's token "
               "batches (SFT, RFT)",
        .inputs = train_in, .n_inputs = 1,
        .outputs = train_out, .n_outputs = 1,
        .params = train_params, .n_params = SIEVE_COUNTOF(train_params),
        .create = train_create,
        .process = train_process,
        .flush = train_flush,
        .destroy = train_destroy,
    },
};

SIEVE_PLUGIN_DEFINE("train", "0.1.0", stages)
