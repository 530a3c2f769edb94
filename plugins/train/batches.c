/* Optimizer steps as token batches: the layout `pack` emits and `train`
 * consumes (one way to lay out a step, used by both, so training from records
 * and training from pack's tensors run the very same rows).
 *
 * A step's examples (in the plan's order) go into rows, one per row
 * (pack_len 0) or packed into rows of at most pack_len tokens (greedy: see
 * pack_rows); T is the longest row. Each row holds whole sequences, then
 * padding. */
#include "train.h"

#include <stdlib.h>
#include <string.h>

static sieve_status alloc3(trn_batch *b, int64_t rows, int64_t T, sieve_err *err)
{
    int64_t shape[2] = {rows, T};
    memset(b, 0, sizeof *b);
    if (sieve_tensor_alloc(&b->tokens, "tokens", SIEVE_I32, 2, shape, err) ||
        sieve_tensor_alloc(&b->targets, "targets", SIEVE_I32, 2, shape, err) ||
        sieve_tensor_alloc(&b->positions, "positions", SIEVE_I32, 2, shape, err)) {
        trn_batch_release(b);
        return SIEVE_ERR;
    }
    return SIEVE_OK;
}

/* Writes example e at row offset `at` of rows (tokens, targets, positions). */
static void place(const trn_example *e, int32_t *tok, int32_t *tgt, int32_t *pos, int at)
{
    for (int t = 0; t < e->len; t++) {
        tok[at + t] = e->ids[t];
        pos[at + t] = t;
        /* the label predicted at t is the next token, when it is a response token */
        tgt[at + t] = t + 1 < e->len && t + 1 >= e->n_prompt ? e->ids[t + 1] : TRN_IGNORE;
    }
}

/* Longest first; ties keep the plan's order. */
static int by_len_desc(const void *a, const void *b)
{
    const int *x = a, *y = b;   /* {len, i} pairs */
    if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
    return x[1] - y[1];
}

/* Longest first, each example into the least-filled of `rows` rows (lowest
 * index on ties), opening a row when it fits nowhere. Returns the rows used;
 * *T the longest row. ord: {len, i} pairs sorted longest first. */
static int balance(const int *ord, int n, int rows, int cap, int *row_of, int *at, int *fill,
                   int *T)
{
    memset(fill, 0, sizeof(int) * (size_t)n);
    *T = 0;
    for (int i = 0; i < n; i++) {
        int len = ord[2 * i], e = ord[2 * i + 1], r = 0;
        for (int j = 1; j < rows; j++)
            if (fill[j] < fill[r]) r = j;
        if (fill[r] + len > cap) r = rows++;
        row_of[e] = r;
        at[e] = fill[r];
        fill[r] += len;
        *T = fill[r] > *T ? fill[r] : *T;
    }
    return rows;
}

/* Greedy packing into rows of cap tokens: starting from the row count
 * first-fit decreasing needs, balanced rows (see balance) for each row count
 * up to twice that, keeping the layout with the fewest token slots
 * (rows x T; the fewest rows on ties). Balancing keeps the longest row,
 * hence T and the padding, small. */
static int pack_rows(const trn_example *ex, const int64_t *idx, int n, int cap, int *row_of,
                     int *at, int *fill, int *T)
{
    int *ord = malloc(sizeof(int) * 2 * (size_t)n);
    int *r2 = malloc(sizeof(int) * 2 * (size_t)n);
    if (!ord || !r2) {
        free(ord);
        free(r2);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        ord[2 * i] = ex[idx[i]].len;
        ord[2 * i + 1] = i;
    }
    qsort(ord, (size_t)n, sizeof(int) * 2, by_len_desc);
    int ffd = 0;
    for (int i = 0; i < n; i++) {      /* first-fit decreasing: how many rows */
        int r = 0;
        while (r < ffd && fill[r] + ord[2 * i] > cap) r++;
        if (r == ffd) ffd++;
        fill[r] += ord[2 * i];
    }
    int best = balance(ord, n, ffd, cap, row_of, at, fill, T);
    for (int rows = ffd + 1; rows <= n && rows <= 2 * ffd; rows++) {
        int T2, got = balance(ord, n, rows, cap, r2, r2 + n, fill, &T2);
        if ((int64_t)got * T2 < (int64_t)best * *T) {
            best = got;
            *T = T2;
            memcpy(row_of, r2, sizeof(int) * (size_t)n);
            memcpy(at, r2 + n, sizeof(int) * (size_t)n);
        }
    }
    free(ord);
    free(r2);
    return best;
}

sieve_status trn_batch_make(const trn_example *ex, const int64_t *idx, int n, int pack_len,
                            trn_batch *b, sieve_err *err)
{
    memset(b, 0, sizeof *b);
    while (n > 0 && idx[n - 1] < 0) n--;
    if (n < 1) return sieve_fail(err, "train: a step without examples");
    for (int i = 0; i < n; i++)
        if (pack_len > 0 && ex[idx[i]].len > pack_len)
            return sieve_fail(err, "train: an example of %d tokens does not fit seq_len %d",
                              ex[idx[i]].len, pack_len);
    int *row_of = malloc((size_t)n * sizeof *row_of), *at = malloc((size_t)n * sizeof *at);
    int *fill = calloc((size_t)n, sizeof *fill);
    int rows = 0, T = 0;
    if (row_of && at && fill) {
        if (pack_len > 0) {
            rows = pack_rows(ex, idx, n, pack_len, row_of, at, fill, &T);
        } else {
            for (int i = 0; i < n; i++) {
                row_of[i] = i;
                at[i] = 0;
                T = ex[idx[i]].len > T ? ex[idx[i]].len : T;
            }
            rows = n;
        }
    }
    if (rows <= 0) {
        free(row_of);
        free(at);
        free(fill);
        return sieve_fail(err, "out of memory");
    }
    sieve_status st = alloc3(b, rows, T, err);
    if (!st) {
        int32_t *tok = b->tokens.data, *tgt = b->targets.data, *pos = b->positions.data;
        for (size_t i = 0; i < (size_t)rows * T; i++) {
            tgt[i] = TRN_IGNORE;
            pos[i] = -1;
        }
        for (int i = 0; i < n; i++) {
            size_t o = (size_t)row_of[i] * T;
            place(&ex[idx[i]], tok + o, tgt + o, pos + o, at[i]);
        }
    }
    free(row_of);
    free(at);
    free(fill);
    return st;
}

void trn_batch_release(trn_batch *b)
{
    sieve_tensor_release(&b->tokens);
    sieve_tensor_release(&b->targets);
    sieve_tensor_release(&b->positions);
}

static sieve_status check_one(const sieve_tensor *t, const char *name, int64_t rows, int64_t T,
                              sieve_err *err)
{
    if (strcmp(t->name, name) || t->dtype != SIEVE_I32 || t->rank != 2 ||
        t->device.kind != SIEVE_DEV_CPU || !t->data || (rows >= 0 && (t->shape[0] != rows ||
                                                                       t->shape[1] != T)))
        return sieve_fail(err, "expected tensor '%s' (i32, rank 2, cpu%s), got '%s' (%s, rank %d)",
                          name, rows >= 0 ? ", the shape of 'tokens'" : "", t->name,
                          sieve_dtype_name(t->dtype), t->rank);
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] * t->shape[1] > ((int64_t)1 << 28))
        return sieve_fail(err, "tensor '%s': bad shape %lld x %lld", name,
                          (long long)t->shape[0], (long long)t->shape[1]);
    return SIEVE_OK;
}

sieve_status trn_batch_check(const trn_batch *b, int vocab, sieve_err *err)
{
    if (check_one(&b->tokens, "tokens", -1, 0, err)) return SIEVE_ERR;
    int64_t rows = b->tokens.shape[0], T = b->tokens.shape[1];
    if (check_one(&b->targets, "targets", rows, T, err) ||
        check_one(&b->positions, "positions", rows, T, err))
        return SIEVE_ERR;
    const int32_t *tok = b->tokens.data, *tgt = b->targets.data, *pos = b->positions.data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < T; t++) {
            size_t i = (size_t)(r * T + t);
            int prev = t ? pos[i - 1] : -1;
            if (pos[i] >= 0 ? (pos[i] != 0 && pos[i] != prev + 1) || (t && prev < 0)
                            : pos[i] != -1)
                return sieve_fail(err, "row %lld, index %lld: position %d after %d (rows hold "
                                  "sequences counted from 0, then padding of -1)", (long long)r,
                                  (long long)t, pos[i], prev);
            if (tok[i] < 0 || tok[i] >= vocab || tgt[i] >= vocab)
                return sieve_fail(err, "row %lld, index %lld: token %d / target %d outside the "
                                  "vocabulary [0, %d)", (long long)r, (long long)t, tok[i],
                                  tgt[i], vocab);
            if (tgt[i] >= 0 && pos[i] < 0)
                return sieve_fail(err, "row %lld, index %lld: a target on padding",
                                  (long long)r, (long long)t);
        }
    return SIEVE_OK;
}

void trn_batch_count(const trn_batch *b, int64_t *n_tok, int64_t *n_tgt)
{
    size_t n = (size_t)sieve_tensor_numel(&b->tokens);
    const int32_t *tgt = b->targets.data, *pos = b->positions.data;
    int64_t a = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        a += pos[i] >= 0;
        c += tgt[i] >= 0;
    }
    *n_tok = a;
    *n_tgt = c;
}

int trn_batch_rows(const trn_batch *b, int r0, int nb, int32_t *ids, int32_t *tgt, int32_t *pos,
                   int *packed)
{
    int64_t T0 = b->tokens.shape[1];
    const int32_t *btok = b->tokens.data, *btgt = b->targets.data, *bpos = b->positions.data;
    int T = 1;
    *packed = 0;
    for (int r = r0; r < r0 + nb; r++)
        for (int64_t t = 0; t < T0; t++) {
            int p = bpos[(size_t)r * T0 + t];
            if (p >= 0 && t + 1 > T) T = (int)t + 1;
            if (p >= 0 && p != t) *packed = 1;
        }
    for (int r = 0; r < nb; r++)
        for (int t = 0; t < T; t++) {
            size_t s = (size_t)(r0 + r) * T0 + t, d = (size_t)r * T + t;
            int real = bpos[s] >= 0;
            ids[d] = real ? btok[s] : 0;
            tgt[d] = real && btgt[s] >= 0 ? btgt[s] : -1;
            pos[d] = bpos[s];
        }
    return T;
}

sieve_status trn_steps(const trn_examples *e, int epochs, int batch_size, uint64_t seed,
                       int group, int pack_len, trn_step_fn fn, void *arg, int64_t *n_steps,
                       sieve_err *err)
{
    *n_steps = 0;
    if (e->n == 0) return sieve_fail(err, "no training examples in the input");
    trn_plan plan;
    if (trn_plan_make(e->ex, e->n, epochs, batch_size, seed, group, &plan, err)) return SIEVE_ERR;
    *n_steps = plan.n_steps;
    sieve_status st = SIEVE_OK;
    for (int64_t i = 0; i < plan.n_steps && !st; i++) {
        const int64_t *idx = plan.order + i * batch_size;
        int n = 0;
        while (n < batch_size && idx[n] >= 0) n++;
        trn_batch b;
        st = trn_batch_make(e->ex, idx, n, pack_len, &b, err);
        if (!st) st = fn(arg, &b, idx, n, err);
    }
    trn_plan_free(&plan);
    return st;
}
