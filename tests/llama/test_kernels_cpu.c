/* Each forward kernel of kernels-cpu against a naive double-precision
 * implementation written here from the definitions in kernels.h: attention
 * over several key blocks with GQA, a KV-cache stride and a query offset;
 * RMSNorm; RoPE; SwiGLU; embedding; log-softmax and cross-entropy (ignored
 * targets); matmul on both paths (BLAS and batch-invariant), with accumulate;
 * AdamW against PyTorch's update rule. Also: results do not depend on the
 * number of threads. Document-masked attention (attention_doc) against the
 * masked definition and against each document run alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama_testutil.h"
#include "testlib.h"

static const sieve_kernels *K;
static sieve_kctx *kc1, *kc2;   /* 1 and 3 threads */

static float *rnd(size_t n, uint64_t seed, float scale)
{
    float *p = malloc(n * sizeof *p);
    uint64_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = scale * ((float)((x >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f);
    }
    return p;
}

static void expect_close(const char *what, const float *got, const double *want, size_t n,
                         double tol)
{
    double worst = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (!(d <= worst)) { worst = d; w = i; }
    }
    CHECK_MSG(worst <= tol, "%s: worst at %zu: got %.8g want %.8g", what, w, got[w], want[w]);
}

static void test_attention_matches_naive_softmax_over_blocks_and_cache(void)
{
    int B = 2, H = 6, KV = 2, hd = 12, Tk = 150, Tq = 70, cap = 160;  /* keys span 3 blocks */
    size_t bs = (size_t)cap * KV * hd;
    float *q = rnd((size_t)B * Tq * H * hd, 1, 1.5f);
    float *k = rnd(B * bs, 2, 1.5f), *v = rnd(B * bs, 3, 1.0f);
    float *out = malloc(sizeof(float) * B * Tq * H * hd), *lse = malloc(sizeof(float) * B * H * Tq);
    double *want = malloc(sizeof(double) * B * Tq * H * hd), *wlse = malloc(sizeof(double) * B * H * Tq);
    double *s = malloc(sizeof(double) * Tk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < Tq; t++) {
                int g = h / (H / KV), n = Tk - Tq + t + 1;
                const float *qq = q + (((size_t)b * Tq + t) * H + h) * hd;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    const float *kk = k + b * bs + ((size_t)j * KV + g) * hd;
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double)qq[i] * kk[i];
                    s[j] = d / sqrt((double)hd);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < n; j++) sum += exp(s[j] - mx);
                double *o = want + (((size_t)b * Tq + t) * H + h) * hd;
                for (int i = 0; i < hd; i++) o[i] = 0;
                for (int j = 0; j < n; j++) {
                    const float *vv = v + b * bs + ((size_t)j * KV + g) * hd;
                    for (int i = 0; i < hd; i++) o[i] += exp(s[j] - mx) / sum * vv[i];
                }
                wlse[((size_t)b * H + h) * Tq + t] = mx + log(sum);
            }
    sieve_kctx *ctxs[2] = {kc1, kc2};
    for (int c = 0; c < 2; c++) {
        K->attention(ctxs[c], out, lse, q, k, v, B, Tq, Tk, H, KV, hd, bs);
        expect_close("attention out", out, want, (size_t)B * Tq * H * hd, 2e-6);
        expect_close("attention lse", lse, wlse, (size_t)B * H * Tq, 2e-6);
    }
    free(q); free(k); free(v); free(out); free(lse); free(want); free(wlse); free(s);
}

/* HF's rotate-half RoPE in double: want = rope(x) at positions pos. */
static void rope_reference(double *want, const float *x, const int32_t *pos, int M, int nh,
                           int hd, double theta)
{
    for (int m = 0; m < M; m++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < hd / 2; i++) {
                const float *e = x + ((size_t)m * nh + h) * hd;
                double a = pos[m] * pow(theta, -2.0 * i / hd);
                want[((size_t)m * nh + h) * hd + i] = e[i] * cos(a) - e[i + hd / 2] * sin(a);
                want[((size_t)m * nh + h) * hd + i + hd / 2] = e[i + hd / 2] * cos(a) + e[i] * sin(a);
            }
}

static void test_rmsnorm_rope_swiglu_embedding_match_definitions(void)
{
    int M = 37, D = 20, nh = 3, hd = 10, V = 11;
    float *x = rnd((size_t)M * D, 4, 3.0f), *w = rnd(D, 5, 1.0f);
    float *out = malloc(sizeof(float) * M * D), *rstd = malloc(sizeof(float) * M);
    double *want = malloc(sizeof(double) * M * D * 2), *wr = malloc(sizeof(double) * M);
    for (int m = 0; m < M; m++) {
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)x[m * D + i] * x[m * D + i];
        wr[m] = 1.0 / sqrt(ss / D + 1e-5);
        for (int i = 0; i < D; i++) want[m * D + i] = x[m * D + i] * wr[m] * w[i];
    }
    K->rmsnorm(kc2, out, rstd, x, w, M, D, 1e-5f);
    expect_close("rmsnorm", out, want, (size_t)M * D, 1e-5);
    expect_close("rmsnorm rstd", rstd, wr, M, 1e-5);

    /* rope: x[M, nh, hd], position of row m = 3m + 1; then positions past
     * the kernel's first angle table (grown), another theta and another head
     * size (rebuilt), and back. */
    float *r = rnd((size_t)M * nh * hd, 6, 1.0f);
    int32_t *pos = malloc(sizeof(int32_t) * M);
    const struct { int step, nh, hd; float theta; } cases[] = {
        {3, nh, hd, 500000.0f}, {97, nh, hd, 500000.0f}, {3, nh, hd, 10000.0f}, {5, 5, 6, 10000.0f},
        {3, nh, hd, 500000.0f}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int cnh = cases[c].nh, chd = cases[c].hd;
        for (int m = 0; m < M; m++) pos[m] = cases[c].step * m + 1;
        rope_reference(want, r, pos, M, cnh, chd, cases[c].theta);
        K->rope(kc2, r, pos, M, cnh, chd, cases[c].theta);
        expect_close("rope", r, want, (size_t)M * cnh * chd, 1e-5);
    }

    float *g = rnd((size_t)M * D, 7, 12.0f), *u = rnd((size_t)M * D, 8, 2.0f);
    for (int i = 0; i < M * D; i++) want[i] = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
    K->swiglu(kc2, out, g, u, M, D);
    expect_close("swiglu", out, want, (size_t)M * D, 1e-5);

    float *table = rnd((size_t)V * D, 9, 1.0f);
    int32_t *ids = malloc(sizeof(int32_t) * M);
    for (int m = 0; m < M; m++) ids[m] = (m * 7) % V;
    for (int m = 0; m < M; m++)
        for (int i = 0; i < D; i++) want[m * D + i] = table[ids[m] * D + i];
    K->embedding(kc2, out, ids, table, M, D, V);
    expect_close("embedding", out, want, (size_t)M * D, 0);
    free(x); free(w); free(out); free(rstd); free(want); free(wr); free(r); free(pos);
    free(g); free(u); free(table); free(ids);
}

static void test_log_softmax_and_cross_entropy_match_double(void)
{
    int M = 9, V = 1003;
    float *x = rnd((size_t)M * V, 10, 20.0f);
    x[5] = 80.0f;   /* a dominant logit: no overflow */
    int32_t t[9] = {0, 5, 1002, -1, 17, 999, 3, 8, 500};
    double *want = malloc(sizeof(double) * M * V), wl[9], wlp[9];
    for (int m = 0; m < M; m++) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, x[m * V + i]);
        for (int i = 0; i < V; i++) s += exp(x[m * V + i] - mx);
        wl[m] = mx + log(s);
        for (int i = 0; i < V; i++) want[m * V + i] = x[m * V + i] - wl[m];
        wlp[m] = t[m] < 0 ? 0.0 : x[m * V + t[m]] - wl[m];
    }
    float *out = malloc(sizeof(float) * M * V), lp[9], lse[9];
    K->log_softmax(kc2, out, x, M, V);
    expect_close("log_softmax", out, want, (size_t)M * V, 2e-5);
    K->cross_entropy(kc2, lp, lse, x, t, M, V);
    expect_close("cross_entropy logprob", lp, wlp, M, 2e-5);
    expect_close("cross_entropy lse", lse, wl, M, 2e-5);
    free(x); free(want); free(out);
}

static void test_matmul_both_paths_match_double_and_accumulate(void)
{
    int M = 23, N = 41, Kd = 37;
    float *a = rnd((size_t)M * Kd, 11, 1.0f), *w = rnd((size_t)N * Kd, 12, 1.0f);
    float *out = malloc(sizeof(float) * M * N);
    double *want = malloc(sizeof(double) * M * N);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < Kd; k++) s += (double)a[m * Kd + k] * w[n * Kd + k];
            want[m * N + n] = s;
        }
    sieve_err err;
    for (int bi = 0; bi < 2; bi++) {
        REQUIRE(K->kctx_option(kc2, "batch_invariant", bi, &err) == SIEVE_OK);
        for (int i = 0; i < M * N; i++) out[i] = 1.0f;
        K->matmul(kc2, out, a, w, M, N, Kd, 0);
        expect_close(bi ? "matmul (batch invariant)" : "matmul (blas)", out, want, (size_t)M * N, 1e-5);
        K->matmul(kc2, out, a, w, M, N, Kd, 1);
        for (int i = 0; i < M * N; i++) want[i] *= 2;
        expect_close("matmul accumulate", out, want, (size_t)M * N, 2e-5);
        for (int i = 0; i < M * N; i++) want[i] /= 2;
    }
    REQUIRE(K->kctx_option(kc2, "batch_invariant", 0, &err) == SIEVE_OK);
    free(a); free(w); free(out); free(want);
}

static void test_adamw_matches_pytorch_rule(void)
{
    size_t n = 1000;
    float *p = rnd(n, 13, 1.0f), *g = rnd(n, 14, 0.1f), *m = calloc(n, 4), *v = calloc(n, 4);
    double *wp = malloc(n * sizeof(double)), *wm = calloc(n, sizeof(double)), *wv = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) wp[i] = p[i];
    double lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    for (int step = 1; step <= 3; step++) {
        K->adamw(kc2, p, g, m, v, n, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd, step);
        for (size_t i = 0; i < n; i++) {   /* torch.optim.AdamW */
            wp[i] *= 1 - lr * wd;
            wm[i] = b1 * wm[i] + (1 - b1) * g[i];
            wv[i] = b2 * wv[i] + (1 - b2) * (double)g[i] * g[i];
            double mh = wm[i] / (1 - pow(b1, step)), vh = wv[i] / (1 - pow(b2, step));
            wp[i] -= lr * mh / (sqrt(vh) + eps);
        }
    }
    expect_close("adamw", p, wp, n, 1e-6);
    free(p); free(g); free(m); free(v); free(wp); free(wm); free(wv);
}

/* attention_doc: rows packing several documents (and padding). The forward
 * against a naive double-precision masked softmax; each document's output
 * bit-identical to plain attention over that document alone (blocks start
 * at the document); the backward equal to attention_backward run on each
 * document alone. */
static void test_attention_doc_masks_documents_like_separate_rows(void)
{
    enum { B = 2, T = 150, H = 4, KV = 2, hd = 16, ND = 3 };
    const int docs[B][ND] = {{70, 45, 35}, {20, 100, 0}};   /* row 1: 30 padding */
    int32_t pos[B * T];
    for (int b = 0; b < B; b++) {
        int t = 0;
        for (int d = 0; d < ND; d++)
            for (int i = 0; i < docs[b][d]; i++) pos[b * T + t++] = i;
        while (t < T) pos[b * T + t++] = -1;
    }
    size_t nq = (size_t)B * T * H * hd, nkv = (size_t)B * T * KV * hd, bs = (size_t)T * KV * hd;
    float *q = rnd(nq, 11, 1.5f), *k = rnd(nkv, 12, 1.5f), *v = rnd(nkv, 13, 1.0f);
    float *dout = rnd(nq, 14, 1.0f);
    float *out = malloc(nq * sizeof *out), *lse = malloc(sizeof(float) * B * H * T);
    float *dq = malloc(nq * sizeof *dq), *dk = calloc(nkv, sizeof *dk), *dv = calloc(nkv, sizeof *dv);
    double *want = malloc(nq * sizeof *want), *s = malloc(T * sizeof *s);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                int g = h / (H / KV), p = pos[b * T + t], k0 = p < 0 ? t : t - p;
                const float *qq = q + (((size_t)b * T + t) * H + h) * hd;
                double mx = -INFINITY, sum = 0;
                for (int j = k0; j <= t; j++) {
                    const float *kk = k + b * bs + ((size_t)j * KV + g) * hd;
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double)qq[i] * kk[i];
                    s[j] = d / sqrt((double)hd);
                    mx = fmax(mx, s[j]);
                }
                for (int j = k0; j <= t; j++) sum += exp(s[j] - mx);
                double *o = want + (((size_t)b * T + t) * H + h) * hd;
                for (int i = 0; i < hd; i++) o[i] = 0;
                for (int j = k0; j <= t; j++) {
                    const float *vv = v + b * bs + ((size_t)j * KV + g) * hd;
                    for (int i = 0; i < hd; i++) o[i] += exp(s[j] - mx) / sum * vv[i];
                }
            }
    REQUIRE(K->size >= sizeof(sieve_kernels) && K->attention_doc && K->attention_doc_backward);
    K->attention_doc(kc2, out, lse, q, k, v, pos, B, T, T, H, KV, hd, bs);
    expect_close("attention_doc out", out, want, nq, 2e-6);
    K->attention_doc_backward(kc2, dq, dk, dv, dout, out, lse, q, k, v, pos, B, T, T, H, KV, hd, bs);

    /* each document alone, through the plain causal kernels */
    int same = 1;
    double worst = 0;
    for (int b = 0; b < B; b++) {
        int t0 = 0;
        for (int d = 0; d < ND && docs[b][d]; t0 += docs[b][d], d++) {
            int L = docs[b][d];
            size_t oq = ((size_t)b * T + t0) * H * hd, okv = ((size_t)b * T + t0) * KV * hd;
            float *o1 = malloc((size_t)L * H * hd * sizeof *o1), *l1 = malloc(sizeof(float) * H * L);
            float *dq1 = malloc((size_t)L * H * hd * sizeof *dq1);
            float *dk1 = calloc((size_t)L * KV * hd, sizeof *dk1), *dv1 = calloc((size_t)L * KV * hd, sizeof *dv1);
            K->attention(kc2, o1, l1, q + oq, k + okv, v + okv, 1, L, L, H, KV, hd, (size_t)L * KV * hd);
            same &= !memcmp(o1, out + oq, (size_t)L * H * hd * sizeof *o1);
            K->attention_backward(kc2, dq1, dk1, dv1, dout + oq, o1, l1, q + oq, k + okv, v + okv,
                                  1, L, L, H, KV, hd, (size_t)L * KV * hd);
            for (size_t i = 0; i < (size_t)L * H * hd; i++) worst = fmax(worst, fabs(dq1[i] - dq[oq + i]));
            for (size_t i = 0; i < (size_t)L * KV * hd; i++) {
                worst = fmax(worst, fabs(dk1[i] - dk[okv + i]));
                worst = fmax(worst, fabs(dv1[i] - dv[okv + i]));
            }
            free(o1); free(l1); free(dq1); free(dk1); free(dv1);
        }
    }
    CHECK_MSG(same, "a document's attention output differs from the same document alone");
    CHECK_MSG(worst < 1e-5, "attention_doc_backward vs each document alone: worst %.3g", worst);
    /* pos == NULL is the causal kernel, bit for bit */
    float *o2 = malloc(nq * sizeof *o2), *o3 = malloc(nq * sizeof *o3);
    K->attention_doc(kc1, o2, NULL, q, k, v, NULL, B, T, T, H, KV, hd, bs);
    K->attention(kc1, o3, NULL, q, k, v, B, T, T, H, KV, hd, bs);
    CHECK(!memcmp(o2, o3, nq * sizeof *o2));
    free(o2); free(o3);
    free(q); free(k); free(v); free(dout); free(out); free(lse); free(dq); free(dk); free(dv);
    free(want); free(s);
}

int main(void)
{
    sieve_err err;
    K = sieve_kernels_cpu();
    if (K->version != SIEVE_KERNELS_VERSION || K->kctx_new(1, &kc1, &err) ||
        K->kctx_new(3, &kc2, &err)) {
        fprintf(stderr, "cannot start kernels-cpu\n");
        return 1;
    }
    RUN_TEST(test_attention_matches_naive_softmax_over_blocks_and_cache);
    RUN_TEST(test_attention_doc_masks_documents_like_separate_rows);
    RUN_TEST(test_rmsnorm_rope_swiglu_embedding_match_definitions);
    RUN_TEST(test_log_softmax_and_cross_entropy_match_double);
    RUN_TEST(test_matmul_both_paths_match_double_and_accumulate);
    RUN_TEST(test_adamw_matches_pytorch_rule);
    K->kctx_free(kc1);
    K->kctx_free(kc2);
    return sieve_test_summary();
}
