/* Stage `sample`: k completions per input record from a LLaMA model, with a
 * K/V cache per sequence, one batched decode step over every live sequence,
 * continuous batching (a finished sequence's slot takes the next sample at
 * once), and one prefill per question shared by its k samples: it goes into
 * a prefix slot whose keys and values all of them read (smp_slot_share) and
 * which is freed when the last of them finishes (with k = 1 too: one way for
 * every k). A sample's own slot thus holds only what it generates, at most
 * max_new_tokens positions: those caches are made when the stage starts, as
 * the model is loaded, rather than page by page while sampling.
 *
 * Reproducibility: every random number is Philox(seed; qid, sample_index,
 * position) and every kernel is row-invariant (engine.h), so a completion
 * depends only on the model, its prompt and that key: not on max_batch,
 * threads, or the questions decoded beside it. Output records come out
 * grouped by question, in input order, and every emitted question goes to a
 * journal in the stage's state directory (journal.h): a resumed run replays
 * the journal's questions without decoding them and samples from the first
 * one it lacks, and since jsonl-write keeps the records already on disk and
 * skips as many, its output equals an uninterrupted run's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calc.h"
#include "engine.h"
#include "journal.h"
#include "pick.h"
#include "sieve/pool.h"
#include "sieve/llama.h"
#include "stages.h"
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
#include "sieve/tokenizer.h"
#endif

enum { FIN_NONE, FIN_EOS, FIN_STOP, FIN_LENGTH };
static const char *const FIN_NAME[] = {"", "eos", "stop", "length"};
/* How long the pool polls for the next decode job before sleeping (us). */
#define SAMPLE_POOL_SPIN_US 1000

/* One finished completion. */
typedef struct {
    int32_t *ids;
    int n;
    char *text;
    size_t tlen;
    int finish;
    double logprob;
} result;

typedef struct {
    sieve_record rec;       /* the input record (moved in) */
    int64_t index;          /* position in the input stream */
    uint64_t rng_qid;       /* qid as the generator's key */
    uint64_t prompt_hash;   /* of the prompt's ids: the journal's check */
    int32_t *prompt;
    int n_prompt;
    int launched, finished;
    int pre;                /* prefix slot holding the prompt's K/V, -1 none */
    result *res;            /* [k] */
} question;

/* A live sequence in a decode slot. */
typedef struct {
    int active;
    int64_t q;              /* question index (absolute) */
    int sample;
    int len;                /* positions in the cache */
    int cap;                /* positions the slot may fill */
    int32_t next;           /* token fed at position len in the next step */
    int32_t *gen;           /* generated ids (forced calculator ids too) */
    int n_gen;
    char *text;
    size_t tlen, tcap;
    double logprob;
    int32_t forced[64];     /* calculator tokens still to force */
    int n_forced, i_forced;
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    sieve_tok_stream *ts;
#endif
} seq;

typedef struct {
    sieve_ctx *ctx;
    /* params */
    char *model_dir;
    const char *model_name;
    int k, max_new, max_batch, top_k;
    double temperature, top_p;
    uint64_t seed;
    const char *const *stop;
    int n_stop;
    size_t max_stop_len;
    int calculator;
    const char *tmpl;
    /* model */
    const sieve_kernels *kern;
    sieve_kctx *kc;
    sieve_pool *pool;
    sieve_llama *m;
    smp_engine *eng;
    int eos;
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    sieve_tokenizer *tok;
    sieve_tok_buf tb;
#endif
    /* work */
    question *qs;           /* queue of questions qs[q - q_base] */
    int64_t q_base, q_end, q_cap;
    int64_t q_prefilled;    /* question whose prompt's logits are in prefix_logits, -1 none */
    int64_t q_emit;         /* next question to emit */
    int64_t n_in;
    seq *slots;             /* [max_batch]: engine slots 0 .. max_batch-1 */
    /* Engine slots max_batch .. 2 max_batch hold prompts shared by samples:
     * each question with a live sample holds at most one, and at most
     * max_batch questions have one, plus the one being launched. */
    int *pre_free, n_pre_free;
    float *prefix_logits;   /* [V] */
    float *logits;          /* [max_batch, V] */
    smp_pick_buf *pb;       /* [max_batch] */
    int32_t *r_ids, *r_slot, *r_pos;
    int *r_rows, *r_tok;
    double *r_lp;
    int64_t tokens;
    smp_journal *journal;   /* NULL under `sieve stage` */
    int64_t replayable;     /* questions the journal holds from an earlier run */
    /* timing for the closing log line (tools/bench-sample reads it) */
    double t_first, t_prefill, cpu_first;
    int64_t n_prefill, prefill_tokens;
} sample_state;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- parameters and setup ---- */

const sieve_port_desc smp_sample_in[1] = {
    {"in", "records(prompt|question|prompt_ids)", "questions to sample from"}};
const sieve_port_desc smp_sample_out[1] = {
    {"out", "records(qid,sample_index,completion,completion_ids,n_tokens,finish_reason,logprob,model)",
     "one record per completion, grouped by question in input order"}};
const sieve_param_desc smp_sample_params[] = {
    {"model", SIEVE_P_STRING, NULL, "Hugging Face LLaMA directory (tokenizer.model there)"},
    {"k", SIEVE_P_INT, "1", "completions per question"},
    {"temperature", SIEVE_P_FLOAT, "0", "0: greedy"},
    {"top_p", SIEVE_P_FLOAT, "1", "nucleus mass (1: off)"},
    {"top_k", SIEVE_P_INT, "0", "keep the k most likely tokens (0: off)"},
    {"max_new_tokens", SIEVE_P_INT, "256", "most tokens per completion"},
    {"stop", SIEVE_P_LIST, "", "strings that end a completion (not included in it)"},
    {"seed", SIEVE_P_INT, "0", "key of the random generator"},
    {"max_batch", SIEVE_P_INT, "32", "most sequences decoded at once"},
    {"backend", SIEVE_P_STRING, "cpu", "kernel backend (host-memory backends)"},
    {"threads", SIEVE_P_INT, "0", "worker threads (0: all cores)"},
    {"calculator", SIEVE_P_BOOL, "false", "evaluate <<expr= and force result>>"},
    {"template", SIEVE_P_STRING, "alpaca", "template for records with `question` only"},
};
const int smp_sample_n_params = SIEVE_COUNTOF(smp_sample_params);

static void result_free(result *r)
{
    free(r->ids);
    free(r->text);
}

static void question_free(question *q, int k)
{
    sieve_record_free(&q->rec);
    free(q->prompt);
    if (q->res)
        for (int i = 0; i < k; i++) result_free(&q->res[i]);
    free(q->res);
}

void smp_sample_destroy(void *state)
{
    sample_state *s = state;
    if (!s) return;
    for (int64_t q = s->q_base; q < s->q_end; q++) question_free(&s->qs[q - s->q_base], s->k);
    free(s->qs);
    if (s->slots) {
        for (int i = 0; i < s->max_batch; i++) {
            free(s->slots[i].gen);
            free(s->slots[i].text);
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
            sieve_tok_stream_free(s->slots[i].ts);
#endif
        }
    }
    free(s->slots);
    if (s->pb)
        for (int i = 0; i < s->max_batch; i++) smp_pick_buf_free(&s->pb[i]);
    free(s->pb);
    free(s->prefix_logits);
    free(s->pre_free);
    free(s->logits);
    free(s->r_ids);
    free(s->r_slot);
    free(s->r_pos);
    free(s->r_rows);
    free(s->r_tok);
    free(s->r_lp);
    smp_engine_free(s->eng);
    sieve_pool_free(s->pool);
    smp_journal_free(s->journal);
    if (s->kern && s->kc) s->kern->kctx_free(s->kc);
    sieve_llama_free(s->m);
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    sieve_tokenizer_free(s->tok);
    sieve_tok_buf_free(&s->tb);
#endif
    free(s->model_dir);
    free(s);
}

static sieve_status load_tokenizer(sample_state *s, sieve_err *err)
{
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    size_t n = strlen(s->model_dir) + 20;
    char *path = malloc(n);
    if (!path) return sieve_fail(err, "out of memory");
    snprintf(path, n, "%s/tokenizer.model", s->model_dir);
    sieve_status st = SIEVE_OK;
    if (access(path, R_OK) == 0) st = sieve_tokenizer_load(path, &s->tok, err);
    free(path);
    if (st) return st;
    if (s->tok && sieve_tokenizer_vocab_size(s->tok) > s->m->cfg.vocab)
        return sieve_fail(err, "%s: tokenizer has %d pieces but the model's vocabulary is %d",
                          s->model_dir, sieve_tokenizer_vocab_size(s->tok), s->m->cfg.vocab);
    return SIEVE_OK;
#else
    (void)s;
    (void)err;
    return SIEVE_OK;
#endif
}

static int has_tokenizer(const sample_state *s)
{
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    return s->tok != NULL;
#else
    (void)s;
    return 0;
#endif
}

/* The journal keeps its questions across runs only while everything that
 * decides a completion is unchanged: these settings head the file. */
static sieve_status open_journal(sample_state *s, const sieve_params *params, sieve_err *err)
{
    static const char *const keys[] = {"model", "k", "temperature", "top_p", "top_k",
                                       "max_new_tokens", "stop", "seed", "calculator",
                                       "template"};
    sieve_record r;
    sieve_record_init(&r);
    int bad = 0;
    for (size_t i = 0; i < SIEVE_COUNTOF(keys); i++) {
        const char *const *items;
        int n = sieve_param_list(params, keys[i], &items);
        size_t len = 0;
        for (int j = 0; j < n; j++) len += strlen(items[j]) + 1;
        char *joined = calloc(len + 1, 1);
        for (int j = 0; joined && j < n; j++) {
            strcat(joined, items[j]);
            strcat(joined, "\x1f");
        }
        bad |= !joined || sieve_record_set_cstr(&r, keys[i], joined);
        free(joined);
    }
    char *line = NULL;
    size_t len = 0, cap = 0;
    bad |= sieve_record_to_json(&r, &line, &len, &cap);
    sieve_record_free(&r);
    char dir[4096];
    sieve_status st = bad ? sieve_fail(err, "out of memory")
                          : sieve_ctx_state_dir(s->ctx, dir, sizeof dir, err);
    if (!st)
        st = smp_journal_open(dir, sieve_ctx_resuming(s->ctx), line, s->k, &s->journal,
                              &s->replayable, err);
    free(line);
    return st;
}

sieve_status smp_sample_create(const sieve_params *params, sieve_ctx *ctx, void **state,
                               sieve_err *err)
{
    sample_state *s = calloc(1, sizeof *s);
    if (!s) return sieve_fail(err, "out of memory");
    *state = s;
    s->ctx = ctx;
    s->k = (int)sieve_param_int(params, "k");
    s->temperature = sieve_param_float(params, "temperature");
    s->top_p = sieve_param_float(params, "top_p");
    s->top_k = (int)sieve_param_int(params, "top_k");
    s->max_new = (int)sieve_param_int(params, "max_new_tokens");
    s->seed = (uint64_t)sieve_param_int(params, "seed");
    s->max_batch = (int)sieve_param_int(params, "max_batch");
    s->calculator = sieve_param_bool(params, "calculator");
    s->tmpl = sieve_template_text(sieve_param_str(params, "template"));
    s->n_stop = sieve_param_list(params, "stop", &s->stop);
    int64_t threads = sieve_param_int(params, "threads");
    if (s->k < 1 || s->k > 100000) return sieve_fail(err, "param 'k' = %d must be in [1, 100000]", s->k);
    if (s->temperature < 0) return sieve_fail(err, "param 'temperature' must be >= 0");
    if (!(s->top_p > 0 && s->top_p <= 1)) return sieve_fail(err, "param 'top_p' must be in (0, 1]");
    if (s->top_k < 0) return sieve_fail(err, "param 'top_k' must be >= 0");
    if (s->max_new < 1) return sieve_fail(err, "param 'max_new_tokens' must be >= 1");
    if (s->max_batch < 1 || s->max_batch > 4096)
        return sieve_fail(err, "param 'max_batch' = %d must be in [1, 4096]", s->max_batch);
    if (threads < 0 || threads > 1024) return sieve_fail(err, "param 'threads' must be in [0, 1024]");
    if (threads == 0) threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    for (int i = 0; i < s->n_stop; i++) {
        size_t l = strlen(s->stop[i]);
        if (l == 0) return sieve_fail(err, "param 'stop': empty string at %d", i);
        if (l > s->max_stop_len) s->max_stop_len = l;
    }
    if (s->calculator && !smp_calc_available())
        return sieve_fail(err, "param 'calculator': this build lacks the gsm8k plugin's evaluator");

    s->model_dir = sieve_ctx_expand_path(ctx, sieve_param_str(params, "model"));
    if (!s->model_dir) return sieve_fail(err, "out of memory");
    s->model_name = sieve_param_str(params, "model");
    const char *backend = sieve_param_str(params, "backend");
    s->kern = sieve_ctx_kernels(ctx, backend, err);
    if (!s->kern) return SIEVE_ERR;
    if (s->kern->version != SIEVE_KERNELS_VERSION || s->kern->size < sizeof(sieve_kernels))
        return sieve_fail(err, "kernels-%s: kernel table version %u, this plugin needs %u",
                          backend, s->kern->version, SIEVE_KERNELS_VERSION);
    /* The vtable runs only the per-row elementwise kernels here: one thread
     * is plenty, and the pool below does the heavy work. */
    if (s->kern->kctx_new(1, &s->kc, err)) return SIEVE_ERR;
    s->pool = sieve_pool_new((int)threads);
    if (!s->pool) return sieve_fail(err, "out of memory (thread pool)");
    /* Decoding runs ~30 short jobs per step: waking workers through the
     * kernel each time cost a third of the batch-1 time. The pool polls
     * (yielding the core) for SAMPLE_POOL_SPIN_US after each job. */
    sieve_pool_spin(s->pool, SAMPLE_POOL_SPIN_US);
    if (sieve_llama_load(s->model_dir, &s->m, err)) return SIEVE_ERR;
    if (load_tokenizer(s, err)) return SIEVE_ERR;
    if ((s->n_stop || s->calculator) && !has_tokenizer(s))
        return sieve_fail(err, "%s has no tokenizer.model: 'stop' and 'calculator' need one",
                          s->model_dir);
    s->eos = s->m->cfg.eos_id;
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    if (s->eos < 0 && s->tok) s->eos = sieve_tokenizer_eos_id(s->tok);
#endif
    int V = s->m->cfg.vocab, B = s->max_batch;
    int rows = B > 128 ? B : 128;
    if (smp_engine_new(s->m, 1, s->kern, s->kc, s->pool, 2 * B + 1, rows, &s->eng, err))
        return SIEVE_ERR;
    s->pre_free = malloc((size_t)(B + 1) * sizeof *s->pre_free);
    if (!s->pre_free) return sieve_fail(err, "out of memory");
    for (int i = 0; i <= B; i++) s->pre_free[s->n_pre_free++] = 2 * B - i;
    s->slots = calloc((size_t)B, sizeof *s->slots);
    s->pb = calloc((size_t)B, sizeof *s->pb);
    s->prefix_logits = malloc((size_t)V * sizeof(float));
    s->logits = malloc((size_t)B * V * sizeof(float));
    s->r_ids = malloc((size_t)B * sizeof(int32_t));
    s->r_slot = malloc((size_t)B * sizeof(int32_t));
    s->r_pos = malloc((size_t)B * sizeof(int32_t));
    s->r_rows = malloc((size_t)B * sizeof(int));
    s->r_tok = malloc((size_t)B * sizeof(int));
    s->r_lp = malloc((size_t)B * sizeof(double));
    if (!s->slots || !s->pb || !s->prefix_logits || !s->logits || !s->r_ids || !s->r_slot ||
        !s->r_pos || !s->r_rows || !s->r_tok || !s->r_lp)
        return sieve_fail(err, "out of memory");
    for (int i = 0; i < B; i++) {
        if (smp_pick_buf_init(&s->pb[i], V)) return sieve_fail(err, "out of memory");
        s->slots[i].gen = malloc((size_t)s->max_new * sizeof(int32_t));
        if (!s->slots[i].gen) return sieve_fail(err, "out of memory");
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
        if (s->tok && !(s->slots[i].ts = sieve_tok_stream_new(s->tok)))
            return sieve_fail(err, "out of memory");
#endif
    }
    /* Every sample slot's cache now, as vLLM takes its K/V memory at start:
     * fresh memory costs a page fault per page to set up (much more in some
     * VMs), which would otherwise stall the first decode steps. */
    const sieve_llama_config *c = &s->m->cfg;
    int own = s->max_new < c->max_pos ? s->max_new : c->max_pos;
    double t0 = now_s(), kv_bytes = 2.0 * c->n_layers * c->n_kv_heads * c->head_dim * sizeof(float);
    for (int i = 0; i < B; i++)
        if (smp_slot_reserve(s->eng, i, own, err)) return SIEVE_ERR;
    /* One forward of one token (its K/V row is rewritten before any read):
     * the first pass over the packed weights after the mappings above can
     * cost 10-40 ms more than later ones (seen in this VM: its first lm_head
     * product 10-37 ms, the next 1 ms), paid here rather than by the first
     * question. */
    int32_t tok0 = 0, slot0 = 0, pos0 = 0, row0 = 0;
    if (smp_forward(s->eng, &tok0, &slot0, &pos0, 1, &row0, 1, s->logits, err)) return SIEVE_ERR;
    sieve_log(ctx, SIEVE_LOG_INFO,
              "K/V caches for %d sequences of %d new tokens: %.1f MB; first forward done; "
              "%.2f s", B, own, B * own * kv_bytes / 1e6, now_s() - t0);
    s->q_prefilled = -1;
    if (sieve_ctx_resumable(ctx) && open_journal(s, params, err)) return SIEVE_ERR;
    sieve_log(ctx, SIEVE_LOG_INFO,
              "model %s: %d layers, dim %d, vocab %d; k=%d temperature=%g max_batch=%d "
              "threads=%d%s", s->model_dir, s->m->cfg.n_layers, s->m->cfg.dim, V, s->k,
              s->temperature, B, (int)threads, has_tokenizer(s) ? "" : " (no tokenizer)");
    if (sieve_ctx_resuming(ctx))
        sieve_log(ctx, SIEVE_LOG_INFO, "resuming: %lld questions replayed from the journal, "
                  "sampling from the next", (long long)s->replayable);
    return SIEVE_OK;
}

/* ---- input ---- */

static sieve_status question_prompt(sample_state *s, question *q, sieve_err *err)
{
    const int64_t *ids;
    size_t n;
    const char *text = NULL;
    size_t tlen = 0;
    char *rendered = NULL;
    int V = s->m->cfg.vocab;
    if (sieve_record_get_ints(&q->rec, "prompt_ids", &ids, &n)) {
        if (n == 0) return sieve_fail(err, "record %lld: 'prompt_ids' is empty", (long long)q->index);
        q->prompt = malloc(n * sizeof *q->prompt);
        if (!q->prompt) return sieve_fail(err, "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= V)
                return sieve_fail(err, "record %lld: prompt_ids[%zu] = %lld is outside the "
                                  "vocabulary [0, %d)", (long long)q->index, i,
                                  (long long)ids[i], V);
            q->prompt[i] = (int32_t)ids[i];
        }
        q->n_prompt = (int)n;
        return SIEVE_OK;
    }
    if (!sieve_record_get_str(&q->rec, "prompt", &text, &tlen)) {
        if (!sieve_record_get(&q->rec, "question"))
            return sieve_fail(err, "record %lld: needs 'prompt', 'question' or 'prompt_ids'",
                              (long long)q->index);
        rendered = sieve_template_render(s->tmpl, &q->rec, &tlen, err);
        if (!rendered) {
            sieve_err_prefix(err, "record %lld", (long long)q->index);
            return SIEVE_ERR;
        }
        text = rendered;
    }
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    if (!s->tok) {
        free(rendered);
        return sieve_fail(err, "record %lld: a text prompt needs %s/tokenizer.model (or give "
                          "'prompt_ids')", (long long)q->index, s->model_dir);
    }
    sieve_status st = sieve_tokenizer_encode(s->tok, text, tlen, SIEVE_TOK_BOS, &s->tb, err);
    free(rendered);
    if (st) return st;
    q->prompt = malloc((s->tb.n ? s->tb.n : 1) * sizeof *q->prompt);
    if (!q->prompt) return sieve_fail(err, "out of memory");
    memcpy(q->prompt, s->tb.ids, s->tb.n * sizeof *q->prompt);
    q->n_prompt = (int)s->tb.n;
    return SIEVE_OK;
#else
    free(rendered);
    return sieve_fail(err, "record %lld: text prompts need the tokenizer, which this build "
                      "lacks; give 'prompt_ids'", (long long)q->index);
#endif
}

/* Fills q's results from the journal: it counts as launched and finished. */
static sieve_status replay(sample_state *s, question *q, sieve_err *err)
{
    sieve_record *recs = calloc((size_t)s->k, sizeof *recs);
    if (!recs) return sieve_fail(err, "out of memory");
    sieve_status st = smp_journal_replay(s->journal, q->index, q->prompt_hash, recs, err);
    for (int j = 0; !st && j < s->k; j++) {
        result *r = &q->res[j];
        const int64_t *ids;
        const char *text, *fin;
        size_t n, tlen, flen;
        if (!sieve_record_get_ints(&recs[j], "ids", &ids, &n) ||
            !sieve_record_get_str(&recs[j], "finish", &fin, &flen) ||
            !sieve_record_get_float(&recs[j], "logprob", &r->logprob)) {
            st = sieve_fail(err, "journal: question %lld sample %d lacks ids, finish or logprob",
                            (long long)q->index, j);
            break;
        }
        r->finish = FIN_NONE;
        for (int f = FIN_EOS; f <= FIN_LENGTH; f++)
            if (!strcmp(fin, FIN_NAME[f])) r->finish = f;
        r->ids = malloc((n + 1) * sizeof *r->ids);
        if (!r->ids) st = sieve_fail(err, "out of memory");
        for (size_t i = 0; !st && i < n; i++) r->ids[i] = (int32_t)ids[i];
        r->n = (int)n;
        if (!st && sieve_record_get_str(&recs[j], "text", &text, &tlen)) {
            if (!(r->text = malloc(tlen + 1))) st = sieve_fail(err, "out of memory");
            else {
                memcpy(r->text, text, tlen);
                r->text[tlen] = 0;
                r->tlen = tlen;
            }
        }
    }
    for (int j = 0; j < s->k; j++) sieve_record_free(&recs[j]);
    free(recs);
    q->launched = q->finished = s->k;
    return st;
}

static sieve_status enqueue(sample_state *s, sieve_record *r, sieve_err *err)
{
    if (s->q_end - s->q_base == s->q_cap) {
        /* Compact finished questions away, then grow. */
        int64_t live = s->q_end - s->q_base;
        int64_t cap = s->q_cap ? s->q_cap * 2 : 64;
        question *nq = realloc(s->qs, (size_t)cap * sizeof *nq);
        if (!nq) return sieve_fail(err, "out of memory");
        s->qs = nq;
        s->q_cap = cap;
        (void)live;
    }
    question *q = &s->qs[s->q_end - s->q_base];
    memset(q, 0, sizeof *q);
    q->pre = -1;
    sieve_record_init(&q->rec);
    q->rec = *r;
    sieve_record_init(r);
    q->index = s->n_in++;
    s->q_end++;
    const sieve_field *f = sieve_record_get(&q->rec, "qid");
    if (f && f->type == SIEVE_F_INT) q->rng_qid = (uint64_t)f->v.i;
    else if (f && f->type == SIEVE_F_STRING) q->rng_qid = smp_hash_str(f->v.str.ptr, f->v.str.len);
    else q->rng_qid = (uint64_t)q->index;
    q->res = calloc((size_t)s->k, sizeof *q->res);
    if (!q->res) return sieve_fail(err, "out of memory");
    if (question_prompt(s, q, err)) return SIEVE_ERR;
    int max_pos = s->m->cfg.max_pos;
    if (q->n_prompt >= max_pos)
        return sieve_fail(err, "record %lld: prompt of %d tokens leaves no room within "
                          "max_position_embeddings %d", (long long)q->index, q->n_prompt, max_pos);
    q->prompt_hash = smp_hash_str((const char *)q->prompt, (size_t)q->n_prompt * sizeof *q->prompt);
    if (q->index < s->replayable) return replay(s, q, err);
    return SIEVE_OK;
}

/* ---- output ---- */

static sieve_status emit_ready(sample_state *s, sieve_io *io, sieve_err *err)
{
    sieve_batch *b = NULL;
    while (s->q_emit < s->q_end) {
        question *q = &s->qs[s->q_emit - s->q_base];
        if (q->finished < s->k) break;
        if (!b && !(b = sieve_batch_new((size_t)s->k))) return sieve_fail(err, "out of memory");
        const sieve_field *qid = sieve_record_get(&q->rec, "qid");
        for (int j = 0; j < s->k; j++) {
            result *r = &q->res[j];
            sieve_record *o = sieve_batch_add(b);
            if (!o || sieve_record_copy(o, &q->rec)) {
                sieve_batch_free(b);
                return sieve_fail(err, "out of memory");
            }
            int64_t *ids = malloc(((size_t)r->n + 1) * sizeof *ids);
            int bad = !ids;
            for (int i = 0; !bad && i < r->n; i++) ids[i] = r->ids[i];
            if (!qid) bad |= sieve_record_set_int(o, "qid", q->index);
            bad |= sieve_record_set_int(o, "sample_index", j);
            if (r->text) bad |= sieve_record_set_str(o, "completion", r->text, r->tlen);
            else bad |= sieve_record_set_null(o, "completion");
            bad |= !ids || sieve_record_set_ints(o, "completion_ids", ids, (size_t)r->n);
            bad |= sieve_record_set_int(o, "n_tokens", r->n);
            bad |= sieve_record_set_cstr(o, "finish_reason", FIN_NAME[r->finish]);
            bad |= sieve_record_set_float(o, "logprob", r->logprob);
            bad |= sieve_record_set_cstr(o, "model", s->model_name);
            free(ids);
            if (bad) {
                sieve_batch_free(b);
                return sieve_fail(err, "out of memory");
            }
        }
        if (s->journal && q->index >= s->replayable) {
            sieve_status st = SIEVE_OK;
            for (int j = 0; !st && j < s->k; j++) {
                const result *r = &q->res[j];
                st = smp_journal_add(s->journal, q->index, q->prompt_hash, j, r->ids, r->n,
                                     r->text, r->tlen, FIN_NAME[r->finish], r->logprob, err);
            }
            if (st || smp_journal_commit(s->journal, err)) {
                sieve_batch_free(b);
                return SIEVE_ERR;
            }
        }
        question_free(q, s->k);
        s->q_emit++;
    }
    /* Drop emitted questions from the front of the queue. */
    if (s->q_emit > s->q_base) {
        int64_t drop = s->q_emit - s->q_base, left = s->q_end - s->q_emit;
        memmove(s->qs, s->qs + drop, (size_t)left * sizeof *s->qs);
        s->q_base = s->q_emit;
    }
    if (!b) return SIEVE_OK;
    return sieve_emit(io, 0, b);
}

/* ---- sequences ---- */

static void seq_finish(sample_state *s, seq *sq, int why)
{
    question *q = &s->qs[sq->q - s->q_base];
    result *r = &q->res[sq->sample];
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    if (sq->ts && why != FIN_STOP) {
        const char *t;
        size_t n;
        sieve_err e;
        if (sieve_tok_stream_finish(sq->ts, &t, &n, &e) == SIEVE_OK && n) {
            if (sq->tlen + n + 1 > sq->tcap) {
                size_t c = (sq->tlen + n + 1) * 2;
                char *p = realloc(sq->text, c);
                if (p) {
                    sq->text = p;
                    sq->tcap = c;
                }
            }
            if (sq->tlen + n + 1 <= sq->tcap) {
                memcpy(sq->text + sq->tlen, t, n);
                sq->tlen += n;
            }
        }
    }
#endif
    r->ids = malloc(((size_t)sq->n_gen + 1) * sizeof *r->ids);
    if (r->ids) memcpy(r->ids, sq->gen, (size_t)sq->n_gen * sizeof *r->ids);
    r->n = r->ids ? sq->n_gen : 0;
    if (has_tokenizer(s)) {
        r->text = malloc(sq->tlen + 1);
        if (r->text) {
            if (sq->tlen) memcpy(r->text, sq->text, sq->tlen);
            r->text[sq->tlen] = 0;
            r->tlen = sq->tlen;
        }
    }
    r->finish = why;
    r->logprob = sq->logprob;
    q->finished++;
    sq->active = 0;
    if (q->finished == s->k && q->pre >= 0) {   /* no sample reads the prompt any more */
        s->pre_free[s->n_pre_free++] = q->pre;
        q->pre = -1;
    }
}

/* Text handling after token tok was appended: stop strings, calculator. */
static sieve_status seq_text(sample_state *s, seq *sq, int32_t tok, int *stopped, sieve_err *err)
{
    *stopped = 0;
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    if (!sq->ts) return SIEVE_OK;
    const char *t;
    size_t n;
    if (sieve_tok_stream_push(sq->ts, tok, &t, &n, err)) return SIEVE_ERR;
    if (sq->tlen + n + 1 > sq->tcap) {
        size_t c = (sq->tlen + n + 1) * 2;
        char *p = realloc(sq->text, c);
        if (!p) return sieve_fail(err, "out of memory");
        sq->text = p;
        sq->tcap = c;
    }
    size_t old = sq->tlen;
    if (n) memcpy(sq->text + sq->tlen, t, n);
    sq->tlen += n;
    sq->text[sq->tlen] = 0;
    if (n && s->n_stop) {
        /* A stop string may straddle the old text's end: search from there. */
        size_t from = old > s->max_stop_len ? old - s->max_stop_len + 1 : 0;
        size_t best = (size_t)-1;
        for (int i = 0; i < s->n_stop; i++) {
            const char *hit = memmem(sq->text + from, sq->tlen - from, s->stop[i], strlen(s->stop[i]));
            if (hit && (size_t)(hit - sq->text) < best) best = (size_t)(hit - sq->text);
        }
        if (best != (size_t)-1) {
            sq->tlen = best;
            sq->text[best] = 0;
            *stopped = 1;
            return SIEVE_OK;
        }
    }
    if (n && s->calculator && sq->i_forced >= sq->n_forced) {
        char cont[64];
        if (smp_calc_continuation(sq->text, sq->tlen, cont, sizeof cont)) {
            sq->i_forced = 0;
            sq->n_forced = smp_calc_spell(s->tok, cont, sq->forced, (int)SIEVE_COUNTOF(sq->forced));
        }
    }
#else
    (void)s;
    (void)sq;
    (void)tok;
    (void)err;
#endif
    return SIEVE_OK;
}

/* Takes token tok (chosen at generation index sq->n_gen) with log-probability lp. */
static sieve_status seq_accept(sample_state *s, seq *sq, int32_t tok, double lp, sieve_err *err)
{
    sq->logprob += lp;
    if (tok == s->eos) {
        seq_finish(s, sq, FIN_EOS);
        return SIEVE_OK;
    }
    sq->gen[sq->n_gen++] = tok;
    s->tokens++;
    int stopped;
    if (seq_text(s, sq, tok, &stopped, err)) return SIEVE_ERR;
    if (stopped) seq_finish(s, sq, FIN_STOP);
    else if (sq->n_gen >= s->max_new || sq->len >= sq->cap) seq_finish(s, sq, FIN_LENGTH);
    else sq->next = tok;
    return SIEVE_OK;
}

/* The first question with a sample not yet launched (q_end when none):
 * questions launch in order, so the search starts at the prefilled one. */
static int64_t first_unlaunched(const sample_state *s)
{
    int64_t qi = s->q_prefilled > s->q_base ? s->q_prefilled : s->q_base;
    while (qi < s->q_end && s->qs[qi - s->q_base].launched >= s->k) qi++;
    return qi;
}

/* Starts the next unlaunched sample in free slot i, prefilling its question
 * first when it is the question's first; *launched = 0 when none is left. */
static sieve_status launch(sample_state *s, int i, int *launched, sieve_err *err)
{
    *launched = 0;
    int64_t qi = first_unlaunched(s);
    if (qi >= s->q_end) return SIEVE_OK;
    question *q = &s->qs[qi - s->q_base];
    int cap = q->n_prompt + s->max_new;
    if (cap > s->m->cfg.max_pos) cap = s->m->cfg.max_pos;
    if (s->q_prefilled != qi) {
        if (!s->n_pre_free) return sieve_fail(err, "sample: no free prefix slot (a bug)");
        int slot = q->pre = s->pre_free[--s->n_pre_free];
        /* With headroom, so prefix slots reused by similar prompts rarely map
         * a new cache (a prefix slot shares nothing: all its positions are
         * its own). */
        int room = q->n_prompt + q->n_prompt / 4, max_pos = s->m->cfg.max_pos;
        if (smp_slot_reserve(s->eng, slot, room < max_pos ? room : max_pos, err)) return SIEVE_ERR;
        double t0 = now_s();
        if (smp_prefill(s->eng, slot, q->prompt, q->n_prompt, s->prefix_logits, err))
            return SIEVE_ERR;
        s->t_prefill += now_s() - t0;
        s->n_prefill++;
        s->prefill_tokens += q->n_prompt;
        s->q_prefilled = qi;
    }
    seq *sq = &s->slots[i];
    sq->active = 1;
    sq->q = qi;
    sq->sample = q->launched++;
    sq->len = q->n_prompt;
    sq->cap = cap;
    sq->n_gen = 0;
    sq->tlen = 0;
    sq->logprob = 0.0;
    sq->n_forced = sq->i_forced = 0;
#ifdef SIEVE_SAMPLE_HAVE_TOKENIZER
    if (sq->ts) sieve_tok_stream_reset(sq->ts);
#endif
    *launched = 1;
    smp_pick_cfg pc = {s->temperature, s->top_k, s->top_p};
    double u = smp_uniform(s->seed, q->rng_qid, (uint32_t)sq->sample, 0);
    double lp;
    int tok = smp_pick(s->prefix_logits, s->m->cfg.vocab, &pc, u, &s->pb[i], &lp);
    if (seq_accept(s, sq, tok, lp, err)) return SIEVE_ERR;
    /* The prompt's K/V rows, only for a sample that goes on decoding; the
     * slot's own cache, made at the start, holds the rest. */
    if (sq->active) {
        smp_slot_share(s->eng, i, q->pre, q->n_prompt);
        if (smp_slot_reserve(s->eng, i, cap, err)) return SIEVE_ERR;
    }
    return SIEVE_OK;
}

typedef struct {
    sample_state *s;
    int n;
} pick_job;

static void pick_task(void *arg, int r)
{
    pick_job *j = arg;
    sample_state *s = j->s;
    seq *sq = &s->slots[s->r_slot[r]];
    const float *lg = s->logits + (size_t)r * s->m->cfg.vocab;
    if (sq->i_forced < sq->n_forced) {
        s->r_tok[r] = sq->forced[sq->i_forced];
        s->r_lp[r] = smp_logprob(lg, s->m->cfg.vocab, s->r_tok[r], s->pb[s->r_slot[r]].p);
        return;
    }
    question *q = &s->qs[sq->q - s->q_base];
    smp_pick_cfg pc = {s->temperature, s->top_k, s->top_p};
    double u = smp_uniform(s->seed, q->rng_qid, (uint32_t)sq->sample, (uint32_t)sq->n_gen);
    s->r_tok[r] = smp_pick(lg, s->m->cfg.vocab, &pc, u, &s->pb[s->r_slot[r]], &s->r_lp[r]);
}

/* One decode step over every live slot. */
static sieve_status step(sample_state *s, int *n_live, sieve_err *err)
{
    int n = 0;
    for (int i = 0; i < s->max_batch; i++) {
        seq *sq = &s->slots[i];
        if (!sq->active) continue;
        s->r_ids[n] = sq->next;
        s->r_slot[n] = i;
        s->r_pos[n] = sq->len;
        s->r_rows[n] = n;
        n++;
    }
    *n_live = n;
    if (!n) return SIEVE_OK;
    if (smp_forward(s->eng, s->r_ids, s->r_slot, s->r_pos, n, s->r_rows, n, s->logits, err))
        return SIEVE_ERR;
    pick_job pj = {s, n};
    sieve_pool_run(s->pool, n, pick_task, &pj);
    for (int r = 0; r < n; r++) {
        seq *sq = &s->slots[s->r_slot[r]];
        sq->len++;
        int forced = sq->i_forced < sq->n_forced;
        if (forced) sq->i_forced++;
        if (seq_accept(s, sq, s->r_tok[r], s->r_lp[r], err)) return SIEVE_ERR;
    }
    return SIEVE_OK;
}

/* Runs until no sample waits to be launched (drain: until all are done). */
static sieve_status run(sample_state *s, sieve_io *io, int drain, sieve_err *err)
{
    for (;;) {
        if (sieve_ctx_stopping(s->ctx)) return SIEVE_STOPPED;
        int pending = 0;
        for (int i = 0; i < s->max_batch; i++) {
            while (!s->slots[i].active) {
                int got;
                if (launch(s, i, &got, err)) return SIEVE_ERR;
                if (!got) break;
            }
            if (!s->slots[i].active) break;   /* nothing left to launch */
        }
        pending = first_unlaunched(s) < s->q_end;
        if (!pending && !drain) return emit_ready(s, io, err);
        int live;
        if (step(s, &live, err)) return SIEVE_ERR;
        sieve_status st = emit_ready(s, io, err);
        if (st) return st;
        sieve_progress(s->ctx, s->tokens, -1, "tok", NULL);
        if (!live && !pending) return SIEVE_OK;
    }
}

sieve_status smp_sample_process(void *state, const sieve_input *in, sieve_io *io,
                                sieve_err *err)
{
    sample_state *s = state;
    if (s->t_first == 0) {
        s->t_first = now_s();
        s->cpu_first = cpu_s();
    }
    for (size_t i = 0; i < in->batch->n_recs; i++)
        if (enqueue(s, &in->batch->recs[i], err)) return SIEVE_ERR;
    return run(s, io, 0, err);
}

sieve_status smp_sample_flush(void *state, sieve_io *io, sieve_err *err)
{
    sample_state *s = state;
    sieve_status st = run(s, io, 1, err);
    if (st) return st;
    st = emit_ready(s, io, err);
    double dt = s->t_first > 0 ? now_s() - s->t_first : 0.0;
    double dc = s->t_first > 0 ? cpu_s() - s->cpu_first : 0.0;
    sieve_log(s->ctx, SIEVE_LOG_INFO,
              "done: %lld records, %lld tokens in %.4f s (%.1f tok/s, cpu %.4f s); %lld "
              "prefills of %lld tokens in %.4f s", (long long)s->n_in, (long long)s->tokens, dt,
              dt > 0 ? (double)s->tokens / dt : 0.0, dc, (long long)s->n_prefill,
              (long long)s->prefill_tokens, s->t_prefill);
    return st;
}
