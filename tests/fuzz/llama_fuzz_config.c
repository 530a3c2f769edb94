/* Fuzz target: the config.json parser (plugins/llama/config.c). What it
 * accepts must be a sane config whose parameter count does not overflow, and
 * must survive a write -> parse round trip unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/llama.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sieve_llama_config c, c2;
    sieve_err err = {{0}};
    if (sieve_llama_config_parse((const char *)data, size, "fuzz.json", &c, &err) != SIEVE_OK) {
        if (!err.msg[0]) abort();
        return 0;
    }
    if (c.dim < 1 || c.n_heads < 1 || c.n_kv_heads < 1 || c.n_heads % c.n_kv_heads ||
        c.head_dim % 2 || c.vocab < 1 || c.n_layers < 1)
        abort();
    size_t np = sieve_llama_n_params(&c);
    if (np == 0) abort();
    char *json = sieve_llama_config_to_json(&c, SIEVE_F32);
    if (!json) return 0;
    if (sieve_llama_config_parse(json, strlen(json), "roundtrip.json", &c2, &err) != SIEVE_OK ||
        memcmp(&c, &c2, sizeof c) != 0)
        abort();
    free(json);
    return 0;
}
