/* Speed of the LLaMA model on kernels-cuda, for tools/gpu-check.sh. Prints
 * one JSON line per command.
 *   bench_llama_cuda train CONFIG B T STEPS PEAK_TFLOPS
 *       training steps (forward, loss, backward, AdamW) on a model of CONFIG
 *       with deterministic weights; MFU = 6 N tokens / time / peak, N the
 *       parameters that do matmul FLOPs (all but the input embedding), plus
 *       the same with causal attention's FLOPs (6 L H hd T^2 B / 2 * 2).
 *   bench_llama_cuda save CONFIG DIR
 *       writes that model (bf16 safetensors) for the sampling comparison.
 *   bench_llama_cuda sample DIR B PROMPT NEW IDS_OUT
 *       greedy decoding of B sequences (random prompts of PROMPT tokens, NEW
 *       tokens each, KV cache; argmax on the host): tokens/s over prefill and
 *       decode; prompts and outputs are written to IDS_OUT (one line each:
 *       prompt ids, then '|', then generated ids) for Hugging Face to compare.
 * The matmul mode comes from SIEVE_CUDA_MATMUL (f32, tf32, bf16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcuda_testutil.h"
#include "sieve/llama.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Deterministic weights without the cost of Box-Muller over 1e9 values:
 * uniform in +-0.035 (std 0.02, HF's init range), norm weights 1. */
static void cheap_init(sieve_llama *m)
{
    uint64_t s = 0x12345678u;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        m->params[i] = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.0693f;
    }
    sieve_llama_tensor ts[4096];
    int n = sieve_llama_tensors(&m->cfg, ts, 4096);
    for (int i = 0; i < n && i < 4096; i++)
        if (ts[i].rank == 1)
            for (size_t j = 0; j < ts[i].numel; j++) m->params[ts[i].offset + j] = 1.0f;
}

static sieve_llama *model_from_config(const char *path)
{
    sieve_llama_config cfg;
    sieve_llama *m = NULL;
    sieve_err err = {{0}};
    if (sieve_llama_config_load(path, &cfg, &err) || sieve_llama_new(&cfg, &m, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return NULL;
    }
    cheap_init(m);
    return m;
}

static void fill_ids(int32_t *ids, size_t n, int V, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((s >> 33) % (uint64_t)V);
    }
}

static const char *mode(void)
{
    const char *m = getenv("SIEVE_CUDA_MATMUL");
    return m && *m ? m : "f32";
}

static int cmd_train(kt_env *e, int argc, char **argv)
{
    if (argc < 7) return 2;
    int B = atoi(argv[3]), T = atoi(argv[4]), steps = atoi(argv[5]);
    double peak = atof(argv[6]) * 1e12;
    sieve_llama *m = model_from_config(argv[2]);
    if (!m) return 1;
    const sieve_llama_config *c = &m->cfg;
    const sieve_kernels *k = e->cuda;
    sieve_err err = {{0}};
    sieve_llama_train *t = NULL;
    double t0 = now();
    if (sieve_llama_train_new(m, k, e->ccuda, B, T, &t, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    size_t n = m->n_params;
    float *mo = k->alloc(e->ccuda, n * 4, &err), *vo = mo ? k->alloc(e->ccuda, n * 4, &err) : NULL;
    if (!vo) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "bench: model on the GPU in %.1f s (%zu parameters)\n", now() - t0, n);
    int32_t *ids = malloc((size_t)B * T * 4), *tgt = malloc((size_t)B * T * 4);
    fill_ids(ids, (size_t)B * T, c->vocab, 1);
    for (int i = 0; i < B * T; i++) tgt[i] = i % T + 1 < T ? ids[i + 1] : -1;
    double loss0 = 0, loss = 0, tsum = 0;
    int warm = 2;
    for (int s = 0; s < warm + steps; s++) {
        double a = now(), nll = 0;
        long cnt = 0;
        sieve_llama_train_zero_grads(t);
        if (sieve_llama_loss_grad(t, ids, tgt, B, T, 1.0f / (float)(B * (T - 1)), &nll, &cnt, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return 1;
        }
        k->adamw(e->ccuda, sieve_llama_train_params(t), sieve_llama_train_grads(t), mo, vo, n,
                 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, s + 1);
        k->sync(e->ccuda);
        double dt = now() - a;
        if (s == 0) loss0 = nll / (double)cnt;
        loss = nll / (double)cnt;
        if (s >= warm) tsum += dt;
        fprintf(stderr, "bench: step %d %.3f s loss %.4f\n", s, dt, loss);
    }
    const char *cerr = e->cuda_error ? e->cuda_error(e->ccuda) : NULL;
    double step_s = tsum / steps, tokens = (double)B * T;
    double n_mm = (double)n - (c->tie_embeddings ? 0.0 : (double)c->vocab * c->dim);
    double attn = 6.0 * c->n_layers * c->n_heads * c->head_dim * (double)T * T * B; /* causal: half of 12 */
    printf("{\"bench\": \"train\", \"mode\": \"%s\", \"params\": %zu, \"batch\": %d, \"seq\": %d, "
           "\"step_s\": %.4f, \"tokens_per_s\": %.1f, \"mfu\": %.4f, \"mfu_with_attention\": %.4f, "
           "\"loss_first\": %.4f, \"loss_last\": %.4f, \"cuda_error\": %s%s%s}\n",
           mode(), n, B, T, step_s, tokens / step_s, 6.0 * n_mm * tokens / step_s / peak,
           (6.0 * n_mm * tokens + attn) / step_s / peak, loss0, loss, cerr ? "\"" : "",
           cerr ? cerr : "null", cerr ? "\"" : "");
    k->free(e->ccuda, mo);
    k->free(e->ccuda, vo);
    sieve_llama_train_free(t);
    sieve_llama_free(m);
    free(ids), free(tgt);
    return cerr ? 1 : 0;
}

static int cmd_save(int argc, char **argv)
{
    if (argc < 4) return 2;
    sieve_llama *m = model_from_config(argv[2]);
    sieve_err err = {{0}};
    if (!m || sieve_llama_save(m, argv[3], SIEVE_BF16, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    printf("{\"bench\": \"save\", \"dir\": \"%s\", \"params\": %zu}\n", argv[3], m->n_params);
    sieve_llama_free(m);
    return 0;
}

static int cmd_sample(kt_env *e, int argc, char **argv)
{
    if (argc < 7) return 2;
    int B = atoi(argv[3]), P = atoi(argv[4]), N = atoi(argv[5]);
    sieve_err err = {{0}};
    sieve_llama *m = NULL;
    if (sieve_llama_load(argv[2], &m, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    int V = m->cfg.vocab;
    sieve_llama_run *r = NULL;
    if (sieve_llama_run_new(m, e->cuda, e->ccuda, B, P + N, 0, &r, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    int32_t *prompt = malloc((size_t)B * P * 4), *out = malloc((size_t)B * N * 4), *next = malloc((size_t)B * 4);
    float *lg = malloc((size_t)B * P * V * 4);
    fill_ids(prompt, (size_t)B * P, V, 2);
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {   /* the first run warms up cuBLAS */
        double a = now();
        if (sieve_llama_forward(r, prompt, B, P, 0, lg, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return 1;
        }
        for (int i = 0; i < N; i++) {
            for (int b = 0; b < B; b++) {
                const float *row = lg + ((size_t)b * (i == 0 ? P : 1) + (i == 0 ? P - 1 : 0)) * V;
                int best_j = 0;
                for (int j = 1; j < V; j++) if (row[j] > row[best_j]) best_j = j;
                next[b] = best_j;
                out[(size_t)b * N + i] = best_j;
            }
            if (i + 1 < N && sieve_llama_forward(r, next, B, 1, P + i, lg, &err)) {
                fprintf(stderr, "bench: %s\n", err.msg);
                return 1;
            }
        }
        double dt = now() - a;
        best = dt < best ? dt : best;
    }
    FILE *f = fopen(argv[6], "w");
    for (int b = 0; f && b < B; b++) {
        for (int i = 0; i < P; i++) fprintf(f, "%s%d", i ? "," : "", prompt[(size_t)b * P + i]);
        fputc('|', f);
        for (int i = 0; i < N; i++) fprintf(f, "%s%d", i ? "," : "", out[(size_t)b * N + i]);
        fputc('\n', f);
    }
    if (f) fclose(f);
    const char *cerr = e->cuda_error ? e->cuda_error(e->ccuda) : NULL;
    printf("{\"bench\": \"sample\", \"mode\": \"%s\", \"batch\": %d, \"prompt\": %d, \"new\": %d, "
           "\"seconds\": %.4f, \"tokens_per_s\": %.1f, \"cuda_error\": %s%s%s}\n", mode(), B, P, N,
           best, (double)B * N / best, cerr ? "\"" : "", cerr ? cerr : "null", cerr ? "\"" : "");
    sieve_llama_run_free(r);
    sieve_llama_free(m);
    free(prompt), free(out), free(next), free(lg);
    return cerr ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_llama_cuda train|save|sample ... (see the source)\n");
        return 2;
    }
    if (strcmp(argv[1], "save") == 0) return cmd_save(argc, argv);
    kt_env e;
    int rc = kt_open(&e);
    if (rc) return rc;
    if (strcmp(argv[1], "train") == 0) rc = cmd_train(&e, argc, argv);
    else if (strcmp(argv[1], "sample") == 0) rc = cmd_sample(&e, argc, argv);
    else rc = 2;
    if (rc == 2) fprintf(stderr, "bench_llama_cuda: bad arguments\n");
    kt_close(&e);
    return rc;
}
