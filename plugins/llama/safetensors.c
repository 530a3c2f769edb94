/* The safetensors format: an 8-byte little-endian header size N, N bytes of
 * JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {...}}, then the data section the offsets point into.
 * Reading validates everything against the file size before any tensor is
 * touched (a lying header gives an error naming the tensor, never a wild
 * read); writing sorts names and pads the header with spaces to 8 bytes. */
#include "llama_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *name; size_t size; } dtypes[ST_N_DTYPES] = {
    [ST_F32] = {"F32", 4},  [ST_BF16] = {"BF16", 2}, [ST_F16] = {"F16", 2},
    [ST_F64] = {"F64", 8},  [ST_I64] = {"I64", 8},   [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},  [ST_I8] = {"I8", 1},     [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_U16] = {"U16", 2},  [ST_U32] = {"U32", 4},
    [ST_U64] = {"U64", 8},  [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *st_dtype_name(st_dtype dt)
{
    return dt >= 0 && dt < ST_N_DTYPES ? dtypes[dt].name : "?";
}

void st_entries_free(st_entry *ents, int n)
{
    if (!ents) return;
    for (int i = 0; i < n; i++) free(ents[i].name);
    free(ents);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_begin(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* One header entry into e; the message names the tensor. */
static int parse_entry(const char *path, const char *name, json_t *v, size_t data_len,
                       st_entry *e, sieve_err *err)
{
    if (!json_is_object(v)) {
        sieve_fail(err, "%s: tensor '%s': header entry is not an object", path, name);
        return -1;
    }
    json_t *dt = json_object_get(v, "dtype");
    if (!json_is_string(dt)) {
        sieve_fail(err, "%s: tensor '%s': missing dtype", path, name);
        return -1;
    }
    e->dtype = ST_N_DTYPES;
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(json_string_value(dt), dtypes[i].name) == 0) e->dtype = (st_dtype)i;
    if (e->dtype == ST_N_DTYPES) {
        sieve_fail(err, "%s: tensor '%s': unknown dtype '%.32s'", path, name,
                   json_string_value(dt));
        return -1;
    }
    json_t *shape = json_object_get(v, "shape");
    if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_RANK) {
        sieve_fail(err, "%s: tensor '%s': shape must be an array of at most %d sizes", path,
                   name, ST_MAX_RANK);
        return -1;
    }
    e->rank = (int)json_array_size(shape);
    uint64_t numel = 1;
    for (int i = 0; i < e->rank; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 ||
            json_integer_value(d) > ((int64_t)1 << 40)) {
            sieve_fail(err, "%s: tensor '%s': bad size in shape", path, name);
            return -1;
        }
        e->shape[i] = json_integer_value(d);
        if (e->shape[i] && numel > (UINT64_MAX >> 8) / (uint64_t)e->shape[i]) {
            sieve_fail(err, "%s: tensor '%s': shape too large", path, name);
            return -1;
        }
        numel *= (uint64_t)e->shape[i];
    }
    json_t *off = json_object_get(v, "data_offsets");
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1))) {
        sieve_fail(err, "%s: tensor '%s': data_offsets must be [begin, end]", path, name);
        return -1;
    }
    json_int_t b = json_integer_value(json_array_get(off, 0));
    json_int_t en = json_integer_value(json_array_get(off, 1));
    if (b < 0 || en < b || (uint64_t)en > data_len) {
        sieve_fail(err, "%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu-byte "
                   "data section (truncated file or lying header)", path, name,
                   (long long)b, (long long)en, data_len);
        return -1;
    }
    if ((uint64_t)(en - b) != numel * dtypes[e->dtype].size) {
        sieve_fail(err, "%s: tensor '%s': data_offsets span %lld bytes but shape and dtype "
                   "%s need %llu", path, name, (long long)(en - b), dtypes[e->dtype].name,
                   (unsigned long long)(numel * dtypes[e->dtype].size));
        return -1;
    }
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    return 0;
}

sieve_status st_parse(const uint8_t *buf, size_t len, const char *path, st_entry **ents_out,
                      int *n_out, size_t *data_off, sieve_err *err)
{
    *ents_out = NULL;
    *n_out = 0;
    if (len < 8) return sieve_fail(err, "%s: truncated safetensors file (%zu bytes)", path, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > len - 8)
        return sieve_fail(err, "%s: header size %llu does not fit in the %zu-byte file "
                          "(truncated or not safetensors)", path, (unsigned long long)hlen, len);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return sieve_fail(err, "%s: bad header JSON: %s", path, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sieve_fail(err, "%s: header is not a JSON object", path);
    }
    size_t data_len = len - 8 - (size_t)hlen;
    size_t cap = json_object_size(root);
    st_entry *ents = calloc(cap ? cap : 1, sizeof *ents);
    if (!ents) {
        json_decref(root);
        return sieve_fail(err, "%s: out of memory", path);
    }
    int n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        if (parse_entry(path, key, v, data_len, &ents[n], err) ||
            !(ents[n].name = strdup(key))) {
            if (!ents[n].name && !err->msg[0]) sieve_fail(err, "%s: out of memory", path);
            st_entries_free(ents, n);
            json_decref(root);
            return SIEVE_ERR;
        }
        n++;
    }
    json_decref(root);
    /* No two tensors may share bytes. */
    st_entry **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) {
        st_entries_free(ents, n);
        return sieve_fail(err, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) order[i] = &ents[i];
    qsort(order, (size_t)n, sizeof *order, cmp_begin);
    for (int i = 1; i < n; i++) {
        if (order[i]->begin < order[i - 1]->end) {
            sieve_fail(err, "%s: tensor '%s' overlaps tensor '%s' (lying header offsets)",
                       path, order[i]->name, order[i - 1]->name);
            free(order);
            st_entries_free(ents, n);
            return SIEVE_ERR;
        }
    }
    free(order);
    qsort(ents, (size_t)n, sizeof *ents, cmp_name);
    *ents_out = ents;
    *n_out = n;
    *data_off = 8 + (size_t)hlen;
    return SIEVE_OK;
}

sieve_status st_open(const char *path, st_file *f, sieve_err *err)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sieve_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sieve_fail(err, "%s: not a regular file", path);
    }
    f->size = (size_t)st.st_size;
    if (f->size > 0) {
        f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            int e = errno;
            close(fd);
            return sieve_fail(err, "%s: cannot mmap: %s", path, strerror(e));
        }
    }
    close(fd);
    f->path = strdup(path);
    size_t off = 0;
    if (!f->path) {
        st_close(f);
        return sieve_fail(err, "%s: out of memory", path);
    }
    if (st_parse(f->map ? f->map : (const void *)"", f->size, path, &f->ents, &f->n, &off,
                 err)) {
        st_close(f);
        return SIEVE_ERR;
    }
    f->data = (const uint8_t *)f->map + off;
    f->data_len = f->size - off;
    return SIEVE_OK;
}

void st_close(st_file *f)
{
    if (f->map) munmap(f->map, f->size);
    st_entries_free(f->ents, f->n);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_entry *st_find(const st_file *f, const char *name)
{
    st_entry key = {.name = (char *)name};
    return bsearch(&key, f->ents, (size_t)f->n, sizeof *f->ents, cmp_name);
}

/* ---- writing ---- */
static int cmp_out(const void *a, const void *b)
{
    return strcmp((*(const st_out *const *)a)->name, (*(const st_out *const *)b)->name);
}

static size_t out_numel(const st_out *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->shape[i];
    return n;
}

sieve_status st_write(const char *path, const st_out *t, int n, st_dtype dtype,
                      sieve_err *err)
{
    if (dtype != ST_F32 && dtype != ST_BF16)
        return sieve_fail(err, "%s: can only write F32 or BF16", path);
    size_t esize = dtypes[dtype].size;
    const st_out **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    size_t hcap = 256 + (size_t)n * 256, hlen = 0;
    char *hdr = malloc(hcap);
    if (!order || !hdr) {
        free(order);
        free(hdr);
        return sieve_fail(err, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) order[i] = &t[i];
    qsort(order, (size_t)n, sizeof *order, cmp_out);
    hlen += (size_t)snprintf(hdr + hlen, hcap - hlen, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = out_numel(order[i]) * esize;
        hlen += (size_t)snprintf(hdr + hlen, hcap - hlen, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                 order[i]->name, dtypes[dtype].name);
        for (int d = 0; d < order[i]->rank; d++)
            hlen += (size_t)snprintf(hdr + hlen, hcap - hlen, "%s%lld", d ? "," : "",
                                     (long long)order[i]->shape[d]);
        hlen += (size_t)snprintf(hdr + hlen, hcap - hlen, "],\"data_offsets\":[%zu,%zu]}", off,
                                 off + bytes);
        off += bytes;
    }
    hlen += (size_t)snprintf(hdr + hlen, hcap - hlen, "}");
    while (hlen % 8) hdr[hlen++] = ' ';   /* data starts 8-aligned */
    /* Streamed through a bounded buffer: a 7B checkpoint never sits in
     * memory twice. */
    llama_writer wr;
    sieve_status st = llama_writer_open(&wr, path, err);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    if (!st) st = llama_writer_put(&wr, len8, 8, err);
    if (!st) st = llama_writer_put(&wr, hdr, hlen, err);
    uint16_t chunk[4096];
    for (int i = 0; i < n && !st; i++) {
        size_t ne = out_numel(order[i]);
        if (dtype == ST_F32) {
            /* x86-64 is little-endian, as the format */
            st = llama_writer_put(&wr, order[i]->data, ne * 4, err);
            continue;
        }
        for (size_t j = 0; j < ne && !st; j += 4096) {
            size_t m = ne - j < 4096 ? ne - j : 4096;
            for (size_t q = 0; q < m; q++) chunk[q] = f32_to_bf16(order[i]->data[j + q]);
            st = llama_writer_put(&wr, chunk, m * 2, err);
        }
    }
    st = llama_writer_close(&wr, st, err);
    free(order);
    free(hdr);
    return st;
}
