/* Plugin discovery and loading (dlopen), with the ABI version check. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "registry.h"

static int add_dir(sieve_registry *reg, const char *dir)
{
    struct stat st;
    if (!*dir || stat(dir, &st) || !S_ISDIR(st.st_mode))
        return 0;
    char *real = realpath(dir, NULL);
    if (!real)
        return 0;
    for (int i = 0; i < reg->n_dirs; i++)
        if (strcmp(reg->search_dirs[i], real) == 0) {
            free(real);
            return 0;
        }
    char **nd = realloc(reg->search_dirs, (size_t)(reg->n_dirs + 1) * sizeof *nd);
    if (!nd) {
        free(real);
        return -1;
    }
    reg->search_dirs = nd;
    reg->search_dirs[reg->n_dirs++] = real;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sieve_status load_one(sieve_registry *reg, const char *path, sieve_err *err)
{
    for (int i = 0; i < reg->n_plugins; i++) {
        const char *a = strrchr(reg->plugins[i].path, '/'), *b = strrchr(path, '/');
        if (strcmp(a ? a : reg->plugins[i].path, b ? b : path) == 0)
            return SIEVE_OK; /* an earlier directory already provided this file name */
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return sieve_fail(err, "cannot load plugin %s: %s", path, dlerror());
    sieve_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, SIEVE_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        dlclose(h);
        return SIEVE_OK; /* not a sieve plugin (a helper library): skip it */
    }
    const sieve_plugin_desc *desc = entry();
    if (!desc || desc->abi_version != SIEVE_ABI_VERSION) {
        unsigned got = desc ? desc->abi_version : 0;
        dlclose(h);
        return sieve_fail(err, "plugin %s was built for sieve ABI version %u, but this runtime "
                               "has ABI version %u: rebuild the plugin against these headers",
                          path, got, SIEVE_ABI_VERSION);
    }
    sieve_loaded_plugin *np = realloc(reg->plugins, (size_t)(reg->n_plugins + 1) * sizeof *np);
    if (!np) {
        dlclose(h);
        return sieve_fail(err, "out of memory");
    }
    reg->plugins = np;
    reg->plugins[reg->n_plugins++] = (sieve_loaded_plugin){strdup(path), h, desc};
    for (int s = 0; s < desc->n_stages; s++) {
        const sieve_loaded_plugin *other;
        if (sieve_registry_find(reg, desc->stages[s].name, &other) && other != &reg->plugins[reg->n_plugins - 1] &&
            other->desc != desc)
            return sieve_fail(err, "stage '%s' is defined by both %s and %s", desc->stages[s].name,
                              other->path, path);
    }
    return SIEVE_OK;
}

static sieve_status scan_dir(sieve_registry *reg, const char *dir, sieve_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return SIEVE_OK;
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
        if (!nn)
            break;
        names = nn;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str); /* deterministic load order */
    sieve_status st = SIEVE_OK;
    for (int i = 0; i < n; i++) {
        if (st == SIEVE_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            st = load_one(reg, path, err);
        }
        free(names[i]);
    }
    free(names);
    return st;
}

sieve_status sieve_registry_load(sieve_registry *reg, sieve_err *err)
{
    memset(reg, 0, sizeof *reg);
    const char *env = getenv("SIEVE_PLUGIN_PATH");
    if (env) {
        char *copy = strdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
            add_dir(reg, tok);
        free(copy);
    }
    add_dir(reg, SIEVE_BUILD_PLUGIN_DIR);
    add_dir(reg, SIEVE_INSTALL_PLUGIN_DIR);
    for (int i = 0; i < reg->n_dirs; i++)
        if (scan_dir(reg, reg->search_dirs[i], err) != SIEVE_OK) {
            sieve_registry_free(reg); /* a failed load leaves nothing to free */
            return SIEVE_ERR;
        }
    return SIEVE_OK;
}

void sieve_registry_free(sieve_registry *reg)
{
    /* Handles stay open: plugin code may still be referenced by atexit or
     * thread-local destructors; the process is ending anyway. */
    for (int i = 0; i < reg->n_plugins; i++)
        free(reg->plugins[i].path);
    free(reg->plugins);
    for (int i = 0; i < reg->n_dirs; i++)
        free(reg->search_dirs[i]);
    free(reg->search_dirs);
    memset(reg, 0, sizeof *reg);
}

const sieve_stage_desc *sieve_registry_find(const sieve_registry *reg, const char *stage,
                                            const sieve_loaded_plugin **plugin_out)
{
    for (int p = 0; p < reg->n_plugins; p++)
        for (int s = 0; s < reg->plugins[p].desc->n_stages; s++)
            if (strcmp(reg->plugins[p].desc->stages[s].name, stage) == 0) {
                if (plugin_out)
                    *plugin_out = &reg->plugins[p];
                return &reg->plugins[p].desc->stages[s];
            }
    return NULL;
}

char *sieve_registry_stage_list(const sieve_registry *reg)
{
    size_t cap = 16;
    for (int p = 0; p < reg->n_plugins; p++)
        for (int s = 0; s < reg->plugins[p].desc->n_stages; s++)
            cap += strlen(reg->plugins[p].desc->stages[s].name) + 2;
    char *out = calloc(1, cap);
    if (!out)
        return NULL;
    for (int p = 0; p < reg->n_plugins; p++)
        for (int s = 0; s < reg->plugins[p].desc->n_stages; s++) {
            if (*out)
                strcat(out, ", ");
            strcat(out, reg->plugins[p].desc->stages[s].name);
        }
    if (!*out)
        strcpy(out, "(none: is SIEVE_PLUGIN_PATH set?)");
    return out;
}

const char *sieve_registry_closest(const sieve_registry *reg, const char *stage)
{
    int n = 0;
    for (int p = 0; p < reg->n_plugins; p++)
        n += reg->plugins[p].desc->n_stages;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    if (!names)
        return NULL;
    n = 0;
    for (int p = 0; p < reg->n_plugins; p++)
        for (int s = 0; s < reg->plugins[p].desc->n_stages; s++)
            names[n++] = reg->plugins[p].desc->stages[s].name;
    const char *best = sieve_rt_closest(stage, names, n);
    free(names);
    return best;
}

const void *sieve_registry_kernels(const sieve_registry *reg, const char *name, sieve_err *err)
{
    char want[128];
    snprintf(want, sizeof want, "kernels-%s", name);
    for (int p = 0; p < reg->n_plugins; p++) {
        const sieve_plugin_desc *d = reg->plugins[p].desc;
        if (strcmp(d->name, want) != 0)
            continue;
        if (!d->kernels) {
            sieve_fail(err, "plugin %s (%s) exports no kernel table", d->name, reg->plugins[p].path);
            return NULL;
        }
        const void *k = d->kernels();
        if (!k)
            sieve_fail(err, "backend '%s' is not available on this machine (%s)", name,
                       reg->plugins[p].path);
        return k;
    }
    sieve_fail(err, "unknown backend '%s': no plugin named '%s' was found", name, want);
    return NULL;
}
