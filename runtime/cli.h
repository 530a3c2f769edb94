/* The sieve subcommands. Each returns the process exit status:
 * 0 success, 1 a failure while running, 2 bad usage or a bad pipeline. */
#ifndef SIEVE_CLI_H
#define SIEVE_CLI_H

int sieve_cmd_run(int argc, char **argv);
int sieve_cmd_validate(int argc, char **argv);
int sieve_cmd_graph(int argc, char **argv);
int sieve_cmd_plugins(int argc, char **argv);
int sieve_cmd_stage(int argc, char **argv);
int sieve_cmd_model(int argc, char **argv);

/* Sets OPENBLAS_CORETYPE where Debian's OpenBLAS would pick narrower kernels
 * than the CPU runs (see blas_env.c); before any plugin is loaded. */
void sieve_cli_prefer_blas_kernels(void);

/* True when argv holds -h or --help. */
int sieve_wants_help(int argc, char **argv);

#endif
