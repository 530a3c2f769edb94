/* A small test harness: named test functions, checks that report file:line
 * and keep going, and a summary; plus helpers for files and child processes. */
#ifndef SIEVE_TESTLIB_H
#define SIEVE_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

extern int sieve_test_failures;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    sieve_test_failures++; } } while (0)
#define CHECK_MSG(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); sieve_test_failures++; } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: required: %s\n", __FILE__, __LINE__, #cond); \
    sieve_test_failures++; return; } } while (0)

/* Runs fn, printing its name and whether it passed. */
#define RUN_TEST(fn) sieve_test_run(#fn, fn)
void sieve_test_run(const char *name, void (*fn)(void));
/* Prints the summary; returns the process exit status. */
int sieve_test_summary(void);

/* Uniform in [-1, 1): one fixed xorshift64 sequence per process, so a
 * failing test sees the same numbers when rerun. */
float sieve_test_frand(void);

/* Environment set by CMake for every test (abort with a message if unset). */
const char *sieve_test_env(const char *name);

/* Reads a whole file (NUL-terminated). NULL on failure. Caller frees. */
char *sieve_test_read_file(const char *path, size_t *len);
bool sieve_test_write_file(const char *path, const char *data, size_t len);
/* A fresh directory under /tmp. Caller frees the string. */
char *sieve_test_tmpdir(const char *tag);
/* Removes a directory from sieve_test_tmpdir with all it holds, unless a
 * check has failed (then it is kept and named on stderr, to look at). */
void sieve_test_tmpdir_done(const char *dir);

/* Runs `sh -c cmd` with stdin from stdin_data (may be NULL), capturing stdout
 * and stderr (caller frees). Returns the exit status, or -1. */
int sieve_test_run_cmd(const char *cmd, const char *stdin_data, size_t stdin_len,
                       char **out, char **err);

#endif
