/* Internals of the llama library shared between its files (and its tests):
 * file helpers, the safetensors reader/writer, the decoder-layer steps that
 * inference and training share, and dtype conversion. */
#ifndef SIEVE_LLAMA_INTERNAL_H
#define SIEVE_LLAMA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sieve/llama.h"

/* ---- files (io_util.c) ---- */
/* Whole file, NUL-terminated; fails past max_bytes. Errors name the path. */
char *llama_read_file(const char *path, size_t max_bytes, size_t *len, sieve_err *err);
/* Writes data to path through "path.tmp.<pid>", fsync and rename(). */
sieve_status llama_write_atomic(const char *path, const void *data, size_t len,
                                sieve_err *err);
/* A file written through "path.tmp.<pid>" and renamed into place on close. */
typedef struct llama_writer {
    int fd;
    char *path, *tmp;
} llama_writer;
sieve_status llama_writer_open(llama_writer *w, const char *path, sieve_err *err);
sieve_status llama_writer_put(llama_writer *w, const void *data, size_t len, sieve_err *err);
/* st: the status so far. When it is SIEVE_OK, fsyncs and renames; otherwise
 * (or when that fails) removes the temporary file. Returns the final status. */
sieve_status llama_writer_close(llama_writer *w, sieve_status st, sieve_err *err);
/* "dir/name" in a fresh malloc'd string (NULL when out of memory). */
char *llama_join(const char *dir, const char *name);
int llama_file_exists(const char *path);
/* mkdir -p for one level; ok if it exists as a directory. */
sieve_status llama_mkdir(const char *dir, sieve_err *err);

/* ---- safetensors (safetensors.c) ---- */
typedef enum st_dtype {
    ST_F32, ST_BF16, ST_F16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_U16, ST_U32, ST_U64, ST_F8_E4M3, ST_F8_E5M2, ST_N_DTYPES
} st_dtype;
const char *st_dtype_name(st_dtype dt);

#define ST_MAX_RANK 8
#define ST_MAX_HEADER (100u << 20)   /* the format's own limit */

typedef struct st_entry {
    char *name;
    st_dtype dtype;
    int rank;
    int64_t shape[ST_MAX_RANK];
    uint64_t begin, end;             /* byte offsets into the data section */
} st_entry;

typedef struct st_file {
    char *path;
    void *map;                       /* the whole file, read-only mmap */
    size_t size;
    const uint8_t *data;             /* data section */
    size_t data_len;
    st_entry *ents;                  /* sorted by name */
    int n;
} st_file;

/* Parses and validates a whole safetensors image (8-byte little-endian header
 * size, JSON header, data): every entry's dtype known, shape sane, offsets
 * inside the data and matching the shape, no two tensors overlapping.
 * On success fills ents (sorted by name; free with st_entries_free), n and
 * the offset of the data section. `path` is for messages. */
sieve_status st_parse(const uint8_t *buf, size_t len, const char *path, st_entry **ents,
                      int *n, size_t *data_off, sieve_err *err);
void st_entries_free(st_entry *ents, int n);

sieve_status st_open(const char *path, st_file *f, sieve_err *err);
void st_close(st_file *f);
const st_entry *st_find(const st_file *f, const char *name);

/* One tensor to write: f32 source converted to dtype (ST_F32 or ST_BF16). */
typedef struct st_out {
    const char *name;
    int rank;
    const int64_t *shape;
    const float *data;
} st_out;
/* Writes tensors (sorted by name in the file) atomically to path. */
sieve_status st_write(const char *path, const st_out *t, int n, st_dtype dtype,
                      sieve_err *err);

/* ---- one decoder layer (forward.c; backward.c runs it too) ---- */
/* One layer's activations over the call's M = B*T rows. Inference
 * (forward.c) and training (backward.c) keep the same views; only where the
 * keys and values live differs. */
typedef struct llama_layer_acts {
    float *x_in;    /* [M,D]   residual stream entering the layer */
    float *ln1;     /* [M,D]   input_layernorm(x_in) */
    float *rstd1;   /* [M] */
    float *q;       /* [M,H*hd] queries after RoPE */
    float *k, *v;   /* keys (after RoPE) and values: inference, the layer's K/V
                       cache [B_cap,T_cap,KV,hd]; training, the call's [M,KV*hd] */
    float *att;     /* [M,H*hd] attention output before o_proj */
    float *lse;     /* [B,H,T] attention log-sum-exp */
    float *x_mid;   /* [M,D]   x_in + o_proj(att) */
    float *ln2;     /* [M,D]   post_attention_layernorm(x_mid) */
    float *rstd2;   /* [M] */
    float *gate;    /* [M,F]   gate_proj(ln2) */
    float *up;      /* [M,F]   up_proj(ln2) */
    float *act;     /* [M,F]   silu(gate) * up */
} llama_layer_acts;

/* What the steps around attention run on: one layer of one call. */
typedef struct llama_layer_call {
    const sieve_kernels *k;
    sieve_kctx *kc;
    const sieve_llama_config *c;
    const sieve_llama_layer_w *w;   /* this layer's weights */
    const llama_layer_acts *a;      /* this layer's activations */
    const int32_t *pos;             /* [M] positions, for RoPE */
    float *proj;                    /* [M,D] scratch: o_proj / down_proj output */
    int M;                          /* rows, B*T */
} llama_layer_call;

/* HF LlamaDecoderLayer is these two halves around attention, which each
 * caller runs itself (its own K/V and mask). Before: ln1, q and, into
 * kn/vn [M,KV*hd], the new keys and values, RoPE on q and the keys. After:
 * o_proj (+x_in) = x_mid, then ln2, gate/up, swiglu, down_proj (+x_mid)
 * into x_next [M,D]. */
void llama_layer_before_attention(const llama_layer_call *s, float *kn, float *vn);
void llama_layer_after_attention(const llama_layer_call *s, float *x_next);

/* ---- dtype conversion ---- */
static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest even, as torch's .to(torch.bfloat16); NaN stays NaN. */
static inline uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {                      /* subnormal: normalize */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
