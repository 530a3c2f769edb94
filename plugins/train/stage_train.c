/* Stage `train`: supervised fine-tuning (SFT, and RFT: the same on more
 * paths) of a LLaMA checkpoint on the CPU/CUDA kernel vtable.
 *
 * A sink with one input port that takes either of two streams. Records: each
 * becomes an example (examples.c: prompt ids, response ids + EOS; loss on
 * the response and EOS only) and flush() lays out the plan (data.c: seeded,
 * length-grouped batches of batch_size examples, every epoch) as steps of
 * token rows (batches.c). Tensors: the `pack` stage's steps (tokens,
 * targets, positions per step), which pack makes with the same code, so for
 * the same settings both streams train on the same rows and end with the
 * same weights, bit for bit. Rows that pack several sequences (pack: greedy)
 * train with document-masked attention.
 *
 * Training: micro-batches of micro_batch_size rows (gradients accumulate;
 * the loss is the mean over every target token of the step), global
 * grad-norm clipping, AdamW, linear warmup + cosine decay. Checkpoints (HF
 * directory + optimizer state) go to the stage's state directory every
 * save_every steps and at the end; under `sieve run --resume` training
 * continues from the last one and ends with the same weights, bit for bit,
 * as a run never interrupted (same threads). Finally the model is saved to
 * `output` and {"model": output} is emitted. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sieve/kernels.h"
#include "sieve/llama.h"
#include "sieve/plugin.h"
#include "stages.h"
#include "train.h"

typedef struct {
    sieve_ctx *ctx;
    const sieve_kernels *k;
    sieve_kctx *kc;
    sieve_llama *m;
    char *model_dir, *output;
    int epochs, batch_size, micro, max_len, save_every, group; /* epochs.. 0: from pack */
    double lr, wd, warmup_ratio, max_norm, beta1, beta2, eps;
    uint64_t seed;
    sieve_dtype save_dtype;
    int from_records;         /* the input: 1 records, 0 pack's tensors, -1 none yet */
    char data_given[160];     /* data params the user set (pack's, with tensors) */
    trn_examples ex;          /* records, until flush() lays them out as steps */
    trn_batch *steps;         /* [n_steps] the optimizer steps, in order */
    int64_t n_steps, cap_steps;
    trn_batch part;           /* tensors: the step being received */
    int n_part;               /* tensors of it received (tokens, targets, positions) */
} train_state;

static void free_steps(train_state *s)
{
    for (int64_t i = 0; i < s->n_steps; i++) trn_batch_release(&s->steps[i]);
    free(s->steps);
    s->steps = NULL;
    s->n_steps = s->cap_steps = 0;
}

void train_destroy(void *p)
{
    train_state *s = p;
    if (!s) return;
    trn_examples_free(&s->ex);
    free_steps(s);
    trn_batch_release(&s->part);
    if (s->k && s->kc) s->k->kctx_free(s->kc);
    sieve_llama_free(s->m);
    free(s->model_dir);
    free(s->output);
    free(s);
}

/* Model, optimizer, checkpoints, backend. */
static sieve_status create_common(const sieve_params *p, sieve_ctx *ctx, train_state *s,
                                  sieve_err *err)
{
    s->ctx = ctx;
    s->micro = (int)sieve_param_int(p, "micro_batch_size");
    s->save_every = (int)sieve_param_int(p, "save_every");
    s->lr = sieve_param_float(p, "lr");
    s->wd = sieve_param_float(p, "weight_decay");
    s->warmup_ratio = sieve_param_float(p, "warmup_ratio");
    s->max_norm = sieve_param_float(p, "max_grad_norm");
    s->beta1 = sieve_param_float(p, "adam_beta1");
    s->beta2 = sieve_param_float(p, "adam_beta2");
    s->eps = sieve_param_float(p, "adam_epsilon");
    if (s->micro < 1) return sieve_fail(err, "param 'micro_batch_size' = %d must be >= 1", s->micro);
    if (!(s->lr >= 0) || !(s->warmup_ratio >= 0 && s->warmup_ratio <= 1))
        return sieve_fail(err, "params 'lr' = %g, 'warmup_ratio' = %g: need lr >= 0 and "
                          "warmup_ratio in [0, 1]", s->lr, s->warmup_ratio);
    if (s->save_every < 0) return sieve_fail(err, "param 'save_every' must be >= 0");
    const char *dt = sieve_param_str(p, "save_dtype");
    if (!strcmp(dt, "f32")) s->save_dtype = SIEVE_F32;
    else if (!strcmp(dt, "bf16")) s->save_dtype = SIEVE_BF16;
    else return sieve_fail(err, "param 'save_dtype' = '%s': expected f32 or bf16", dt);
    s->model_dir = sieve_ctx_expand_path(ctx, sieve_param_str(p, "model"));
    s->output = sieve_ctx_expand_path(ctx, sieve_param_str(p, "output"));
    if (!s->model_dir || !s->output) return sieve_fail(err, "out of memory");
    const char *backend = sieve_param_str(p, "backend");
    s->k = sieve_ctx_kernels(ctx, backend, err);
    if (!s->k) return SIEVE_ERR;
    if (s->k->version != SIEVE_KERNELS_VERSION || s->k->size < sizeof(sieve_kernels))
        return sieve_fail(err, "kernels-%s: kernel table version %u, this plugin needs %u",
                          backend, s->k->version, SIEVE_KERNELS_VERSION);
    if (s->k->kctx_new((int)sieve_param_int(p, "threads"), &s->kc, err)) return SIEVE_ERR;
    if (sieve_llama_load(s->model_dir, &s->m, err)) return SIEVE_ERR;
    sieve_log(ctx, SIEVE_LOG_INFO, "model %s: %d layers, dim %d, vocab %d, %zu parameters",
              s->model_dir, s->m->cfg.n_layers, s->m->cfg.dim, s->m->cfg.vocab, s->m->n_params);
    return SIEVE_OK;
}

sieve_status train_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    train_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->from_records = -1;
    static const char *const data_params[] = {"epochs", "batch_size", "template", "max_len",
                                              "group_by_length", "seed"};
    for (int i = 0; i < SIEVE_COUNTOF(data_params); i++)
        if (sieve_param_given(p, data_params[i])) {
            size_t n = strlen(s->data_given);
            snprintf(s->data_given + n, sizeof s->data_given - n, "%s'%s'", n ? ", " : "",
                     data_params[i]);
        }
    s->epochs = (int)sieve_param_int(p, "epochs");
    s->batch_size = (int)sieve_param_int(p, "batch_size");
    s->max_len = (int)sieve_param_int(p, "max_len");
    s->group = sieve_param_bool(p, "group_by_length");
    s->seed = (uint64_t)sieve_param_int(p, "seed");
    if (s->epochs < 1 || s->epochs > 1000)
        return sieve_fail(err, "param 'epochs' = %d must be in [1, 1000]", s->epochs);
    if (s->batch_size < 1 || sieve_param_int(p, "micro_batch_size") > s->batch_size)
        return sieve_fail(err, "params 'batch_size' = %d and 'micro_batch_size' = %d: need "
                          "1 <= micro_batch_size <= batch_size", s->batch_size,
                          (int)sieve_param_int(p, "micro_batch_size"));
    if (s->max_len < 2) return sieve_fail(err, "param 'max_len' = %d must be >= 2", s->max_len);
    if (create_common(p, ctx, s, err)) return SIEVE_ERR;
    return trn_examples_init(&s->ex, s->model_dir, sieve_param_str(p, "template"), s->max_len,
                             s->m->cfg.vocab, s->m->cfg.eos_id, err);
}

static sieve_status push_step(void *arg, trn_batch *b, const int64_t *idx, int n, sieve_err *err)
{
    (void)idx;
    (void)n;
    train_state *s = arg;
    if (s->n_steps == s->cap_steps) {
        int64_t cap = s->cap_steps ? s->cap_steps * 2 : 256;
        trn_batch *n = realloc(s->steps, (size_t)cap * sizeof *n);
        if (!n) {
            trn_batch_release(b);
            return sieve_fail(err, "out of memory");
        }
        s->steps = n;
        s->cap_steps = cap;
    }
    trn_batch *d = &s->steps[s->n_steps++];
    sieve_tensor_move(&d->tokens, &b->tokens);
    sieve_tensor_move(&d->targets, &b->targets);
    sieve_tensor_move(&d->positions, &b->positions);
    return SIEVE_OK;
}

sieve_status train_process(void *p, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    train_state *s = p;
    if (!in || (!in->batch && !in->tensor)) return SIEVE_OK;
    if (s->from_records < 0) {   /* the first input decides */
        s->from_records = in->batch != NULL;
        if (!s->from_records && *s->data_given)
            return sieve_fail(err, "params %s are pack's when train takes its tensors: set "
                              "them on the pack stage", s->data_given);
        if (!s->from_records) s->epochs = 0;   /* unknown: pack planned the steps */
    }
    if (s->from_records != (in->batch != NULL))
        return sieve_fail(err, "the input mixes records and tensors: train takes one stream");
    if (in->batch) return trn_examples_add(&s->ex, in->batch, err);
    /* pack's stream: tokens, targets, positions, tokens, ... one step each */
    sieve_tensor *slot[3] = {&s->part.tokens, &s->part.targets, &s->part.positions};
    static const char *const names[3] = {"tokens", "targets", "positions"};
    if (strcmp(in->tensor->name, names[s->n_part]))
        return sieve_fail(err, "step %lld: expected tensor '%s', got '%s' (a step is tokens, "
                          "targets, positions)", (long long)s->n_steps + 1, names[s->n_part],
                          in->tensor->name);
    sieve_tensor_move(slot[s->n_part], in->tensor);
    if (++s->n_part < 3) return SIEVE_OK;
    s->n_part = 0;
    if (trn_batch_check(&s->part, s->m->cfg.vocab, err)) {
        sieve_err_prefix(err, "step %lld", (long long)s->n_steps + 1);
        trn_batch_release(&s->part);
        return SIEVE_ERR;
    }
    return push_step(s, &s->part, NULL, 0, err);
}

/* train: the plan over the examples, each step laid out one example a row. */
static sieve_status steps_from_examples(train_state *s, sieve_err *err)
{
    if (s->ex.skipped)
        sieve_log(s->ctx, SIEVE_LOG_WARN, "%lld records had no response token within max_len "
                  "%d and were skipped", (long long)s->ex.skipped, s->max_len);
    int64_t n_steps;
    return trn_steps(&s->ex, s->epochs, s->batch_size, s->seed, s->group, 0, push_step, s,
                     &n_steps, err);
}

/* ---- training ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* FNV-1a over the steps' tensors and the settings: a resume must see the same. */
static uint64_t data_hash(const train_state *s)
{
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < s->n_steps; i++) {
        const sieve_tensor *t[3] = {&s->steps[i].tokens, &s->steps[i].targets,
                                    &s->steps[i].positions};
        for (int j = 0; j < 3; j++) {
            const unsigned char *b = t[j]->data;
            size_t n = (size_t)sieve_tensor_numel(t[j]) * 4;
            h = (h ^ (uint64_t)t[j]->shape[1]) * 1099511628211ull;
            for (size_t c = 0; c < n; c++) h = (h ^ b[c]) * 1099511628211ull;
        }
    }
    /* and every setting that changes the weights (threads aside) */
    char set[512];
    int n = snprintf(set, sizeof set, "%d %d %d %d %d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %llu",
                     s->epochs, s->batch_size, s->micro, s->max_len, s->group, s->lr, s->wd,
                     s->warmup_ratio, s->max_norm, s->beta1, s->beta2, s->eps,
                     (unsigned long long)s->seed);
    for (int i = 0; i < n && i < (int)sizeof set; i++)
        h = (h ^ (unsigned char)set[i]) * 1099511628211ull;
    return h;
}

static void meta_text(char *buf, size_t n, int64_t step, int64_t total, uint64_t hash,
                      int64_t n_rows)
{
    snprintf(buf, n, "{\"step\": %lld, \"steps\": %lld, \"data_hash\": \"%016llx\", "
             "\"rows\": %lld}", (long long)step, (long long)total,
             (unsigned long long)hash, (long long)n_rows);
}

static int64_t meta_int(const char *meta, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(meta, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void fmt_eta(char *b, size_t n, double sec)
{
    if (sec < 120) snprintf(b, n, "%.0fs", sec);
    else if (sec < 7200) snprintf(b, n, "%.0fm", sec / 60);
    else snprintf(b, n, "%.1fh", sec / 3600);
}

/* mkdir -p of the directories above path. */
static sieve_status mkdir_parents(const char *path, sieve_err *err)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(p, 0755) && errno != EEXIST)
            return sieve_fail(err, "%s: cannot create directory: %s", p, strerror(errno));
        *c = '/';
    }
    return SIEVE_OK;
}

sieve_status train_flush(void *p, sieve_io *io, sieve_err *err)
{
    train_state *s = p;
    sieve_ctx *ctx = s->ctx;
    if (s->from_records < 0) return sieve_fail(err, "no training input");
    if (s->from_records) {
        if (steps_from_examples(s, err)) return SIEVE_ERR;
        trn_examples_free(&s->ex);   /* the steps hold every token now */
    } else if (s->n_part) {
        return sieve_fail(err, "the tensor stream ended inside a step (%d of tokens, targets, "
                          "positions)", s->n_part);
    }
    if (s->n_steps == 0) return sieve_fail(err, "no training batches in the input");
    int T_cap = 0;
    int64_t n_rows = 0;
    for (int64_t i = 0; i < s->n_steps; i++) {
        int T = (int)s->steps[i].tokens.shape[1];
        T_cap = T > T_cap ? T : T_cap;
        n_rows += s->steps[i].tokens.shape[0];
    }
    int64_t total = s->n_steps, warmup = trn_warmup_steps(total, s->warmup_ratio);
    uint64_t hash = data_hash(s);
    sieve_llama_train *tr = NULL;
    trn_optim opt = {0};
    int32_t *ids = malloc((size_t)s->micro * T_cap * sizeof *ids);
    int32_t *tgt = malloc((size_t)s->micro * T_cap * sizeof *tgt);
    int32_t *pos = malloc((size_t)s->micro * T_cap * sizeof *pos);
    char state[4096], ckpt[4300], meta[512];
    char *old_meta = NULL;
    sieve_status st = SIEVE_ERR;
    if (!ids || !tgt || !pos) {
        sieve_fail(err, "out of memory");
        goto done;
    }
    if (sieve_llama_train_new(s->m, s->k, s->kc, s->micro, T_cap, &tr, err)) goto done;
    if (trn_optim_init(&opt, s->k, s->kc, s->m->n_params, (float)s->beta1, (float)s->beta2,
                       (float)s->eps, (float)s->wd, err))
        goto done;
    if (sieve_ctx_state_dir(ctx, state, sizeof state, err)) goto done;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", state);

    int64_t start = 0;
    struct stat sb;
    char old_path[4400];
    snprintf(old_path, sizeof old_path, "%s.old", ckpt);
    if (sieve_ctx_resuming(ctx) && (!stat(ckpt, &sb) || !stat(old_path, &sb))) {
        if (trn_ckpt_load(ckpt, s->m, &opt, &old_meta, err)) goto done;
        sieve_llama_train_upload(tr);
        char want[64];
        snprintf(want, sizeof want, "\"data_hash\": \"%016llx\"", (unsigned long long)hash);
        if (meta_int(old_meta, "steps") != total || meta_int(old_meta, "rows") != n_rows ||
            !strstr(old_meta, want)) {
            sieve_fail(err, "checkpoint %s was made for other data or settings (%s); remove it "
                       "to start over", ckpt, old_meta);
            goto done;
        }
        start = meta_int(old_meta, "step");
        sieve_log(ctx, SIEVE_LOG_INFO, "resuming from the checkpoint of step %lld of %lld",
                  (long long)start, (long long)total);
    }
    if (s->from_records)
        sieve_log(ctx, SIEVE_LOG_INFO, "%lld examples, %d epochs, %lld steps of %d (micro-"
                  "batches of %d), warmup %lld, lr %g", (long long)s->ex.n, s->epochs,
                  (long long)total, s->batch_size, s->micro, (long long)warmup, s->lr);
    else
        sieve_log(ctx, SIEVE_LOG_INFO, "%lld steps of packed rows (%lld rows; micro-batches of "
                  "%d rows), warmup %lld, lr %g", (long long)total, (long long)n_rows, s->micro,
                  (long long)warmup, s->lr);

    double t_start = now_s();
    int64_t tok_done = 0;
    for (int64_t step = start; step < total; step++) {
        if (sieve_ctx_stopping(ctx)) {
            st = SIEVE_STOPPED;
            goto done;
        }
        const trn_batch *batch = &s->steps[step];
        int64_t n_tgt, n_tok;
        trn_batch_count(batch, &n_tok, &n_tgt);
        /* The loss is the mean over the step's targets: each micro-batch's
         * gradient is scaled by 1/n_tgt and they accumulate. */
        sieve_llama_train_zero_grads(tr);
        double nll = 0.0;
        int rows = (int)batch->tokens.shape[0];
        for (int r0 = 0; r0 < rows; r0 += s->micro) {
            int nb = rows - r0 < s->micro ? rows - r0 : s->micro, packed;
            int T = trn_batch_rows(batch, r0, nb, ids, tgt, pos, &packed);
            float scale = n_tgt ? (float)(1.0 / (double)n_tgt) : 0.0f;
            /* rows of one sequence each need no document mask: the plain
             * causal path, as training has always run */
            if (sieve_llama_loss_grad_packed(tr, ids, tgt, packed ? pos : NULL, nb, T, scale,
                                             &nll, NULL, err))
                goto done;
        }
        double lr = trn_lr_at(s->lr, step, total, warmup);
        double norm = trn_optim_step(&opt, sieve_llama_train_params(tr),
                                     sieve_llama_train_grads(tr), (float)lr, (float)s->max_norm);
        double loss = n_tgt ? nll / (double)n_tgt : 0.0;
        if (!isfinite(loss)) {
            sieve_fail(err, "step %lld: the loss is %g", (long long)step + 1, loss);
            goto done;
        }
        tok_done += n_tok;
        double el = now_s() - t_start, tps = tok_done / (el > 1e-9 ? el : 1e-9);
        double eta = el / (double)(step + 1 - start) * (double)(total - step - 1);
        char extra[160], etas[32], metric[400];
        fmt_eta(etas, sizeof etas, eta);
        snprintf(extra, sizeof extra, "loss %.4f lr %.3g tok/s %.0f eta %s", loss, lr, tps, etas);
        sieve_progress(ctx, step + 1, total, "step", extra);
        char ep[48] = "";
        if (s->epochs)   /* unknown with pack's tensors */
            snprintf(ep, sizeof ep, "\"epoch\": %.4f, ",
                     (double)(step + 1) * s->epochs / (double)total);
        snprintf(metric, sizeof metric, "{\"step\": %lld, %s\"loss\": %.6f, "
                 "\"lr\": %.9g, \"grad_norm\": %.6g, \"tokens\": %lld, \"targets\": %lld, "
                 "\"tokens_per_s\": %.1f}",
                 (long long)step + 1, ep, loss, lr, norm, (long long)n_tok, (long long)n_tgt, tps);
        sieve_metric(ctx, metric);
        int last = step + 1 == total;
        if (last || (s->save_every > 0 && (step + 1) % s->save_every == 0)) {
            sieve_llama_train_download(tr);
            meta_text(meta, sizeof meta, step + 1, total, hash, n_rows);
            if (trn_ckpt_save(ckpt, s->m, &opt, meta, err)) goto done;
        }
    }
    sieve_llama_train_download(tr);
    if (mkdir_parents(s->output, err) || sieve_llama_save(s->m, s->output, s->save_dtype, err))
        goto done;
    sieve_log(ctx, SIEVE_LOG_INFO, "saved %s", s->output);
    sieve_batch *out = sieve_batch_new(1);
    sieve_record *r = out ? sieve_batch_add(out) : NULL;
    if (!r || sieve_record_set_cstr(r, "model", s->output)) {
        sieve_batch_free(out);
        sieve_fail(err, "out of memory");
        goto done;
    }
    st = sieve_emit(io, 0, out);
done:
    free(old_meta);
    free(ids);
    free(tgt);
    free(pos);
    trn_optim_free(&opt);
    sieve_llama_train_free(tr);
    return st;
}
