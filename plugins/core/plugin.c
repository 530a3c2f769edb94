/* The core plugin: readers, writers and stream plumbing every pipeline uses.
 * Every stage's ports and parameters are declared here, in one table. */
#include "core.h"

#define STAGE_FNS(n) .create = sieve_core_##n##_create, .process = sieve_core_##n##_process, \
                     .flush = sieve_core_##n##_flush, .destroy = sieve_core_##n##_destroy

static const sieve_port_desc records_in[] = {{"in", "records", "records to process"}};
static const sieve_port_desc records_out[] = {{"out", "records", "records"}};

static const sieve_param_desc read_params[] = {
    {"path", SIEVE_P_STRING, NULL, "JSONL file to read ({run} = the run directory)"},
    {"batch_size", SIEVE_P_INT, "256", "records per emitted batch"},
    {"on_error", SIEVE_P_STRING, "fail", "a malformed line: fail (stop with file:line) or skip (count it)"},
    {"limit", SIEVE_P_INT, "0", "stop after this many records (0: all)"},
};
static const sieve_param_desc write_params[] = {
    {"path", SIEVE_P_STRING, NULL, "JSONL file to write; written as PATH.partial, renamed when complete"},
    {"fields", SIEVE_P_LIST, "", "write only these fields, in this order (empty: all)"},
};
static const sieve_param_desc head_params[] = {
    {"n", SIEVE_P_INT, NULL, "how many records to pass on"},
};
static const sieve_param_desc shuffle_params[] = {
    {"seed", SIEVE_P_INT, "1", "random seed: the same seed gives the same order"},
    {"batch_size", SIEVE_P_INT, "256", "records per emitted batch"},
};
static const sieve_param_desc split_params[] = {
    {"fraction", SIEVE_P_FLOAT, "0.5", "share of records sent to 'selected' (0..1)"},
    {"n", SIEVE_P_INT, "0", "if > 0: exactly this many records to 'selected' (buffers the stream)"},
    {"seed", SIEVE_P_INT, "1", "random seed; subsets of one seed nest (a 10% subset holds the 5% one)"},
    {"key", SIEVE_P_STRING, "", "field whose value decides (e.g. qid); empty: the whole record"},
};
static const sieve_port_desc split_out[] = {
    {"selected", "records", "the chosen subset"},
    {"rest", "records", "everything else"},
};
static const sieve_param_desc concat_params[] = {
    {"order", SIEVE_P_STRING, "inputs", "inputs: all of the first input, then the second...; arrival: as they come"},
};

static const sieve_stage_desc stages[] = {
    {.name = "jsonl-read", .doc = "Read records from a JSON Lines file",
     .outputs = records_out, .n_outputs = 1, .params = read_params, .n_params = SIEVE_COUNTOF(read_params),
     STAGE_FNS(jsonl_read)},
    {.name = "jsonl-write", .doc = "Write records to a JSON Lines file (atomically; resumable)",
     .inputs = records_in, .n_inputs = 1, .params = write_params, .n_params = SIEVE_COUNTOF(write_params),
     STAGE_FNS(jsonl_write)},
    {.name = "head", .doc = "Pass on the first n records",
     .inputs = records_in, .n_inputs = 1, .outputs = records_out, .n_outputs = 1,
     .params = head_params, .n_params = SIEVE_COUNTOF(head_params), STAGE_FNS(head)},
    {.name = "shuffle", .doc = "Shuffle the whole stream with a seed (buffers it)",
     .inputs = records_in, .n_inputs = 1, .outputs = records_out, .n_outputs = 1,
     .params = shuffle_params, .n_params = SIEVE_COUNTOF(shuffle_params), STAGE_FNS(shuffle)},
    {.name = "split", .doc = "Split records into a seeded subset and the rest (train/test, data-amount ablations)",
     .inputs = records_in, .n_inputs = 1, .outputs = split_out, .n_outputs = 2,
     .params = split_params, .n_params = SIEVE_COUNTOF(split_params), STAGE_FNS(split)},
    {.name = "concat", .doc = "Concatenate several record streams (fan-in)",
     .inputs = records_in, .n_inputs = 1, .outputs = records_out, .n_outputs = 1,
     .params = concat_params, .n_params = SIEVE_COUNTOF(concat_params), .flags = SIEVE_STAGE_VARIADIC,
     STAGE_FNS(concat)},
};

SIEVE_PLUGIN_DEFINE("core", "0.1.0", stages)
