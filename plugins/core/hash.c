/* Seeded hashing for deterministic shuffles and splits. */
#include "core.h"

uint64_t sieve_core_hash(uint64_t seed, uint64_t x)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + x + 0x632be59bd9b4e019ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t sieve_core_hash_bytes(uint64_t seed, const void *data, size_t len)
{
    /* FNV-1a over the bytes, then mixed with the seed. */
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return sieve_core_hash(seed, h);
}
