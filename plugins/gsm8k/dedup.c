/* One question's kept set under the paper's dedup rule: a path whose
 * equation-list key is new is appended; a path whose key is already kept
 * replaces that kept path when its summed edit distance to the other kept
 * paths is strictly larger (the "farthest" rule), in place. Pairwise
 * distances between kept paths are cached so each offer costs one distance
 * per other kept path. */
#include <stdlib.h>
#include <string.h>

#include "gsm8k.h"

typedef struct kept {
    char *key;
    size_t key_len;
    uint32_t *cps;          /* the text as code points */
    size_t n_cps;
    void *item;
    uint64_t sum;           /* summed distance to the other kept paths */
} kept;

struct sieve_dedup_group {
    kept *k;
    size_t n, cap;
    uint64_t *dist;         /* [cap][cap] pairwise distances */
    uint64_t *scratch;      /* [cap] distances of the offered path */
    sieve_lev_pattern *ws;  /* edit distance workspace, reused */
};

sieve_dedup_group *sieve_dedup_group_new(void)
{
    return calloc(1, sizeof(sieve_dedup_group));
}

static void drop_kept(kept *k, void (*free_item)(void *))
{
    free(k->key);
    free(k->cps);
    if (free_item && k->item)
        free_item(k->item);
}

void sieve_dedup_group_clear(sieve_dedup_group *g)
{
    for (size_t i = 0; i < g->n; i++)
        drop_kept(&g->k[i], NULL);
    g->n = 0;
}

void sieve_dedup_group_free(sieve_dedup_group *g, void (*free_item)(void *))
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        drop_kept(&g->k[i], free_item);
    free(g->k);
    free(g->dist);
    free(g->scratch);
    sieve_lev_pattern_free(g->ws);
    free(g);
}

size_t sieve_dedup_group_count(const sieve_dedup_group *g) { return g->n; }
void *sieve_dedup_group_item(const sieve_dedup_group *g, size_t i) { return g->k[i].item; }

static int grow(sieve_dedup_group *g)
{
    size_t cap = g->cap ? g->cap * 2 : 16;
    kept *k = realloc(g->k, cap * sizeof *k);
    if (!k)
        return -1;
    g->k = k;
    uint64_t *d = calloc(cap * cap, sizeof *d);
    uint64_t *s = malloc(cap * sizeof *s);
    if (!d || !s) {
        free(d);
        free(s);
        return -1;
    }
    for (size_t i = 0; i < g->n; i++)
        memcpy(d + i * cap, g->dist + i * g->cap, g->n * sizeof *d);
    free(g->dist);
    free(g->scratch);
    g->dist = d;
    g->scratch = s;
    g->cap = cap;
    return 0;
}

int sieve_dedup_group_offer(sieve_dedup_group *g, const char *key, size_t key_len,
                            const char *text, size_t text_len, void *item,
                            void (*free_item)(void *item), int *outcome)
{
    *outcome = 0;
    size_t j = g->n;
    for (size_t i = 0; i < g->n; i++)
        if (g->k[i].key_len == key_len && !memcmp(g->k[i].key, key, key_len)) {
            j = i;
            break;
        }
    bool is_new = j == g->n;
    if (!is_new && g->n == 1) {
        /* No other kept path: both sums are 0, never strictly larger. */
        if (free_item)
            free_item(item);
        return 0;
    }
    if (is_new && g->n == g->cap && grow(g) != 0)
        goto oom;
    uint32_t *cps = malloc((text_len ? text_len : 1) * sizeof *cps);
    if (!cps)
        goto oom;
    size_t n_cps = sieve_gsm8k_utf8_decode(text, text_len, cps);
    uint64_t total = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (i == j)
            continue;
        if (!g->ws && !(g->ws = sieve_lev_pattern_new(NULL, 0))) {
            free(cps);
            goto oom;
        }
        long d = sieve_lev_distance_ws(g->ws, cps, n_cps, g->k[i].cps, g->k[i].n_cps);
        if (d < 0) {
            free(cps);
            goto oom;
        }
        g->scratch[i] = (uint64_t)d;
        total += g->scratch[i];
    }
    if (is_new) {
        char *kc = malloc(key_len + 1);
        if (!kc) {
            free(cps);
            goto oom;
        }
        memcpy(kc, key, key_len);
        kc[key_len] = 0;
        for (size_t i = 0; i < g->n; i++) {
            g->dist[i * g->cap + j] = g->dist[j * g->cap + i] = g->scratch[i];
            g->k[i].sum += g->scratch[i];
        }
        g->dist[j * g->cap + j] = 0;
        g->k[j] = (kept){.key = kc, .key_len = key_len, .cps = cps, .n_cps = n_cps,
                         .item = item, .sum = total};
        g->n++;
        *outcome = 1;
        return 0;
    }
    if (total <= g->k[j].sum) {
        free(cps);
        if (free_item)
            free_item(item);
        return 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        if (i == j)
            continue;
        g->k[i].sum += g->scratch[i];
        g->k[i].sum -= g->dist[i * g->cap + j];
        g->dist[i * g->cap + j] = g->dist[j * g->cap + i] = g->scratch[i];
    }
    free(g->k[j].cps);
    if (free_item)
        free_item(g->k[j].item);
    g->k[j].cps = cps;
    g->k[j].n_cps = n_cps;
    g->k[j].item = item;
    g->k[j].sum = total;
    *outcome = 2;
    return 0;
oom:
    if (free_item)
        free_item(item);
    return -1;
}
