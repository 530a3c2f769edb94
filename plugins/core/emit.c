/* Emitting buffered records in batches. */
#include "core.h"

sieve_status sieve_core_emit_moved(sieve_io *io, int port, sieve_record *recs, size_t n,
                                   size_t batch, sieve_err *err)
{
    for (size_t i = 0; i < n;) {
        size_t m = n - i < batch ? n - i : batch;
        sieve_batch *b = sieve_batch_new(m);
        if (!b)
            return sieve_fail(err, "out of memory");
        for (size_t k = 0; k < m; k++)
            sieve_batch_push(b, &recs[i + k]);
        i += m;
        sieve_status st = sieve_emit(io, port, b);
        if (st != SIEVE_OK)
            return st;
    }
    return SIEVE_OK;
}
