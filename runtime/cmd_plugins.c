/* `sieve plugins`: every stage's ports, parameters and docs, from the descriptors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "registry.h"

static const char *ptype(sieve_param_type t)
{
    static const char *names[] = {"string", "int", "float", "bool", "list"};
    return names[t];
}

static void print_stage(const sieve_loaded_plugin *pl, const sieve_stage_desc *d)
{
    printf("%s  (plugin %s %s, %s)\n  %s\n", d->name, pl->desc->name, pl->desc->version, pl->path,
           d->doc ? d->doc : "");
    for (int i = 0; i < d->n_inputs; i++)
        printf("  in   %-14s %-22s %s%s\n", d->inputs[i].name, d->inputs[i].type,
               d->inputs[i].doc ? d->inputs[i].doc : "",
               (d->flags & SIEVE_STAGE_VARIADIC) && i == d->n_inputs - 1 ? " (any number of producers)" : "");
    for (int i = 0; i < d->n_outputs; i++)
        printf("  out  %-14s %-22s %s\n", d->outputs[i].name, d->outputs[i].type,
               d->outputs[i].doc ? d->outputs[i].doc : "");
    for (int i = 0; i < d->n_params; i++) {
        const sieve_param_desc *p = &d->params[i];
        char def[256];
        if (p->default_value)
            snprintf(def, sizeof def, "= %s", *p->default_value ? p->default_value : "\"\"");
        else
            snprintf(def, sizeof def, "(required)");
        printf("  param %-13s %-7s %-16s %s\n", p->name, ptype(p->type), def, p->doc ? p->doc : "");
    }
    putchar('\n');
}

int sieve_cmd_plugins(int argc, char **argv)
{
    if (sieve_wants_help(argc, argv)) {
        puts("usage: sieve plugins [STAGE]\n\n"
             "Lists every stage of every plugin found (or just STAGE): its input and output\n"
             "ports with their types, and its parameters with type, default and doc.");
        return 0;
    }
    sieve_registry reg;
    sieve_err err = {{0}};
    if (sieve_registry_load(&reg, &err) != SIEVE_OK) {
        fprintf(stderr, "sieve: %s\n", err.msg);
        return 2;
    }
    const char *only = argc > 1 ? argv[1] : NULL;
    int shown = 0;
    for (int p = 0; p < reg.n_plugins; p++)
        for (int s = 0; s < reg.plugins[p].desc->n_stages; s++) {
            const sieve_stage_desc *d = &reg.plugins[p].desc->stages[s];
            if (only && strcmp(only, d->name))
                continue;
            print_stage(&reg.plugins[p], d);
            shown++;
        }
    for (int p = 0; p < reg.n_plugins && !only; p++)
        if (reg.plugins[p].desc->kernels)
            printf("%s  (kernel backend, %s)\n\n", reg.plugins[p].desc->name, reg.plugins[p].path);
    int rc = 0;
    if (only && !shown) {
        char *known = sieve_registry_stage_list(&reg);
        fprintf(stderr, "sieve plugins: unknown stage '%s'; known: %s\n", only, known ? known : "");
        free(known);
        rc = 2;
    }
    sieve_registry_free(&reg);
    return rc;
}
