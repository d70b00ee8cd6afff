/* SPDX-License-Identifier: MIT */
/* cli.c: turns the option parser's answers into hant-distill's help, messages and exit codes. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_parse(const hant_opt_cmd *cmd, int argc, char **argv) {
  int rc = hant_opt_parse(cmd, argc, argv, NULL);
  if (rc == HANT_OPT_HELP_ASKED) {
    hant_opt_help(cmd, stdout);
    return EXIT_OK_;
  }
  if (rc) {
    fprintf(stderr, "%s: %s\n", cmd->name, hant_errmsg());
    return EXIT_USAGE;
  }
  return -1;
}

int cli_usage_error(const hant_opt_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return EXIT_USAGE;
}

const char *cli_data_dir(const char *data) {
  if (!data || !strcmp(data, "fmnist"))
    return hant_fmnist_dir();
  return data;
}
