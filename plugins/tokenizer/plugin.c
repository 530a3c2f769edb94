/* The tokenizer plugin: tokenize, detokenize and tokenizer-train stages over
 * the SentencePiece library in this folder. Ports and parameters are
 * declared here, in one table. */
#include "stages.h"

#define STAGE_FNS(n) .create = tok_##n##_create, .process = tok_##n##_process, \
                     .flush = tok_##n##_flush, .destroy = tok_##n##_destroy

static const sieve_port_desc text_in[] = {{"in", "records(text)", "records with a text field"}};
static const sieve_port_desc ids_out[] = {{"out", "records(ids)", "the same records with token ids added"}};
static const sieve_port_desc ids_in[] = {{"in", "records(ids)", "records with an ids field"}};
static const sieve_port_desc text_out[] = {{"out", "records(text)", "the same records with the decoded text added"}};
static const sieve_port_desc model_out[] = {{"out", "records(tokenizer)", "one record {\"tokenizer\": PATH} once written"}};

#define TOKENIZER_PARAM \
    {"tokenizer", SIEVE_P_STRING, NULL, \
     "SentencePiece model file, or a model directory holding tokenizer.model"}

static const sieve_param_desc tokenize_params[] = {
    TOKENIZER_PARAM,
    {"input", SIEVE_P_STRING, "text", "string field to encode"},
    {"output", SIEVE_P_STRING, "ids", "field to write the token ids to"},
    {"bos", SIEVE_P_BOOL, "false", "prepend the beginning-of-sequence id"},
    {"eos", SIEVE_P_BOOL, "false", "append the end-of-sequence id"},
    {"threads", SIEVE_P_INT, "0", "worker threads across the records of a batch (0: all cores)"},
};
static const sieve_param_desc detokenize_params[] = {
    TOKENIZER_PARAM,
    {"input", SIEVE_P_STRING, "ids", "int array field to decode"},
    {"output", SIEVE_P_STRING, "text", "field to write the text to"},
};
static const sieve_param_desc train_params[] = {
    {"output", SIEVE_P_STRING, NULL, "where to write the model ({run} = the run directory)"},
    {"vocab_size", SIEVE_P_INT, "1000", "pieces in the model, counting <unk>, <s>, </s> and 256 byte pieces"},
    {"input", SIEVE_P_STRING, "text", "string field holding the training text"},
};

static const sieve_stage_desc stages[] = {
    {.name = "tokenize", .doc = "Encode a text field into token ids (SentencePiece BPE, e.g. LLaMA)",
     .inputs = text_in, .n_inputs = 1, .outputs = ids_out, .n_outputs = 1,
     .params = tokenize_params, .n_params = SIEVE_COUNTOF(tokenize_params), STAGE_FNS(tokenize)},
    {.name = "detokenize", .doc = "Decode a token id field back into text",
     .inputs = ids_in, .n_inputs = 1, .outputs = text_out, .n_outputs = 1,
     .params = detokenize_params, .n_params = SIEVE_COUNTOF(detokenize_params), STAGE_FNS(detokenize)},
    {.name = "tokenizer-train", .doc = "Learn a byte-fallback BPE tokenizer.model from a text field",
     .inputs = text_in, .n_inputs = 1, .outputs = model_out, .n_outputs = 1,
     .params = train_params, .n_params = SIEVE_COUNTOF(train_params), STAGE_FNS(train)},
};

SIEVE_PLUGIN_DEFINE("tokenizer", "0.1.0", stages)
