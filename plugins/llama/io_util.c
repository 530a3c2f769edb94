/* Small file helpers for the llama library: bounded reads, atomic writes. */
#include "llama_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *llama_read_file(const char *path, size_t max_bytes, size_t *len, sieve_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sieve_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > max_bytes) {
                sieve_fail(err, "%s: larger than %zu bytes", path, max_bytes);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        sieve_fail(err, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        sieve_fail(err, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

sieve_status llama_writer_open(llama_writer *w, const char *path, sieve_err *err)
{
    w->fd = -1;
    w->path = strdup(path);
    w->tmp = malloc(strlen(path) + 32);
    if (!w->path || !w->tmp) {
        free(w->path);
        free(w->tmp);
        w->path = w->tmp = NULL;
        return sieve_fail(err, "%s: out of memory", path);
    }
    sprintf(w->tmp, "%s.tmp.%ld", path, (long)getpid());
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) return sieve_fail(err, "%s: cannot create: %s", w->tmp, strerror(errno));
    return SIEVE_OK;
}

sieve_status llama_writer_put(llama_writer *w, const void *data, size_t len, sieve_err *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return sieve_fail(err, "%s: write failed: %s", w->tmp, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return SIEVE_OK;
}

sieve_status llama_writer_close(llama_writer *w, sieve_status st, sieve_err *err)
{
    if (w->fd >= 0) {
        if (!st && fsync(w->fd) != 0)
            st = sieve_fail(err, "%s: cannot flush: %s", w->tmp, strerror(errno));
        if (close(w->fd) != 0 && !st)
            st = sieve_fail(err, "%s: cannot close: %s", w->tmp, strerror(errno));
        if (!st && rename(w->tmp, w->path) != 0)
            st = sieve_fail(err, "%s: cannot rename into place: %s", w->path, strerror(errno));
        if (st) unlink(w->tmp);
    }
    free(w->path);
    free(w->tmp);
    w->fd = -1;
    w->path = w->tmp = NULL;
    return st;
}

sieve_status llama_write_atomic(const char *path, const void *data, size_t len,
                                sieve_err *err)
{
    llama_writer w;
    sieve_status st = llama_writer_open(&w, path, err);
    if (!st) st = llama_writer_put(&w, data, len, err);
    return llama_writer_close(&w, st, err);
}

char *llama_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

int llama_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

sieve_status llama_mkdir(const char *dir, sieve_err *err)
{
    if (mkdir(dir, 0755) == 0) return SIEVE_OK;
    struct stat st;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return SIEVE_OK;
    return sieve_fail(err, "%s: cannot create directory: %s", dir, strerror(errno));
}
