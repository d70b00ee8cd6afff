/* SPDX-License-Identifier: MIT */
/* cli.h: exit codes and the option handling hant-distill's subcommands share. */
#ifndef HANT_DISTILL_CLI_H
#define HANT_DISTILL_CLI_H

#include "hant.h"

/* Exit codes of hant-distill; documented in hant-distill(1). */
enum {
  EXIT_OK_ = 0,
  EXIT_FAIL = 1,  /* the work failed: bad data, I/O error, divergence */
  EXIT_USAGE = 2, /* bad command line */
};

/* Parses a subcommand's arguments (argv[0] is its name) with
 * hant_opt_parse. Returns -1 when the command should run; otherwise the
 * help was printed on stdout (EXIT_OK_) or a usage error, prefixed with
 * cmd->name, on stderr (EXIT_USAGE), and the command returns that code. */
int cli_parse(const hant_opt_cmd *cmd, int argc, char **argv);

/* Reports a usage error found after parsing ("hant-distill CMD: MESSAGE")
 * and returns EXIT_USAGE. */
int cli_usage_error(const hant_opt_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What the commands that read data take from the command line. */
typedef struct data_args {
  const char *data;   /* --data: "fmnist" or a directory; NULL: the library's recorded data, else fmnist */
  const char *format; /* --data-format: idx, cifar, npy, folder; NULL detects */
  const char *mean;   /* --mean: 1 or one value per channel, comma-separated; NULL: none */
  const char *std;    /* --std: likewise */
  bool gray;          /* --gray: colour folder images may feed a 1-channel teacher */
} data_args;

#define DATA_ARGS_DEFAULT {NULL, NULL, NULL, NULL, false}
#define DATA_OPTS(a, what, dflt)                                                                                 \
  HANT_OPT_STRING("data", 0, &(a).data, "fmnist|DIR",                                                            \
                  what " (default " dflt "): Fashion-MNIST,\nor a directory of IDX files, CIFAR-10 batches,\n"     \
                  "NumPy arrays or PNG/JPEG class folders"),                                                     \
      HANT_OPT_STRING("data-format", 0, &(a).format, "FORMAT", "idx, cifar, npy or folder (default: detected from DIR)"), \
      HANT_OPT_FLAG("gray", 0, &(a).gray, "turn colour images of a folder to gray for a 1-channel teacher")
/* Normalisation, for the commands that set it (the library records it). */
#define NORM_OPTS(a)                                                                                             \
  HANT_OPT_STRING("mean", 0, &(a).mean, "M[,M...]", "input normalisation: subtract from pixel/255 (one value, or one\nper channel; default 0)"), \
      HANT_OPT_STRING("std", 0, &(a).std, "S[,S...]", "then divide by (default 1)")

/* Fills spec from a: the data and its format (without --data, the data bs
 * records, else fmnist; spec may then point into bs); the shape and
 * classes from net's input and output (NULL: the data's own); the
 * normalisation from --mean/--std, else from bs's recorded one (bs NULL:
 * none). Returns -1 on
 * success, else prints "NAME: what is wrong" on stderr and returns
 * EXIT_USAGE. */
int cli_data_spec(const char *name, const data_args *a, const hant_net *net, const hant_build_settings *bs,
                  hant_data_spec *spec);

/* Loads a split as spec says, printing "NAME: message" on failure. Returns
 * 0 or the HANT_E* code. */
int cli_data_load(const char *name, const hant_data_spec *spec, hant_split split, int limit, hant_dataset *out);

/* Records spec's data and normalisation in bs. */
void cli_data_record(const hant_data_spec *spec, hant_build_settings *bs);

/* What a calibration takes from the command line; `calibrate` and
 * `build --calibrate` share the options (CALIBRATE_OPTS). */
typedef struct calibrate_args {
  long seed;        /* of the plan */
  long samples;     /* random selections stratified by MACs */
  long val_samples; /* validation images per network; 0: as many as the scores used */
  long folds;       /* of the fit's cross-validation */
  bool fit_objective; /* the solver maximises the fit's coefficients */
} calibrate_args;

#define CALIBRATE_ARGS_DEFAULT {1, 48, 0, 5, false}
#define CALIBRATE_OPTS(a)                                                                                      \
  HANT_OPT_INT("calibrate-seed", 0, &(a).seed, 0, 1L << 40, "N", "seed of the calibration plan (default 1)"),   \
      HANT_OPT_INT("calibrate-samples", 0, &(a).samples, 0, 100000, "N",                                      \
                   "random networks stratified by MACs (default 48)"),                                        \
      HANT_OPT_INT("calibrate-images", 0, &(a).val_samples, 1, 5000, "M",                                      \
                   "validation images per network (default: as the scores)"),                                 \
      HANT_OPT_INT("calibrate-folds", 0, &(a).folds, 2, 100, "K", "cross-validation folds of the fit (default 5)"), \
      HANT_OPT_FLAG("calibrate-objective", 0, &(a).fit_objective,                                             \
                    "the solver maximises the fit (default: only if its choices,\n"                 \
                    "measured at the plan's budgets, are no worse)")

/* Measures the calibration plan on st (the validation split from data)
 * and fits and stores the predictor, printing progress and a summary.
 * Returns 0 or a HANT_E* code with its message set. */
int calibrate_run(hant_store *st, const data_args *data, const calibrate_args *a, bool json);

int cmd_calibrate(int argc, char **argv);
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
int cmd_quantize(int argc, char **argv);

#endif
