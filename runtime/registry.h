/* Plugin discovery: every .so in the plugin path, loaded once, with its stages. */
#ifndef SIEVE_REGISTRY_H
#define SIEVE_REGISTRY_H

#include "sieve/sieve.h"

typedef struct sieve_loaded_plugin {
    char *path;
    void *handle;
    const sieve_plugin_desc *desc;
} sieve_loaded_plugin;

typedef struct sieve_registry {
    sieve_loaded_plugin *plugins;
    int n_plugins;
    char **search_dirs;
    int n_dirs;
} sieve_registry;

/* Loads every plugin found in $SIEVE_PLUGIN_PATH (colon-separated), the build
 * tree's plugin folder and the install prefix's. A plugin that fails to load
 * or has the wrong ABI version is an error naming the file (and the registry
 * is left empty). */
sieve_status sieve_registry_load(sieve_registry *reg, sieve_err *err);
void sieve_registry_free(sieve_registry *reg);

/* The stage of that name, or NULL; *plugin_out (may be NULL) gets its plugin. */
const sieve_stage_desc *sieve_registry_find(const sieve_registry *reg, const char *stage,
                                            const sieve_loaded_plugin **plugin_out);
/* "a, b, c": every stage name, for error messages. Caller frees. */
char *sieve_registry_stage_list(const sieve_registry *reg);
/* Closest stage name to a misspelt one, or NULL. */
const char *sieve_registry_closest(const sieve_registry *reg, const char *stage);
/* The kernel vtable exported by plugin "kernels-<name>". */
const void *sieve_registry_kernels(const sieve_registry *reg, const char *name, sieve_err *err);

#endif
