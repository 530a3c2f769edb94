/* A plugin that claims another ABI version: the runtime must refuse it. */
#include <sieve/sieve.h>

static const sieve_plugin_desc plugin = {.abi_version = 999, .name = "badabi", .version = "0"};

__attribute__((visibility("default"))) const sieve_plugin_desc *sieve_plugin_entry(void)
{
    return &plugin;
}
