/* The gsm8k plugin: the paper's rules as stages (check, dedup, multi-model
 * aggregation, evaluation). Every port and parameter is declared here. */
#include "stages.h"

#define STAGE_FNS(n) .create = gsm8k_##n##_create, .process = gsm8k_##n##_process, \
                     .flush = gsm8k_##n##_flush, .destroy = gsm8k_##n##_destroy

static const sieve_port_desc paths_in[] = {{"in", "records(qid,completion)", "sampled reasoning paths"}};
static const sieve_port_desc checked_out[] = {
    {"out", "records(extracted,correct,equations_valid)", "the same records, marked"}};
static const sieve_port_desc checked_in[] = {
    {"in", "records(qid,completion,correct,equations_valid)", "checked paths (gsm8k-check)"}};
static const sieve_port_desc paths_out[] = {{"out", "records", "the kept paths"}};
static const sieve_port_desc models_in[] = {
    {"in", "records(qid,completion,correct,model)", "checked paths of one model per producer"}};
static const sieve_port_desc samples_in[] = {
    {"in", "records(qid,correct,extracted)", "checked samples"}};
static const sieve_port_desc metrics_out[] = {{"out", "records", "one record holding the metrics"}};

static const sieve_param_desc check_params[] = {
    {"field", SIEVE_P_STRING, "completion", "field holding the model's solution text"},
    {"gold_field", SIEVE_P_STRING, "gold_answer",
     "field holding the gold number; when absent, the gold comes from 'answer' or 'response' text"},
};
static const sieve_param_desc dedup_params[] = {
    {"group", SIEVE_P_STRING, "qid", "field naming the question"},
    {"field", SIEVE_P_STRING, "completion", "field holding the path text"},
    {"grouped", SIEVE_P_BOOL, "true",
     "input arrives question by question (emit each question when the next begins); false: hold all"},
    {"key", SIEVE_P_STRING, "equations", "dedup key: the annotation list (the paper's; the only one)"},
    {"keep", SIEVE_P_STRING, "farthest", "which duplicate stays: the farthest by edit distance (the only one)"},
};
static const sieve_param_desc aggregate_params[] = {
    {"group", SIEVE_P_STRING, "qid", "field naming the question"},
    {"field", SIEVE_P_STRING, "completion", "field holding the path text"},
    {"format", SIEVE_P_STRING, "records",
     "records: the kept records as they are; query-response: the paper's training lines"},
};
static const sieve_param_desc evaluate_params[] = {
    {"group", SIEVE_P_STRING, "qid", "field naming the question"},
    {"output_dir", SIEVE_P_STRING, "{run}", "where metrics.json and metrics.md are written"},
    {"pass_k", SIEVE_P_STRING, "1,10,100", "k values of pass@k (those above the samples per question are left out)"},
};

static const sieve_stage_desc stages[] = {
    {.name = "gsm8k-check", .doc = "Mark GSM8K completions: extracted answer, correct, equations_valid (paper's rules)",
     .inputs = paths_in, .n_inputs = 1, .outputs = checked_out, .n_outputs = 1,
     .params = check_params, .n_params = SIEVE_COUNTOF(check_params), STAGE_FNS(check)},
    {.name = "dedup", .doc = "Keep one correct path per question and equation list, the farthest by edit distance",
     .inputs = checked_in, .n_inputs = 1, .outputs = paths_out, .n_outputs = 1,
     .params = dedup_params, .n_params = SIEVE_COUNTOF(dedup_params), STAGE_FNS(dedup)},
    {.name = "aggregate", .doc = "Union of several models' paths, deduplicated across models, with each model's share",
     .inputs = models_in, .n_inputs = 1, .outputs = paths_out, .n_outputs = 1,
     .params = aggregate_params, .n_params = SIEVE_COUNTOF(aggregate_params),
     .flags = SIEVE_STAGE_VARIADIC, STAGE_FNS(aggregate)},
    {.name = "evaluate", .doc = "maj1@1, maj1@K, pass@k, accuracy CI and solved histogram; writes metrics.json/.md",
     .inputs = samples_in, .n_inputs = 1, .outputs = metrics_out, .n_outputs = 1,
     .params = evaluate_params, .n_params = SIEVE_COUNTOF(evaluate_params), STAGE_FNS(evaluate)},
};

SIEVE_PLUGIN_DEFINE("gsm8k", "0.1.0", stages)
