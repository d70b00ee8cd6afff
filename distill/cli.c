/* SPDX-License-Identifier: MIT */
/* cli.c: tiny option parsing shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"

bool cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n))
    return false;
  if (a[n] == '=') {
    *val = a + n + 1;
    return true;
  }
  if (a[n] != '\0')
    return false;
  if (*i + 1 >= argc) {
    fprintf(stderr, "%s needs a value\n", name);
    *val = NULL;
    return true;
  }
  *val = argv[++*i];
  return true;
}

bool cli_int(const char *cmd, const char *name, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "hant-distill %s: %s expects an integer from %ld to %ld, got '%s'\n", cmd, name, lo, hi,
            s ? s : "");
    return false;
  }
  *out = v;
  return true;
}

bool cli_float(const char *cmd, const char *name, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = s ? strtod(s, &end) : 0;
  if (!s || errno || end == s || *end || !(v >= lo && v <= hi)) {
    fprintf(stderr, "hant-distill %s: %s expects a number from %g to %g, got '%s'\n", cmd, name, lo, hi, s ? s : "");
    return false;
  }
  *out = v;
  return true;
}

const char *cli_data_dir(const char *data) {
  if (!data || !strcmp(data, "fmnist"))
    return hant_fmnist_dir();
  return data;
}
