/* sieve: the command-line entry point; dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sieve/plugin.h"

static const char usage[] =
    "sieve " SIEVE_VERSION " - rejection-sampling fine-tuning pipelines\n"
    "\n"
    "usage: sieve <command> [options]\n"
    "\n"
    "commands:\n"
    "  run PIPELINE.yaml [--set stage.param=value]... [--resume RUN_DIR]\n"
    "                          run a pipeline; writes runs/<pipeline>/<timestamp>/\n"
    "  validate PIPELINE.yaml  check a pipeline (plugins, ports, parameters) without running it\n"
    "  graph PIPELINE.yaml     print the pipeline as Graphviz DOT\n"
    "  plugins [STAGE]         list every stage with its ports, parameters and docs\n"
    "  stage NAME [--param k=v]...\n"
    "                          run one stage: JSONL records on stdin, JSONL on stdout\n"
    "  model init --config CONFIG.json --out DIR [--seed S]\n"
    "                          write a randomly initialised model in the Hugging Face layout\n"
    "  --version               print the version\n"
    "\n"
    "Plugins are found in $SIEVE_PLUGIN_PATH (colon-separated), the build tree and the\n"
    "install prefix. 'sieve <command> --help' describes each command.\n";

int main(int argc, char **argv)
{
    sieve_cli_prefer_blas_kernels();
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("sieve %s (plugin ABI %u)\n", SIEVE_VERSION, SIEVE_ABI_VERSION);
        return 0;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"run", sieve_cmd_run},         {"validate", sieve_cmd_validate},
        {"graph", sieve_cmd_graph},     {"plugins", sieve_cmd_plugins},
        {"stage", sieve_cmd_stage},     {"model", sieve_cmd_model},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sieve: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
