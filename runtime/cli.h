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

/* True when argv holds -h or --help. */
int sieve_wants_help(int argc, char **argv);

#endif
