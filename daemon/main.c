/* SPDX-License-Identifier: MIT */
/* hantd: the transformation service. So far it only answers --help and --version. */
#include <stdio.h>
#include <string.h>

#include "hant.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hantd --db LIBRARY.db [--socket PATH] [--config FILE] [--foreground]\n"
          "\n"
          "Serves hant's transformation requests over a Unix socket.\n"
          "\n"
          "  --help       show this help and exit\n"
          "  --version    print the version and exit\n"
          "\n"
          "Not yet implemented: the service itself (see docs/).\n");
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("hantd %s\n", hant_version());
      return 0;
    }
  }
  usage(stderr);
  fprintf(stderr, "hantd: the service is not implemented yet\n");
  return 2;
}
