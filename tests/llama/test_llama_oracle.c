/* The C forward equals the PyTorch oracle (tools/oracle.py, written from
 * Hugging Face's modeling_llama.py and computing in f64): logits within 1e-4
 * absolute for GQA, tied embeddings and odd sizes, sequences of 1 and 256
 * tokens, a batch of two; score's logprobs equal the log-softmax of the
 * oracle's logits; prefill + one-token decode steps through the KV cache give
 * the oracle's logits too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama_testutil.h"
#include "testlib.h"

#define TOL 1e-4
#define T_LONG 256

typedef struct {
    const char *name;
    const char *config;
} model_case;

static const model_case cases[] = {
    {"gqa", "{\"hidden_size\": 64, \"intermediate_size\": 160, \"num_hidden_layers\": 2, "
            "\"num_attention_heads\": 8, \"num_key_value_heads\": 2, \"vocab_size\": 256, "
            "\"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"initializer_range\": 0.05}"},
    {"tied", "{\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
             "\"num_attention_heads\": 4, \"vocab_size\": 300, \"tie_word_embeddings\": true, "
             "\"rms_norm_eps\": 1e-6, \"initializer_range\": 0.05}"},
    {"odd", "{\"hidden_size\": 72, \"intermediate_size\": 200, \"num_hidden_layers\": 3, "
            "\"num_attention_heads\": 6, \"num_key_value_heads\": 3, \"vocab_size\": 257, "
            "\"rms_norm_eps\": 1e-5, \"rope_theta\": 500000.0, \"initializer_range\": 0.05}"},
};

static const model_case *cur;

/* Compares; prints the worst element (sequence, position, vocab index). */
static void expect_close(const char *what, const float *got, const float *want, size_t n,
                         int T, int V)
{
    size_t w;
    double d = lt_max_diff(got, want, n, &w);
    double mag = 0.0;
    for (size_t i = 0; i < n; i++) mag = fmax(mag, fabs(want[i]));
    printf("  %s %s: max |diff| %.3g (max |ref| %.3g)\n", cur->name, what, d, mag);
    CHECK_MSG(d <= TOL, "%s %s: worst at seq %zu pos %zu col %zu: got %.7g want %.7g",
              cur->name, what, w / ((size_t)T * V), w / V % T, w % V, got[w], want[w]);
}

static char *tmp;   /* models and reference logits of every case */

/* The ids every case runs: a (256 tokens), b (a second 256), and one token. */
static void case_ids(int V, int32_t *a, int32_t *b)
{
    lt_fill_ids(a, T_LONG, V, 11);
    lt_fill_ids(b, T_LONG, V, 12);
}

static int vocab_of(const char *config)
{
    const char *v = strstr(config, "\"vocab_size\": ");
    return v ? atoi(v + 14) : 0;
}

/* One oracle run makes every model and every reference file. */
static void prepare(void)
{
    tmp = sieve_test_tmpdir("llama-oracle");
    size_t cap = 1 << 20, len = 0;
    char *script = malloc(cap);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.json", cases[i].name);
        char *cfg = lt_write(tmp, name, cases[i].config);
        int V = vocab_of(cases[i].config);
        int32_t a[T_LONG], b[T_LONG];
        case_ids(V, a, b);
        char *ta = lt_ids_text(a, T_LONG), *tb = lt_ids_text(b, T_LONG);
        len += (size_t)snprintf(script + len, cap - len,
                                "make-model --config %s --out %s/%s --seed 7\n"
                                "logits --model %s/%s --ids %s --out %s/%s-a.bin --ids 5 --out %s/%s-1.bin "
                                "--ids '%s;%s' --out %s/%s-b.bin\n",
                                cfg, tmp, cases[i].name, tmp, cases[i].name, ta, tmp,
                                cases[i].name, tmp, cases[i].name, ta, tb, tmp, cases[i].name);
        free(ta);
        free(tb);
        free(cfg);
    }
    if (lt_oracle_batch(script) != 0) {
        fprintf(stderr, "oracle failed\n");
        exit(1);
    }
    free(script);
}

static void run_case(const model_case *mc)
{
    cur = mc;
    const sieve_kernels *k = sieve_kernels_cpu();
    sieve_err err = {{0}};
    char mdir[512];
    snprintf(mdir, sizeof mdir, "%s/%s", tmp, mc->name);
    sieve_llama *m = NULL;
    REQUIRE(sieve_llama_load(mdir, &m, &err) == SIEVE_OK);
    int V = m->cfg.vocab;
    int32_t a[T_LONG], b2[2 * T_LONG], one[1] = {5};
    case_ids(V, a, b2 + T_LONG);
    memcpy(b2, a, sizeof a);
    char *paths[3];
    const char *suffix[3] = {"a", "1", "b"};
    for (int i = 0; i < 3; i++) {
        paths[i] = malloc(strlen(tmp) + 64);
        sprintf(paths[i], "%s/%s-%s.bin", tmp, mc->name, suffix[i]);
    }
    size_t n0, n1, n2;
    float *ref_a = lt_read_f32(paths[0], &n0), *ref_1 = lt_read_f32(paths[1], &n1);
    float *ref_b = lt_read_f32(paths[2], &n2);
    REQUIRE(ref_a && ref_1 && ref_b);
    REQUIRE(n0 == (size_t)T_LONG * V && n1 == (size_t)V && n2 == 2u * T_LONG * V);

    sieve_kctx *kc = NULL;
    REQUIRE(k->kctx_new(2, &kc, &err) == SIEVE_OK);
    sieve_llama_run *r = NULL;
    REQUIRE(sieve_llama_run_new(m, k, kc, 2, T_LONG, 0, &r, &err) == SIEVE_OK);
    float *logits = malloc(sizeof(float) * 2 * T_LONG * V);

    REQUIRE(sieve_llama_forward(r, a, 1, T_LONG, 0, logits, &err) == SIEVE_OK);
    expect_close("logits, 256 tokens", logits, ref_a, n0, T_LONG, V);
    REQUIRE(sieve_llama_forward(r, one, 1, 1, 0, logits, &err) == SIEVE_OK);
    expect_close("logits, 1 token", logits, ref_1, n1, 1, V);
    REQUIRE(sieve_llama_forward(r, b2, 2, T_LONG, 0, logits, &err) == SIEVE_OK);
    expect_close("logits, batch of 2 x 256", logits, ref_b, n2, T_LONG, V);

    /* score: log-softmax of the oracle's logits at each next token, in double */
    float *lp = malloc(sizeof(float) * 2 * (T_LONG - 1));
    float *want = malloc(sizeof(float) * 2 * (T_LONG - 1));
    REQUIRE(sieve_llama_score(r, b2, 2, T_LONG, NULL, lp, &err) == SIEVE_OK);
    for (int s = 0; s < 2; s++) {
        for (int t = 0; t + 1 < T_LONG; t++) {
            const float *row = ref_b + ((size_t)s * T_LONG + t) * V;
            double mx = row[0], sum = 0.0;
            for (int v = 1; v < V; v++) mx = fmax(mx, row[v]);
            for (int v = 0; v < V; v++) sum += exp(row[v] - mx);
            want[s * (T_LONG - 1) + t] = (float)(row[b2[s * T_LONG + t + 1]] - mx - log(sum));
        }
    }
    expect_close("score logprobs", lp, want, 2 * (T_LONG - 1), T_LONG - 1, 1);

    /* KV cache: prefill 200 positions, then decode one position at a time */
    sieve_llama_run *d = NULL;
    REQUIRE(sieve_llama_run_new(m, k, kc, 1, T_LONG, 0, &d, &err) == SIEVE_OK);
    float *dec = malloc(sizeof(float) * T_LONG * V);
    REQUIRE(sieve_llama_forward(d, a, 1, 200, 0, dec, &err) == SIEVE_OK);
    for (int t = 200; t < T_LONG; t++)
        REQUIRE(sieve_llama_forward(d, a + t, 1, 1, t, dec + (size_t)t * V, &err) == SIEVE_OK);
    expect_close("prefill 200 + decode 56", dec, ref_a, n0, T_LONG, V);

    /* The device-memory path (as on CUDA): the CPU table with
     * SIEVE_KERNELS_HOST_MEMORY cleared makes the run copy the weights and
     * bring logits back in chunks. */
    sieve_kernels dev = *k;
    dev.flags &= ~SIEVE_KERNELS_HOST_MEMORY;
    sieve_llama_run *rd = NULL;
    REQUIRE(sieve_llama_run_new(m, &dev, kc, 2, T_LONG, 0, &rd, &err) == SIEVE_OK);
    REQUIRE(sieve_llama_forward(rd, b2, 2, T_LONG, 0, logits, &err) == SIEVE_OK);
    expect_close("logits, device-memory path", logits, ref_b, n2, T_LONG, V);
    sieve_llama_run_free(rd);

    sieve_llama_run_free(d);
    sieve_llama_run_free(r);
    k->kctx_free(kc);
    sieve_llama_free(m);
    free(dec); free(lp); free(want); free(logits);
    free(ref_a); free(ref_1); free(ref_b);
    for (int i = 0; i < 3; i++) free(paths[i]);
}

static void test_gqa_model_matches_oracle(void) { run_case(&cases[0]); }
static void test_tied_embeddings_model_matches_oracle(void) { run_case(&cases[1]); }
static void test_odd_sizes_model_matches_oracle(void) { run_case(&cases[2]); }

/* With kctx_option("batch_invariant"), a sequence's logits do not depend on
 * the batch it runs in (any row position, any batch size) nor on prefill vs
 * one-token decode through the KV cache: bit for bit. */
static void test_batch_invariant_option_gives_identical_bits(void)
{
    const sieve_kernels *k = sieve_kernels_cpu();
    sieve_err err = {{0}};
    char mdir[512];
    snprintf(mdir, sizeof mdir, "%s/%s", tmp, cases[2].name);   /* odd sizes */
    sieve_llama *m = NULL;
    REQUIRE(sieve_llama_load(mdir, &m, &err) == SIEVE_OK);
    int V = m->cfg.vocab, T = 48, B = 5;
    sieve_kctx *kc = NULL;
    REQUIRE(k->kctx_new(2, &kc, &err) == SIEVE_OK);
    REQUIRE(k->kctx_option && k->kctx_option(kc, "batch_invariant", 1, &err) == SIEVE_OK);
    CHECK(k->kctx_option(kc, "no_such_option", 1, &err) == SIEVE_ERR);
    int32_t *ids = malloc(sizeof(int32_t) * B * T);
    lt_fill_ids(ids, B * T, V, 99);
    sieve_llama_run *r = NULL;
    REQUIRE(sieve_llama_run_new(m, k, kc, B, T, 0, &r, &err) == SIEVE_OK);
    float *batch = malloc(sizeof(float) * B * T * V), *one = malloc(sizeof(float) * T * V);
    REQUIRE(sieve_llama_forward(r, ids, B, T, 0, batch, &err) == SIEVE_OK);
    for (int b = 0; b < B; b++) {
        REQUIRE(sieve_llama_forward(r, ids + b * T, 1, T, 0, one, &err) == SIEVE_OK);
        CHECK_MSG(memcmp(one, batch + (size_t)b * T * V, sizeof(float) * T * V) == 0,
                  "sequence %d alone differs from row %d of the batch", b, b);
    }
    /* prefill 20, then decode the rest one token at a time, all 5 at once */
    int32_t *col = malloc(sizeof(int32_t) * B);
    float *step = malloc(sizeof(float) * B * V);
    int32_t *pre = malloc(sizeof(int32_t) * B * 20);
    for (int b = 0; b < B; b++) memcpy(pre + b * 20, ids + b * T, 20 * sizeof(int32_t));
    REQUIRE(sieve_llama_forward(r, pre, B, 20, 0, NULL, &err) == SIEVE_OK);
    int same = 1;
    for (int t = 20; t < T; t++) {
        for (int b = 0; b < B; b++) col[b] = ids[b * T + t];
        REQUIRE(sieve_llama_forward(r, col, B, 1, t, step, &err) == SIEVE_OK);
        for (int b = 0; b < B; b++)
            same &= memcmp(step + (size_t)b * V, batch + ((size_t)b * T + t) * V,
                           sizeof(float) * V) == 0;
    }
    CHECK_MSG(same, "decode through the KV cache differs from the full forward");
    free(pre); free(step); free(col); free(one); free(batch); free(ids);
    sieve_llama_run_free(r);
    k->kctx_free(kc);
    sieve_llama_free(m);
}

int main(void)
{
    prepare();
    RUN_TEST(test_gqa_model_matches_oracle);
    RUN_TEST(test_tied_embeddings_model_matches_oracle);
    RUN_TEST(test_odd_sizes_model_matches_oracle);
    RUN_TEST(test_batch_invariant_option_gives_identical_bits);
    sieve_test_tmpdir_done(tmp);
    free(tmp);
    return sieve_test_summary();
}
