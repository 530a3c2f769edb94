/* Training checkpoints: an HF directory (config.json, model.safetensors in
 * f32, so weights come back bit for bit) plus optim.bin (AdamW moments and
 * step) and meta.json (where the loop was). A checkpoint is written into a
 * fresh temporary directory and renamed into place, so a kill at any moment
 * leaves either the previous checkpoint or the new one, never half of one. */
#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPT_MAGIC "SIEVEOPT"
#define OPT_VERSION 1u

/* Removes a directory of plain files (a checkpoint); ok if missing. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static sieve_status write_all(int fd, const void *p, size_t n, const char *path, sieve_err *err)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return sieve_fail(err, "%s: write: %s", path, strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    return SIEVE_OK;
}

static sieve_status write_file(const char *path, const void *a, size_t na, const void *b,
                               size_t nb, const void *c, size_t nc, sieve_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return sieve_fail(err, "%s: %s", path, strerror(errno));
    sieve_status st = write_all(fd, a, na, path, err);
    if (!st && nb) st = write_all(fd, b, nb, path, err);
    if (!st && nc) st = write_all(fd, c, nc, path, err);
    if (!st && fsync(fd)) st = sieve_fail(err, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    return st;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

sieve_status trn_ckpt_save(const char *dir, const sieve_llama *m, const trn_optim *o,
                           const char *meta_json, sieve_err *err)
{
    char tmp[4096], old[4096], p[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    rm_dir(tmp);
    if (mkdir(tmp, 0755) && errno != EEXIST) return sieve_fail(err, "%s: %s", tmp, strerror(errno));
    if (sieve_llama_save(m, tmp, SIEVE_F32, err)) return SIEVE_ERR;
    size_t bytes = o->n * sizeof(float);
    float *mv = malloc(2 * bytes + 1);
    if (!mv) return sieve_fail(err, "train: out of memory");
    o->k->copy_to_host(o->kc, mv, o->m, bytes);
    o->k->copy_to_host(o->kc, mv + o->n, o->v, bytes);
    unsigned char head[32] = {0};
    uint32_t ver = OPT_VERSION;
    uint64_t n = o->n;
    int64_t step = o->step;
    memcpy(head, OPT_MAGIC, 8);
    memcpy(head + 8, &ver, 4);
    memcpy(head + 16, &n, 8);
    memcpy(head + 24, &step, 8);
    snprintf(p, sizeof p, "%s/optim.bin", tmp);
    sieve_status st = write_file(p, head, sizeof head, mv, 2 * bytes, NULL, 0, err);
    free(mv);
    if (st) return st;
    snprintf(p, sizeof p, "%s/meta.json", tmp);
    if (write_file(p, meta_json, strlen(meta_json), "\n", 1, NULL, 0, err)) return SIEVE_ERR;
    fsync_dir(tmp);
    /* dir -> dir.old, tmp -> dir, drop old: a reader finds dir, or else dir.old. */
    rm_dir(old);
    struct stat sb;
    if (!stat(dir, &sb) && rename(dir, old))
        return sieve_fail(err, "%s: rename: %s", dir, strerror(errno));
    if (rename(tmp, dir)) return sieve_fail(err, "%s: rename: %s", tmp, strerror(errno));
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = 0;
        fsync_dir(parent);
    }
    rm_dir(old);
    return SIEVE_OK;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b) b[n] = 0;
    if (len) *len = n;
    return b;
}

sieve_status trn_ckpt_load(const char *dir, sieve_llama *m, trn_optim *o, char **meta,
                           sieve_err *err)
{
    char use[4096], p[4200];
    struct stat sb;
    snprintf(use, sizeof use, "%s", dir);
    if (stat(use, &sb)) {   /* killed between the two renames: the old one is whole */
        snprintf(use, sizeof use, "%s.old", dir);
        if (stat(use, &sb)) return sieve_fail(err, "%s: no checkpoint", dir);
    }
    sieve_llama *c = NULL;
    if (sieve_llama_load(use, &c, err)) return SIEVE_ERR;
    if (c->n_params != m->n_params) {
        sieve_llama_free(c);
        return sieve_fail(err, "%s: checkpoint has %zu parameters, the model %zu", use,
                          c->n_params, m->n_params);
    }
    memcpy(m->params, c->params, m->n_params * sizeof(float));
    sieve_llama_free(c);
    snprintf(p, sizeof p, "%s/optim.bin", use);
    size_t len;
    char *b = read_all(p, &len);
    size_t bytes = o->n * sizeof(float);
    uint64_t n = 0;
    int64_t step = 0;
    if (b && len >= 32) {
        memcpy(&n, b + 16, 8);
        memcpy(&step, b + 24, 8);
    }
    if (!b || len != 32 + 2 * bytes || memcmp(b, OPT_MAGIC, 8) || n != o->n) {
        free(b);
        return sieve_fail(err, "%s: not an optimizer state for %zu parameters", p, o->n);
    }
    o->k->copy_to_device(o->kc, o->m, b + 32, bytes);
    o->k->copy_to_device(o->kc, o->v, b + 32 + bytes, bytes);
    o->step = step;
    free(b);
    snprintf(p, sizeof p, "%s/meta.json", use);
    *meta = read_all(p, NULL);
    if (!*meta) return sieve_fail(err, "%s: %s", p, strerror(errno));
    return SIEVE_OK;
}
