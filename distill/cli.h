/* SPDX-License-Identifier: MIT */
/* cli.h: argument helpers and exit codes shared by hant-distill's subcommands. */
#ifndef HANT_DISTILL_CLI_H
#define HANT_DISTILL_CLI_H

#include <stdbool.h>

/* Exit codes of hant-distill; documented in hant-distill(1). */
enum {
  EXIT_OK_ = 0,
  EXIT_FAIL = 1,  /* the work failed: bad data, I/O error, divergence */
  EXIT_USAGE = 2, /* bad command line */
};

/* Matches argv[*i] against --name VALUE or --name=VALUE; on a match stores
 * the value, advances *i past it and returns true. A missing value is a
 * usage error reported on stderr (returns true with *val NULL). */
bool cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* Parses an integer/float option value, reporting errors on stderr. */
bool cli_int(const char *cmd, const char *name, const char *s, long lo, long hi, long *out);
bool cli_float(const char *cmd, const char *name, const char *s, double lo, double hi, double *out);

/* Resolves --data: "fmnist" means Debian's Fashion-MNIST (or
 * $HANT_FMNIST_DIR); anything else is taken as a directory of IDX files. */
const char *cli_data_dir(const char *data);

int cmd_teacher(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_library(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_export_ops(int argc, char **argv);
int cmd_import_costs(int argc, char **argv);
int cmd_devices(int argc, char **argv);

#endif
