/* Stage `train`: supervised fine-tuning (SFT, and RFT: the same on more
 * paths) of a LLaMA checkpoint on the CPU/CUDA kernel vtable.
 *
 * A sink: process() turns every input record into an example (prompt ids,
 * response ids + EOS; loss on the response and EOS only) and flush() trains:
 * seeded, length-grouped batches of batch_size examples in micro-batches of
 * micro_batch_size (gradients accumulate; the loss is the mean over every
 * response token of the batch), global grad-norm clipping, AdamW, linear
 * warmup + cosine decay. Checkpoints (HF directory + optimizer state) go to
 * the stage's state directory every save_every steps and at the end; under
 * `sieve run --resume` training continues from the last one and ends with
 * the same weights, bit for bit, as a run never interrupted (same threads).
 * Finally the model is saved to `output` and {"model": output} is emitted. */
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
#include "sieve/template.h"
#include "stages.h"
#include "train.h"
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
#include "sieve/tokenizer.h"
#endif


typedef struct {
    sieve_ctx *ctx;
    const sieve_kernels *k;
    sieve_kctx *kc;
    sieve_llama *m;
    char *model_dir, *output, *tmpl;
    int epochs, batch_size, micro, max_len, save_every, group;
    double lr, wd, warmup_ratio, max_norm, beta1, beta2, eps;
    uint64_t seed;
    sieve_dtype save_dtype;
    trn_example *ex;
    int64_t n_ex, cap_ex, skipped;
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
    sieve_tokenizer *tok;
    sieve_tok_buf tb;
#endif
} train_state;

void train_destroy(void *p)
{
    train_state *s = p;
    if (!s) return;
    for (int64_t i = 0; i < s->n_ex; i++) free(s->ex[i].ids);
    free(s->ex);
    if (s->k && s->kc) s->k->kctx_free(s->kc);
    sieve_llama_free(s->m);
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
    sieve_tokenizer_free(s->tok);
    sieve_tok_buf_free(&s->tb);
#endif
    free(s->model_dir);
    free(s->output);
    free(s->tmpl);
    free(s);
}

sieve_status train_create(const sieve_params *p, sieve_ctx *ctx, void **state, sieve_err *err)
{
    train_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->ctx = ctx;
    s->epochs = (int)sieve_param_int(p, "epochs");
    s->batch_size = (int)sieve_param_int(p, "batch_size");
    s->micro = (int)sieve_param_int(p, "micro_batch_size");
    s->max_len = (int)sieve_param_int(p, "max_len");
    s->save_every = (int)sieve_param_int(p, "save_every");
    s->group = sieve_param_bool(p, "group_by_length");
    s->lr = sieve_param_float(p, "lr");
    s->wd = sieve_param_float(p, "weight_decay");
    s->warmup_ratio = sieve_param_float(p, "warmup_ratio");
    s->max_norm = sieve_param_float(p, "max_grad_norm");
    s->beta1 = sieve_param_float(p, "adam_beta1");
    s->beta2 = sieve_param_float(p, "adam_beta2");
    s->eps = sieve_param_float(p, "adam_epsilon");
    s->seed = (uint64_t)sieve_param_int(p, "seed");
    if (s->epochs < 1 || s->epochs > 1000)
        return sieve_fail(err, "param 'epochs' = %d must be in [1, 1000]", s->epochs);
    if (s->batch_size < 1 || s->micro < 1 || s->micro > s->batch_size)
        return sieve_fail(err, "params 'batch_size' = %d and 'micro_batch_size' = %d: need "
                          "1 <= micro_batch_size <= batch_size", s->batch_size, s->micro);
    if (s->max_len < 2) return sieve_fail(err, "param 'max_len' = %d must be >= 2", s->max_len);
    if (!(s->lr >= 0) || !(s->warmup_ratio >= 0 && s->warmup_ratio <= 1))
        return sieve_fail(err, "params 'lr' = %g, 'warmup_ratio' = %g: need lr >= 0 and "
                          "warmup_ratio in [0, 1]", s->lr, s->warmup_ratio);
    if (s->save_every < 0) return sieve_fail(err, "param 'save_every' must be >= 0");
    const char *dt = sieve_param_str(p, "save_dtype");
    if (!strcmp(dt, "f32")) s->save_dtype = SIEVE_F32;
    else if (!strcmp(dt, "bf16")) s->save_dtype = SIEVE_BF16;
    else return sieve_fail(err, "param 'save_dtype' = '%s': expected f32 or bf16", dt);
    const char *t = sieve_param_str(p, "template");
    s->tmpl = strdup(sieve_template_text(t));
    s->model_dir = sieve_ctx_expand_path(ctx, sieve_param_str(p, "model"));
    s->output = sieve_ctx_expand_path(ctx, sieve_param_str(p, "output"));
    if (!s->tmpl || !s->model_dir || !s->output) return sieve_fail(err, "out of memory");
    if (!strstr(s->tmpl, "{query}"))
        return sieve_fail(err, "param 'template' has no {query} placeholder");
    const char *backend = sieve_param_str(p, "backend");
    s->k = sieve_ctx_kernels(ctx, backend, err);
    if (!s->k) return SIEVE_ERR;
    if (s->k->version != SIEVE_KERNELS_VERSION || s->k->size < sizeof(sieve_kernels))
        return sieve_fail(err, "kernels-%s: kernel table version %u, this plugin needs %u",
                          backend, s->k->version, SIEVE_KERNELS_VERSION);
    if (s->k->kctx_new((int)sieve_param_int(p, "threads"), &s->kc, err)) return SIEVE_ERR;
    if (sieve_llama_load(s->model_dir, &s->m, err)) return SIEVE_ERR;
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
    char tpath[4096];
    struct stat sb;
    snprintf(tpath, sizeof tpath, "%s/tokenizer.model", s->model_dir);
    if (!stat(tpath, &sb) && sieve_tokenizer_load(tpath, &s->tok, err)) return SIEVE_ERR;
#endif
    sieve_log(ctx, SIEVE_LOG_INFO, "model %s: %d layers, dim %d, vocab %d, %zu parameters",
              s->model_dir, s->m->cfg.n_layers, s->m->cfg.dim, s->m->cfg.vocab, s->m->n_params);
    return SIEVE_OK;
}

/* ---- records to examples ---- */

static sieve_status add_example(train_state *s, int32_t *ids, int len, int n_prompt,
                                size_t idx, sieve_err *err)
{
    for (int i = 0; i < len; i++)
        if (ids[i] < 0 || ids[i] >= s->m->cfg.vocab) {
            sieve_fail(err, "record %zu: token %d = %d is outside the vocabulary [0, %d)", idx, i,
                       ids[i], s->m->cfg.vocab);
            free(ids);
            return SIEVE_ERR;
        }
    if (len > s->max_len) len = s->max_len;    /* truncated as HF's tokenizer does */
    if (n_prompt >= len) {                      /* no response token left to learn */
        free(ids);
        s->skipped++;
        return SIEVE_OK;
    }
    if (s->n_ex == s->cap_ex) {
        int64_t cap = s->cap_ex ? s->cap_ex * 2 : 1024;
        trn_example *n = realloc(s->ex, (size_t)cap * sizeof *n);
        if (!n) {
            free(ids);
            return sieve_fail(err, "out of memory");
        }
        s->ex = n;
        s->cap_ex = cap;
    }
    s->ex[s->n_ex++] = (trn_example){ids, len, n_prompt};
    return SIEVE_OK;
}

static sieve_status from_ids(train_state *s, const int64_t *p, size_t np, const int64_t *r,
                             size_t nr, size_t idx, sieve_err *err)
{
    int eos = s->m->cfg.eos_id;
    size_t n = np + nr + (eos >= 0 && (nr == 0 || r[nr - 1] != eos));
    if (n > (1u << 24)) return sieve_fail(err, "record %zu: %zu tokens is too many", idx, n);
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    if (!ids) return sieve_fail(err, "out of memory");
    for (size_t i = 0; i < np; i++) ids[i] = p[i] < 0 || p[i] > INT32_MAX ? -1 : (int32_t)p[i];
    for (size_t i = 0; i < nr; i++) ids[np + i] = r[i] < 0 || r[i] > INT32_MAX ? -1 : (int32_t)r[i];
    if (n > np + nr) ids[n - 1] = eos;
    return add_example(s, ids, (int)n, (int)np, idx, err);
}

#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
/* As the paper's (Alpaca's) code: the prompt and the response are encoded
 * together, the first len(encode(prompt)) tokens carry no loss, EOS ends it. */
static sieve_status from_text(train_state *s, const char *q, size_t ql, const char *r,
                              size_t rl, size_t idx, sieve_err *err)
{
    if (!s->tok)
        return sieve_fail(err, "record %zu: text input needs %s/tokenizer.model (or give "
                          "prompt_ids and response_ids)", idx, s->model_dir);
    size_t pl;
    sieve_record qr;
    sieve_record_init(&qr);
    if (sieve_record_set_str(&qr, "query", q, ql)) return sieve_fail(err, "out of memory");
    char *prompt = sieve_template_render(s->tmpl, &qr, &pl, err);
    sieve_record_free(&qr);
    if (!prompt) return SIEVE_ERR;
    if (sieve_tokenizer_encode(s->tok, prompt, pl, SIEVE_TOK_BOS, &s->tb, err)) {
        free(prompt);
        return SIEVE_ERR;
    }
    size_t n_prompt = s->tb.n;
    char *full = malloc(pl + rl + 1);
    if (!full) {
        free(prompt);
        return sieve_fail(err, "out of memory");
    }
    memcpy(full, prompt, pl);
    memcpy(full + pl, r, rl);
    free(prompt);
    sieve_status st = sieve_tokenizer_encode(s->tok, full, pl + rl, SIEVE_TOK_BOS | SIEVE_TOK_EOS,
                                             &s->tb, err);
    free(full);
    if (st) return st;
    int32_t *ids = malloc((s->tb.n + 1) * sizeof *ids);
    if (!ids) return sieve_fail(err, "out of memory");
    memcpy(ids, s->tb.ids, s->tb.n * sizeof *ids);
    return add_example(s, ids, (int)s->tb.n, (int)n_prompt, idx, err);
}
#endif

sieve_status train_process(void *p, const sieve_input *in, sieve_io *io, sieve_err *err)
{
    (void)io;
    train_state *s = p;
    if (!in || !in->batch) return SIEVE_OK;
    for (size_t i = 0; i < in->batch->n_recs; i++) {
        const sieve_record *r = &in->batch->recs[i];
        size_t idx = (size_t)(s->n_ex + s->skipped);
        const int64_t *pi, *ri;
        size_t np, nr;
        const char *q, *a;
        size_t ql, al;
        if (sieve_record_get_ints(r, "prompt_ids", &pi, &np) &&
            sieve_record_get_ints(r, "response_ids", &ri, &nr)) {
            if (from_ids(s, pi, np, ri, nr, idx, err)) return SIEVE_ERR;
            continue;
        }
        int have = (sieve_record_get_str(r, "query", &q, &ql) &&
                    sieve_record_get_str(r, "response", &a, &al)) ||
                   (sieve_record_get_str(r, "question", &q, &ql) &&
                    sieve_record_get_str(r, "answer", &a, &al));
        if (!have)
            return sieve_fail(err, "record %zu: needs {query, response}, {question, answer} or "
                              "{prompt_ids, response_ids}", idx);
#ifdef SIEVE_TRAIN_HAVE_TOKENIZER
        if (from_text(s, q, ql, a, al, idx, err)) return SIEVE_ERR;
#else
        return sieve_fail(err, "record %zu: text input needs the tokenizer, which this build "
                          "lacks; give prompt_ids and response_ids", idx);
#endif
    }
    return SIEVE_OK;
}

/* ---- training ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* FNV-1a over the examples and the settings: a resume must see the same. */
static uint64_t data_hash(const train_state *s)
{
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < s->n_ex; i++) {
        const unsigned char *b = (const unsigned char *)s->ex[i].ids;
        for (size_t j = 0; j < (size_t)s->ex[i].len * 4; j++) h = (h ^ b[j]) * 1099511628211ull;
        h = (h ^ (uint64_t)s->ex[i].n_prompt) * 1099511628211ull;
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
                      int64_t n_ex)
{
    snprintf(buf, n, "{\"step\": %lld, \"steps\": %lld, \"data_hash\": \"%016llx\", "
             "\"examples\": %lld}", (long long)step, (long long)total,
             (unsigned long long)hash, (long long)n_ex);
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
    if (s->skipped)
        sieve_log(ctx, SIEVE_LOG_WARN, "%lld records had no response token within max_len %d "
                  "and were skipped", (long long)s->skipped, s->max_len);
    if (s->n_ex == 0) return sieve_fail(err, "no training examples in the input");
    trn_plan plan;
    if (trn_plan_make(s->ex, s->n_ex, s->epochs, s->batch_size, s->seed, s->group, &plan, err))
        return SIEVE_ERR;
    int T_cap = 0;
    for (int64_t i = 0; i < s->n_ex; i++) T_cap = s->ex[i].len > T_cap ? s->ex[i].len : T_cap;
    int64_t total = plan.n_steps, warmup = trn_warmup_steps(total, s->warmup_ratio);
    uint64_t hash = data_hash(s);
    sieve_llama_train *tr = NULL;
    trn_optim opt = {0};
    int32_t *ids = malloc((size_t)s->micro * T_cap * sizeof *ids);
    int32_t *tgt = malloc((size_t)s->micro * T_cap * sizeof *tgt);
    char state[4096], ckpt[4300], meta[512];
    char *old_meta = NULL;
    sieve_status st = SIEVE_ERR;
    if (!ids || !tgt) {
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
        if (meta_int(old_meta, "steps") != total || meta_int(old_meta, "examples") != s->n_ex ||
            !strstr(old_meta, want)) {
            sieve_fail(err, "checkpoint %s was made for other data or settings (%s); remove it "
                       "to start over", ckpt, old_meta);
            goto done;
        }
        start = meta_int(old_meta, "step");
        sieve_log(ctx, SIEVE_LOG_INFO, "resuming from the checkpoint of step %lld of %lld",
                  (long long)start, (long long)total);
    }
    sieve_log(ctx, SIEVE_LOG_INFO, "%lld examples, %d epochs, %lld steps of %d (micro-batches "
              "of %d), warmup %lld, lr %g", (long long)s->n_ex, s->epochs, (long long)total,
              s->batch_size, s->micro, (long long)warmup, s->lr);

    double t_start = now_s();
    int64_t tok_done = 0;
    for (int64_t step = start; step < total; step++) {
        if (sieve_ctx_stopping(ctx)) {
            st = SIEVE_STOPPED;
            goto done;
        }
        const int64_t *batch = plan.order + step * s->batch_size;
        int64_t n_tgt = 0, n_tok = 0;
        for (int i = 0; i < s->batch_size; i++)
            if (batch[i] >= 0) {
                n_tgt += s->ex[batch[i]].len - (s->ex[batch[i]].n_prompt > 0 ? s->ex[batch[i]].n_prompt : 1);
                n_tok += s->ex[batch[i]].len;
            }
        /* Each example's last token predicts nothing; its targets are
         * positions n_prompt-1 .. len-2 predicting n_prompt .. len-1. */
        sieve_llama_train_zero_grads(tr);
        double nll = 0.0;
        for (int i0 = 0; i0 < s->batch_size && batch[i0] >= 0; i0 += s->micro) {
            int nb = 0, T = 0;
            while (nb < s->micro && i0 + nb < s->batch_size && batch[i0 + nb] >= 0) {
                int len = s->ex[batch[i0 + nb]].len;
                T = len > T ? len : T;
                nb++;
            }
            for (int b = 0; b < nb; b++) {
                const trn_example *e = &s->ex[batch[i0 + b]];
                for (int t = 0; t < T; t++) {
                    ids[b * T + t] = t < e->len ? e->ids[t] : 0;
                    tgt[b * T + t] = t + 1 < e->len && t + 1 >= e->n_prompt ? e->ids[t + 1] : -1;
                }
            }
            if (sieve_llama_loss_grad(tr, ids, tgt, nb, T, (float)(1.0 / (double)n_tgt), &nll,
                                      NULL, err))
                goto done;
        }
        double lr = trn_lr_at(s->lr, step, total, warmup);
        double norm = trn_optim_step(&opt, sieve_llama_train_params(tr),
                                     sieve_llama_train_grads(tr), (float)lr, (float)s->max_norm);
        double loss = nll / (double)n_tgt;
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
        snprintf(metric, sizeof metric, "{\"step\": %lld, \"epoch\": %.4f, \"loss\": %.6f, "
                 "\"lr\": %.9g, \"grad_norm\": %.6g, \"tokens\": %lld, \"targets\": %lld, "
                 "\"tokens_per_s\": %.1f}",
                 (long long)step + 1, (double)(step + 1) * s->epochs / (double)total, loss, lr,
                 norm, (long long)n_tok, (long long)n_tgt, tps);
        sieve_metric(ctx, metric);
        int last = step + 1 == total;
        if (last || (s->save_every > 0 && (step + 1) % s->save_every == 0)) {
            sieve_llama_train_download(tr);
            meta_text(meta, sizeof meta, step + 1, total, hash, s->n_ex);
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
    trn_optim_free(&opt);
    sieve_llama_train_free(tr);
    trn_plan_free(&plan);
    return st;
}
