/* A small BPE trainer in SentencePiece's manner, for the demo's own
 * tokenizer: texts are normalized as LLaMA's model does (dummy prefix, `▁`
 * for spaces, no whitespace folding), split into words at each `▁` and
 * around digits (digits stay single pieces, as with split_digits), every
 * character becomes a piece, then the most frequent adjacent pair over the
 * distinct words (weighted by count) is merged, again and again. Ties go to
 * the pair whose merged text sorts first, so training is deterministic.
 * Earlier merges get higher scores, so encoding replays them in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define MAX_PIECE_CHARS 16   /* SentencePiece's max_sentencepiece_length */

typedef struct strtab {      /* interned strings -> dense ids */
    char **s;
    uint32_t *len;
    size_t n, cap;
    uint32_t *slots;         /* id + 1 */
    uint32_t mask;
} strtab;

static bool tab_grow(strtab *t)
{
    size_t n = (size_t)(t->mask + 1) * 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t h = tok_hash(t->s[i], t->len[i]) & (uint32_t)(n - 1);
        while (slots[h])
            h = (h + 1) & (uint32_t)(n - 1);
        slots[h] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = (uint32_t)(n - 1);
    return true;
}

/* Id of s, added when new (*added set). -1 on OOM. */
static long tab_intern(strtab *t, const char *s, size_t n, bool *added)
{
    if (added)
        *added = false;
    if (!t->slots) {
        t->slots = calloc(1024, sizeof *t->slots);
        if (!t->slots)
            return -1;
        t->mask = 1023;
    }
    uint32_t h = tok_hash(s, n) & t->mask;
    for (; t->slots[h]; h = (h + 1) & t->mask) {
        uint32_t id = t->slots[h] - 1;
        if (t->len[id] == n && memcmp(t->s[id], s, n) == 0)
            return id;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        char **ns = realloc(t->s, cap * sizeof *ns);
        if (!ns)
            return -1;
        t->s = ns;
        uint32_t *nl = realloc(t->len, cap * sizeof *nl);
        if (!nl)
            return -1;
        t->len = nl;
        t->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c)
        return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    t->s[t->n] = c;
    t->len[t->n] = (uint32_t)n;
    t->slots[h] = (uint32_t)t->n + 1;
    t->n++;
    if (added)
        *added = true;
    if (t->n * 2 > t->mask && !tab_grow(t))
        return -1;
    return (long)t->n - 1;
}

static void tab_free(strtab *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->len);
    free(t->slots);
}

typedef struct word {
    uint32_t *syms;   /* symbol ids */
    uint32_t n;
    uint64_t count;
} word;

typedef struct trainer {
    strtab words;         /* distinct words */
    uint64_t *wcount;
    size_t wcap;
    strtab syms;          /* symbols (pieces) */
    uint64_t *sym_freq;   /* character frequency, for ordering characters */
    uint32_t *sym_chars;  /* characters per symbol */
    size_t sym_cap;
} trainer;

static bool is_digit_char(const char *s, size_t n)
{
    return n == 1 && s[0] >= '0' && s[0] <= '9';
}

static bool add_word(trainer *tr, const char *s, size_t n)
{
    if (!n)
        return true;
    bool added;
    long id = tab_intern(&tr->words, s, n, &added);
    if (id < 0)
        return false;
    if ((size_t)id >= tr->wcap) {
        size_t cap = tr->wcap ? tr->wcap * 2 : 1024;
        uint64_t *p = realloc(tr->wcount, cap * sizeof *p);
        if (!p)
            return false;
        memset(p + tr->wcap, 0, (cap - tr->wcap) * sizeof *p);
        tr->wcount = p;
        tr->wcap = cap;
    }
    tr->wcount[id]++;
    return true;
}

/* Splits one normalized text into words: a word starts at each `▁`, and
 * each digit is a word of its own. */
static bool split_words(trainer *tr, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t pos = 0; pos < n;) {
        size_t l = (size_t)tok_one_char_len((unsigned char)s[pos]);
        if (l > n - pos)
            l = n - pos;
        bool space = l == TOK_SPACE_LEN && memcmp(s + pos, TOK_SPACE, TOK_SPACE_LEN) == 0;
        bool digit = is_digit_char(s + pos, l);
        if ((space || digit) && pos > start) {
            if (!add_word(tr, s + start, pos - start))
                return false;
            start = pos;
        }
        pos += l;
        if (digit) {
            if (!add_word(tr, s + start, pos - start))
                return false;
            start = pos;
        }
    }
    return add_word(tr, s + start, n - start);
}

static bool sym_meta(trainer *tr, long id, uint32_t chars)
{
    if ((size_t)id >= tr->sym_cap) {
        size_t cap = tr->sym_cap ? tr->sym_cap * 2 : 1024;
        uint64_t *f = realloc(tr->sym_freq, cap * sizeof *f);
        if (!f)
            return false;
        tr->sym_freq = f;
        uint32_t *c = realloc(tr->sym_chars, cap * sizeof *c);
        if (!c)
            return false;
        tr->sym_chars = c;
        memset(f + tr->sym_cap, 0, (cap - tr->sym_cap) * sizeof *f);
        tr->sym_cap = cap;
    }
    tr->sym_chars[id] = chars;
    return true;
}

/* Reserved texts a merged piece must not take: the special pieces and the
 * byte pieces' names. */
static bool reserved_text(const char *s, size_t n)
{
    if ((n == 5 && !memcmp(s, "<unk>", 5)) || (n == 3 && !memcmp(s, "<s>", 3)) ||
        (n == 4 && !memcmp(s, "</s>", 4)))
        return true;
    return n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>';
}

/* Adjacent-pair counts kept up to date as merges rewrite words, with the
 * words each pair occurs in (a list that may hold stale entries), so a merge
 * only revisits the words that hold the merged pair. */
typedef struct pair_slot {
    uint64_t key;        /* (a << 32 | b) + 1; 0 = empty */
    int64_t count;       /* weighted occurrences now */
    uint32_t *words;     /* words that held the pair at some point */
    uint32_t n_words, cap_words;
} pair_slot;

typedef struct pair_map {
    pair_slot *s;
    size_t cap, used;
} pair_map;

static inline size_t pm_home(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static bool pm_rehash(pair_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1 << 14;
    pair_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key)
            continue;
        size_t h = pm_home(m->s[i].key, cap);
        while (s[h].key)
            h = (h + 1) & (cap - 1);
        s[h] = m->s[i];
    }
    free(m->s);
    m->s = s;
    m->cap = cap;
    return true;
}

/* The slot of pair (a, b), created when absent. NULL on OOM. The pointer is
 * valid until the next call. */
static pair_slot *pm_get(pair_map *m, uint32_t a, uint32_t b)
{
    if ((m->used + 1) * 2 > m->cap && !pm_rehash(m))
        return NULL;
    uint64_t key = ((uint64_t)a << 32 | b) + 1;
    size_t h = pm_home(key, m->cap);
    while (m->s[h].key && m->s[h].key != key)
        h = (h + 1) & (m->cap - 1);
    if (!m->s[h].key) {
        m->s[h].key = key;
        m->used++;
    }
    return &m->s[h];
}

static void pm_free(pair_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->s[i].words);
    free(m->s);
}

/* Adds (sign 1) or removes (sign -1) the pairs of word wi; when adding, the
 * word joins each pair's word list. */
static bool pm_count_word(pair_map *m, const word *w, uint32_t wi, int sign)
{
    for (uint32_t k = 0; k + 1 < w->n; k++) {
        pair_slot *p = pm_get(m, w->syms[k], w->syms[k + 1]);
        if (!p)
            return false;
        p->count += sign * (int64_t)w->count;
        if (sign < 0 || (p->n_words && p->words[p->n_words - 1] == wi))
            continue;
        if (p->n_words == p->cap_words) {
            uint32_t cap = p->cap_words ? p->cap_words * 2 : 4;
            uint32_t *nw = realloc(p->words, cap * sizeof *nw);
            if (!nw)
                return false;
            p->words = nw;
            p->cap_words = cap;
        }
        p->words[p->n_words++] = wi;
    }
    return true;
}

sieve_status sieve_tokenizer_train_bpe(const char *const *texts, const size_t *lens, size_t n,
                                       int vocab_size, const char *path, sieve_err *err)
{
    trainer tr = {0};
    word *words = NULL;
    pair_map pm = {0};
    uint32_t *stamp = NULL;   /* last round that revisited each word */
    sieve_tok_piece_spec *spec = NULL;
    uint32_t *order = NULL, *merged = NULL;
    size_t n_merged = 0;
    sieve_status st = SIEVE_ERR;
    tok_sb norm = {0};
    const int fixed = 3 + 256;

    if (vocab_size <= fixed) {
        sieve_fail(err, "vocab_size %d is too small: 3 special and 256 byte pieces come first",
                   vocab_size);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!tok_sb_put(&norm, NULL, 0))
            goto oom;
        norm.n = 0;
        if (!lens[i])
            continue;
        /* LLaMA's normalizer: dummy prefix, spaces to ▁, no folding */
        if (!tok_sb_put(&norm, TOK_SPACE, TOK_SPACE_LEN))
            goto oom;
        const char *s = texts[i];
        for (size_t p = 0; p < lens[i];) {
            size_t l;
            if (s[p] == ' ') {
                if (!tok_sb_put(&norm, TOK_SPACE, TOK_SPACE_LEN))
                    goto oom;
                p++;
            } else if (tok_utf8_valid(s + p, lens[i] - p, &l)) {
                if (!tok_sb_put(&norm, s + p, l))
                    goto oom;
                p += l;
            } else {
                if (!tok_sb_put(&norm, TOK_REPLACEMENT, 3))
                    goto oom;
                p++;
            }
        }
        if (!split_words(&tr, norm.p, norm.n))
            goto oom;
    }
    /* words as character sequences; characters become the first symbols */
    size_t nw = tr.words.n;
    words = calloc(nw ? nw : 1, sizeof *words);
    if (!words)
        goto oom;
    for (size_t w = 0; w < nw; w++) {
        const char *s = tr.words.s[w];
        size_t len = tr.words.len[w];
        words[w].syms = malloc(len * sizeof *words[w].syms);
        if (!words[w].syms)
            goto oom;
        words[w].count = tr.wcount[w];
        for (size_t p = 0; p < len;) {
            size_t l = (size_t)tok_one_char_len((unsigned char)s[p]);
            if (l > len - p)
                l = len - p;
            long id = tab_intern(&tr.syms, s + p, l, NULL);
            if (id < 0 || !sym_meta(&tr, id, 1))
                goto oom;
            tr.sym_freq[id] += words[w].count;
            words[w].syms[words[w].n++] = (uint32_t)id;
            p += l;
        }
    }
    size_t n_chars = tr.syms.n;
    if ((size_t)vocab_size < fixed + n_chars) {
        sieve_fail(err, "vocab_size %d is too small: the texts have %zu distinct characters, "
                   "so at least %zu pieces are needed", vocab_size, n_chars, fixed + n_chars);
        goto done;
    }
    size_t want = (size_t)vocab_size - fixed - n_chars;
    merged = malloc((want ? want : 1) * sizeof *merged);
    stamp = calloc(nw ? nw : 1, sizeof *stamp);
    if (!merged || !stamp)
        goto oom;
    for (size_t w = 0; w < nw; w++)
        if (!pm_count_word(&pm, &words[w], (uint32_t)w, 1))
            goto oom;
    for (uint32_t round = 1; n_merged < want; round++) {
        /* the most frequent pair; ties to the smaller merged text */
        pair_slot *best = NULL;
        char tmp[2][4 * MAX_PIECE_CHARS * 2];   /* pieces are at most 16 characters */
        for (size_t h = 0; h < pm.cap; h++) {
            pair_slot *p = &pm.s[h];
            if (!p->key || p->count < 2 || (best && p->count < best->count))
                continue;
            uint32_t a = (uint32_t)((p->key - 1) >> 32), b = (uint32_t)(p->key - 1);
            if (tr.sym_chars[a] + tr.sym_chars[b] > MAX_PIECE_CHARS)
                continue;
            size_t la = tr.syms.len[a], lb = tr.syms.len[b];
            memcpy(tmp[0], tr.syms.s[a], la);
            memcpy(tmp[0] + la, tr.syms.s[b], lb);
            if (reserved_text(tmp[0], la + lb))
                continue;
            if (best && p->count == best->count) {
                uint32_t ba = (uint32_t)((best->key - 1) >> 32), bb = (uint32_t)(best->key - 1);
                size_t lba = tr.syms.len[ba], lbb = tr.syms.len[bb];
                memcpy(tmp[1], tr.syms.s[ba], lba);
                memcpy(tmp[1] + lba, tr.syms.s[bb], lbb);
                size_t m = la + lb < lba + lbb ? la + lb : lba + lbb;
                int c = memcmp(tmp[0], tmp[1], m);
                if (c > 0 || (c == 0 && la + lb >= lba + lbb))
                    continue;
            }
            best = p;
        }
        if (!best)
            break;   /* no pair occurs twice: the vocabulary stays smaller */
        uint32_t a = (uint32_t)((best->key - 1) >> 32), b = (uint32_t)(best->key - 1);
        size_t la = tr.syms.len[a], lb = tr.syms.len[b];
        memcpy(tmp[0], tr.syms.s[a], la);
        memcpy(tmp[0] + la, tr.syms.s[b], lb);
        bool added;
        long id = tab_intern(&tr.syms, tmp[0], la + lb, &added);
        if (id < 0 || (added && !sym_meta(&tr, id, tr.sym_chars[a] + tr.sym_chars[b])))
            goto oom;
        if (added)   /* else the text was formed another way before: no new piece */
            merged[n_merged++] = (uint32_t)id;
        /* take the word list: the map may move while words are recounted */
        uint32_t *list = best->words, n_list = best->n_words;
        best->words = NULL;
        best->n_words = best->cap_words = 0;
        for (uint32_t i = 0; i < n_list; i++) {
            uint32_t wi = list[i];
            word *w = &words[wi];
            if (stamp[wi] == round)
                continue;
            stamp[wi] = round;
            bool has = false;
            for (uint32_t k = 0; !has && k + 1 < w->n; k++)
                has = w->syms[k] == a && w->syms[k + 1] == b;
            if (!has)
                continue;   /* a stale entry */
            if (!pm_count_word(&pm, w, wi, -1)) {
                free(list);
                goto oom;
            }
            uint32_t *y = w->syms, m = 0;   /* replace the pair, left to right */
            for (uint32_t k = 0; k < w->n; k++) {
                if (k + 1 < w->n && y[k] == a && y[k + 1] == b) {
                    y[m++] = (uint32_t)id;
                    k++;
                } else {
                    y[m++] = y[k];
                }
            }
            w->n = m;
            if (!pm_count_word(&pm, w, wi, 1)) {
                free(list);
                goto oom;
            }
        }
        free(list);
    }
    /* characters ordered by frequency (then text) after the merges */
    order = malloc((n_chars ? n_chars : 1) * sizeof *order);
    spec = calloc((size_t)fixed + n_merged + n_chars, sizeof *spec);
    if (!order || !spec)
        goto oom;
    for (size_t i = 0; i < n_chars; i++)
        order[i] = (uint32_t)i;
    for (size_t i = 1; i < n_chars; i++) {   /* insertion sort: few characters */
        uint32_t x = order[i];
        size_t j = i;
        while (j > 0) {
            uint32_t y = order[j - 1];
            bool before = tr.sym_freq[x] > tr.sym_freq[y] ||
                          (tr.sym_freq[x] == tr.sym_freq[y] && strcmp(tr.syms.s[x], tr.syms.s[y]) < 0);
            if (!before)
                break;
            order[j] = y;
            j--;
        }
        order[j] = x;
    }
    int k = 0;
    spec[k++] = (sieve_tok_piece_spec){"<unk>", 0.0f, SIEVE_PIECE_UNKNOWN};
    spec[k++] = (sieve_tok_piece_spec){"<s>", 0.0f, SIEVE_PIECE_CONTROL};
    spec[k++] = (sieve_tok_piece_spec){"</s>", 0.0f, SIEVE_PIECE_CONTROL};
    char (*names)[7] = malloc(256 * sizeof *names);
    if (!names)
        goto oom;
    for (int b = 0; b < 256; b++) {
        snprintf(names[b], sizeof names[b], "<0x%02X>", b);
        spec[k++] = (sieve_tok_piece_spec){names[b], 0.0f, SIEVE_PIECE_BYTE};
    }
    float score = 0.0f;
    for (size_t i = 0; i < n_merged; i++) {
        score -= 1.0f;
        spec[k++] = (sieve_tok_piece_spec){tr.syms.s[merged[i]], score, SIEVE_PIECE_NORMAL};
    }
    for (size_t i = 0; i < n_chars; i++) {
        score -= 1.0f;
        spec[k++] = (sieve_tok_piece_spec){tr.syms.s[order[i]], score, SIEVE_PIECE_NORMAL};
    }
    sieve_tok_model_spec ms = {
        .pieces = spec, .n_pieces = k, .byte_fallback = true, .add_dummy_prefix = true,
        .remove_extra_whitespaces = false, .unk_id = 0, .bos_id = 1, .eos_id = 2, .pad_id = -1,
    };
    st = sieve_tokenizer_write_model(path, &ms, err);
    free(names);
    goto done;
oom:
    st = sieve_fail(err, "out of memory while training the tokenizer");
done:
    if (words)
        for (size_t w = 0; w < tr.words.n; w++)
            free(words[w].syms);
    free(words);
    pm_free(&pm);
    free(stamp);
    free(spec);
    free(order);
    free(merged);
    free(norm.p);
    free(tr.wcount);
    free(tr.sym_freq);
    free(tr.sym_chars);
    tab_free(&tr.words);
    tab_free(&tr.syms);
    return st;
}
