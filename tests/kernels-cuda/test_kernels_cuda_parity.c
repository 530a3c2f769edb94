/* Every forward and backward kernel of kernels-cuda equals kernels-cpu (the
 * reference backend, itself checked against PyTorch) within 1e-4 relative
 * (max |cuda - cpu| / max |cpu| per output), on shapes that are not multiples
 * of the GPU tile sizes: GQA, a KV cache with a larger capacity, one-token
 * decode, head sizes 12 to 256, document-masked attention. Plus what the GPU promises on its own: a row
 * scores the same bits alone or in a batch and in every run, bf16 GEMMs stay
 * within bf16 rounding, kctx_option("batch_invariant") makes matmul rows
 * independent of M, and an unsupported shape is reported, never returned
 * as numbers. Exits 77 (ctest: skipped) without a GPU or without the plugin. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcuda_testutil.h"
#include "testlib.h"

#define TOL 1e-4

static kt_env E;

#define KC E.cuda
#define CC E.ccuda
#define KP E.cpu
#define CP E.ccpu

static float *hbuf(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) abort();
    kt_fill(x, n, lo, hi, seed);
    return x;
}

static int32_t *hids(size_t n, int lo, int hi, uint64_t seed)
{
    float *f = hbuf(n, 0.0f, 1.0f, seed);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = lo + (int32_t)(f[i] * (float)(hi - lo)) % (hi - lo);
    free(f);
    return ids;
}

/* Compares device buffer d (n floats) with host reference want. */
static void expect(const char *what, const void *d, const float *want, size_t n)
{
    float *got = kt_host(&E, d, n * sizeof(float));
    size_t w;
    double r = kt_rel(got, want, n, &w);
    printf("  %-44s rel %.3g\n", what, r);
    CHECK_MSG(r <= TOL, "%s: worst [%zu] cuda %.9g cpu %.9g", what, w, got[w], want[w]);
    free(got);
    const char *e = E.cuda_error ? E.cuda_error(CC) : NULL;
    CHECK_MSG(!e, "%s: %s", what, e);
}

static void dfree(void *p) { KC->free(CC, p); }

static void test_matmul_matches_cpu(void)
{
    int shapes[][3] = {{37, 70, 129}, {1, 300, 64}, {64, 64, 64}, {130, 33, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int acc = 0; acc < 2; acc++) {
            float *in = hbuf((size_t)M * K, -1, 1, 1 + s), *w = hbuf((size_t)N * K, -1, 1, 2 + s);
            float *out = hbuf((size_t)M * N, -1, 1, 3 + s);
            float *din = kt_dev(&E, in, (size_t)M * K * 4), *dw = kt_dev(&E, w, (size_t)N * K * 4);
            float *dout = kt_dev(&E, out, (size_t)M * N * 4);
            KP->matmul(CP, out, in, w, M, N, K, acc);
            KC->matmul(CC, dout, din, dw, M, N, K, acc);
            char name[64];
            snprintf(name, sizeof name, "matmul %dx%dx%d acc=%d", M, N, K, acc);
            expect(name, dout, out, (size_t)M * N);
            dfree(din), dfree(dw), dfree(dout), free(in), free(w), free(out);
        }
    }
}

static void test_add_swiglu_embedding_match_cpu(void)
{
    size_t n = 3001;
    float *a = hbuf(n, -2, 2, 5), *b = hbuf(n, -2, 2, 6), *o = hbuf(n, 0, 0, 0);
    float *da = kt_dev(&E, a, n * 4), *db = kt_dev(&E, b, n * 4), *dout = kt_dev(&E, NULL, n * 4);
    KP->add(CP, o, a, b, n);
    KC->add(CC, dout, da, db, n);
    expect("add", dout, o, n);
    KP->swiglu(CP, o, a, b, 3, 1000);
    KC->swiglu(CC, dout, da, db, 3, 1000);
    expect("swiglu", dout, o, 3000);
    /* backward: dgate, dup from dout = a */
    float *dg = hbuf(n, 0, 0, 0), *du = hbuf(n, 0, 0, 0);
    float *ddg = kt_dev(&E, NULL, n * 4), *ddu = kt_dev(&E, NULL, n * 4);
    float *g = hbuf(n, -6, 6, 7), *dgg = kt_dev(&E, g, n * 4);
    KP->swiglu_backward(CP, dg, du, a, g, b, 7, 300);
    KC->swiglu_backward(CC, ddg, ddu, da, dgg, db, 7, 300);
    expect("swiglu_backward dgate", ddg, dg, 2100);
    expect("swiglu_backward dup", ddu, du, 2100);
    dfree(ddg), dfree(ddu), dfree(dgg), free(dg), free(du), free(g);

    int M = 40, D = 50, V = 20;
    int32_t *ids = hids((size_t)M, 0, V, 9);   /* repeats: 40 rows over 20 ids */
    float *table = hbuf((size_t)V * D, -1, 1, 10);
    int32_t *dids = kt_dev(&E, ids, (size_t)M * 4);
    float *dtable = kt_dev(&E, table, (size_t)V * D * 4);
    float *eo = hbuf((size_t)M * D, 0, 0, 0), *deo = kt_dev(&E, NULL, (size_t)M * D * 4);
    KP->embedding(CP, eo, ids, table, M, D, V);
    KC->embedding(CC, deo, dids, dtable, M, D, V);
    expect("embedding", deo, eo, (size_t)M * D);
    float *grad = hbuf((size_t)M * D, -1, 1, 11), *dgrad = kt_dev(&E, grad, (size_t)M * D * 4);
    KP->embedding_backward(CP, table, grad, ids, M, D, V);   /* += into the random table */
    KC->embedding_backward(CC, dtable, dgrad, dids, M, D, V);
    expect("embedding_backward (repeated ids, +=)", dtable, table, (size_t)V * D);
    dfree(dids), dfree(dtable), dfree(deo), dfree(dgrad), free(ids), free(table), free(eo), free(grad);
    dfree(da), dfree(db), dfree(dout), free(a), free(b), free(o);
}

static void test_rmsnorm_forward_backward_match_cpu(void)
{
    int M = 9, D = 300;
    size_t n = (size_t)M * D;
    float *x = hbuf(n, -3, 3, 12), *w = hbuf((size_t)D, 0.5f, 1.5f, 13);
    float *o = hbuf(n, 0, 0, 0), *r = hbuf((size_t)M, 0, 0, 0);
    float *dx = kt_dev(&E, x, n * 4), *dw = kt_dev(&E, w, (size_t)D * 4);
    float *dout = kt_dev(&E, NULL, n * 4), *dr = kt_dev(&E, NULL, (size_t)M * 4);
    KP->rmsnorm(CP, o, r, x, w, M, D, 1e-5f);
    KC->rmsnorm(CC, dout, dr, dx, dw, M, D, 1e-5f);
    expect("rmsnorm out", dout, o, n);
    expect("rmsnorm rstd", dr, r, (size_t)M);
    /* backward: din, dw (+= onto a random start) */
    float *dy = hbuf(n, -1, 1, 14), *din = hbuf(n, 0, 0, 0), *gw = hbuf((size_t)D, -1, 1, 15);
    float *ddy = kt_dev(&E, dy, n * 4), *ddin = kt_dev(&E, NULL, n * 4);
    float *dgw = kt_dev(&E, gw, (size_t)D * 4);
    KP->rmsnorm_backward(CP, din, gw, dy, x, w, r, M, D);
    KC->rmsnorm_backward(CC, ddin, dgw, ddy, dx, dw, dr, M, D);
    expect("rmsnorm_backward din", ddin, din, n);
    expect("rmsnorm_backward dw (+=)", dgw, gw, (size_t)D);
    /* din aliasing dout, as the llama backward may do */
    KP->rmsnorm_backward(CP, dy, NULL, dy, x, w, r, M, D);
    KC->rmsnorm_backward(CC, ddy, NULL, ddy, dx, dw, dr, M, D);
    expect("rmsnorm_backward din in place", ddy, dy, n);
    /* out aliasing in */
    KP->rmsnorm(CP, x, NULL, x, w, M, D, 1e-6f);
    KC->rmsnorm(CC, dx, NULL, dx, dw, M, D, 1e-6f);
    expect("rmsnorm in place", dx, x, n);
    dfree(dx), dfree(dw), dfree(dout), dfree(dr), dfree(ddy), dfree(ddin), dfree(dgw);
    free(x), free(w), free(o), free(r), free(dy), free(din), free(gw);
}

static void test_rope_forward_backward_match_cpu(void)
{
    int cases[][2] = {{3, 64}, {5, 12}, {2, 128}};
    float thetas[] = {10000.0f, 500000.0f};
    for (int c = 0; c < 3; c++)
        for (int t = 0; t < 2; t++) {
            int M = 7, nh = cases[c][0], hd = cases[c][1];
            size_t n = (size_t)M * nh * hd;
            float *x = hbuf(n, -1, 1, 16 + c);
            int32_t *pos = hids((size_t)M, 0, 4096, 17 + c);
            float *dx = kt_dev(&E, x, n * 4);
            int32_t *dpos = kt_dev(&E, pos, (size_t)M * 4);
            char name[64];
            KP->rope(CP, x, pos, M, nh, hd, thetas[t]);
            KC->rope(CC, dx, dpos, M, nh, hd, thetas[t]);
            snprintf(name, sizeof name, "rope nh=%d hd=%d theta=%g", nh, hd, thetas[t]);
            expect(name, dx, x, n);
            kt_fill(x, n, -1, 1, 18 + c);
            KC->copy_to_device(CC, dx, x, n * 4);
            KP->rope_backward(CP, x, pos, M, nh, hd, thetas[t]);
            KC->rope_backward(CC, dx, dpos, M, nh, hd, thetas[t]);
            snprintf(name, sizeof name, "rope_backward nh=%d hd=%d theta=%g", nh, hd, thetas[t]);
            expect(name, dx, x, n);
            dfree(dx), dfree(dpos), free(x), free(pos);
        }
}

typedef struct { int B, Tq, Tk, H, KV, hd, Tcap; } att_case;

static const att_case att_cases[] = {
    {2, 37, 37, 4, 2, 64, 37},     /* training shape, GQA */
    {2, 5, 70, 6, 3, 40, 80},      /* 5 new positions after 65 cached, capacity 80 */
    {3, 1, 100, 2, 1, 128, 128},   /* one-token decode */
    {1, 33, 33, 2, 2, 256, 33},    /* largest head size */
    {2, 20, 20, 4, 4, 12, 24},     /* small head, no GQA */
    {1, 70, 70, 6, 2, 96, 70},
};

static void test_attention_forward_matches_cpu(void)
{
    for (size_t c = 0; c < sizeof att_cases / sizeof att_cases[0]; c++) {
        att_case a = att_cases[c];
        size_t nq = (size_t)a.B * a.Tq * a.H * a.hd, bs = (size_t)a.Tcap * a.KV * a.hd;
        size_t nkv = (size_t)a.B * bs, nl = (size_t)a.B * a.H * a.Tq;
        float *q = hbuf(nq, -2, 2, 20 + c), *k = hbuf(nkv, -2, 2, 21 + c), *v = hbuf(nkv, -1, 1, 22 + c);
        float *o = hbuf(nq, 0, 0, 0), *l = hbuf(nl, 0, 0, 0);
        float *dq = kt_dev(&E, q, nq * 4), *dk = kt_dev(&E, k, nkv * 4), *dv = kt_dev(&E, v, nkv * 4);
        float *dout = kt_dev(&E, NULL, nq * 4), *dl = kt_dev(&E, NULL, nl * 4);
        KP->attention(CP, o, l, q, k, v, a.B, a.Tq, a.Tk, a.H, a.KV, a.hd, bs);
        KC->attention(CC, dout, dl, dq, dk, dv, a.B, a.Tq, a.Tk, a.H, a.KV, a.hd, bs);
        char name[96];
        snprintf(name, sizeof name, "attention B%d Tq%d Tk%d H%d KV%d hd%d out", a.B, a.Tq, a.Tk,
                 a.H, a.KV, a.hd);
        expect(name, dout, o, nq);
        snprintf(name, sizeof name, "attention B%d Tq%d Tk%d H%d KV%d hd%d lse", a.B, a.Tq, a.Tk,
                 a.H, a.KV, a.hd);
        expect(name, dl, l, nl);
        dfree(dq), dfree(dk), dfree(dv), dfree(dout), dfree(dl);
        free(q), free(k), free(v), free(o), free(l);
    }
}

static void test_attention_backward_matches_cpu(void)
{
    static const att_case cases[] = {
        {2, 37, 37, 4, 2, 64, 37}, {1, 33, 33, 2, 2, 256, 33}, {2, 20, 20, 4, 4, 12, 24},
        {1, 50, 50, 6, 2, 40, 50}, {1, 8, 30, 2, 1, 32, 32},   /* with cached keys */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        att_case a = cases[c];
        size_t nq = (size_t)a.B * a.Tq * a.H * a.hd, bs = (size_t)a.Tcap * a.KV * a.hd;
        size_t nkv = (size_t)a.B * bs, nl = (size_t)a.B * a.H * a.Tq;
        float *q = hbuf(nq, -2, 2, 30 + c), *k = hbuf(nkv, -2, 2, 31 + c), *v = hbuf(nkv, -1, 1, 32 + c);
        float *o = hbuf(nq, 0, 0, 0), *l = hbuf(nl, 0, 0, 0), *go = hbuf(nq, -1, 1, 33 + c);
        KP->attention(CP, o, l, q, k, v, a.B, a.Tq, a.Tk, a.H, a.KV, a.hd, bs);
        float *gq = hbuf(nq, 0, 0, 0), *gk = hbuf(nkv, -1, 1, 34 + c), *gv = hbuf(nkv, -1, 1, 35 + c);
        float *dq = kt_dev(&E, q, nq * 4), *dk = kt_dev(&E, k, nkv * 4), *dv = kt_dev(&E, v, nkv * 4);
        float *d_o = kt_dev(&E, o, nq * 4), *dl = kt_dev(&E, l, nl * 4), *dgo = kt_dev(&E, go, nq * 4);
        float *dgq = kt_dev(&E, NULL, nq * 4), *dgk = kt_dev(&E, gk, nkv * 4), *dgv = kt_dev(&E, gv, nkv * 4);
        KP->attention_backward(CP, gq, gk, gv, go, o, l, q, k, v, a.B, a.Tq, a.Tk, a.H, a.KV, a.hd, bs);
        KC->attention_backward(CC, dgq, dgk, dgv, dgo, d_o, dl, dq, dk, dv, a.B, a.Tq, a.Tk, a.H,
                               a.KV, a.hd, bs);
        char name[96];
        snprintf(name, sizeof name, "attention_backward B%d T%d/%d H%d KV%d hd%d dq", a.B, a.Tq,
                 a.Tk, a.H, a.KV, a.hd);
        expect(name, dgq, gq, nq);
        snprintf(name, sizeof name, "attention_backward B%d T%d/%d H%d KV%d hd%d dk +=", a.B,
                 a.Tq, a.Tk, a.H, a.KV, a.hd);
        expect(name, dgk, gk, nkv);
        snprintf(name, sizeof name, "attention_backward B%d T%d/%d H%d KV%d hd%d dv +=", a.B,
                 a.Tq, a.Tk, a.H, a.KV, a.hd);
        expect(name, dgv, gv, nkv);
        dfree(dq), dfree(dk), dfree(dv), dfree(d_o), dfree(dl), dfree(dgo), dfree(dgq), dfree(dgk), dfree(dgv);
        free(q), free(k), free(v), free(o), free(l), free(go), free(gq), free(gk), free(gv);
    }
}

/* Document-masked attention (rows packing several sequences and padding):
 * forward and backward equal kernels-cpu's attention_doc. */
static void test_attention_doc_forward_backward_match_cpu(void)
{
    enum { B = 2, T = 100, H = 4, KV = 2, hd = 64 };
    const int docs[B][3] = {{37, 40, 23}, {60, 25, 0}};   /* row 1 ends in 15 padding */
    REQUIRE(KC->size >= sizeof(sieve_kernels) && KC->attention_doc && KC->attention_doc_backward);
    int32_t pos[B * T];
    for (int b = 0; b < B; b++) {
        int t = 0;
        for (int d = 0; d < 3; d++)
            for (int i = 0; i < docs[b][d]; i++) pos[b * T + t++] = i;
        while (t < T) pos[b * T + t++] = -1;
    }
    size_t nq = (size_t)B * T * H * hd, bs = (size_t)T * KV * hd, nkv = B * bs, nl = (size_t)B * H * T;
    float *q = hbuf(nq, -2, 2, 60), *k = hbuf(nkv, -2, 2, 61), *v = hbuf(nkv, -1, 1, 62);
    float *o = hbuf(nq, 0, 0, 0), *l = hbuf(nl, 0, 0, 0), *go = hbuf(nq, -1, 1, 63);
    float *gq = hbuf(nq, 0, 0, 0), *gk = hbuf(nkv, -1, 1, 64), *gv = hbuf(nkv, -1, 1, 65);
    float *dq = kt_dev(&E, q, nq * 4), *dk = kt_dev(&E, k, nkv * 4), *dv = kt_dev(&E, v, nkv * 4);
    int32_t *dpos = kt_dev(&E, pos, sizeof pos);
    float *d_o = kt_dev(&E, NULL, nq * 4), *dl = kt_dev(&E, NULL, nl * 4), *dgo = kt_dev(&E, go, nq * 4);
    float *dgq = kt_dev(&E, NULL, nq * 4), *dgk = kt_dev(&E, gk, nkv * 4), *dgv = kt_dev(&E, gv, nkv * 4);
    KP->attention_doc(CP, o, l, q, k, v, pos, B, T, T, H, KV, hd, bs);
    KC->attention_doc(CC, d_o, dl, dq, dk, dv, dpos, B, T, T, H, KV, hd, bs);
    expect("attention_doc out", d_o, o, nq);
    expect("attention_doc lse", dl, l, nl);
    KP->attention_doc_backward(CP, gq, gk, gv, go, o, l, q, k, v, pos, B, T, T, H, KV, hd, bs);
    KC->attention_doc_backward(CC, dgq, dgk, dgv, dgo, d_o, dl, dq, dk, dv, dpos, B, T, T, H, KV,
                               hd, bs);
    expect("attention_doc_backward dq", dgq, gq, nq);
    expect("attention_doc_backward dk +=", dgk, gk, nkv);
    expect("attention_doc_backward dv +=", dgv, gv, nkv);
    dfree(dq), dfree(dk), dfree(dv), dfree(dpos), dfree(d_o), dfree(dl), dfree(dgo), dfree(dgq);
    dfree(dgk), dfree(dgv);
    free(q), free(k), free(v), free(o), free(l), free(go), free(gq), free(gk), free(gv);
}

static void test_softmax_cross_entropy_forward_backward_match_cpu(void)
{
    int shapes[][2] = {{6, 777}, {3, 32000}};
    for (int s = 0; s < 2; s++) {
        int M = shapes[s][0], V = shapes[s][1];
        size_t n = (size_t)M * V;
        float *x = hbuf(n, -8, 8, 40 + s);
        x[5] = 60.0f;       /* one dominant logit */
        int32_t *t = hids((size_t)M, 0, V, 41 + s);
        t[1] = -1;          /* a row without a target */
        float *o = hbuf(n, 0, 0, 0), *lp = hbuf((size_t)M, 0, 0, 0), *lse = hbuf((size_t)M, 0, 0, 0);
        float *dx = kt_dev(&E, x, n * 4), *dout = kt_dev(&E, NULL, n * 4);
        float *dlp = kt_dev(&E, NULL, (size_t)M * 4), *dlse = kt_dev(&E, NULL, (size_t)M * 4);
        int32_t *dt = kt_dev(&E, t, (size_t)M * 4);
        char name[64];
        KP->log_softmax(CP, o, x, M, V);
        KC->log_softmax(CC, dout, dx, M, V);
        snprintf(name, sizeof name, "log_softmax %dx%d", M, V);
        expect(name, dout, o, n);
        KP->cross_entropy(CP, lp, lse, x, t, M, V);
        KC->cross_entropy(CC, dlp, dlse, dx, dt, M, V);
        snprintf(name, sizeof name, "cross_entropy %dx%d logprob", M, V);
        expect(name, dlp, lp, (size_t)M);
        snprintf(name, sizeof name, "cross_entropy %dx%d lse", M, V);
        expect(name, dlse, lse, (size_t)M);
        /* backward, default scale (1/count) then per-row scales, in place */
        KP->cross_entropy_backward(CP, o, x, lse, t, NULL, M, V);
        KC->cross_entropy_backward(CC, dout, dx, dlse, dt, NULL, M, V);
        snprintf(name, sizeof name, "cross_entropy_backward %dx%d scale=1/n", M, V);
        expect(name, dout, o, n);
        float *sc = hbuf((size_t)M, 0.1f, 2.0f, 42 + s), *dsc = kt_dev(&E, sc, (size_t)M * 4);
        KP->cross_entropy_backward(CP, x, x, lse, t, sc, M, V);
        KC->cross_entropy_backward(CC, dx, dx, dlse, dt, dsc, M, V);
        snprintf(name, sizeof name, "cross_entropy_backward %dx%d scales, in place", M, V);
        expect(name, dx, x, n);
        dfree(dx), dfree(dout), dfree(dlp), dfree(dlse), dfree(dt), dfree(dsc);
        free(x), free(t), free(o), free(lp), free(lse), free(sc);
    }
}

static void test_matmul_backward_matches_cpu(void)
{
    int M = 37, N = 70, K = 129;
    float *in = hbuf((size_t)M * K, -1, 1, 50), *w = hbuf((size_t)N * K, -1, 1, 51);
    float *go = hbuf((size_t)M * N, -1, 1, 52);
    float *gin = hbuf((size_t)M * K, -1, 1, 53), *gw = hbuf((size_t)N * K, -1, 1, 54);
    float *din = kt_dev(&E, in, (size_t)M * K * 4), *dw = kt_dev(&E, w, (size_t)N * K * 4);
    float *dgo = kt_dev(&E, go, (size_t)M * N * 4);
    float *dgin = kt_dev(&E, gin, (size_t)M * K * 4), *dgw = kt_dev(&E, gw, (size_t)N * K * 4);
    for (int acc = 0; acc < 2; acc++) {
        KP->matmul_backward(CP, gin, gw, go, in, w, M, N, K, acc);
        KC->matmul_backward(CC, dgin, dgw, dgo, din, dw, M, N, K, acc);
        expect(acc ? "matmul_backward din (+=)" : "matmul_backward din", dgin, gin, (size_t)M * K);
        expect("matmul_backward dw (+=)", dgw, gw, (size_t)N * K);
    }
    KP->matmul_backward(CP, NULL, gw, go, in, w, M, N, K, 0);
    KC->matmul_backward(CC, NULL, dgw, dgo, din, dw, M, N, K, 0);
    expect("matmul_backward dw only", dgw, gw, (size_t)N * K);
    dfree(din), dfree(dw), dfree(dgo), dfree(dgin), dfree(dgw);
    free(in), free(w), free(go), free(gin), free(gw);
}

static void test_adamw_matches_cpu(void)
{
    size_t n = 1001;
    float *p = hbuf(n, -1, 1, 60), *m = hbuf(n, 0, 0, 0), *v = hbuf(n, 0, 0, 0);
    float *dp = kt_dev(&E, p, n * 4), *dm = kt_dev(&E, NULL, n * 4), *dv = kt_dev(&E, NULL, n * 4);
    float *g = hbuf(n, -1, 1, 61), *dg = kt_dev(&E, NULL, n * 4);
    for (int step = 1; step <= 3; step++) {
        kt_fill(g, n, -1, 1, 61 + step);
        KC->copy_to_device(CC, dg, g, n * 4);
        KP->adamw(CP, p, g, m, v, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
        KC->adamw(CC, dp, dg, dm, dv, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
    }
    expect("adamw params after 3 steps", dp, p, n);
    expect("adamw m", dm, m, n);
    expect("adamw v", dv, v, n);
    dfree(dp), dfree(dm), dfree(dv), dfree(dg), free(p), free(m), free(v), free(g);
}

/* Bitwise: the GPU's own promises (kernels.h: reduction order per row). */
static void test_rows_are_batch_invariant_and_runs_repeat_bits(void)
{
    int B = 3, T = 45, H = 4, KV = 2, hd = 64;
    size_t bs = (size_t)T * KV * hd, nq = (size_t)B * T * H * hd, nl = (size_t)B * H * T;
    float *q = hbuf(nq, -2, 2, 70), *k = hbuf(B * bs, -2, 2, 71), *v = hbuf(B * bs, -1, 1, 72);
    float *dq = kt_dev(&E, q, nq * 4), *dk = kt_dev(&E, k, B * bs * 4), *dv = kt_dev(&E, v, B * bs * 4);
    float *o1 = kt_dev(&E, NULL, nq * 4), *o2 = kt_dev(&E, NULL, nq * 4), *l1 = kt_dev(&E, NULL, nl * 4);
    KC->attention(CC, o1, l1, dq, dk, dv, B, T, T, H, KV, hd, bs);
    KC->attention(CC, o2, NULL, dq, dk, dv, B, T, T, H, KV, hd, bs);
    float *a = kt_host(&E, o1, nq * 4), *b = kt_host(&E, o2, nq * 4);
    CHECK_MSG(memcmp(a, b, nq * 4) == 0, "two runs of attention differ");
    /* sequence 1 alone */
    size_t row = (size_t)T * H * hd;
    float *os = kt_dev(&E, NULL, row * 4);
    KC->attention(CC, os, NULL, dq + row, dk + bs, dv + bs, 1, T, T, H, KV, hd, bs);
    float *c = kt_host(&E, os, row * 4);
    CHECK_MSG(memcmp(c, a + row, row * 4) == 0, "sequence 1 alone differs from it in a batch");
    /* decode: the last position of sequence 2 as a one-query call */
    size_t last = ((size_t)2 * T + T - 1) * H * hd;
    KC->attention(CC, os, NULL, dq + last, dk + 2 * bs, dv + 2 * bs, 1, 1, T, H, KV, hd, bs);
    float *d = kt_host(&E, os, (size_t)H * hd * 4);
    CHECK_MSG(memcmp(d, a + last, (size_t)H * hd * 4) == 0,
              "one-query decode differs from the full forward's last row");
    /* rmsnorm and cross-entropy rows alone vs in a batch */
    int M = 5, D = 700, V = 5000;
    float *x = hbuf((size_t)M * V, -5, 5, 73), *w = hbuf((size_t)D, 0.5f, 1.5f, 74);
    float *dx = kt_dev(&E, x, (size_t)M * V * 4), *dw = kt_dev(&E, w, (size_t)D * 4);
    float *r1 = kt_dev(&E, NULL, (size_t)M * V * 4), *r2 = kt_dev(&E, NULL, (size_t)V * 4);
    KC->rmsnorm(CC, r1, NULL, dx, dw, M, D, 1e-5f);
    KC->rmsnorm(CC, r2, NULL, dx + 3 * D, dw, 1, D, 1e-5f);
    float *e = kt_host(&E, r1, (size_t)M * D * 4), *f = kt_host(&E, r2, (size_t)D * 4);
    CHECK_MSG(memcmp(e + 3 * D, f, (size_t)D * 4) == 0, "rmsnorm row alone differs");
    KC->log_softmax(CC, r1, dx, M, V);
    KC->log_softmax(CC, r2, dx + 4 * (size_t)V, 1, V);
    float *g = kt_host(&E, r1, (size_t)M * V * 4), *h = kt_host(&E, r2, (size_t)V * 4);
    CHECK_MSG(memcmp(g + 4 * (size_t)V, h, (size_t)V * 4) == 0, "log_softmax row alone differs");
    const char *err = E.cuda_error ? E.cuda_error(CC) : NULL;
    CHECK_MSG(!err, "%s", err);
    dfree(dq), dfree(dk), dfree(dv), dfree(o1), dfree(o2), dfree(l1), dfree(os);
    dfree(dx), dfree(dw), dfree(r1), dfree(r2);
    free(q), free(k), free(v), free(a), free(b), free(c), free(d), free(x), free(w);
    free(e), free(f), free(g), free(h);
}

/* The speed modes change matmul only, and only by their rounding. */
static void check_mode(const char *mode, double tol, int must_differ, int by_option)
{
    sieve_kctx *kc = NULL;
    sieve_err err = {{0}};
    char opt[32];
    snprintf(opt, sizeof opt, "matmul_%s", mode);
    if (!by_option) setenv("SIEVE_CUDA_MATMUL", mode, 1);
    int rc = KC->kctx_new(0, &kc, &err);
    unsetenv("SIEVE_CUDA_MATMUL");
    REQUIRE(rc == SIEVE_OK);
    if (by_option) REQUIRE(KC->kctx_option(kc, opt, 1, &err) == SIEVE_OK);
    int M = 64, N = 96, K = 512;
    float *in = hbuf((size_t)M * K, -1, 1, 80), *w = hbuf((size_t)N * K, -1, 1, 81);
    float *o = hbuf((size_t)M * N, 0, 0, 0), *got = hbuf((size_t)M * N, 0, 0, 0);
    float *din = KC->alloc(kc, (size_t)M * K * 4, &err), *dw = KC->alloc(kc, (size_t)N * K * 4, &err);
    float *dout = KC->alloc(kc, (size_t)M * N * 4, &err);
    KC->copy_to_device(kc, din, in, (size_t)M * K * 4);
    KC->copy_to_device(kc, dw, w, (size_t)N * K * 4);
    KP->matmul(CP, o, in, w, M, N, K, 0);
    KC->matmul(kc, dout, din, dw, M, N, K, 0);
    KC->copy_to_host(kc, got, dout, (size_t)M * N * 4);
    double r = kt_rel(got, o, (size_t)M * N, NULL);
    printf("  matmul in %s mode (%s): rel %.3g (allowed %.3g)\n", mode,
           by_option ? "kctx_option" : "env", r, tol);
    CHECK_MSG(r <= tol, "%s matmul too far from f32: %.3g", mode, r);
    if (must_differ) CHECK_MSG(r > 1e-6, "%s mode gave f32 results: is it in effect?", mode);
    KC->free(kc, din), KC->free(kc, dw), KC->free(kc, dout), KC->kctx_free(kc);
    free(in), free(w), free(o), free(got);
}

static void test_bf16_and_tf32_matmul_stay_within_their_rounding(void)
{
    check_mode("bf16", 2e-2, 1, 0);
    check_mode("tf32", 5e-3, 0, 0);
    check_mode("bf16", 2e-2, 1, 1);
    check_mode("tf32", 5e-3, 0, 1);
    setenv("SIEVE_CUDA_MATMUL", "fp8", 1);
    sieve_kctx *kc = NULL;
    sieve_err err = {{0}};
    CHECK(KC->kctx_new(0, &kc, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "SIEVE_CUDA_MATMUL") != NULL);
    unsetenv("SIEVE_CUDA_MATMUL");
}

/* kctx_option("batch_invariant", 1): matmul rows do not depend on M (bitwise),
 * still equal the CPU within 1e-4; unknown options are errors naming them. */
static void test_batch_invariant_option_makes_matmul_rows_independent_of_M(void)
{
    CHECK(KC->flags & SIEVE_KERNELS_BATCH_INVARIANT_MATMUL);
    REQUIRE(KC->kctx_option);
    sieve_kctx *kc = NULL;
    sieve_err err = {{0}};
    REQUIRE(KC->kctx_new(0, &kc, &err) == SIEVE_OK);
    REQUIRE(KC->kctx_option(kc, "batch_invariant", 1, &err) == SIEVE_OK);
    CHECK(KC->kctx_option(kc, "no_such_option", 1, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "no_such_option") != NULL);
    int M = 37, N = 70, K = 129;
    float *in = hbuf((size_t)M * K, -1, 1, 90), *w = hbuf((size_t)N * K, -1, 1, 91);
    float *o = hbuf((size_t)M * N, 0, 0, 0), *got = hbuf((size_t)M * N, 0, 0, 0);
    float *one = hbuf((size_t)N, 0, 0, 0);
    float *din = KC->alloc(kc, (size_t)M * K * 4, &err), *dw = KC->alloc(kc, (size_t)N * K * 4, &err);
    float *dout = KC->alloc(kc, (size_t)M * N * 4, &err), *drow = KC->alloc(kc, (size_t)N * 4, &err);
    KC->copy_to_device(kc, din, in, (size_t)M * K * 4);
    KC->copy_to_device(kc, dw, w, (size_t)N * K * 4);
    KP->matmul(CP, o, in, w, M, N, K, 0);
    KC->matmul(kc, dout, din, dw, M, N, K, 0);
    KC->matmul(kc, drow, din + 17 * K, dw, 1, N, K, 0);
    KC->copy_to_host(kc, got, dout, (size_t)M * N * 4);
    KC->copy_to_host(kc, one, drow, (size_t)N * 4);
    double r = kt_rel(got, o, (size_t)M * N, NULL);
    printf("  batch-invariant matmul                       rel %.3g\n", r);
    CHECK_MSG(r <= TOL, "batch-invariant matmul off by %.3g", r);
    CHECK_MSG(memcmp(one, got + 17 * N, (size_t)N * 4) == 0, "row 17 alone differs from M = 37");
    KP->matmul(CP, o, in, w, M, N, K, 1);   /* accumulate */
    KC->matmul(kc, dout, din, dw, M, N, K, 1);
    KC->copy_to_host(kc, got, dout, (size_t)M * N * 4);
    r = kt_rel(got, o, (size_t)M * N, NULL);
    CHECK_MSG(r <= TOL, "batch-invariant matmul (+=) off by %.3g", r);
    const char *e = E.cuda_error ? E.cuda_error(kc) : NULL;
    CHECK_MSG(!e, "%s", e);
    KC->free(kc, din), KC->free(kc, dw), KC->free(kc, dout), KC->free(kc, drow), KC->kctx_free(kc);
    free(in), free(w), free(o), free(got), free(one);
}

static void test_unsupported_head_size_is_reported_not_returned(void)
{
    sieve_kctx *kc = NULL;
    sieve_err err = {{0}};
    REQUIRE(KC->kctx_new(0, &kc, &err) == SIEVE_OK);
    int hd = 300;
    float *q = KC->alloc(kc, (size_t)hd * 4, &err), *kv = KC->alloc(kc, (size_t)hd * 4, &err);
    float *o = KC->alloc(kc, (size_t)hd * 4, &err);
    KC->attention(kc, o, NULL, q, kv, kv, 1, 1, 1, 1, 1, hd, (size_t)hd);
    float host[300];
    KC->copy_to_host(kc, host, o, sizeof host);
    const char *e = E.cuda_error ? E.cuda_error(kc) : NULL;
    CHECK_MSG(e && strstr(e, "head size"), "no error recorded: %s", e ? e : "(null)");
    CHECK(isnan(host[0]) && isnan(host[299]));
    KC->free(kc, q), KC->free(kc, kv), KC->free(kc, o), KC->kctx_free(kc);
}

int main(void)
{
    int rc = kt_open(&E);
    if (rc) return rc;
    RUN_TEST(test_matmul_matches_cpu);
    RUN_TEST(test_add_swiglu_embedding_match_cpu);
    RUN_TEST(test_rmsnorm_forward_backward_match_cpu);
    RUN_TEST(test_rope_forward_backward_match_cpu);
    RUN_TEST(test_attention_forward_matches_cpu);
    RUN_TEST(test_attention_backward_matches_cpu);
    RUN_TEST(test_attention_doc_forward_backward_match_cpu);
    RUN_TEST(test_softmax_cross_entropy_forward_backward_match_cpu);
    RUN_TEST(test_matmul_backward_matches_cpu);
    RUN_TEST(test_adamw_matches_cpu);
    RUN_TEST(test_rows_are_batch_invariant_and_runs_repeat_bits);
    RUN_TEST(test_bf16_and_tf32_matmul_stay_within_their_rounding);
    RUN_TEST(test_batch_invariant_option_makes_matmul_rows_independent_of_M);
    RUN_TEST(test_unsupported_head_size_is_reported_not_returned);
    kt_close(&E);
    return sieve_test_summary();
}
