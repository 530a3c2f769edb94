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

/* ---- checkpoints (ckpt.c) ---- */
/* What resuming needs besides the model: the optimizer moments and step. */
sieve_status trn_ckpt_save(const char *dir, const sieve_llama *m, const trn_optim *o,
                           const char *meta_json, sieve_err *err);
/* Loads dir's model.safetensors into m->params and the optimizer state into o
 * (sizes must match); *meta gets the meta JSON (caller frees). */
sieve_status trn_ckpt_load(const char *dir, sieve_llama *m, trn_optim *o, char **meta,
                           sieve_err *err);

#endif
