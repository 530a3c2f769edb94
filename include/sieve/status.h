/* Status codes and the error buffer every fallible sieve call fills. */
#ifndef SIEVE_STATUS_H
#define SIEVE_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sieve_status {
    SIEVE_OK = 0,
    SIEVE_ERR = 1,      /* failure; the message is in the sieve_err */
    SIEVE_EOS = 2,      /* a source stage has nothing more to emit */
    SIEVE_STOPPED = 3   /* the pipeline is stopping (another stage failed) */
} sieve_status;

/* A message buffer passed down by the caller. The runtime prefixes the
 * pipeline and stage names, so a plugin writes only what went wrong. */
typedef struct sieve_err {
    char msg[2048];
} sieve_err;

/* Formats into err (if non-NULL) and returns SIEVE_ERR, so a plugin can
 * write `return sieve_fail(err, "%s:%zu: bad json", path, line);`. */
sieve_status sieve_fail(sieve_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (adds context on the way up). */
void sieve_err_prefix(sieve_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
