/* SPDX-License-Identifier: MIT */
/* commands.h: the subcommands of hant-client, one file each. */
#ifndef HANT_CLIENT_COMMANDS_H
#define HANT_CLIENT_COMMANDS_H

/* Exit codes of hant-client; documented in hant-client(1). */
enum {
  CLIENT_EXIT_OK = 0,
  CLIENT_EXIT_FAILURE = 1,     /* generic failure, e.g. unreadable file */
  CLIENT_EXIT_USAGE = 2,       /* bad command line */
  CLIENT_EXIT_UNREACHABLE = 3, /* the daemon cannot be reached */
  CLIENT_EXIT_INFEASIBLE = 4,  /* no selection fits the budgets */
  CLIENT_EXIT_SERVER = 5,      /* the daemon answered with an error */
  CLIENT_EXIT_ENTRIES_FAILED = 6, /* regen: some fleet entries failed (listed on stderr) */
};

/* Each command gets argv starting at its own name. */
typedef int (*client_cmd_fn)(int argc, char **argv);

/* Parses a command's arguments with hant_opt_parse. Returns -1 when the
 * command should run; otherwise the help was printed on stdout
 * (CLIENT_EXIT_OK) or a usage error, prefixed with cmd->name, on stderr
 * (CLIENT_EXIT_USAGE), and the command returns that code. */
struct hant_opt_cmd;
int client_parse(const struct hant_opt_cmd *cmd, int argc, char **argv);

/* A fine-tuning option's value: a whole number of epochs in [0, 1000], or
 * "auto" (*epochs = HANT_FINETUNE_EPOCHS_AUTO: as many as the assembled
 * network's validation loss asks). Returns 0, or -1 after a message on
 * stderr naming cmd and opt. */
int client_parse_epochs(const char *cmd, const char *opt, const char *arg, long *epochs);

int cmd_solve(int argc, char **argv);
int cmd_transform(int argc, char **argv);
int cmd_pareto(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_library(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_regen(int argc, char **argv);

#endif
