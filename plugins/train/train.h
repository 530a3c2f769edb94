/* Internals of the `train` plugin shared by its files and its tests:
 * the optimizer (AdamW with global grad-norm clipping), the learning-rate
 * schedule, the examples and their batching, and checkpoints. */
#ifndef SIEVE_TRAIN_H
#define SIEVE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/kernels.h"
#include "sieve/llama.h"
#include "sieve/record.h"
#include "sieve/status.h"
#include "sieve/tensor.h"

/* ---- optimizer (optim.c) ---- */
typedef struct trn_optim {
    const sieve_kernels *k;
    sieve_kctx *kc;
    size_t n;                 /* parameters */
    float *m, *v;             /* device [n] first and second moments */
    float *host;              /* host staging [n] on backends without host memory */
    int64_t step;             /* optimizer steps taken (AdamW's t) */
    float beta1, beta2, eps, weight_decay;
} trn_optim;

sieve_status trn_optim_init(trn_optim *o, const sieve_kernels *k, sieve_kctx *kc, size_t n,
                            float beta1, float beta2, float eps, float weight_decay,
                            sieve_err *err);
void trn_optim_free(trn_optim *o);
/* Global L2 norm of grads (double, fixed order); when max_norm > 0 scales
 * grads by min(1, max_norm / (norm + 1e-6)) as torch's clip_grad_norm_;
 * then one AdamW step with learning rate lr. Returns the norm before clipping. */
double trn_optim_step(trn_optim *o, float *params, float *grads, float lr, float max_norm);

/* ---- learning rate (schedule.c) ---- */
/* Hugging Face's linear warmup then cosine decay to 0 (get_cosine_schedule_
 * with_warmup): the rate of 0-based optimizer step s of `total`. */
double trn_lr_at(double base_lr, int64_t s, int64_t total, int64_t warmup);
/* warmup steps from a ratio, as TrainingArguments: ceil(total * ratio). */
int64_t trn_warmup_steps(int64_t total, double ratio);

/* ---- examples and batches (data.c) ---- */
typedef struct trn_example {
    int32_t *ids;             /* prompt then response (+ EOS), truncated to max_len */
    int len;                  /* tokens */
    int n_prompt;             /* leading tokens without loss */
} trn_example;

/* One batch = its examples' indices split into micro-batches. */
typedef struct trn_plan {
    int64_t n_steps;          /* optimizer steps over all epochs */
    int64_t *order;           /* [n_steps * batch_size] example indices; -1 = none */
    int batch_size;
} trn_plan;

/* The examples of each epoch shuffled with seed+epoch, then grouped by length
 * as Hugging Face's LengthGroupedSampler (megabatches of 50 batches sorted by
 * length, longest first); batch_size examples per step, the last batch of an
 * epoch possibly short. */
sieve_status trn_plan_make(const trn_example *ex, int64_t n_ex, int epochs, int batch_size,
                           uint64_t seed, int group_by_length, trn_plan *plan,
                           sieve_err *err);
void trn_plan_free(trn_plan *plan);

/* ---- records to examples (examples.c) ---- */
/* The tokenization of training records, shared by `train` and `pack`. */
typedef struct trn_examples {
    trn_example *ex;          /* [n] */
    int64_t n, cap, skipped;  /* skipped: no response token within max_len */
    int max_len, vocab, eos_id;
    char *tmpl;               /* prompt template text */
    char *model_dir;          /* tokenizer.model comes from here; "" for none */
    void *tok, *tb;           /* sieve_tokenizer, sieve_tok_buf (when built with it) */
} trn_examples;

/* vocab: ids must be below it; eos_id < 0: none appended. The tokenizer is
 * loaded from model_dir/tokenizer.model when that file exists. */
sieve_status trn_examples_init(trn_examples *e, const char *model_dir, const char *tmpl,
                               int max_len, int vocab, int eos_id, sieve_err *err);
/* Appends one example per record: {prompt_ids, response_ids}, {query,
 * response} or {question, answer}. */
sieve_status trn_examples_add(trn_examples *e, const sieve_batch *b, sieve_err *err);
void trn_examples_free(trn_examples *e);

/* ---- steps as token batches (batches.c) ---- */
#define TRN_IGNORE (-100)     /* targets value without loss (PyTorch's ignore_index) */

/* One optimizer step in rows, three i32 [rows, T] CPU tensors named so:
 *   tokens[r,t]     token id (0 on padding)
 *   targets[r,t]    the label predicted AT position t: the next token of the
 *                   same sequence when that is a response token (or EOS),
 *                   else TRN_IGNORE (prompt, a sequence's last token, padding)
 *   positions[r,t]  the token's position inside its own sequence (0, 1, ...),
 *                   -1 on padding
 * A row holds whole sequences one after another, then padding. */
typedef struct trn_batch {
    sieve_tensor tokens, targets, positions;
} trn_batch;

/* Lays out examples ex[idx[0..n)] (entries < 0 at the end are ignored): one
 * per row, in order, when pack_len == 0; else packed into rows of at most
 * pack_len tokens: longest first into the least-filled row (balanced rows,
 * short T), for row counts from first-fit decreasing's to twice that, the
 * layout with the fewest token slots (rows x T) kept. T = the longest row. */
sieve_status trn_batch_make(const trn_example *ex, const int64_t *idx, int n, int pack_len,
                            trn_batch *b, sieve_err *err);
void trn_batch_release(trn_batch *b);
/* Every step of the plan over e's examples (trn_plan_make: epochs, batch_size,
 * seed, group), laid out by trn_batch_make with pack_len and handed to fn
 * with the step's example indices idx[0..n); fn takes the batch over. Fails
 * when there are no examples. *n_steps: the plan's steps. */
typedef sieve_status (*trn_step_fn)(void *arg, trn_batch *b, const int64_t *idx, int n,
                                    sieve_err *err);
sieve_status trn_steps(const trn_examples *e, int epochs, int batch_size, uint64_t seed,
                       int group, int pack_len, trn_step_fn fn, void *arg, int64_t *n_steps,
                       sieve_err *err);
/* Checks a batch made elsewhere: names, dtype, equal shapes, ids below vocab,
 * rows of sequences then padding, no target on padding. */
sieve_status trn_batch_check(const trn_batch *b, int vocab, sieve_err *err);
/* Real (non-padding) tokens and loss targets of the batch. */
void trn_batch_count(const trn_batch *b, int64_t *n_tok, int64_t *n_tgt);
/* Copies rows r0 .. r0+nb-1, cut to the longest real prefix among them, into
 * ids, tgt (-1 without loss), pos [nb*T]; returns T. *packed = 1 when some
 * row holds more than one sequence (then attention must be document-masked). */
int trn_batch_rows(const trn_batch *b, int r0, int nb, int32_t *ids, int32_t *tgt, int32_t *pos,
                   int *packed);

/* ---- checkpoints (ckpt.c) ---- */
/* What resuming needs besides the model: the optimizer moments and step. */
sieve_status trn_ckpt_save(const char *dir, const sieve_llama *m, const trn_optim *o,
                           const char *meta_json, sieve_err *err);
/* Loads dir's model.safetensors into m->params and the optimizer state into o
 * (sizes must match); *meta gets the meta JSON (caller frees). */
sieve_status trn_ckpt_load(const char *dir, sieve_llama *m, trn_optim *o, char **meta,
                           sieve_err *err);

#endif
