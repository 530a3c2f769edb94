/* Stage `pack`: prompt/response records to token batches on one tensor
 * port, for `train`. Tokenizing and batching move upstream of the
 * trainer and into the YAML (an ablation changes batching without C).
 *
 * process() turns every record into an example exactly as `train` does
 * (the shared examples.c); flush() makes train's plan over every epoch
 * (data.c: seeded shuffle, length grouping when sort_by_length) and emits one
 * step after another, each as three i32 [rows, T] tensors in this order:
 *   tokens     token ids, 0 on padding
 *   targets    targets[r,t] is the label predicted AT position t (the next
 *              token of the same sequence, on response tokens and EOS), -100
 *              (ignored) on prompt positions, each sequence's last token and
 *              padding: the convention train uses inside
 *   positions  each token's position inside its own sequence, -1 on padding;
 *              always emitted (with pack: none it is 0..len-1 per row)
 * pack: none puts one example in each row (train's own layout: same settings,
 * same weights); pack: greedy packs a step's examples into rows of at most
 * seq_len tokens (longest first into the least-filled row, so rows end near
 * the same length; the row count with the fewest token slots), and
 * training masks attention at the sequence boundaries (the loss is the same). The share of non-padding
 * tokens (and what the other mode would give) is logged and sent as a
 * metric. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/llama.h"
#include "sieve/plugin.h"
#include "train.h"

typedef struct {
    sieve_ctx *ctx;
    int seq_len, batch_size, epochs, greedy, sort;
    uint64_t seed;
    trn_examples ex;
} pack_state;

static void pack_destroy(void *p)
{
    pack_state *s = p;
    if (!s) return;
    trn_examples_free(&s->ex);
    free(s);
}

static sieve_status pack_create(const sieve_params *p, sieve_ctx *ctx, void **state,
                                sieve_err *err)
{
    pack_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->ctx = ctx;
    s->seq_len = (int)sieve_param_int(p, "seq_len");
    s->batch_size = (int)sieve_param_int(p, "batch_size");
    s->epochs = (int)sieve_param_int(p, "epochs");
    s->sort = sieve_param_bool(p, "sort_by_length");
    s->seed = (uint64_t)sieve_param_int(p, "seed");
    const char *mode = sieve_param_str(p, "pack");
    if (!strcmp(mode, "greedy")) s->greedy = 1;
    else if (strcmp(mode, "none"))
        return sieve_fail(err, "param 'pack' = '%s': expected none or greedy", mode);
    if (s->seq_len < 2) return sieve_fail(err, "param 'seq_len' = %d must be >= 2", s->seq_len);
    if (s->batch_size < 1) return sieve_fail(err, "param 'batch_size' must be >= 1");
    if (s->epochs < 1 || s->epochs > 1000)
        return sieve_fail(err, "param 'epochs' = %d must be in [1, 1000]", s->epochs);
    /* vocabulary and EOS from the model's config.json, as train reads them */
    int vocab = INT32_MAX, eos = (int)sieve_param_int(p, "eos_id");
    char *dir = sieve_ctx_expand_path(ctx, sieve_param_str(p, "model"));
    if (!dir) return sieve_fail(err, "out of memory");
    if (*dir) {
        char *cpath = malloc(strlen(dir) + 16);
        sieve_llama_config cfg;
        if (!cpath) {
            free(dir);
            return sieve_fail(err, "out of memory");
        }
        sprintf(cpath, "%s/config.json", dir);
        sieve_status st = sieve_llama_config_load(cpath, &cfg, err);
        free(cpath);
        if (st) {
            free(dir);
            return st;
        }
        vocab = cfg.vocab;
        if (!sieve_param_given(p, "eos_id")) eos = cfg.eos_id;
    }
    sieve_status st = trn_examples_init(&s->ex, dir, sieve_param_str(p, "template"), s->seq_len,
                                        vocab, eos, err);
    free(dir);
    return st;
}

static sieve_status pack_process(void *p, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    pack_state *s = p;
    return in && in->batch ? trn_examples_add(&s->ex, in->batch, err) : SIEVE_OK;
}

/* What pack_flush counts over the steps it emits. */
typedef struct {
    pack_state *s;
    sieve_io *io;
    int64_t real, slots, slots_none, rows, tensors;
} emit_job;

/* Emits one step's three tensors (each is moved; on failure the rest is
 * released here) and counts its tokens. */
static sieve_status emit_step(void *arg, trn_batch *b, const int64_t *idx, int n, sieve_err *err)
{
    (void)err;
    emit_job *j = arg;
    int longest = 0;
    for (int i = 0; i < n; i++) {
        int len = j->s->ex.ex[idx[i]].len;
        longest = len > longest ? len : longest;
    }
    int64_t tok, tgt;
    trn_batch_count(b, &tok, &tgt);
    j->real += tok;
    j->slots += sieve_tensor_numel(&b->tokens);
    j->slots_none += (int64_t)n * longest;
    j->rows += b->tokens.shape[0];
    sieve_tensor *t[3] = {&b->tokens, &b->targets, &b->positions};
    sieve_status st = SIEVE_OK;
    for (int k = 0; k < 3 && !st; k++) {
        st = sieve_emit_tensor(j->io, 0, t[k]);
        j->tensors += !st;
    }
    trn_batch_release(b);
    return st;
}

static sieve_status pack_flush(void *p, sieve_io *io, sieve_err *err)
{
    pack_state *s = p;
    if (s->ex.skipped)
        sieve_log(s->ctx, SIEVE_LOG_WARN, "%lld records had no response token within seq_len "
                  "%d and were skipped", (long long)s->ex.skipped, s->seq_len);
    emit_job j = {s, io, 0, 0, 0, 0, 0};
    int64_t n_steps;
    sieve_status st = trn_steps(&s->ex, s->epochs, s->batch_size, s->seed, s->sort,
                                s->greedy ? s->seq_len : 0, emit_step, &j, &n_steps, err);
    if (st) return st;
    int64_t real = j.real, rows = j.rows, tensors = j.tensors;
    double share = j.slots ? (double)real / (double)j.slots : 0.0;
    double share_none = j.slots_none ? (double)real / (double)j.slots_none : 0.0;
    sieve_log(s->ctx, SIEVE_LOG_INFO, "pack %s: %lld examples, %lld steps, %lld rows, %lld "
              "tensors; non-padding share %.4f (pack none: %.4f)", s->greedy ? "greedy" : "none",
              (long long)s->ex.n, (long long)n_steps, (long long)rows, (long long)tensors,
              share, share_none);
    char m[400];
    snprintf(m, sizeof m, "{\"pack\": \"%s\", \"examples\": %lld, \"steps\": %lld, \"rows\": %lld, "
             "\"tensors\": %lld, \"tokens\": %lld, \"non_padding_share\": %.6f, "
             "\"non_padding_share_none\": %.6f}", s->greedy ? "greedy" : "none",
             (long long)s->ex.n, (long long)n_steps, (long long)rows, (long long)tensors,
             (long long)real, share, share_none);
    sieve_metric(s->ctx, m);
    return SIEVE_OK;
}

static const sieve_port_desc pack_in[] = {
    {"in", "records(query,response)",
     "{query, response}, {question, answer} or {prompt_ids, response_ids} records"},
};
static const sieve_port_desc pack_out[] = {
    {"batches", "tensor(i32,2)",
     "per optimizer step: tokens, targets (-100: no loss), positions (-1: padding) [rows, T]"},
};

static const sieve_param_desc pack_params[] = {
    {"model", SIEVE_P_STRING, "",
     "HF directory: tokenizer.model, vocab and eos from config.json ('' with prompt_ids/"
     "response_ids records)"},
    {"template", SIEVE_P_STRING, "alpaca",
     "prompt around {query}: 'alpaca' (the paper's), 'plain', or a text with {query}"},
    {"seq_len", SIEVE_P_INT, "512",
     "tokens per example (longer ones are truncated, as train's max_len) and per packed row"},
    {"batch_size", SIEVE_P_INT, "128", "examples per optimizer step"},
    {"pack", SIEVE_P_STRING, "none",
     "none: one example per row; greedy: several per row of <= seq_len (document-masked)"},
    {"sort_by_length", SIEVE_P_BOOL, "true",
     "group examples of similar length into steps (train's group_by_length)"},
    {"seed", SIEVE_P_INT, "1", "shuffling seed"},
    {"epochs", SIEVE_P_INT, "3", "passes over the data (every epoch's steps are emitted)"},
    {"eos_id", SIEVE_P_INT, "-1", "EOS appended to response_ids (default: the model's)"},
};

static const sieve_stage_desc stages[] = {
    {
        .name = "pack",
        .doc = "tokenize and batch prompt/response records into token tensors for train",
        .inputs = pack_in, .n_inputs = 1,
        .outputs = pack_out, .n_outputs = 1,
        .params = pack_params, .n_params = SIEVE_COUNTOF(pack_params),
        .create = pack_create,
        .process = pack_process,
        .flush = pack_flush,
        .destroy = pack_destroy,
    },
};

SIEVE_PLUGIN_DEFINE("pack", "0.1.0", stages)
