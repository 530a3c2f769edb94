/* The LLaMA model (Hugging Face LlamaForCausalLM semantics): configuration,
 * checkpoints in the HF directory layout, random init, and a forward pass
 * written only against the kernel vtable (include/sieve/kernels.h).
 *
 * Two objects:
 *   sieve_llama      the model on the host: config plus every parameter as f32
 *                    in ONE allocation (`params`) with named views (`w`), in the
 *                    order of sieve_llama_tensors(). Master weights for training;
 *                    what load/save/init work on.
 *   sieve_llama_run  the model on a backend: device weights (the host buffer
 *                    itself when the backend has SIEVE_KERNELS_HOST_MEMORY),
 *                    activations for up to B_cap x T_cap tokens in one allocation
 *                    with named views, and the per-layer K/V cache.
 *
 * Positions: sieve_llama_forward() runs positions pos0 .. pos0+Tq-1 of B
 * sequences; it writes their K/V into the cache and attends to cache rows
 * 0 .. pos0+Tq-1. A full forward is pos0 = 0; incremental decode is
 * forward(pos0 = n, Tq = 1) after a prefill of n positions.
 *
 * Errors name the file and the tensor or config field. The library never
 * prints; it is linked into plugins (static, PIC: sieve_llama). */
#ifndef SIEVE_LLAMA_H
#define SIEVE_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "sieve/kernels.h"
#include "sieve/status.h"
#include "sieve/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration (config.json) ---- */
typedef struct sieve_llama_config {
    int dim;            /* hidden_size, D */
    int ffn;            /* intermediate_size, F */
    int n_layers;       /* num_hidden_layers, L */
    int n_heads;        /* num_attention_heads, H */
    int n_kv_heads;     /* num_key_value_heads, KV (default H) */
    int head_dim;       /* head_dim (default D / H), hd */
    int vocab;          /* vocab_size, V */
    int max_pos;        /* max_position_embeddings (default 2048) */
    double norm_eps;    /* rms_norm_eps (default 1e-6) */
    double rope_theta;  /* rope_theta (default 10000) */
    double init_range;  /* initializer_range (default 0.02) */
    int tie_embeddings; /* tie_word_embeddings (default 0) */
    int bos_id, eos_id, pad_id; /* bos/eos/pad_token_id, -1 when absent */
} sieve_llama_config;

/* Parses config.json text; `path` is only used in messages. Checks that every
 * required field is present and sane (positive sizes, H % KV == 0, even
 * head_dim, no rope_scaling, hidden_act silu, no biases). */
sieve_status sieve_llama_config_parse(const char *json, size_t len, const char *path,
                                      sieve_llama_config *cfg, sieve_err *err);
sieve_status sieve_llama_config_load(const char *path, sieve_llama_config *cfg,
                                     sieve_err *err);
/* config.json text (HF LlamaConfig keys, fixed order; torch_dtype from dtype).
 * Caller frees. NULL when out of memory. */
char *sieve_llama_config_to_json(const sieve_llama_config *cfg, sieve_dtype dtype);

/* ---- parameters ---- */
/* One parameter tensor: its HF name, shape, and place in sieve_llama.params. */
typedef struct sieve_llama_tensor {
    char name[96];      /* "model.layers.3.mlp.up_proj.weight" */
    int rank;           /* 1 or 2 */
    int64_t shape[2];
    size_t offset;      /* in floats, into params (and into any buffer laid out
                           the same way: gradients, Adam moments) */
    size_t numel;
} sieve_llama_tensor;

/* Every parameter in storage order (lm_head.weight only when not tied).
 * Returns the count; writes at most `max` entries (out may be NULL). */
int sieve_llama_tensors(const sieve_llama_config *cfg, sieve_llama_tensor *out, int max);
/* Total floats in params. */
size_t sieve_llama_n_params(const sieve_llama_config *cfg);

/* Named views into a parameter-shaped buffer. */
typedef struct sieve_llama_layer_w {
    float *attn_norm;   /* [D]        input_layernorm.weight */
    float *wq;          /* [H*hd, D]  self_attn.q_proj.weight */
    float *wk;          /* [KV*hd, D] self_attn.k_proj.weight */
    float *wv;          /* [KV*hd, D] self_attn.v_proj.weight */
    float *wo;          /* [D, H*hd]  self_attn.o_proj.weight */
    float *mlp_norm;    /* [D]        post_attention_layernorm.weight */
    float *w_gate;      /* [F, D]     mlp.gate_proj.weight */
    float *w_up;        /* [F, D]     mlp.up_proj.weight */
    float *w_down;      /* [D, F]     mlp.down_proj.weight */
} sieve_llama_layer_w;

typedef struct sieve_llama_weights {
    float *embed;               /* [V, D] model.embed_tokens.weight */
    sieve_llama_layer_w *layers; /* [L] */
    float *final_norm;          /* [D] model.norm.weight */
    float *lm_head;             /* [V, D] lm_head.weight; == embed when tied */
} sieve_llama_weights;

/* Fills views for a buffer laid out as sieve_llama_tensors() says. `layers`
 * must have room for cfg->n_layers entries. */
void sieve_llama_views(const sieve_llama_config *cfg, float *base,
                       sieve_llama_layer_w *layers, sieve_llama_weights *w);

typedef struct sieve_llama {
    sieve_llama_config cfg;
    float *params;              /* [n_params] f32, host, one allocation */
    size_t n_params;
    sieve_llama_weights w;      /* views into params */
    char *src_dir;              /* loaded from (tokenizer files come from here), or NULL */
} sieve_llama;

/* A model with zeroed parameters. */
sieve_status sieve_llama_new(const sieve_llama_config *cfg, sieve_llama **out,
                             sieve_err *err);
void sieve_llama_free(sieve_llama *m);                      /* NULL is fine */
/* Gives the memory of one weight matrix of m, the one *view points to (an
 * attention or MLP projection, or an untied lm_head), back to the system and
 * sets *view to NULL; 0, or -1 (and nothing changes) for any other pointer,
 * the embedding and a lm_head tied to it included. For a caller that has made
 * its own copy (the sampler packs each matrix and then drops it): the model
 * then holds no matrix twice for longer than one copy takes. Checkpoints
 * cannot be saved from the model afterwards. */
int sieve_llama_drop_matrix(sieve_llama *m, float **view);

/* HF init: every Linear and the embedding ~ normal(0, init_range), every
 * RMSNorm weight 1. Deterministic for a seed (xoshiro256** + Box-Muller),
 * independent of threads. */
void sieve_llama_init(sieve_llama *m, uint64_t seed);

/* ---- checkpoints ---- */
/* Loads an HF directory: config.json plus model.safetensors, or the shards
 * named by model.safetensors.index.json (memory-mapped; F32, BF16 or F16,
 * converted to f32). Every expected tensor must be present with its shape;
 * unknown tensors are an error (except rotary_emb.inv_freq buffers, and
 * lm_head.weight of a tied model). */
sieve_status sieve_llama_load(const char *dir, sieve_llama **out, sieve_err *err);

/* Writes config.json and model.safetensors (dtype SIEVE_F32 or SIEVE_BF16,
 * round to nearest even) into dir (created if missing), each file through a
 * temporary name and rename(). Copies tokenizer.model, tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json, generation_config.json from
 * m->src_dir when present. Output bytes depend only on the model. */
sieve_status sieve_llama_save(const sieve_llama *m, const char *dir, sieve_dtype dtype,
                              sieve_err *err);

/* ---- running on a backend ---- */
typedef struct sieve_llama_run sieve_llama_run;

enum {
    /* Keep every layer's activations (for backward); otherwise layers share
     * one set and only the K/V cache is per layer. */
    SIEVE_LLAMA_KEEP_ACTS = 1u
};

/* Places the model on backend k (kctx from k->kctx_new) with room for B_cap
 * sequences of T_cap positions. The model must outlive the run; with a
 * host-memory backend the run reads m->params directly (so an optimizer step
 * on m->params is seen by the next forward). */
sieve_status sieve_llama_run_new(const sieve_llama *m, const sieve_kernels *k,
                                 sieve_kctx *kc, int B_cap, int T_cap, unsigned flags,
                                 sieve_llama_run **out, sieve_err *err);
void sieve_llama_run_free(sieve_llama_run *r);              /* NULL is fine */

/* Forward over positions pos0 .. pos0+Tq-1 of B sequences.
 *   ids[B*Tq]          host, token ids (checked to be in [0, V))
 *   logits[B*Tq*V]     host output, or NULL to stop after the final norm
 *                      (then sieve_llama_hidden() holds the normed states) */
sieve_status sieve_llama_forward(sieve_llama_run *r, const int32_t *ids, int B, int Tq,
                                 int pos0, float *logits, sieve_err *err);

/* Scores B sequences of T tokens from position 0: logprobs[B*(T-1)] (host)
 * gets log p(ids[b,t+1] | ids[b,0..t]). The vocabulary projection runs in
 * row chunks fused with the log-softmax, so B*T*V logits never exist at once.
 * lengths[B] (may be NULL: all T) lets right-padded rows stop early: entries
 * past lengths[b]-1 are set to 0. */
sieve_status sieve_llama_score(sieve_llama_run *r, const int32_t *ids, int B, int T,
                               const int *lengths, float *logprobs, sieve_err *err);

/* Device pointer to the final-normed hidden states [B*Tq, D] of the last
 * forward (for the training work's lm-head/backward and for samplers). */
const float *sieve_llama_hidden(const sieve_llama_run *r);

/* ---- training (backward.c) ----
 * A training pass on backend k: a forward that keeps every activation, the
 * causal-LM loss over target positions, and a backward that ACCUMULATES each
 * parameter's gradient into a buffer laid out like params (device memory,
 * zeroed by new and by zero_grads). The kernel table must have the backward
 * kernels. With a host-memory backend the pass reads and the optimizer updates
 * m->params directly; otherwise call upload/download around host changes. */
typedef struct sieve_llama_train sieve_llama_train;

sieve_status sieve_llama_train_new(sieve_llama *m, const sieve_kernels *k, sieve_kctx *kc,
                                   int B_cap, int T_cap, sieve_llama_train **out,
                                   sieve_err *err);
void sieve_llama_train_free(sieve_llama_train *t);          /* NULL is fine */
float *sieve_llama_train_params(sieve_llama_train *t);      /* device [n_params] */
float *sieve_llama_train_grads(sieve_llama_train *t);       /* device [n_params] */
void sieve_llama_train_zero_grads(sieve_llama_train *t);
void sieve_llama_train_download(sieve_llama_train *t);      /* device params -> m->params */
void sieve_llama_train_upload(sieve_llama_train *t);        /* m->params -> device */

/* Forward and backward over B sequences of T tokens from position 0.
 *   ids[B*T], targets[B*T]   host; targets[i] is the token predicted at i
 *                            (usually ids[i+1]), < 0 where no loss is taken
 * The gradient is that of scale * sum over targets of -log p(target), added
 * to the gradient buffer (scale = 1/N gives the mean over N targets spread
 * over several micro-batches). *nll_sum += that sum (unscaled), *n_targets +=
 * the number of targets; either may be NULL. */
sieve_status sieve_llama_loss_grad(sieve_llama_train *t, const int32_t *ids,
                                   const int32_t *targets, int B, int T, float scale,
                                   double *nll_sum, long *n_targets, sieve_err *err);

/* The same for rows that pack several sequences one after another:
 *   positions[B*T]   host; each token's position inside its own sequence (0 at
 *                    a sequence's first token, then 1, 2, ...; < 0 on padding)
 * RoPE uses these positions and attention is document-masked (a token sees
 * only the earlier tokens of its own sequence; kernels.h attention_doc), so a
 * packed row gives each sequence the loss and gradient it gets alone.
 * positions == NULL is sieve_llama_loss_grad. Needs the backend's
 * attention_doc kernels when positions are given. */
sieve_status sieve_llama_loss_grad_packed(sieve_llama_train *t, const int32_t *ids,
                                          const int32_t *targets, const int32_t *positions,
                                          int B, int T, float scale, double *nll_sum,
                                          long *n_targets, sieve_err *err);

#ifdef __cplusplus
}
#endif
#endif
