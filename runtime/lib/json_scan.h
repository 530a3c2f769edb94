/* Finding the next byte a JSON string cannot hold as is ('"', '\\', a control
 * character; and, for the reader, a non-ASCII byte), eight bytes at a time
 * (SWAR), for both directions of the record codec. */
#ifndef SIEVE_JSON_SCAN_H
#define SIEVE_JSON_SCAN_H

#include <stdint.h>
#include <string.h>

#define SIEVE_ONES 0x0101010101010101ull
#define SIEVE_HIGHS 0x8080808080808080ull

/* Non-zero when some byte of x is zero. */
static inline uint64_t sieve_swar_zero(uint64_t x) { return (x - SIEVE_ONES) & ~x & SIEVE_HIGHS; }

/* Index of the first byte in [s, end) that is '"', '\\' or < 0x20, or >= 0x80
 * when stop_high is set; end - s when none is. */
static inline size_t sieve_json_plain_run(const unsigned char *s, const unsigned char *end, int stop_high)
{
    const unsigned char *p = s;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t hit = sieve_swar_zero(x ^ (SIEVE_ONES * '"')) | sieve_swar_zero(x ^ (SIEVE_ONES * '\\')) |
                       ((x - SIEVE_ONES * 0x20) & ~x & SIEVE_HIGHS);
        if (stop_high)
            hit |= x & SIEVE_HIGHS;
        if (hit)
            break;
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && (!stop_high || *p < 0x80))
        p++;
    return (size_t)(p - s);
}

#endif
