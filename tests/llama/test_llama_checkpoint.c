/* Checkpoints: BF16/F16 files (written by PyTorch) load to the f32 source's
 * values rounded; sieve's BF16 writer rounds as torch does; init -> save ->
 * load -> save is byte-identical and the oracle reads what sieve wrote
 * (same logits); HF init statistics; sharded checkpoints; and every kind of
 * bad checkpoint fails with a message naming the tensor or field and file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llama_testutil.h"
#include "testlib.h"

static const char *CFG =
    "{\"hidden_size\": 48, \"intermediate_size\": 100, \"num_hidden_layers\": 2, "
    "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 97, "
    "\"rms_norm_eps\": 1e-5, \"initializer_range\": 0.5}";

static char *tmp;          /* per-run scratch directory */
static char f32_dir[600];  /* oracle model, seed 5, f32 */

static int32_t init_ids[40];

/* Sieve writes an initialized model (init1); then one oracle run makes the
 * f32/bf16/f16/sharded models and the reference logits of init1. */
static void setup(void)
{
    tmp = sieve_test_tmpdir("llama-ckpt");
    char *cfg = lt_write(tmp, "cfg.json", CFG);
    snprintf(f32_dir, sizeof f32_dir, "%s/f32", tmp);
    sieve_err err = {{0}};
    sieve_llama_config c;
    sieve_llama *m = NULL;
    char d1[700];
    snprintf(d1, sizeof d1, "%s/init1", tmp);
    if (sieve_llama_config_parse(CFG, strlen(CFG), "cfg", &c, &err) ||
        (c.init_range = 0.02, sieve_llama_new(&c, &m, &err)) ||
        (sieve_llama_init(m, 9), sieve_llama_save(m, d1, SIEVE_F32, &err))) {
        fprintf(stderr, "setup: %s\n", err.msg);
        exit(1);
    }
    sieve_llama_free(m);
    lt_fill_ids(init_ids, 40, c.vocab, 3);
    char *txt = lt_ids_text(init_ids, 40);
    char *script = malloc(8192);
    snprintf(script, 8192,
             "make-model --config %s --out %s --seed 5\n"
             "make-model --config %s --out %s/bf16 --seed 5 --dtype bf16\n"
             "make-model --config %s --out %s/f16 --seed 5 --dtype f16\n"
             "make-model --config %s --out %s/sharded --seed 5 --shards 3\n"
             "logits --model %s --ids %s --out %s/init-ref.bin\n",
             cfg, f32_dir, cfg, tmp, cfg, tmp, cfg, tmp, d1, txt, tmp);
    if (lt_oracle_batch(script) != 0) {
        fprintf(stderr, "oracle failed\n");
        exit(1);
    }
    free(script);
    free(txt);
    free(cfg);
}

/* Round to nearest even at bf16 precision, via double arithmetic (a different
 * route from the library's bit trick). */
static float ref_bf16(float x)
{
    if (x == 0.0f || !isfinite(x)) return x;
    int e;
    frexp(x, &e);                       /* |x| in [2^(e-1), 2^e) */
    double ulp = ldexp(1.0, e - 8);     /* 8 significant bits */
    double q = x / ulp, r = nearbyint(q); /* default rounding: to nearest even */
    return (float)(r * ulp);
}

static void test_bf16_checkpoint_loads_to_rounded_f32_values(void)
{
    char dir[700], mine[700];
    snprintf(dir, sizeof dir, "%s/bf16", tmp);
    sieve_err err = {{0}};
    sieve_llama *a = NULL, *b = NULL, *c = NULL;
    REQUIRE(sieve_llama_load(f32_dir, &a, &err) == SIEVE_OK);
    REQUIRE(sieve_llama_load(dir, &b, &err) == SIEVE_OK);
    REQUIRE(a->n_params == b->n_params);
    size_t bad = 0, changed = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        if (b->params[i] != ref_bf16(a->params[i])) bad++;
        if (b->params[i] != a->params[i]) changed++;
    }
    CHECK_MSG(bad == 0, "%zu of %zu values differ from round-to-nearest-even", bad, a->n_params);
    CHECK(changed > a->n_params / 2);   /* the file really held bf16 */
    /* sieve's own bf16 writer gives what torch wrote */
    snprintf(mine, sizeof mine, "%s/bf16-sieve", tmp);
    REQUIRE(sieve_llama_save(a, mine, SIEVE_BF16, &err) == SIEVE_OK);
    REQUIRE(sieve_llama_load(mine, &c, &err) == SIEVE_OK);
    CHECK(memcmp(c->params, b->params, a->n_params * sizeof(float)) == 0);
    sieve_llama_free(a);
    sieve_llama_free(b);
    sieve_llama_free(c);
}

static void test_f16_checkpoint_loads_within_half_precision(void)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/f16", tmp);
    sieve_err err = {{0}};
    sieve_llama *a = NULL, *b = NULL;
    REQUIRE(sieve_llama_load(f32_dir, &a, &err) == SIEVE_OK);
    REQUIRE(sieve_llama_load(dir, &b, &err) == SIEVE_OK);
    size_t bad = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        double x = a->params[i], y = b->params[i];
        /* half: 11 significant bits; below 2^-14 the step is 2^-24 */
        double tol = fmax(fabs(x) * ldexp(1.0, -11), ldexp(1.0, -25));
        if (fabs(x - y) > tol) bad++;
    }
    CHECK_MSG(bad == 0, "%zu values off by more than half an f16 ulp", bad);
    sieve_llama_free(a);
    sieve_llama_free(b);
}

static void test_sharded_checkpoint_loads_the_same_values(void)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/sharded", tmp);
    sieve_err err = {{0}};
    sieve_llama *a = NULL, *b = NULL;
    REQUIRE(sieve_llama_load(f32_dir, &a, &err) == SIEVE_OK);
    CHECK_MSG(sieve_llama_load(dir, &b, &err) == SIEVE_OK, "%s", err.msg);
    if (b) CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0);
    sieve_llama_free(a);
    sieve_llama_free(b);
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = sieve_test_read_file(a, &la), *y = sieve_test_read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Dropping a matrix releases its pages (whole pages inside it read zero
 * again) and NULLs its view; the embedding and norms keep their values, and
 * neither the embedding nor a lm_head tied to it nor a norm can be dropped. */
static void test_drop_matrix_releases_it_and_keeps_embedding_and_norms(void)
{
    for (int tied = 0; tied < 2; tied++) {
        sieve_err err = {{0}};
        sieve_llama_config cfg;
        REQUIRE(sieve_llama_config_parse(CFG, strlen(CFG), "cfg", &cfg, &err) == SIEVE_OK);
        cfg.tie_embeddings = tied;
        sieve_llama *m = NULL;
        REQUIRE(sieve_llama_new(&cfg, &m, &err) == SIEVE_OK);
        sieve_llama_init(m, 9);
        float *before = malloc(m->n_params * sizeof *before);
        REQUIRE(before);
        memcpy(before, m->params, m->n_params * sizeof *before);
        const float *gate = m->w.layers[1].w_gate, *up = m->w.layers[1].w_up;
        size_t gate_n = (size_t)cfg.ffn * cfg.dim, D = (size_t)cfg.dim;
        CHECK(sieve_llama_drop_matrix(m, &m->w.layers[1].w_gate) == 0);
        size_t zeros = 0;
        for (size_t i = 0; i < gate_n; i++) zeros += gate[i] == 0.0f;
        CHECK_MSG(zeros >= 1024, "tied=%d: %zu of the gate's %zu floats read zero", tied, zeros,
                  gate_n);
        CHECK(!m->w.layers[1].w_gate);
        CHECK(!memcmp(up, before + (up - m->params), gate_n * sizeof(float)));   /* its neighbour */
        CHECK(sieve_llama_drop_matrix(m, &m->w.layers[1].w_gate) == -1);        /* already gone */
        float *norm = m->w.final_norm;
        CHECK(sieve_llama_drop_matrix(m, &m->w.final_norm) == -1 && m->w.final_norm == norm);
        CHECK(sieve_llama_drop_matrix(m, &m->w.embed) == -1);
        for (int l = 0; l < cfg.n_layers; l++) {
            sieve_llama_layer_w *w = &m->w.layers[l];
            float **all[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
            for (size_t i = 0; i < sizeof all / sizeof *all; i++)
                if (*all[i]) CHECK(sieve_llama_drop_matrix(m, all[i]) == 0 && !*all[i]);
            CHECK(!memcmp(w->attn_norm, before + (w->attn_norm - m->params), D * sizeof(float)));
            CHECK(!memcmp(w->mlp_norm, before + (w->mlp_norm - m->params), D * sizeof(float)));
        }
        CHECK(sieve_llama_drop_matrix(m, &m->w.lm_head) == (tied ? -1 : 0));
        CHECK(!memcmp(m->w.embed, before, (size_t)cfg.vocab * D * sizeof(float)));
        CHECK(!memcmp(m->w.final_norm, before + (m->w.final_norm - m->params), D * sizeof(float)));
        CHECK(tied ? m->w.lm_head == m->w.embed : m->w.lm_head == NULL);
        free(before);
        sieve_llama_free(m);
    }
}

static void test_init_save_load_save_is_byte_identical_and_oracle_reads_it(void)
{
    sieve_err err = {{0}};
    sieve_llama_config cfg;
    REQUIRE(sieve_llama_config_parse(CFG, strlen(CFG), "cfg", &cfg, &err) == SIEVE_OK);
    cfg.init_range = 0.02;
    sieve_llama *m = NULL, *m2 = NULL;
    REQUIRE(sieve_llama_new(&cfg, &m, &err) == SIEVE_OK);
    sieve_llama_init(m, 9);
    char d1[700], d2[700], p1[800], p2[800];
    snprintf(d1, sizeof d1, "%s/init1", tmp);
    snprintf(d2, sizeof d2, "%s/init2", tmp);
    /* setup() saved the same init (seed 9) as init1 before the oracle read it */
    REQUIRE(sieve_llama_load(d1, &m2, &err) == SIEVE_OK);
    CHECK(memcmp(m->params, m2->params, m->n_params * sizeof(float)) == 0);
    REQUIRE(sieve_llama_save(m2, d2, SIEVE_F32, &err) == SIEVE_OK);
    const char *files[] = {"model.safetensors", "config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(p1, sizeof p1, "%s/%s", d1, files[i]);
        snprintf(p2, sizeof p2, "%s/%s", d2, files[i]);
        CHECK_MSG(same_file(p1, p2), "%s differs after load + save", files[i]);
    }

    /* HF init: N(0, 0.02) for matrices, 1 for norms */
    sieve_llama_tensor t[64];
    int n = sieve_llama_tensors(&cfg, t, 64);
    for (int i = 0; i < n; i++) {
        const float *p = m->params + t[i].offset;
        double s = 0, ss = 0;
        for (size_t j = 0; j < t[i].numel; j++) { s += p[j]; ss += (double)p[j] * p[j]; }
        double mean = s / t[i].numel, sd = sqrt(ss / t[i].numel - mean * mean);
        if (t[i].rank == 1) {
            CHECK_MSG(mean == 1.0 && sd == 0.0, "%s: norm weights not all 1", t[i].name);
        } else {
            CHECK_MSG(fabs(mean) < 0.002 && fabs(sd - 0.02) < 0.002, "%s: mean %g sd %g",
                      t[i].name, mean, sd);
        }
    }
    /* different seeds differ */
    sieve_llama *m3 = NULL;
    REQUIRE(sieve_llama_new(&cfg, &m3, &err) == SIEVE_OK);
    sieve_llama_init(m3, 10);
    CHECK(memcmp(m->params, m3->params, m->n_params * sizeof(float)) != 0);

    /* The oracle (HF-layout reader) reads sieve's file: its logits equal ours. */
    const int32_t *ids = init_ids;
    char ref[800];
    snprintf(ref, sizeof ref, "%s/init-ref.bin", tmp);
    size_t nref;
    float *want = lt_read_f32(ref, &nref);
    REQUIRE(want && nref == 40u * cfg.vocab);
    const sieve_kernels *k = sieve_kernels_cpu();
    sieve_kctx *kc;
    sieve_llama_run *r;
    REQUIRE(k->kctx_new(1, &kc, &err) == SIEVE_OK);
    REQUIRE(sieve_llama_run_new(m2, k, kc, 1, 40, 0, &r, &err) == SIEVE_OK);
    float *got = malloc(nref * sizeof *got);
    REQUIRE(sieve_llama_forward(r, ids, 1, 40, 0, got, &err) == SIEVE_OK);
    CHECK(lt_max_diff(got, want, nref, NULL) <= 1e-4);
    free(got);
    free(want);
    sieve_llama_run_free(r);
    k->kctx_free(kc);
    sieve_llama_free(m);
    sieve_llama_free(m2);
    sieve_llama_free(m3);
}

/* ---- bad checkpoints ---- */

/* A fresh copy of the f32 checkpoint to break. */
static char *copy_model(const char *tag)
{
    char *d = malloc(800), cmd[2000];
    snprintf(d, 800, "%s/bad-%s", tmp, tag);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", d, f32_dir, d);
    if (system(cmd) != 0) fprintf(stderr, "cannot copy model\n");
    return d;
}

/* Replaces `from` by `to` in the safetensors header, rewriting its length. */
static void edit_header(const char *dir, const char *from, const char *to)
{
    char path[900];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t len;
    char *f = sieve_test_read_file(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | (uint8_t)f[i];
    char *hdr = strndup(f + 8, n);
    char *at = strstr(hdr, from);
    if (!at) { fprintf(stderr, "edit_header: '%s' not found\n", from); exit(1); }
    size_t nn = n - strlen(from) + strlen(to);
    char *out = malloc(len + strlen(to) + 8);
    for (int i = 0; i < 8; i++) out[i] = (char)((uint64_t)nn >> (8 * i));
    size_t pre = (size_t)(at - hdr);
    memcpy(out + 8, hdr, pre);
    memcpy(out + 8 + pre, to, strlen(to));
    memcpy(out + 8 + pre + strlen(to), at + strlen(from), n - pre - strlen(from));
    memcpy(out + 8 + nn, f + 8 + n, len - 8 - n);
    sieve_test_write_file(path, out, 8 + nn + (len - 8 - n));
    free(out);
    free(hdr);
    free(f);
}

static void edit_config(const char *dir, const char *from, const char *to)
{
    char path[900];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len;
    char *f = sieve_test_read_file(path, &len);
    char *at = strstr(f, from);
    if (!at) { fprintf(stderr, "edit_config: '%s' not found in %s\n", from, f); exit(1); }
    char *out = malloc(len + strlen(to) + 1);
    size_t pre = (size_t)(at - f);
    memcpy(out, f, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    sieve_test_write_file(path, out, strlen(out));
    free(out);
    free(f);
}

/* Loading fails, and the message holds every one of the words. */
static void expect_error(const char *dir, const char *w1, const char *w2, const char *w3)
{
    sieve_err err = {{0}};
    sieve_llama *m = NULL;
    sieve_status st = sieve_llama_load(dir, &m, &err);
    CHECK_MSG(st == SIEVE_ERR && m == NULL, "loading %s succeeded", dir);
    const char *w[] = {w1, w2, w3};
    for (int i = 0; i < 3; i++)
        if (w[i]) CHECK_MSG(strstr(err.msg, w[i]) != NULL, "'%s' not in: %s", w[i], err.msg);
    printf("  %s\n", err.msg);
    sieve_llama_free(m);
}

static void test_missing_tensor_is_named(void)
{
    char *d = copy_model("missing");
    edit_header(d, "\"model.layers.1.mlp.up_proj.weight\"", "\"model.layers.1.mlp.upx_proj.weight\"");
    expect_error(d, "model.layers.1.mlp.up_proj.weight", "missing", "model.safetensors");
    free(d);
}

static void test_wrong_shape_is_named(void)
{
    char *d = copy_model("shape");
    edit_config(d, "\"intermediate_size\": 100", "\"intermediate_size\": 101");
    expect_error(d, "model.layers.0.mlp.gate_proj.weight", "has shape [100,48] but config.json implies [101,48]",
                 "model.safetensors");
    free(d);
}

static void test_truncated_file_is_reported(void)
{
    char *d = copy_model("trunc"), path[900];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    size_t len;
    char *f = sieve_test_read_file(path, &len);
    sieve_test_write_file(path, f, len - 100);
    expect_error(d, "truncated", "model.safetensors", "model.norm.weight"); /* last in the file */
    sieve_test_write_file(path, f, 5);   /* shorter than the size field */
    expect_error(d, "truncated", "model.safetensors", NULL);
    sieve_test_write_file(path, f, 200); /* inside the header */
    expect_error(d, "header size", "model.safetensors", NULL);
    free(f);
    free(d);
}

static void test_lying_header_offsets_are_named(void)
{
    /* model.norm.weight holds 48 floats: claim it starts 4 bytes early, into its neighbour */
    char *d = copy_model("overlap");
    char path[900];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    size_t len;
    char *f = sieve_test_read_file(path, &len);
    char *at = strstr(f + 8, "\"model.norm.weight\"");
    REQUIRE(at);
    unsigned long b, e;
    REQUIRE(sscanf(strstr(at, "data_offsets") + 15, "%lu,%lu", &b, &e) == 2);
    char from[64], to[64];
    snprintf(from, sizeof from, "[%lu,%lu]", b, e);
    snprintf(to, sizeof to, "[%lu,%lu]", b - 4, e - 4);
    free(f);
    edit_header(d, from, to);
    expect_error(d, "model.norm.weight", "overlaps", "model.safetensors");
    free(d);
    /* an end past the data */
    d = copy_model("past");
    snprintf(to, sizeof to, "[%lu,%lu]", b + 100000, e + 100000);
    edit_header(d, from, to);
    expect_error(d, "model.norm.weight", "outside", "model.safetensors");
    free(d);
    /* a span that does not match the shape */
    d = copy_model("span");
    snprintf(to, sizeof to, "[%lu,%lu]", b, e - 4);
    edit_header(d, from, to);
    expect_error(d, "model.norm.weight", "need", "model.safetensors");
    free(d);
}

static void test_unknown_dtype_is_named(void)
{
    char *d = copy_model("dtype");
    char path[900];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    size_t len;
    char *f = sieve_test_read_file(path, &len);
    char *at = strstr(f + 8, "\"model.norm.weight\":{\"dtype\":\"F32\"");
    free(f);
    REQUIRE(at);
    edit_header(d, "\"model.norm.weight\":{\"dtype\":\"F32\"", "\"model.norm.weight\":{\"dtype\":\"Q4\"");
    expect_error(d, "model.norm.weight", "unknown dtype 'Q4'", "model.safetensors");
    free(d);
    /* a known dtype that parameters cannot have */
    d = copy_model("i32");
    edit_header(d, "\"model.norm.weight\":{\"dtype\":\"F32\"", "\"model.norm.weight\":{\"dtype\":\"I32\"");
    expect_error(d, "model.norm.weight", "I32", "model.safetensors");
    free(d);
}

static void test_bad_config_fields_are_named(void)
{
    static const struct { const char *from, *to, *word; } cases[] = {
        {"\"hidden_size\": 48,", "", "'hidden_size' is missing"},
        {"\"vocab_size\": 97", "\"vocab_size\": -3", "'vocab_size'"},
        {"\"num_attention_heads\": 4", "\"num_attention_heads\": 0", "'num_attention_heads'"},
        {"\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3", "'num_key_value_heads'"},
        {"\"hidden_size\": 48", "\"hidden_size\": 1e12", "'hidden_size'"},
        {"\"hidden_size\": 48", "\"hidden_size\": \"48\"", "'hidden_size' must be an integer"},
        {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -1", "'rms_norm_eps'"},
        {"\"num_hidden_layers\": 2", "\"num_hidden_layers\": 100000", "'num_hidden_layers'"},
        {"\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "'hidden_act'"},
        {"{", "[", "bad JSON"},
        {"\"vocab_size\": 97", "\"vocab_size\": 97,,", "bad JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "cfg%zu", i);
        char *d = copy_model(tag);
        edit_config(d, cases[i].from, cases[i].to);
        expect_error(d, cases[i].word, "config.json", NULL);
        free(d);
    }
}

static void test_bad_shard_index_is_reported(void)
{
    char *d = copy_model("index"), *idx;
    idx = lt_write(d, "model.safetensors.index.json",
                   "{\"weight_map\": {\"model.norm.weight\": \"../f32/model.safetensors\"}}");
    expect_error(d, "model.norm.weight", "not a file name", "index.json");
    free(idx);
    idx = lt_write(d, "model.safetensors.index.json",
                   "{\"weight_map\": {\"model.norm.weight\": \"gone.safetensors\"}}");
    expect_error(d, "gone.safetensors", "cannot open", NULL);
    free(idx);
    free(d);
}

int main(void)
{
    setup();
    RUN_TEST(test_bf16_checkpoint_loads_to_rounded_f32_values);
    RUN_TEST(test_f16_checkpoint_loads_within_half_precision);
    RUN_TEST(test_sharded_checkpoint_loads_the_same_values);
    RUN_TEST(test_init_save_load_save_is_byte_identical_and_oracle_reads_it);
    RUN_TEST(test_drop_matrix_releases_it_and_keeps_embedding_and_norms);
    RUN_TEST(test_missing_tensor_is_named);
    RUN_TEST(test_wrong_shape_is_named);
    RUN_TEST(test_truncated_file_is_reported);
    RUN_TEST(test_lying_header_offsets_are_named);
    RUN_TEST(test_unknown_dtype_is_named);
    RUN_TEST(test_bad_config_fields_are_named);
    RUN_TEST(test_bad_shard_index_is_reported);
    sieve_test_tmpdir_done(tmp);
    free(tmp);
    return sieve_test_summary();
}
