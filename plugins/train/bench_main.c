/* sieve-train-bench: the training throughput of the CPU backend on a config
 * (default "tiny": dim 288, 6 layers, 6 heads, ffn 768, vocab 32000) and the
 * machine's measured single-precision GEMM peak (OpenBLAS sgemm on square
 * 1536^3 matrices with the same thread count, best of samples taken before
 * and between the steps), for tools/bench-train. Prints one JSON line:
 *   {"tokens_per_s": .., "step_s": .., "flops_per_step": .., "sgemm_gflops": ..,
 *    "mfu": .., "step_cpu_s": .., "sgemm_gflops_per_cpu_s": .., "mfu_cpu": ..,
 *    "threads": .., "loss": ..}
 * Model FLOPs per step: 6 x tokens x (every Linear's weights, lm_head
 * included) + causal attention 6 x B x H x T^2 x hd per layer (forward
 * 2 x B x H x T^2/2 x hd x 2 matmuls, backward twice that). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sieve/kernels.h"
#include "sieve/llama.h"
#include "train.h"

const sieve_kernels *sieve_kernels_cpu(void);
void openblas_set_num_threads(int);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of the best of `reps` square SGEMMs with OpenBLAS's own threads;
 * sampled before every training step too, so that a busy machine lowers the
 * peak and the step alike (the best of each is used). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best GFLOP per CPU-second of one-thread SGEMMs: on a shared machine the
 * CPU time a computation used does not depend on how much of the cores the
 * other processes took, so mfu_cpu (step FLOPs per CPU-second over this)
 * stays meaningful where wall-clock figures swing. */
static double sgemm_per_cpu_s(int reps)
{
    int n = 1024;
    float *a = calloc((size_t)n * n, 4), *b = calloc((size_t)n * n, 4), *c = calloc((size_t)n * n, 4);
    openblas_set_num_threads(1);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = cpu_s() - t0;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

static double sgemm_peak(int threads, int reps)
{
    int n = 1536;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    openblas_set_num_threads(1);   /* the kernels' pool calls BLAS single-threaded */
    return 2.0 * n * n * (double)n / best / 1e9;
}

int main(int argc, char **argv)
{
    int threads = 2, B = 8, T = 256, steps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
    }
    double peak = sgemm_peak(threads, 3);
    sieve_llama_config c = {.dim = 288, .ffn = 768, .n_layers = 6, .n_heads = 6,
                            .n_kv_heads = 6, .head_dim = 48, .vocab = 32000, .max_pos = 1024,
                            .norm_eps = 1e-5, .rope_theta = 10000.0, .init_range = 0.02,
                            .bos_id = 1, .eos_id = 2, .pad_id = -1};
    sieve_err err = {{0}};
    const sieve_kernels *k = sieve_kernels_cpu();
    sieve_kctx *kc = NULL;
    sieve_llama *m = NULL;
    sieve_llama_train *tr = NULL;
    trn_optim opt;
    if (k->kctx_new(threads, &kc, &err) || sieve_llama_new(&c, &m, &err)) goto fail;
    sieve_llama_init(m, 1);
    if (sieve_llama_train_new(m, k, kc, B, T, &tr, &err) ||
        trn_optim_init(&opt, k, kc, m->n_params, 0.9f, 0.999f, 1e-8f, 0.0f, &err))
        goto fail;
    int32_t *ids = malloc(sizeof(int32_t) * B * T), *tgt = malloc(sizeof(int32_t) * B * T);
    uint64_t x = 2;
    for (int i = 0; i < B * T; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)c.vocab);
    }
    for (int i = 0; i < B * T; i++) tgt[i] = i % T + 1 < T ? ids[i + 1] : -1;
    double best = 1e30, best_cpu = 1e30, loss = 0.0, core_peak = 0.0;
    for (int s = 0; s < steps + 1; s++) {   /* the first step warms caches and pages */
        double pk = sgemm_peak(threads, 2), cp = sgemm_per_cpu_s(2);
        peak = pk > peak ? pk : peak;
        core_peak = cp > core_peak ? cp : core_peak;
        double t0 = now_s(), c0 = cpu_s(), nll = 0.0;
        long n = 0;
        sieve_llama_train_zero_grads(tr);
        if (sieve_llama_loss_grad(tr, ids, tgt, B, T, 1.0f / (float)(B * (T - 1)), &nll, &n, &err))
            goto fail;
        trn_optim_step(&opt, sieve_llama_train_params(tr), sieve_llama_train_grads(tr), 1e-4f, 1.0f);
        double t = now_s() - t0, tc = cpu_s() - c0;
        if (s > 0 && t < best) best = t;
        if (s > 0 && tc < best_cpu) best_cpu = tc;
        loss = nll / (double)n;
    }
    double lin = 0.0;
    sieve_llama_tensor ts[512];
    int nt = sieve_llama_tensors(&c, ts, 512);
    for (int i = 0; i < nt; i++)
        if (ts[i].rank == 2 && strcmp(ts[i].name, "model.embed_tokens.weight")) lin += (double)ts[i].numel;
    if (c.tie_embeddings) lin += (double)c.vocab * c.dim;
    double flops = 6.0 * B * T * lin + 6.0 * B * c.n_heads * (double)T * T * c.head_dim * c.n_layers;
    double mfu = flops / best / (peak * 1e9);
    double mfu_cpu = flops / best_cpu / (core_peak * 1e9);
    printf("{\"tokens_per_s\": %.1f, \"step_s\": %.4f, \"flops_per_step\": %.4g, "
           "\"sgemm_gflops\": %.2f, \"mfu\": %.4f, \"step_cpu_s\": %.4f, "
           "\"sgemm_gflops_per_cpu_s\": %.2f, \"mfu_cpu\": %.4f, \"threads\": %d, "
           "\"loss\": %.4f}\n", B * T / best, best, flops, peak, mfu, best_cpu, core_peak,
           mfu_cpu, threads, loss);
    free(ids);
    free(tgt);
    trn_optim_free(&opt);
    sieve_llama_train_free(tr);
    sieve_llama_free(m);
    k->kctx_free(kc);
    return 0;
fail:
    fprintf(stderr, "sieve-train-bench: %s\n", err.msg);
    return 1;
}
