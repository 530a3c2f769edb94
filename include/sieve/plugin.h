/* The plugin ABI: what a stage .so exports and what the runtime gives it.
 *
 * A plugin exports one symbol, sieve_plugin_entry(), returning a constant
 * descriptor. The runtime learns every stage, port and parameter from it;
 * nothing is registered by side effect. `sieve plugins` prints the same data.
 *
 * Lifecycle of a stage instance, each on the stage's own thread:
 *   create(params, ctx, &state, err)      once, after parameters are checked
 *   process(state, in, io, err)           per input item; in == NULL for sources,
 *                                         called until it returns SIEVE_EOS
 *   flush(state, io, err)                 once after every input ended (may emit)
 *   destroy(state)                        always, also after an error
 * A plugin never calls exit(), never writes to stdout, and logs through ctx. */
#ifndef SIEVE_PLUGIN_H
#define SIEVE_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "sieve/log.h"
#include "sieve/record.h"
#include "sieve/status.h"
#include "sieve/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIEVE_ABI_VERSION 1u
#define SIEVE_COUNTOF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Port types, as text: "records", "records(question,answer)" (the schema is
 * documentation: any records port connects to any other), "tensor(i32,2)",
 * "model" (a record batch holding one record {"model": "<HF directory>"}).
 * An input port may take alternatives, "records(query,response) | tensor(i32,2)":
 * it connects to a producer of either, and the stage sees in->batch or
 * in->tensor accordingly. */
typedef struct sieve_port_desc {
    const char *name;
    const char *type;
    const char *doc;
} sieve_port_desc;

typedef enum sieve_param_type {
    SIEVE_P_STRING, SIEVE_P_INT, SIEVE_P_FLOAT, SIEVE_P_BOOL,
    SIEVE_P_LIST  /* list of strings: YAML sequence, or one string */
} sieve_param_type;

typedef struct sieve_param_desc {
    const char *name;
    sieve_param_type type;
    const char *default_value; /* as YAML text; NULL means required */
    const char *doc;
} sieve_param_desc;

/* Parameters after checking: every declared one is present (given or default)
 * and parses as its type, so the getters cannot fail on declared names. */
typedef struct sieve_params sieve_params;
const char *sieve_param_str(const sieve_params *p, const char *name);
int64_t sieve_param_int(const sieve_params *p, const char *name);
double sieve_param_float(const sieve_params *p, const char *name);
bool sieve_param_bool(const sieve_params *p, const char *name);
/* Number of items; *items points at them (owned by p). */
int sieve_param_list(const sieve_params *p, const char *name, const char *const **items);
/* True when the user gave the value (not the default). */
bool sieve_param_given(const sieve_params *p, const char *name);

/* ---- the context a stage runs in ---- */
const char *sieve_ctx_stage(const sieve_ctx *ctx);     /* "sample" */
const char *sieve_ctx_pipeline(const sieve_ctx *ctx);  /* "rft-7b" */
/* The run directory ("runs/<pipeline>/<timestamp>"); "." under `sieve stage`. */
const char *sieve_ctx_run_dir(const sieve_ctx *ctx);
/* A private directory for this stage's resumable state, created on demand. */
sieve_status sieve_ctx_state_dir(sieve_ctx *ctx, char *out, size_t out_len, sieve_err *err);
/* True when this run continues an earlier one (`sieve run --resume`). */
bool sieve_ctx_resuming(const sieve_ctx *ctx);
/* True when a later `sieve run --resume` can continue this run (false under
 * `sieve stage`): worth keeping resumable state only then. */
bool sieve_ctx_resumable(const sieve_ctx *ctx);
/* True once another stage failed: long loops should check it and return
 * SIEVE_STOPPED. */
bool sieve_ctx_stopping(const sieve_ctx *ctx);
/* Expands "{run}" in a path parameter to the run directory. Caller frees. */
char *sieve_ctx_expand_path(const sieve_ctx *ctx, const char *path);
/* The kernel vtable of backend `name` ("cpu", "cuda"): found in the plugin
 * "kernels-<name>", loaded once per process. NULL and err set on failure. */
const void *sieve_ctx_kernels(sieve_ctx *ctx, const char *name, sieve_err *err);

/* ---- data in and out ---- */
typedef struct sieve_input {
    int port;              /* index of the input port */
    int producer;          /* which producer of that port (fan-in), in YAML order */
    sieve_batch *batch;    /* records ports: owned by the runtime, which frees it
                              after process() returns; records may be moved out */
    sieve_tensor *tensor;  /* tensor ports: likewise; move it out to keep it */
} sieve_input;

typedef struct sieve_io sieve_io;
/* Sends a batch on an output port; takes ownership even on failure. Blocks
 * while the consumer's ring is full. Returns SIEVE_STOPPED when the pipeline
 * is stopping: the stage should return that status. */
sieve_status sieve_emit(sieve_io *io, int out_port, sieve_batch *batch);
/* Same for tensors; the tensor is moved (t is left released). */
sieve_status sieve_emit_tensor(sieve_io *io, int out_port, sieve_tensor *t);

typedef enum sieve_stage_flags {
    SIEVE_STAGE_VARIADIC = 1u << 0  /* the last input port takes any number of producers */
} sieve_stage_flags;

typedef struct sieve_stage_desc {
    const char *name;
    const char *doc;                  /* one line */
    const sieve_port_desc *inputs;  int n_inputs;
    const sieve_port_desc *outputs; int n_outputs;
    const sieve_param_desc *params; int n_params;
    unsigned flags;
    sieve_status (*create)(const sieve_params *params, sieve_ctx *ctx, void **state,
                           sieve_err *err);
    sieve_status (*process)(void *state, const sieve_input *in, sieve_io *io, sieve_err *err);
    sieve_status (*flush)(void *state, sieve_io *io, sieve_err *err); /* may be NULL */
    void (*destroy)(void *state);                                     /* may be NULL */
} sieve_stage_desc;

typedef struct sieve_plugin_desc {
    uint32_t abi_version;             /* SIEVE_ABI_VERSION */
    const char *name;                 /* "gsm8k" */
    const char *version;              /* "0.1.0" */
    const sieve_stage_desc *stages; int n_stages;
    /* Kernel backends only ("kernels-cpu"): returns their vtable. */
    const void *(*kernels)(void);
} sieve_plugin_desc;

#define SIEVE_PLUGIN_ENTRY_SYMBOL "sieve_plugin_entry"
typedef const sieve_plugin_desc *(*sieve_plugin_entry_fn)(void);

/* Defines the plugin's one exported symbol for a static array of stages:
 *   SIEVE_PLUGIN_DEFINE("gsm8k", "0.1.0", stages)
 * (kernel backends fill a sieve_plugin_desc by hand, with `kernels`). */
#define SIEVE_PLUGIN_DEFINE(plugin_name, plugin_version, stage_array)                        \
    static const sieve_plugin_desc sieve_plugin_desc_ = {                                     \
        .abi_version = SIEVE_ABI_VERSION, .name = (plugin_name), .version = (plugin_version), \
        .stages = (stage_array), .n_stages = SIEVE_COUNTOF(stage_array)};                     \
    __attribute__((visibility("default"))) const sieve_plugin_desc *sieve_plugin_entry(void) \
    {                                                                                         \
        return &sieve_plugin_desc_;                                                           \
    }

#ifdef __cplusplus
}
#endif
#endif
