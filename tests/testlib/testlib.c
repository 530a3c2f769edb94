/* Test harness implementation (see testlib.h). */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int sieve_test_failures;
static int tests_run, tests_failed;

void sieve_test_run(const char *name, void (*fn)(void))
{
    int before = sieve_test_failures;
    fn();
    tests_run++;
    bool ok = sieve_test_failures == before;
    if (!ok)
        tests_failed++;
    fprintf(stderr, "%s %s\n", ok ? "ok  " : "FAIL", name);
}

int sieve_test_summary(void)
{
    fprintf(stderr, "%d passed, %d failed\n", tests_run - tests_failed, tests_failed);
    return tests_failed || (sieve_test_failures && !tests_run) ? 1 : 0;
}

const char *sieve_test_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set (run under ctest)\n", name);
        exit(2);
    }
    return v;
}

char *sieve_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

bool sieve_test_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

char *sieve_test_tmpdir(const char *tag)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/sieve-test-%s-XXXXXX", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

void sieve_test_tmpdir_done(const char *dir)
{
    if (!dir) return;
    if (sieve_test_failures) {
        fprintf(stderr, "kept %s\n", dir);
        return;
    }
    /* Depth first, without following links: a tree of plain files and dirs. */
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "cannot remove %s: %s\n", dir, strerror(errno));
}

/* Reads everything from fd into a malloc'd string. */
static char *slurp_fd(int fd)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    return buf;
}

int sieve_test_run_cmd(const char *cmd, const char *stdin_data, size_t stdin_len, char **out,
                       char **err)
{
    /* Files instead of pipes: no deadlock however much either side writes. */
    char in_path[] = "/tmp/sieve-in-XXXXXX", out_path[] = "/tmp/sieve-out-XXXXXX",
         err_path[] = "/tmp/sieve-err-XXXXXX";
    int in_fd = mkstemp(in_path), out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0)
        return -1;
    if (stdin_data && stdin_len && write(in_fd, stdin_data, stdin_len) != (ssize_t)stdin_len)
        return -1;
    lseek(in_fd, 0, SEEK_SET);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in_fd, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    lseek(out_fd, 0, SEEK_SET);
    lseek(err_fd, 0, SEEK_SET);
    char *o = slurp_fd(out_fd), *e = slurp_fd(err_fd);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    close(in_fd);
    close(out_fd);
    close(err_fd);
    unlink(in_path);
    unlink(out_path);
    unlink(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

float sieve_test_frand(void)
{
    static uint64_t state = 88172645463325252ull;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (float)((double)(state >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}
