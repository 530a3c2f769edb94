/* config.json: parsing (every field checked, errors name the field and file)
 * and writing (HF LlamaConfig keys in a fixed order, so saves are
 * byte-reproducible). */
#include "sieve/llama.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama_internal.h"

/* Limits far above any real LLaMA; they catch corrupt or hostile configs
 * before sizes overflow. */
#define MAX_DIM (1 << 16)
#define MAX_FFN (1 << 18)
#define MAX_LAYERS 1024
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 1024
#define MAX_VOCAB (1 << 22)
#define MAX_POS (1 << 24)
#define MAX_PARAMS ((size_t)1 << 37)   /* floats: 512 GiB */

/* Integer field: 1 present and set, 0 absent (or null), -1 error. */
static int get_int(json_t *root, const char *key, const char *path, long long lo,
                   long long hi, int *out, sieve_err *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9e15) {
        x = (long long)json_real_value(v);
    } else {
        sieve_fail(err, "%s: config field '%s' must be an integer", path, key);
        return -1;
    }
    if (x < lo || x > hi) {
        sieve_fail(err, "%s: config field '%s' = %lld is out of range [%lld, %lld]", path,
                   key, x, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 1;
}

static int get_real(json_t *root, const char *key, const char *path, double lo, double hi,
                    double *out, sieve_err *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) {
        sieve_fail(err, "%s: config field '%s' must be a number", path, key);
        return -1;
    }
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        sieve_fail(err, "%s: config field '%s' = %g is out of range [%g, %g]", path, key,
                   x, lo, hi);
        return -1;
    }
    *out = x;
    return 1;
}

static int require(int got, const char *key, const char *path, sieve_err *err)
{
    if (got == 0) sieve_fail(err, "%s: config field '%s' is missing", path, key);
    return got == 1 ? 0 : -1;
}

/* Fields whose other values change the architecture: refuse them rather
 * than compute something else. */
static int check_unsupported(json_t *root, const char *path, sieve_err *err)
{
    json_t *v = json_object_get(root, "model_type");
    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "llama") == 0)) {
        sieve_fail(err, "%s: config field 'model_type' must be \"llama\"", path);
        return -1;
    }
    v = json_object_get(root, "hidden_act");
    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "silu") == 0)) {
        sieve_fail(err, "%s: config field 'hidden_act' must be \"silu\"", path);
        return -1;
    }
    const char *no_bias[] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(root, no_bias[i]);
        if (v && !json_is_false(v) && !json_is_null(v)) {
            sieve_fail(err, "%s: config field '%s' must be false (biases are not supported)",
                       path, no_bias[i]);
            return -1;
        }
    }
    v = json_object_get(root, "rope_scaling");
    if (v && !json_is_null(v)) {
        sieve_fail(err, "%s: config field 'rope_scaling' is not supported (must be null)", path);
        return -1;
    }
    v = json_object_get(root, "tie_word_embeddings");
    if (v && !json_is_boolean(v)) {
        sieve_fail(err, "%s: config field 'tie_word_embeddings' must be true or false", path);
        return -1;
    }
    return 0;
}

sieve_status sieve_llama_config_parse(const char *json, size_t len, const char *path,
                                      sieve_llama_config *cfg, sieve_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return sieve_fail(err, "%s:%d: bad JSON: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sieve_fail(err, "%s: config must be a JSON object", path);
    }
    sieve_llama_config c = {0};
    c.max_pos = 2048;
    c.norm_eps = 1e-6;
    c.rope_theta = 10000.0;
    c.init_range = 0.02;
    c.bos_id = c.eos_id = c.pad_id = -1;
    int rc = 0, got;
    if (check_unsupported(root, path, err)) rc = -1;
    if (!rc) rc = require(get_int(root, "hidden_size", path, 1, MAX_DIM, &c.dim, err), "hidden_size", path, err);
    if (!rc) rc = require(get_int(root, "intermediate_size", path, 1, MAX_FFN, &c.ffn, err), "intermediate_size", path, err);
    if (!rc) rc = require(get_int(root, "num_hidden_layers", path, 1, MAX_LAYERS, &c.n_layers, err), "num_hidden_layers", path, err);
    if (!rc) rc = require(get_int(root, "num_attention_heads", path, 1, MAX_HEADS, &c.n_heads, err), "num_attention_heads", path, err);
    if (!rc) rc = require(get_int(root, "vocab_size", path, 1, MAX_VOCAB, &c.vocab, err), "vocab_size", path, err);
    if (!rc) {
        got = get_int(root, "num_key_value_heads", path, 1, MAX_HEADS, &c.n_kv_heads, err);
        if (got < 0) rc = -1;
        else if (got == 0) c.n_kv_heads = c.n_heads;
    }
    if (!rc) {
        got = get_int(root, "head_dim", path, 1, MAX_HEAD_DIM, &c.head_dim, err);
        if (got < 0) rc = -1;
        else if (got == 0) {
            if (c.dim % c.n_heads) {
                sieve_fail(err, "%s: config field 'hidden_size' = %d is not a multiple of "
                           "'num_attention_heads' = %d", path, c.dim, c.n_heads);
                rc = -1;
            }
            c.head_dim = c.dim / c.n_heads;
        }
    }
    if (!rc && get_int(root, "max_position_embeddings", path, 1, MAX_POS, &c.max_pos, err) < 0) rc = -1;
    if (!rc && get_real(root, "rms_norm_eps", path, 1e-30, 1.0, &c.norm_eps, err) < 0) rc = -1;
    if (!rc && get_real(root, "rope_theta", path, 1e-3, 1e12, &c.rope_theta, err) < 0) rc = -1;
    if (!rc && get_real(root, "initializer_range", path, 0.0, 10.0, &c.init_range, err) < 0) rc = -1;
    if (!rc && get_int(root, "bos_token_id", path, 0, MAX_VOCAB, &c.bos_id, err) < 0) rc = -1;
    if (!rc && get_int(root, "eos_token_id", path, 0, MAX_VOCAB, &c.eos_id, err) < 0) rc = -1;
    if (!rc && get_int(root, "pad_token_id", path, 0, MAX_VOCAB, &c.pad_id, err) < 0) rc = -1;
    if (!rc) c.tie_embeddings = json_is_true(json_object_get(root, "tie_word_embeddings"));
    json_decref(root);
    if (rc) return SIEVE_ERR;

    if (c.n_heads % c.n_kv_heads)
        return sieve_fail(err, "%s: config field 'num_key_value_heads' = %d does not divide "
                          "'num_attention_heads' = %d", path, c.n_kv_heads, c.n_heads);
    if (c.head_dim > MAX_HEAD_DIM)
        return sieve_fail(err, "%s: config fields 'hidden_size' / 'num_attention_heads' give "
                          "head_dim %d, more than %d", path, c.head_dim, MAX_HEAD_DIM);
    if (c.head_dim % 2)
        return sieve_fail(err, "%s: config field 'head_dim' = %d must be even (RoPE)", path,
                          c.head_dim);
    if (sieve_llama_n_params(&c) > MAX_PARAMS)
        return sieve_fail(err, "%s: config describes %zu parameters, more than supported",
                          path, sieve_llama_n_params(&c));
    *cfg = c;
    return SIEVE_OK;
}

sieve_status sieve_llama_config_load(const char *path, sieve_llama_config *cfg,
                                     sieve_err *err)
{
    size_t len;
    char *text = llama_read_file(path, 1 << 24, &len, err);
    if (!text) return SIEVE_ERR;
    sieve_status st = sieve_llama_config_parse(text, len, path, cfg, err);
    free(text);
    return st;
}

/* Shortest "%.Ng" that reads back as the same double, always with a '.' or
 * an exponent so Python reads a float. */
static void fmt_real(char *buf, size_t n, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", n - strlen(buf) - 1);
}

char *sieve_llama_config_to_json(const sieve_llama_config *c, sieve_dtype dtype)
{
    char eps[40], theta[40], range[40], ids[128] = "";
    fmt_real(eps, sizeof eps, c->norm_eps);
    fmt_real(theta, sizeof theta, c->rope_theta);
    fmt_real(range, sizeof range, c->init_range);
    size_t cap = 2048;
    char *out = malloc(cap);
    if (!out) return NULL;
    if (c->bos_id >= 0) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "  \"bos_token_id\": %d,\n", c->bos_id);
    if (c->eos_id >= 0) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "  \"eos_token_id\": %d,\n", c->eos_id);
    char pad[48] = "";
    if (c->pad_id >= 0) snprintf(pad, sizeof pad, "  \"pad_token_id\": %d,\n", c->pad_id);
    snprintf(out, cap,
             "{\n"
             "  \"architectures\": [\"LlamaForCausalLM\"],\n"
             "  \"attention_bias\": false,\n"
             "%s"
             "  \"head_dim\": %d,\n"
             "  \"hidden_act\": \"silu\",\n"
             "  \"hidden_size\": %d,\n"
             "  \"initializer_range\": %s,\n"
             "  \"intermediate_size\": %d,\n"
             "  \"max_position_embeddings\": %d,\n"
             "  \"mlp_bias\": false,\n"
             "  \"model_type\": \"llama\",\n"
             "  \"num_attention_heads\": %d,\n"
             "  \"num_hidden_layers\": %d,\n"
             "  \"num_key_value_heads\": %d,\n"
             "%s"
             "  \"rms_norm_eps\": %s,\n"
             "  \"rope_scaling\": null,\n"
             "  \"rope_theta\": %s,\n"
             "  \"tie_word_embeddings\": %s,\n"
             "  \"torch_dtype\": \"%s\",\n"
             "  \"vocab_size\": %d\n"
             "}\n",
             ids, c->head_dim, c->dim, range, c->ffn, c->max_pos, c->n_heads, c->n_layers,
             c->n_kv_heads, pad, eps, theta, c->tie_embeddings ? "true" : "false",
             dtype == SIEVE_BF16 ? "bfloat16" : dtype == SIEVE_F16 ? "float16" : "float32",
             c->vocab);
    return out;
}
