/* The sampler's engine against independent references: the KV-cached
 * decode (every step's logits equal a full forward over the same prefix:
 * bitwise against the engine's own prefill, and within f32 tolerance against
 * the llama library's forward on kernels-cpu), ragged batches, Philox4x32-10
 * against the Random123 known answers, and the top-k / top-p rules against
 * hand-computed cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"
#include "engine.h"
#include "pick.h"
#include "sieve/llama.h"
#include "testlib.h"
#include "vec.h"

const sieve_kernels *sieve_kernels_cpu(void);

static void test_eight_horizontal_sums_at_once_equal_one_at_a_time(void)
{
    for (int rep = 0; rep < 1000; rep++) {
        float lanes[8][8], one, all[8];
        v8f a[8];
        for (int j = 0; j < 8; j++) {
            for (int l = 0; l < 8; l++)
                lanes[j][l] = sieve_test_frand() * (float)(1 << (rep % 20));
            a[j] = v8_ld(lanes[j]);
        }
        v8_hsum8(all, a);
        for (int j = 0; j < 8; j++) {
            one = v8_hsum(a[j]);
            /* and the pairwise order written out in scalar code */
            const float *l = lanes[j];
            float want = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
            CHECK(!memcmp(&all[j], &one, sizeof one) && !memcmp(&one, &want, sizeof one));
        }
    }
}

/* A small GQA model, HF-initialized with a wide std so logits are spread. */
static sieve_llama *small_model(int tied)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"hidden_size\": 48, \"intermediate_size\": 100, \"num_hidden_layers\": 2, "
             "\"num_attention_heads\": 6, \"num_key_value_heads\": 2, \"vocab_size\": 211, "
             "\"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-5, "
             "\"initializer_range\": 0.3, \"tie_word_embeddings\": %s, "
             "\"hidden_act\": \"silu\", \"model_type\": \"llama\"}", tied ? "true" : "false");
    sieve_llama_config cfg;
    sieve_err err;
    sieve_llama *m = NULL;
    if (sieve_llama_config_parse(json, strlen(json), "test", &cfg, &err) ||
        sieve_llama_new(&cfg, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    sieve_llama_init(m, 5);
    return m;
}

/* A small model, the CPU kernels, a pool of 2 threads and an engine. */
typedef struct {
    sieve_llama *m;
    const sieve_kernels *k;
    sieve_kctx *kc;
    sieve_pool *pool;
    smp_engine *e;
} rig;

static void rig_close(rig *r)
{
    smp_engine_free(r->e);
    sieve_pool_free(r->pool);
    if (r->kc) r->k->kctx_free(r->kc);
    sieve_llama_free(r->m);
}

static bool rig_open(rig *r, int tied, int n_slots, int max_rows)
{
    sieve_err err = {{0}};
    *r = (rig){small_model(tied), sieve_kernels_cpu(), NULL, sieve_pool_new(2), NULL};
    if (!r->m || !r->pool || r->k->kctx_new(1, &r->kc, &err) ||
        smp_engine_new(r->m, 0, r->k, r->kc, r->pool, n_slots, max_rows, &r->e, &err)) {
        fprintf(stderr, "rig: %s\n", err.msg);
        rig_close(r);
        return false;
    }
    return true;
}

/* An engine that gives the model's matrices back as it packs them computes
 * what one that keeps them does, and leaves the model without them (a tied
 * lm_head, the embedding, stays). */
static void test_engine_giving_back_the_matrices_computes_the_same(void)
{
    for (int tied = 0; tied < 2; tied++) {
        rig keep;
        REQUIRE(rig_open(&keep, tied, 1, 16));
        sieve_llama *m = small_model(tied);
        REQUIRE(m);
        sieve_err err = {{0}};
        smp_engine *e = NULL;
        REQUIRE(smp_engine_new(m, 1, keep.k, keep.kc, keep.pool, 1, 16, &e, &err) == SIEVE_OK);
        for (int l = 0; l < m->cfg.n_layers; l++) {
            const sieve_llama_layer_w *w = &m->w.layers[l];
            CHECK(!w->wq && !w->wk && !w->wv && !w->wo && !w->w_gate && !w->w_up && !w->w_down);
        }
        CHECK(tied ? m->w.lm_head == m->w.embed : !m->w.lm_head);
        int V = m->cfg.vocab;
        int32_t ids[11];
        for (int i = 0; i < 11; i++) ids[i] = (int32_t)((i * 29 + 3) % V);
        float *a = malloc(sizeof(float) * V), *b = malloc(sizeof(float) * V);
        REQUIRE(smp_prefill(keep.e, 0, ids, 11, a, &err) == SIEVE_OK);
        REQUIRE(smp_prefill(e, 0, ids, 11, b, &err) == SIEVE_OK);
        CHECK_MSG(!memcmp(a, b, sizeof(float) * V), "tied=%d", tied);
        free(a);
        free(b);
        smp_engine_free(e);
        sieve_llama_free(m);
        rig_close(&keep);
    }
}

static void test_decode_logits_equal_full_forward_over_the_prefix(void)
{
    for (int tied = 0; tied < 2; tied++) {
        rig r;
        /* max_rows 8 < prompt: the prefill runs in chunks. */
        REQUIRE(rig_open(&r, tied, 3, 8));
        sieve_llama *m = r.m;
        smp_engine *e = r.e;
        sieve_err err;
        int V = m->cfg.vocab, P = 13, steps = 20, T = P + steps;
        int32_t ids[64];
        for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
        float *lg = malloc(sizeof(float) * V), *ref = malloc(sizeof(float) * V);
        float *full = malloc(sizeof(float) * (size_t)T * V);
        sieve_llama_run *run;
        REQUIRE(sieve_llama_run_new(m, r.k, r.kc, 1, T, 0, &run, &err) == SIEVE_OK);
        REQUIRE(sieve_llama_forward(run, ids, 1, T, 0, full, &err) == SIEVE_OK);
        REQUIRE(smp_slot_reserve(e, 0, T, &err) == SIEVE_OK);
        REQUIRE(smp_prefill(e, 0, ids, P, lg, &err) == SIEVE_OK);
        double worst = 0;
        int exact = 1;
        for (int t = P; t <= T; t++) {
            if (t > P) {
                int32_t sl = 0, pos = t - 1;
                int row = 0;
                REQUIRE(smp_forward(e, &ids[t - 1], &sl, &pos, 1, &row, 1, lg, &err) == SIEVE_OK);
            }
            /* The same prefix, prefilled from scratch into another slot. */
            REQUIRE(smp_prefill(e, 1, ids, t, ref, &err) == SIEVE_OK);
            exact &= !memcmp(lg, ref, sizeof(float) * V);
            for (int v = 0; v < V; v++) {
                double d = fabs((double)lg[v] - full[(size_t)(t - 1) * V + v]);
                if (d > worst) worst = d;
            }
        }
        CHECK_MSG(exact, "tied=%d: cached decode differs from a fresh prefill", tied);
        CHECK_MSG(worst < 2e-4, "tied=%d: worst |decode - llama forward| = %g", tied, worst);
        sieve_llama_run_free(run);
        free(lg);
        free(ref);
        free(full);
        rig_close(&r);
    }
}

static void test_ragged_batch_rows_equal_each_sequence_alone(void)
{
    rig r;
    REQUIRE(rig_open(&r, 0, 6, 64));
    smp_engine *e = r.e;
    sieve_err err;
    int V = r.m->cfg.vocab;
    int lens[3] = {5, 17, 40};
    int32_t prompt[3][41];
    for (int s = 0; s < 3; s++)
        for (int i = 0; i <= lens[s]; i++) prompt[s][i] = (int32_t)((i * 13 + s * 7 + 1) % V);
    float *alone = malloc(sizeof(float) * 3 * V), *batch = malloc(sizeof(float) * 3 * V);
    float *tmp = malloc(sizeof(float) * V);
    for (int s = 0; s < 3; s++) {
        /* Alone: prefill into slot s, then one decode row. */
        REQUIRE(smp_slot_reserve(e, s, lens[s] + 1, &err) == SIEVE_OK);
        REQUIRE(smp_prefill(e, s, prompt[s], lens[s], tmp, &err) == SIEVE_OK);
        int32_t sl = s, pos = lens[s];
        int row = 0;
        REQUIRE(smp_forward(e, &prompt[s][lens[s]], &sl, &pos, 1, &row, 1, alone + s * V, &err) == SIEVE_OK);
        /* Slot 3+s takes its first positions from slot s. */
        REQUIRE(smp_slot_reserve(e, 3 + s, lens[s] + 1, &err) == SIEVE_OK);
        smp_slot_share(e, 3 + s, s, lens[s]);
    }
    int32_t ids[3], sl[3], pos[3];
    int rows[3] = {0, 1, 2};
    for (int s = 0; s < 3; s++) {
        ids[s] = prompt[2 - s][lens[2 - s]];
        sl[s] = 3 + (2 - s);
        pos[s] = lens[2 - s];
    }
    REQUIRE(smp_forward(e, ids, sl, pos, 3, rows, 3, batch, &err) == SIEVE_OK);
    for (int s = 0; s < 3; s++)
        CHECK_MSG(!memcmp(alone + s * V, batch + (2 - s) * V, sizeof(float) * V),
                  "sequence %d", s);
    free(alone);
    free(batch);
    free(tmp);
    rig_close(&r);
}

/* Four slots share one prompt (slot 0) and decode different tokens side by
 * side for several steps; each step's logits must equal, bit for bit, those
 * of the same sequence prefilled whole into a slot of its own. */
/* S rows share one prompt: more than one attention group of them (16), and
 * a prompt of several of the chunks they read it by (32 positions). */
static void test_rows_sharing_a_prompt_equal_each_sequence_alone(void)
{
    enum { S = 18, P = 71, STEPS = 6 };
    rig r;
    REQUIRE(rig_open(&r, 0, S + 2, 64));
    smp_engine *e = r.e;
    sieve_err err;
    int V = r.m->cfg.vocab;
    int32_t seqs[S][P + STEPS];
    for (int s = 0; s < S; s++)
        for (int i = 0; i < P + STEPS; i++)
            seqs[s][i] = (int32_t)(i < P ? (i * 31 + 3) % V : (i * 17 + s * 53 + 5) % V);
    float *lg = malloc(sizeof(float) * S * V), *ref = malloc(sizeof(float) * V);
    REQUIRE(smp_prefill(e, 0, seqs[0], P, ref, &err) == SIEVE_OK);
    for (int s = 0; s < S; s++) {
        REQUIRE(smp_slot_reserve(e, 1 + s, P + STEPS, &err) == SIEVE_OK);
        smp_slot_share(e, 1 + s, 0, P);
    }
    /* A row inside the shared prompt is refused, naming it. */
    int32_t bad_slot = 1, bad_pos = P - 1;
    int row0 = 0;
    CHECK(smp_forward(e, seqs[0], &bad_slot, &bad_pos, 1, &row0, 1, lg, &err) == SIEVE_ERR);
    CHECK(strstr(err.msg, "inside the prefix") != NULL);
    /* So is a share longer than the prompt's slot holds (slot 0 was sized
     * for P positions, far short of 3 P). */
    REQUIRE(smp_slot_reserve(e, 1, 4 * P, &err) == SIEVE_OK);
    smp_slot_share(e, 1, 0, 3 * P);
    bad_pos = 3 * P;
    CHECK(smp_forward(e, seqs[0], &bad_slot, &bad_pos, 1, &row0, 1, lg, &err) == SIEVE_ERR);
    CHECK_MSG(strstr(err.msg, "which holds fewer") != NULL, "%s", err.msg);
    smp_slot_share(e, 1, 0, P);
    int same = 1;
    for (int t = 0; t < STEPS; t++) {
        int32_t ids[S], sl[S], pos[S];
        int rows[S];
        for (int s = 0; s < S; s++) {
            ids[s] = seqs[s][P + t];
            sl[s] = 1 + s;
            pos[s] = P + t;
            rows[s] = s;
        }
        REQUIRE(smp_forward(e, ids, sl, pos, S, rows, S, lg, &err) == SIEVE_OK);
        for (int s = 0; s < S; s++) {
            REQUIRE(smp_prefill(e, S + 1, seqs[s], P + t + 1, ref, &err) == SIEVE_OK);
            same &= !memcmp(lg + (size_t)s * V, ref, sizeof(float) * V);
        }
    }
    CHECK_MSG(same, "a row reading a shared prompt differs from its sequence alone");
    free(lg);
    free(ref);
    rig_close(&r);
}

static void test_philox_matches_random123_known_answers(void)
{
    /* kat_vectors of Random123 1.09, philox4x32 with 10 rounds. */
    struct { uint32_t ctr[4], key[2], out[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
        uint32_t o[4];
        smp_philox(kat[i].key, kat[i].ctr, o);
        CHECK_MSG(!memcmp(o, kat[i].out, sizeof o), "vector %zu: %08x %08x %08x %08x", i, o[0],
                  o[1], o[2], o[3]);
    }
    /* Uniforms: in [0, 1), and a different value for each key component. */
    double a = smp_uniform(1, 2, 3, 4);
    CHECK(a >= 0 && a < 1);
    CHECK(a != smp_uniform(2, 2, 3, 4) && a != smp_uniform(1, 3, 3, 4) &&
          a != smp_uniform(1, 2, 4, 4) && a != smp_uniform(1, 2, 3, 5));
    CHECK(a == smp_uniform(1, 2, 3, 4));
}

static void test_top_k_top_p_and_draw_follow_the_hand_computed_distribution(void)
{
    /* logits ln(0.5), ln(0.25), ln(0.15), ln(0.1): probabilities 0.5 .25 .15 .1,
     * listed in a shuffled order. */
    float lg[4] = {logf(0.15f), logf(0.5f), logf(0.1f), logf(0.25f)};
    smp_pick_buf b;
    REQUIRE(smp_pick_buf_init(&b, 4) == 0);
    double lp;
    smp_pick_cfg greedy = {0, 0, 1};
    CHECK(smp_pick(lg, 4, &greedy, 0.99, &b, &lp) == 1);
    CHECK(fabs(lp - log(0.5)) < 1e-6);
    /* No filter: ids in order 0..3 with masses .15 .5 .1 .25. */
    smp_pick_cfg all = {1, 0, 1};
    CHECK(smp_pick(lg, 4, &all, 0.14, &b, &lp) == 0);
    CHECK(smp_pick(lg, 4, &all, 0.16, &b, &lp) == 1);
    CHECK(smp_pick(lg, 4, &all, 0.70, &b, &lp) == 2);
    CHECK(smp_pick(lg, 4, &all, 0.80, &b, &lp) == 3);
    CHECK(fabs(lp - log(0.25)) < 1e-6);
    /* top_k 2: {1: .5, 3: .25} renormalised to 2/3, 1/3, most likely first. */
    smp_pick_cfg k2 = {1, 2, 1};
    CHECK(smp_pick(lg, 4, &k2, 0.66, &b, &lp) == 1);
    CHECK(smp_pick(lg, 4, &k2, 0.67, &b, &lp) == 3);
    /* top_p 0.8: .5 + .25 = .75 < .8, so .15 joins: {1, 3, 0} over 0.9. */
    smp_pick_cfg p8 = {1, 0, 0.8};
    CHECK(smp_pick(lg, 4, &p8, 0.5 / 0.9 - 1e-6, &b, &lp) == 1);
    CHECK(smp_pick(lg, 4, &p8, 0.75 / 0.9 - 1e-6, &b, &lp) == 3);
    CHECK(smp_pick(lg, 4, &p8, 0.999, &b, &lp) == 0);
    /* top_p 0.5: the first token alone reaches it. */
    smp_pick_cfg p5 = {1, 0, 0.5};
    CHECK(smp_pick(lg, 4, &p5, 0.999, &b, &lp) == 1);
    /* Temperature 0.5 squares the odds: .25 .0625 .0225 .01 over .345. */
    smp_pick_cfg t5 = {0.5, 0, 1};
    CHECK(smp_pick(lg, 4, &t5, 0.0225 / 0.345 - 1e-6, &b, &lp) == 0);
    CHECK(smp_pick(lg, 4, &t5, 0.2725 / 0.345 - 1e-6, &b, &lp) == 1);
    CHECK(smp_pick(lg, 4, &t5, 0.2725 / 0.345 + 1e-6, &b, &lp) == 2);
    smp_pick_buf_free(&b);
}

static void test_calculator_continues_open_annotations_only(void)
{
    char out[64];
    if (!smp_calc_available()) {
        fprintf(stderr, "calculator evaluator not built; skipped\n");
        return;
    }
    const char *t1 = "She sold 48/2 = <<48/2=";
    CHECK(smp_calc_continuation(t1, strlen(t1), out, sizeof out) && !strcmp(out, "24>>"));
    const char *t2 = "x <<1,000*3/4=";
    CHECK(smp_calc_continuation(t2, strlen(t2), out, sizeof out) && !strcmp(out, "750>>"));
    const char *t3 = "<<10/4=";
    CHECK(smp_calc_continuation(t3, strlen(t3), out, sizeof out) && !strcmp(out, "2.5>>"));
    const char *t4 = "<<1/3=";
    CHECK(smp_calc_continuation(t4, strlen(t4), out, sizeof out) &&
          !strcmp(out, "0.3333333333333333>>"));
    const char *no[] = {"<<2+2=4>> so x =", "2+2=", "<<a+1=", "<<3/0=", "<<2=3=", "<<="};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECK_MSG(!smp_calc_continuation(no[i], strlen(no[i]), out, sizeof out), "%s", no[i]);
}

#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
static void test_calculator_forced_tokens_decode_to_the_result_text(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer/llama2/tokenizer.model",
             sieve_test_env("SIEVE_SHARED_DATA"));
    sieve_tokenizer *tok;
    sieve_err err;
    REQUIRE(sieve_tokenizer_load(path, &tok, &err) == SIEVE_OK);
    sieve_tok_buf tb = {0};
    const char *prefix = "She sold 48/2 = <<48/2=";
    const char *conts[] = {"24>>", "0.3333333333333333>>", "-5>>", "1250000>>"};
    for (size_t c = 0; c < sizeof conts / sizeof *conts; c++) {
        REQUIRE(sieve_tokenizer_encode(tok, prefix, strlen(prefix), SIEVE_TOK_BOS, &tb, &err) == 0);
        int32_t ids[128];
        int n = (int)tb.n;
        memcpy(ids, tb.ids, tb.n * sizeof *ids);
        int m = smp_calc_spell(tok, conts[c], ids + n, 64);
        CHECK_MSG(m > 0, "%s", conts[c]);
        char *text;
        size_t len;
        REQUIRE(sieve_tokenizer_decode(tok, ids, (size_t)(n + m), &text, &len, &err) == 0);
        char want[128];
        snprintf(want, sizeof want, "%s%s", prefix, conts[c]);
        CHECK_MSG(!strcmp(text, want), "got \"%s\", want \"%s\"", text, want);
        free(text);
    }
    sieve_tok_buf_free(&tb);
    sieve_tokenizer_free(tok);
}
#endif

int main(void)
{
    RUN_TEST(test_eight_horizontal_sums_at_once_equal_one_at_a_time);
    RUN_TEST(test_engine_giving_back_the_matrices_computes_the_same);
    RUN_TEST(test_decode_logits_equal_full_forward_over_the_prefix);
    RUN_TEST(test_ragged_batch_rows_equal_each_sequence_alone);
    RUN_TEST(test_rows_sharing_a_prompt_equal_each_sequence_alone);
    RUN_TEST(test_philox_matches_random123_known_answers);
    RUN_TEST(test_top_k_top_p_and_draw_follow_the_hand_computed_distribution);
    RUN_TEST(test_calculator_continues_open_annotations_only);
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    RUN_TEST(test_calculator_forced_tokens_decode_to_the_result_text);
#endif
    return sieve_test_summary();
}
