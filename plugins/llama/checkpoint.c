/* HF checkpoint directories: load (config.json + model.safetensors or its
 * sharded index, any of F32/BF16/F16) and save (F32 or BF16, atomic files,
 * tokenizer files carried along). */
#include "sieve/llama.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llama_internal.h"

/* Shards of one checkpoint: file names (relative to dir) and open files. */
typedef struct {
    int n;
    char **names;
    st_file *files;
    json_t *weight_map;   /* index: tensor name -> file name; NULL when unsharded */
} shards;

static void shards_close(shards *s)
{
    for (int i = 0; i < s->n; i++) {
        st_close(&s->files[i]);
        free(s->names[i]);
    }
    free(s->names);
    free(s->files);
    json_decref(s->weight_map);
    memset(s, 0, sizeof *s);
}

static sieve_status shards_add(shards *s, const char *dir, const char *name, sieve_err *err)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) return SIEVE_OK;
    char **nn = realloc(s->names, (size_t)(s->n + 1) * sizeof *nn);
    if (nn) s->names = nn;
    st_file *nf = realloc(s->files, (size_t)(s->n + 1) * sizeof *nf);
    if (nf) s->files = nf;
    if (!nn || !nf) return sieve_fail(err, "%s: out of memory", dir);
    char *path = llama_join(dir, name);
    if (!path) return sieve_fail(err, "%s: out of memory", dir);
    sieve_status st = st_open(path, &s->files[s->n], err);
    free(path);
    if (st) return st;
    if (!(s->names[s->n] = strdup(name))) {
        st_close(&s->files[s->n]);
        return sieve_fail(err, "%s: out of memory", dir);
    }
    s->n++;
    return SIEVE_OK;
}

static sieve_status shards_open(shards *s, const char *dir, sieve_err *err)
{
    memset(s, 0, sizeof *s);
    char *index = llama_join(dir, "model.safetensors.index.json");
    if (!index) return sieve_fail(err, "%s: out of memory", dir);
    if (!llama_file_exists(index)) {
        free(index);
        char *single = llama_join(dir, "model.safetensors");
        int have = single && llama_file_exists(single);
        free(single);
        if (!have)
            return sieve_fail(err, "%s: no model.safetensors or model.safetensors.index.json",
                              dir);
        return shards_add(s, dir, "model.safetensors", err);
    }
    size_t len;
    char *text = llama_read_file(index, 64u << 20, &len, err);
    if (!text) { free(index); return SIEVE_ERR; }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    free(text);
    json_t *map = root ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(map)) {
        sieve_fail(err, "%s: %s", index, root ? "no 'weight_map' object" : jerr.text);
        json_decref(root);
        free(index);
        return SIEVE_ERR;
    }
    s->weight_map = json_incref(map);
    json_decref(root);
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        const char *f = json_string_value(v);
        if (!f || !*f || strchr(f, '/') || strcmp(f, "..") == 0 || strcmp(f, ".") == 0) {
            sieve_fail(err, "%s: weight_map['%s'] is not a file name in the directory", index,
                       key);
            free(index);
            shards_close(s);
            return SIEVE_ERR;
        }
        if (shards_add(s, dir, f, err)) {
            free(index);
            shards_close(s);
            return SIEVE_ERR;
        }
    }
    free(index);
    return SIEVE_OK;
}

/* The file that should hold a tensor (NULL: the index does not list it). */
static st_file *shard_for(shards *s, const char *name)
{
    if (!s->weight_map) return &s->files[0];
    const char *f = json_string_value(json_object_get(s->weight_map, name));
    for (int i = 0; f && i < s->n; i++)
        if (strcmp(s->names[i], f) == 0) return &s->files[i];
    return NULL;
}

static sieve_status load_tensor(shards *s, const char *dir, const sieve_llama_tensor *t,
                                float *dst, sieve_err *err)
{
    st_file *f = shard_for(s, t->name);
    if (!f) return sieve_fail(err, "%s/model.safetensors.index.json: tensor '%s' is missing",
                              dir, t->name);
    const st_entry *e = st_find(f, t->name);
    if (!e) return sieve_fail(err, "%s: tensor '%s' is missing", f->path, t->name);
    int ok = e->rank == t->rank;
    for (int i = 0; ok && i < t->rank; i++) ok = e->shape[i] == t->shape[i];
    if (!ok) {
        char got[128] = "", want[64];
        for (int i = 0; i < e->rank; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
                     (long long)e->shape[i]);
        if (t->rank == 1) snprintf(want, sizeof want, "%lld", (long long)t->shape[0]);
        else snprintf(want, sizeof want, "%lld,%lld", (long long)t->shape[0],
                      (long long)t->shape[1]);
        return sieve_fail(err, "%s: tensor '%s' has shape [%s] but config.json implies [%s]",
                          f->path, t->name, got, want);
    }
    const uint8_t *src = f->data + e->begin;
    switch (e->dtype) {
    case ST_F32:
        memcpy(dst, src, t->numel * sizeof *dst);
        break;
    case ST_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = bf16_to_f32(h);
        }
        break;
    case ST_F16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = f16_to_f32(h);
        }
        break;
    default:
        return sieve_fail(err, "%s: tensor '%s' has dtype %s; parameters must be F32, BF16 "
                          "or F16", f->path, t->name, st_dtype_name(e->dtype));
    }
    return SIEVE_OK;
}

/* Tensors the checkpoint may hold that the model does not use. */
static int ignorable(const sieve_llama_config *c, const char *name)
{
    size_t n = strlen(name), k = strlen("rotary_emb.inv_freq");
    if (n >= k && strcmp(name + n - k, "rotary_emb.inv_freq") == 0) return 1;
    return c->tie_embeddings && strcmp(name, "lm_head.weight") == 0;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const sieve_llama_tensor *)a)->name, ((const sieve_llama_tensor *)b)->name);
}

static sieve_status check_unexpected(shards *s, const sieve_llama_config *c,
                                     sieve_llama_tensor *sorted, int n, sieve_err *err)
{
    for (int f = 0; f < s->n; f++) {
        for (int i = 0; i < s->files[f].n; i++) {
            const char *name = s->files[f].ents[i].name;
            sieve_llama_tensor key;
            snprintf(key.name, sizeof key.name, "%s", name);
            if (strlen(name) < sizeof key.name &&
                bsearch(&key, sorted, (size_t)n, sizeof *sorted, cmp_tensor))
                continue;
            if (!ignorable(c, name))
                return sieve_fail(err, "%s: unexpected tensor '%s' (not in a LLaMA with this "
                                  "config.json)", s->files[f].path, name);
        }
    }
    return SIEVE_OK;
}

sieve_status sieve_llama_load(const char *dir, sieve_llama **out, sieve_err *err)
{
    *out = NULL;
    sieve_llama_config cfg;
    char *cpath = llama_join(dir, "config.json");
    if (!cpath) return sieve_fail(err, "%s: out of memory", dir);
    sieve_status st = sieve_llama_config_load(cpath, &cfg, err);
    free(cpath);
    if (st) return st;
    shards s;
    if (shards_open(&s, dir, err)) {
        shards_close(&s);   /* safe after a partial open, and after shards_open closed it */
        return SIEVE_ERR;
    }
    sieve_llama *m = NULL;
    int n = sieve_llama_tensors(&cfg, NULL, 0);
    sieve_llama_tensor *t = malloc((size_t)n * sizeof *t);
    if (!t) {
        shards_close(&s);
        return sieve_fail(err, "%s: out of memory", dir);
    }
    sieve_llama_tensors(&cfg, t, n);
    st = sieve_llama_new(&cfg, &m, err);
    for (int i = 0; !st && i < n; i++) st = load_tensor(&s, dir, &t[i], m->params + t[i].offset, err);
    if (!st) {
        qsort(t, (size_t)n, sizeof *t, cmp_tensor);
        st = check_unexpected(&s, &cfg, t, n, err);
    }
    if (!st && !(m->src_dir = strdup(dir))) st = sieve_fail(err, "%s: out of memory", dir);
    free(t);
    shards_close(&s);
    if (st) {
        sieve_llama_free(m);
        return st;
    }
    *out = m;
    return SIEVE_OK;
}

/* ---- save ---- */
static const char *const carried[] = {
    "tokenizer.model", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "generation_config.json",
};

static sieve_status carry_files(const char *from, const char *to, sieve_err *err)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (realpath(from, a) && realpath(to, b) && strcmp(a, b) == 0) return SIEVE_OK;
    for (int i = 0; i < (int)(sizeof carried / sizeof *carried); i++) {
        char *src = llama_join(from, carried[i]), *dst = llama_join(to, carried[i]);
        sieve_status st = SIEVE_OK;
        if (!src || !dst) {
            st = sieve_fail(err, "%s: out of memory", to);
        } else if (llama_file_exists(src)) {
            size_t len;
            char *data = llama_read_file(src, (size_t)1 << 30, &len, err);
            st = data ? llama_write_atomic(dst, data, len, err) : SIEVE_ERR;
            free(data);
        }
        free(src);
        free(dst);
        if (st) return st;
    }
    return SIEVE_OK;
}

sieve_status sieve_llama_save(const sieve_llama *m, const char *dir, sieve_dtype dtype,
                              sieve_err *err)
{
    if (dtype != SIEVE_F32 && dtype != SIEVE_BF16)
        return sieve_fail(err, "%s: checkpoints are written as f32 or bf16, not %s", dir,
                          sieve_dtype_name(dtype));
    if (llama_mkdir(dir, err)) return SIEVE_ERR;
    int n = sieve_llama_tensors(&m->cfg, NULL, 0);
    sieve_llama_tensor *t = malloc((size_t)n * sizeof *t);
    st_out *o = malloc((size_t)n * sizeof *o);
    char *path = llama_join(dir, "model.safetensors");
    char *index = llama_join(dir, "model.safetensors.index.json");
    char *cpath = llama_join(dir, "config.json");
    char *cjson = sieve_llama_config_to_json(&m->cfg, dtype);
    sieve_status st = SIEVE_OK;
    if (!t || !o || !path || !index || !cpath || !cjson) {
        st = sieve_fail(err, "%s: out of memory", dir);
        goto done;
    }
    sieve_llama_tensors(&m->cfg, t, n);
    for (int i = 0; i < n; i++)
        o[i] = (st_out){t[i].name, t[i].rank, t[i].shape, m->params + t[i].offset};
    st = st_write(path, o, n, dtype == SIEVE_BF16 ? ST_BF16 : ST_F32, err);
    /* A stale index from an earlier sharded checkpoint would win on load. */
    if (!st && llama_file_exists(index)) unlink(index);
    if (!st && m->src_dir) st = carry_files(m->src_dir, dir, err);
    if (!st) st = llama_write_atomic(cpath, cjson, strlen(cjson), err);
done:
    free(t);
    free(o);
    free(path);
    free(index);
    free(cpath);
    free(cjson);
    return st;
}
