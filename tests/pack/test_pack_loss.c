/* Packing is exact: the same examples laid out one per row (pack: none) and
 * packed several to a row (pack: greedy, document-masked attention, RoPE on
 * per-sequence positions) give the same loss within 1e-5 and the same
 * gradients within 1e-5 relative (per tensor, to its largest element); both
 * also match the PyTorch oracle (tools/oracle.py grads: Hugging Face's
 * LlamaForCausalLM loss in f64 on the unpacked rows) within 1e-5 (loss) and
 * 1e-4 (gradients, the tolerance of the training oracle test), and so does
 * the oracle run on the packed rows themselves (grads --positions: RoPE on
 * the positions, a per-sequence attention mask in PyTorch). The layouts
 * come from batches.c, the code pack and train share. Also the layout itself
 * against hand-computed rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama_testutil.h"
#include "testlib.h"
#include "train.h"

#define NEX 6
static const int lens[NEX] = {23, 9, 31, 14, 40, 17}, prompts[NEX] = {7, 3, 12, 0, 15, 5};

static const char *config =
    "{\"hidden_size\": 64, \"intermediate_size\": 160, \"num_hidden_layers\": 2, "
    "\"num_attention_heads\": 8, \"num_key_value_heads\": 2, \"vocab_size\": 256, "
    "\"rms_norm_eps\": 1e-5, \"rope_theta\": 10000.0, \"initializer_range\": 0.05}";

static void make_examples(trn_example *ex, int V)
{
    for (int i = 0; i < NEX; i++) {
        ex[i].ids = malloc(sizeof(int32_t) * lens[i]);
        lt_fill_ids(ex[i].ids, lens[i], V, 100 + i);
        ex[i].len = lens[i];
        ex[i].n_prompt = prompts[i];
    }
}

static void test_greedy_layout_matches_hand_packing(void)
{
    trn_example ex[3];
    int32_t a[] = {5, 6, 7, 8}, b[] = {9, 10, 11}, c[] = {12, 13};
    ex[0] = (trn_example){a, 4, 2};
    ex[1] = (trn_example){b, 3, 1};
    ex[2] = (trn_example){c, 2, 0};
    int64_t idx[4] = {0, 1, 2, -1};
    trn_batch bt;
    sieve_err err;
    /* rows of 6: first-fit decreasing needs 2 rows; longest first into the
     * least-filled row: a -> row 0, b -> row 1, c -> row 1 (3 < 4):
     * [a a a a - ] [b b b c c], T = 5 */
    REQUIRE(trn_batch_make(ex, idx, 4, 6, &bt, &err) == SIEVE_OK);
    REQUIRE(bt.tokens.shape[0] == 2 && bt.tokens.shape[1] == 5);
    const int32_t want_tok[10] = {5, 6, 7, 8, 0, 9, 10, 11, 12, 13};
    const int32_t want_tgt[10] = {-100, 7, 8, -100, -100, 10, 11, -100, 13, -100};
    const int32_t want_pos[10] = {0, 1, 2, 3, -1, 0, 1, 2, 0, 1};
    CHECK(!memcmp(bt.tokens.data, want_tok, sizeof want_tok));
    CHECK(!memcmp(bt.targets.data, want_tgt, sizeof want_tgt));
    CHECK(!memcmp(bt.positions.data, want_pos, sizeof want_pos));
    CHECK(trn_batch_check(&bt, 100, &err) == SIEVE_OK);
    int64_t tok, tgt;
    trn_batch_count(&bt, &tok, &tgt);
    CHECK(tok == 9 && tgt == 5);
    trn_batch_release(&bt);
    /* none: one per row, T = 4 */
    REQUIRE(trn_batch_make(ex, idx, 4, 0, &bt, &err) == SIEVE_OK);
    CHECK(bt.tokens.shape[0] == 3 && bt.tokens.shape[1] == 4);
    trn_batch_release(&bt);
}

/* Loss and gradients of all examples in one pass over layout b. */
static void loss_grad(sieve_llama_train *tr, const trn_batch *b, float *grads, size_t n,
                      double *loss)
{
    sieve_err err;
    int rows = (int)b->tokens.shape[0], T0 = (int)b->tokens.shape[1], packed;
    int32_t *ids = malloc(sizeof(int32_t) * rows * T0), *tgt = malloc(sizeof(int32_t) * rows * T0);
    int32_t *pos = malloc(sizeof(int32_t) * rows * T0);
    int T = trn_batch_rows(b, 0, rows, ids, tgt, pos, &packed);
    int64_t ntok, ntgt;
    trn_batch_count(b, &ntok, &ntgt);
    double nll = 0;
    sieve_llama_train_zero_grads(tr);
    REQUIRE(sieve_llama_loss_grad_packed(tr, ids, tgt, packed ? pos : NULL, rows, T,
                                         1.0f / (float)ntgt, &nll, NULL, &err) == SIEVE_OK);
    *loss = nll / (double)ntgt;
    memcpy(grads, sieve_llama_train_grads(tr), n * sizeof *grads);
    free(ids);
    free(tgt);
    free(pos);
}

static double worst_rel(const sieve_llama_config *c, const float *g, const float *ref,
                        const char **where)
{
    sieve_llama_tensor ts[512];
    int nt = sieve_llama_tensors(c, ts, 512);
    double worst = 0;
    for (int i = 0; i < nt; i++) {
        size_t w;
        double d = lt_max_diff(g + ts[i].offset, ref + ts[i].offset, ts[i].numel, &w), mag = 0;
        for (size_t j = 0; j < ts[i].numel; j++) mag = fmax(mag, fabs(ref[ts[i].offset + j]));
        double rel = mag > 0 ? d / mag : d;
        if (rel > worst) {
            worst = rel;
            *where = "";
            static char name[96];
            snprintf(name, sizeof name, "%s", ts[i].name);
            *where = name;
        }
    }
    return worst;
}

/* Writes the rows of b as oracle inputs: ids, HF labels (labels[t+1] =
 * targets[t]: HF shifts inside the loss) and positions; "a,b;c,d" text. */
static void oracle_files(const char *dir, const char *tag, const trn_batch *b, char **idf,
                         char **labf, char **posf)
{
    int rows = (int)b->tokens.shape[0], T = (int)b->tokens.shape[1];
    const int32_t *tok = b->tokens.data, *tg = b->targets.data, *ps = b->positions.data;
    int32_t *labels = malloc(sizeof(int32_t) * rows * T);
    size_t cap = (size_t)rows * T * 8 + 64;
    char *t[3] = {malloc(cap), malloc(cap), malloc(cap)};
    t[0][0] = t[1][0] = t[2][0] = 0;
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < T; i++) labels[r * T + i] = i ? tg[r * T + i - 1] : -100;
        const int32_t *src[3] = {tok + r * T, labels + r * T, ps + r * T};
        for (int j = 0; j < 3; j++) {
            char *a = lt_ids_text(src[j], T);
            strcat(strcat(t[j], r ? ";" : ""), a);
            free(a);
        }
    }
    char name[64];
    snprintf(name, sizeof name, "%s-ids.txt", tag);
    *idf = lt_write(dir, name, t[0]);
    snprintf(name, sizeof name, "%s-labels.txt", tag);
    *labf = lt_write(dir, name, t[1]);
    snprintf(name, sizeof name, "%s-pos.txt", tag);
    *posf = lt_write(dir, name, t[2]);
    free(t[0]), free(t[1]), free(t[2]), free(labels);
}

static double read_loss(const char *gdir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/loss.json", gdir);
    char *lj = sieve_test_read_file(path, NULL);
    double v = lj && strstr(lj, "\"loss\": ") ? strtod(strstr(lj, "\"loss\": ") + 8, NULL) : NAN;
    free(lj);
    return v;
}

static void test_packed_loss_and_grads_equal_unpacked_and_oracle(void)
{
    const sieve_kernels *k = sieve_kernels_cpu();
    sieve_err err = {{0}};
    char *dir = sieve_test_tmpdir("pack-loss");
    char *cfg = lt_write(dir, "cfg.json", config);
    char mdir[512], gdir[512];
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    snprintf(gdir, sizeof gdir, "%s/grads", dir);
    sieve_llama_config mc;
    char *cfg_text = sieve_test_read_file(cfg, NULL);
    REQUIRE(cfg_text && sieve_llama_config_parse(cfg_text, strlen(cfg_text), cfg, &mc, &err) == SIEVE_OK);
    free(cfg_text);
    sieve_llama *m = NULL, *gref = NULL, *pref = NULL;
    REQUIRE(sieve_llama_new(&mc, &m, &err) == SIEVE_OK);
    sieve_llama_init(m, 7);
    REQUIRE(sieve_llama_save(m, mdir, SIEVE_F32, &err) == SIEVE_OK);

    trn_example ex[NEX];
    make_examples(ex, m->cfg.vocab);
    int64_t idx[NEX];
    for (int i = 0; i < NEX; i++) idx[i] = i;
    trn_batch none, greedy;
    REQUIRE(trn_batch_make(ex, idx, NEX, 0, &none, &err) == SIEVE_OK);
    REQUIRE(trn_batch_make(ex, idx, NEX, 64, &greedy, &err) == SIEVE_OK);
    printf("  none: %lld rows x %lld, greedy: %lld rows x %lld\n", (long long)none.tokens.shape[0],
           (long long)none.tokens.shape[1], (long long)greedy.tokens.shape[0],
           (long long)greedy.tokens.shape[1]);
    CHECK(greedy.tokens.shape[0] < none.tokens.shape[0]);

    sieve_kctx *kc = NULL;
    REQUIRE(k->kctx_new(2, &kc, &err) == SIEVE_OK);
    sieve_llama_train *tr = NULL;
    REQUIRE(sieve_llama_train_new(m, k, kc, NEX, 64, &tr, &err) == SIEVE_OK);
    size_t n = m->n_params;
    float *g_none = malloc(n * sizeof(float)), *g_greedy = malloc(n * sizeof(float));
    double l_none, l_greedy;
    loss_grad(tr, &none, g_none, n, &l_none);
    loss_grad(tr, &greedy, g_greedy, n, &l_greedy);
    const char *where = "";
    double rel = worst_rel(&m->cfg, g_greedy, g_none, &where);
    printf("  loss none %.9f greedy %.9f; gradients: worst relative diff %.3g (%s)\n", l_none,
           l_greedy, rel, where);
    CHECK_MSG(fabs(l_none - l_greedy) <= 1e-5, "loss none %.9f greedy %.9f", l_none, l_greedy);
    CHECK_MSG(rel <= 1e-5, "gradient of %s: worst relative diff %.3g", where, rel);

    /* the oracle on the unpacked rows (plain causal LM), and on the packed
     * rows with their positions (its own document mask) */
    char *idf, *labf, *posf, *pidf, *plabf, *pposf, pgdir[512];
    snprintf(pgdir, sizeof pgdir, "%s/grads-packed", dir);
    oracle_files(dir, "none", &none, &idf, &labf, &posf);
    oracle_files(dir, "greedy", &greedy, &pidf, &plabf, &pposf);
    char script[4096];
    snprintf(script, sizeof script,
             "grads --model %s --ids @%s --labels @%s --out %s\n"
             "grads --model %s --ids @%s --labels @%s --positions @%s --out %s\n",
             mdir, idf, labf, gdir, mdir, pidf, plabf, pposf, pgdir);
    REQUIRE(lt_oracle_batch(script) == 0);
    REQUIRE(sieve_llama_load(gdir, &gref, &err) == SIEVE_OK);
    REQUIRE(sieve_llama_load(pgdir, &pref, &err) == SIEVE_OK);
    double want = read_loss(gdir), want_p = read_loss(pgdir);
    double rel_o = worst_rel(&m->cfg, g_greedy, gref->params, &where);
    printf("  oracle loss %.9f; packed gradients vs oracle: worst relative diff %.3g (%s)\n", want,
           rel_o, where);
    CHECK_MSG(fabs(l_greedy - want) <= 1e-5, "packed loss %.9f, oracle %.9f", l_greedy, want);
    CHECK_MSG(rel_o <= 1e-4, "packed gradient of %s vs oracle: %.3g", where, rel_o);
    double rel_p = worst_rel(&m->cfg, g_greedy, pref->params, &where);
    printf("  oracle on packed rows: loss %.9f; gradients: worst relative diff %.3g (%s)\n",
           want_p, rel_p, where);
    CHECK_MSG(fabs(l_greedy - want_p) <= 1e-5, "packed loss %.9f, packed oracle %.9f", l_greedy,
              want_p);
    CHECK_MSG(rel_p <= 1e-4, "packed gradient of %s vs packed oracle: %.3g", where, rel_p);

    free(idf); free(labf); free(posf); free(pidf); free(plabf); free(pposf);
    free(g_none); free(g_greedy);
    trn_batch_release(&none);
    trn_batch_release(&greedy);
    for (int i = 0; i < NEX; i++) free(ex[i].ids);
    sieve_llama_train_free(tr);
    k->kctx_free(kc);
    sieve_llama_free(m);
    sieve_llama_free(gref);
    sieve_llama_free(pref);
    free(cfg);
    sieve_test_tmpdir_done(dir);
    free(dir);
}

int main(void)
{
    RUN_TEST(test_greedy_layout_matches_hand_packing);
    RUN_TEST(test_packed_loss_and_grads_equal_unpacked_and_oracle);
    return sieve_test_summary();
}
