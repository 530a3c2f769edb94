/* BPE encoding as SentencePiece's bpe::Model::Encode does it: split the
 * normalized text into characters (user-defined pieces stay whole and
 * frozen), then repeatedly merge the adjacent pair whose merged piece has the
 * highest score (leftmost on ties), using a binary heap of candidate pairs
 * over a doubly linked list of symbols. Stale heap entries are skipped by the
 * same length check SentencePiece uses, so the merge order is identical.
 * Afterwards unused pieces are split back, and unknown pieces become byte
 * pieces (byte fallback) or are joined into one unknown token. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct sym {
    uint32_t start, len;   /* bytes of the normalized text */
    int32_t prev, next;    /* -1 at the ends */
    int32_t id;            /* piece id when known from a merge, else -1 */
    int32_t freeze;        /* a user-defined piece: never merged */
} sym;

typedef struct pair {
    uint64_t key;          /* score, then smaller left first: one integer compare */
    int32_t left, right;
    uint32_t size;         /* merged length, to detect stale entries */
    int32_t id;
} pair;

typedef struct rev_merge {  /* how an UNUSED piece was formed */
    uint32_t start, len, lstart, llen, rstart, rlen;
} rev_merge;

/* Per-buffer cache of word encodings (see split_words below). */
typedef struct cache_entry {
    uint32_t hash;
    uint32_t key;          /* offset of the word in keys; */
    uint32_t key_len;      /* 0 = empty slot */
    uint32_t ids;          /* offset in ids */
    uint32_t n_ids;
} cache_entry;

#define CACHE_MIN_SLOTS (1u << 8)   /* grows by doubling: a short-lived buffer stays cheap */
#define CACHE_MAX_SLOTS (1u << 16)
#define CACHE_MAX_WORD 64          /* longer words are not cached */
#define CACHE_MAX_BYTES (1u << 23) /* keys + ids; cleared when reached */

typedef struct word_cache {
    cache_entry *slots;    /* mask + 1 of them, or NULL */
    uint32_t mask, used;
    tok_sb keys;
    int32_t *ids;
    size_t n_ids, cap_ids;
} word_cache;

typedef struct work {
    tok_sb norm;
    const char *text;      /* the span being segmented; symbol offsets are relative to it */
    word_cache cache;
    sym *syms;
    size_t syms_cap;
    pair *heap;
    size_t heap_n, heap_cap;
    rev_merge *rev;
    size_t rev_n, rev_cap;
    uint32_t *stack;
    size_t stack_cap;
} work;

void sieve_tok_buf_free(sieve_tok_buf *b)
{
    if (!b)
        return;
    work *w = b->work;
    if (w) {
        free(w->norm.p);
        free(w->syms);
        free(w->heap);
        free(w->rev);
        free(w->stack);
        free(w->cache.slots);
        free(w->cache.keys.p);
        free(w->cache.ids);
        free(w);
    }
    free(b->ids);
    memset(b, 0, sizeof *b);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

/* a outranks b: higher score, then smaller left index */
static inline bool above(const pair *a, const pair *b)
{
    return a->key > b->key;
}

/* The heap key: the score's bits mapped so that unsigned order is float
 * order (negatives flipped), above the complement of the left index. -0.0
 * and 0.0 compare equal as floats: map both to one key. NaN scores sort
 * above everything; SentencePiece's order for them is unspecified anyway. */
static inline uint64_t pair_key(float score, int32_t left)
{
    uint32_t u;
    if (score == 0.0f)
        score = 0.0f;
    memcpy(&u, &score, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (uint64_t)u << 32 | (uint32_t)~(uint32_t)left;
}

static void sift_down(pair *h, size_t n, size_t i)
{
    pair x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && above(&h[c + 1], &h[c]))
            c++;
        if (!above(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(pair *h, size_t i)
{
    pair x = h[i];
    while (i) {
        size_t p = (i - 1) / 2;
        if (!above(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

/* MaybeAddNewSymbolPair: queue (left, right) when their concatenation is a
 * piece. heapify: append without ordering (the caller heapifies). */
static bool maybe_add(const sieve_tokenizer *tok, work *w, int32_t left, int32_t right,
                      bool heapify)
{
    if (left < 0 || right < 0)
        return true;
    const sym *l = &w->syms[left], *r = &w->syms[right];
    if (l->freeze || r->freeze)
        return true;
    const char *s = w->text + l->start;
    uint32_t n = l->len + r->len;
    int id = tok_map_find(tok, &tok->normal, s, n, tok_hash(s, n));
    if (id < 0)
        return true;
    if (!grow((void **)&w->heap, &w->heap_cap, w->heap_n + 1, sizeof *w->heap))
        return false;
    pair *p = &w->heap[w->heap_n++];
    p->key = pair_key(tok->pieces[id].score, left);
    p->left = left;
    p->right = right;
    p->size = n;
    p->id = id;
    if (!heapify)
        sift_up(w->heap, w->heap_n - 1);
    if (tok->pieces[id].type == SIEVE_PIECE_UNUSED) {
        if (!grow((void **)&w->rev, &w->rev_cap, w->rev_n + 1, sizeof *w->rev))
            return false;
        w->rev[w->rev_n++] = (rev_merge){l->start, n, l->start, l->len, r->start, r->len};
    }
    return true;
}

static bool emit(sieve_tok_buf *b, int32_t id)
{
    if (b->n == b->cap && !grow((void **)&b->ids, &b->cap, b->n + 1, sizeof *b->ids))
        return false;
    b->ids[b->n++] = id;
    return true;
}

/* Emits one final piece (text s[0..n)) with SentencePiece's post-processing;
 * *prev_unk tracks whether the previous piece was unknown (runs of unknown
 * pieces collapse into one token without byte fallback). */
static bool emit_piece(const sieve_tokenizer *tok, sieve_tok_buf *b, const char *s, size_t n,
                       int32_t id, bool *prev_unk)
{
    bool is_unk = id == tok->unk;
    if (is_unk && tok->byte_fallback) {
        for (size_t i = 0; i < n; i++)
            if (!emit(b, tok->byte_id[(unsigned char)s[i]]))
                return false;
    } else if (!(is_unk && *prev_unk)) {
        if (!emit(b, id))
            return false;
    }
    *prev_unk = is_unk;
    return true;
}

/* Resegment: an UNUSED piece is replaced by the two pieces it was last
 * formed from, recursively (explicit stack of start/len pairs). */
static bool resegment(const sieve_tokenizer *tok, work *w, sieve_tok_buf *b, uint32_t start,
                      uint32_t len, bool *prev_unk)
{
    size_t top = 0;
    if (!grow((void **)&w->stack, &w->stack_cap, 2, sizeof *w->stack))
        return false;
    w->stack[top++] = start;
    w->stack[top++] = len;
    while (top) {
        uint32_t l = w->stack[--top], s = w->stack[--top];
        const char *t = w->text + s;
        int id = tok_piece_to_id(tok, t, l);
        const rev_merge *rm = NULL;
        if (tok->pieces[id].type == SIEVE_PIECE_UNUSED)
            for (size_t i = w->rev_n; i-- > 0;)
                if (w->rev[i].len == l && memcmp(w->text + w->rev[i].start, t, l) == 0) {
                    rm = &w->rev[i];
                    break;
                }
        if (!rm) {
            if (!emit_piece(tok, b, t, l, id, prev_unk))
                return false;
            continue;
        }
        if (!grow((void **)&w->stack, &w->stack_cap, top + 4, sizeof *w->stack))
            return false;
        w->stack[top++] = rm->rstart;
        w->stack[top++] = rm->rlen;
        w->stack[top++] = rm->lstart;
        w->stack[top++] = rm->llen;
    }
    return true;
}

/* BPE over s[0..n): appends the ids to b. */
static bool bpe(const sieve_tokenizer *tok, work *w, const char *s, size_t n, sieve_tok_buf *b)
{
    w->text = s;
    w->heap_n = 0;
    w->rev_n = 0;
    if (!n)
        return true;
    /* split into characters (or whole user-defined pieces) */
    if (!grow((void **)&w->syms, &w->syms_cap, n, sizeof *w->syms))
        return false;
    sym *syms = w->syms;
    int32_t count = 0;
    for (size_t pos = 0; pos < n;) {
        size_t m = 0;
        int32_t freeze = 0;
        if (tok->max_user_len && (m = tok_user_match(tok, s + pos, n - pos)) > 0) {
            freeze = 1;
        } else {
            m = (size_t)tok_one_char_len((unsigned char)s[pos]);
            if (m > n - pos)
                m = n - pos;
        }
        syms[count] = (sym){(uint32_t)pos, (uint32_t)m, count - 1, count + 1, -1, freeze};
        count++;
        pos += m;
    }
    syms[count - 1].next = -1;
    for (int32_t i = 1; i < count; i++)
        if (!maybe_add(tok, w, i - 1, i, true))
            return false;
    for (size_t i = w->heap_n / 2; i-- > 0;)
        sift_down(w->heap, w->heap_n, i);

    while (w->heap_n) {
        pair top = w->heap[0];
        w->heap[0] = w->heap[--w->heap_n];
        if (w->heap_n)
            sift_down(w->heap, w->heap_n, 0);
        sym *l = &syms[top.left], *r = &syms[top.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != top.size)
            continue;   /* stale: one side changed since it was queued */
        l->len += r->len;
        l->id = top.id;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = top.left;
        r->len = 0;
        if (!maybe_add(tok, w, l->prev, top.left, false) ||
            !maybe_add(tok, w, top.left, l->next, false))
            return false;
    }

    bool prev_unk = false;
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        const sym *y = &syms[i];
        const char *t = s + y->start;
        int32_t id = y->id >= 0 ? tok->lookup_id[y->id] : tok_piece_to_id(tok, t, y->len);
        if (tok->has_unused && tok->pieces[id].type == SIEVE_PIECE_UNUSED) {
            if (!resegment(tok, w, b, y->start, y->len, &prev_unk))
                return false;
        } else if (!emit_piece(tok, b, t, y->len, id, &prev_unk)) {
            return false;
        }
    }
    return true;
}

/* ---- words ----
 * When no piece holds a `▁` right after another character (checked at load:
 * tok->split_words), no symbol can ever span the start of a `▁` that follows
 * another character, so BPE on each such word alone gives the same pieces as
 * BPE on the whole text. With byte fallback and no unused pieces nothing
 * else couples the words either, so each word's ids can be cached. */

static bool cache_alloc(word_cache *c, uint32_t slots)
{
    cache_entry *e = calloc(slots, sizeof *e);
    if (!e)
        return false;
    free(c->slots);
    c->slots = e;
    c->mask = slots - 1;
    c->used = 0;
    return true;
}

static void cache_clear(word_cache *c)
{
    memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
    c->used = 0;
    c->keys.n = 0;
    c->n_ids = 0;
}

static bool cache_grow(word_cache *c)
{
    cache_entry *old = c->slots;
    uint32_t n = c->mask + 1;
    c->slots = NULL;
    if (!cache_alloc(c, n * 2)) {
        c->slots = old;
        return false;
    }
    for (uint32_t k = 0; k < n; k++) {
        if (!old[k].key_len)
            continue;
        uint32_t i = old[k].hash & c->mask;
        while (c->slots[i].key_len)
            i = (i + 1) & c->mask;
        c->slots[i] = old[k];
        c->used++;
    }
    free(old);
    return true;
}

/* Appends the ids of word s[0..n), from the cache or by BPE. */
static bool encode_word(const sieve_tokenizer *tok, work *w, const char *s, size_t n,
                        sieve_tok_buf *b)
{
    if (n == 0)
        return true;
    if (n > CACHE_MAX_WORD)
        return bpe(tok, w, s, n, b);
    word_cache *c = &w->cache;
    if (!c->slots && !cache_alloc(c, CACHE_MIN_SLOTS))
        return false;
    uint32_t h = tok_hash(s, n);
    for (uint32_t i = h & c->mask; c->slots[i].key_len; i = (i + 1) & c->mask) {
        const cache_entry *e = &c->slots[i];
        if (e->hash == h && e->key_len == n && memcmp(c->keys.p + e->key, s, n) == 0) {
            if (!grow((void **)&b->ids, &b->cap, b->n + e->n_ids, sizeof *b->ids))
                return false;
            memcpy(b->ids + b->n, c->ids + e->ids, e->n_ids * sizeof *b->ids);
            b->n += e->n_ids;
            return true;
        }
    }
    size_t before = b->n;
    if (!bpe(tok, w, s, n, b))
        return false;
    size_t k = b->n - before;
    if ((c->used + 1) * 2 > c->mask + 1) {
        if (c->mask + 1 < CACHE_MAX_SLOTS) {
            if (!cache_grow(c))
                return false;
        } else {
            cache_clear(c);
        }
    }
    if (c->keys.n + n + (c->n_ids + k) * sizeof(int32_t) > CACHE_MAX_BYTES)
        cache_clear(c);
    if (!grow((void **)&c->ids, &c->cap_ids, c->n_ids + k, sizeof *c->ids))
        return false;
    uint32_t key = (uint32_t)c->keys.n;
    if (!tok_sb_put(&c->keys, s, n))
        return false;
    memcpy(c->ids + c->n_ids, b->ids + before, k * sizeof *c->ids);
    uint32_t i = h & c->mask;
    while (c->slots[i].key_len)
        i = (i + 1) & c->mask;
    c->slots[i] = (cache_entry){h, key, (uint32_t)n, (uint32_t)c->n_ids, (uint32_t)k};
    c->n_ids += k;
    c->used++;
    return true;
}

/* Splits s at each `▁` that follows another character, walking characters
 * exactly as bpe() splits them, and encodes word by word. */
static bool split_words(const sieve_tokenizer *tok, work *w, const char *s, size_t n,
                        sieve_tok_buf *b)
{
    size_t start = 0;
    bool prev_space = false;
    for (size_t pos = 0; pos < n;) {
        size_t m = (size_t)tok_one_char_len((unsigned char)s[pos]);
        if (m > n - pos)
            m = n - pos;
        bool space = m == TOK_SPACE_LEN && memcmp(s + pos, TOK_SPACE, TOK_SPACE_LEN) == 0;
        if (space && pos > start && !prev_space) {
            if (!encode_word(tok, w, s + start, pos - start, b))
                return false;
            start = pos;
        }
        prev_space = space;
        pos += m;
    }
    return encode_word(tok, w, s + start, n - start, b);
}

sieve_status sieve_tokenizer_encode(const sieve_tokenizer *tok, const char *text, size_t len,
                                    unsigned flags, sieve_tok_buf *b, sieve_err *err)
{
    b->n = 0;
    if (len > (size_t)INT32_MAX / 8)
        return sieve_fail(err, "text too long to encode (%zu bytes)", len);
    work *w = b->work;
    if (!w) {
        w = b->work = calloc(1, sizeof *w);
        if (!w)
            return sieve_fail(err, "out of memory");
    }
    if ((flags & SIEVE_TOK_BOS) && tok->bos_id >= 0 && !emit(b, tok->bos_id))
        goto oom;
    if (!tok_normalize(tok, text, len, &w->norm))
        goto oom;
    if (!(tok->split_words ? split_words(tok, w, w->norm.p, w->norm.n, b)
                           : bpe(tok, w, w->norm.p, w->norm.n, b)))
        goto oom;
    if ((flags & SIEVE_TOK_EOS) && tok->eos_id >= 0 && !emit(b, tok->eos_id))
        goto oom;
    return SIEVE_OK;
oom:
    b->n = 0;
    return sieve_fail(err, "out of memory while encoding %zu bytes", len);
}
