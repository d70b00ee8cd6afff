/* SPDX-License-Identifier: MIT */
/* hant-client: the command line for users and CI; dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "hant.h"

struct command {
  const char *name;
  client_cmd_fn fn;
  const char *summary;
};

static const struct command commands[] = {
    {"solve", cmd_solve, "solve a generic selection problem file"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f, "usage: hant-client [--socket PATH] COMMAND [ARGS]\n\n"
             "Talks to hantd, hant's transformation service.\n\ncommands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf(f, "  %-10s %s\n", c->name, c->summary);
  fprintf(f, "\n  --help       show this help and exit\n"
             "  --version    print the version and exit\n"
             "\nRun 'hant-client COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return CLIENT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("hant-client %s\n", hant_version());
      return CLIENT_EXIT_OK;
    }
    if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
      i++;
      continue;
    }
    fprintf(stderr, "hant-client: unknown option '%s'\n", argv[i]);
    return CLIENT_EXIT_USAGE;
  }
  if (i >= argc) {
    usage(stderr);
    return CLIENT_EXIT_USAGE;
  }
  for (const struct command *c = commands; c->name; c++)
    if (!strcmp(c->name, argv[i]))
      return c->fn(argc - i, argv + i);
  fprintf(stderr, "hant-client: unknown command '%s'; see 'hant-client --help'\n", argv[i]);
  return CLIENT_EXIT_USAGE;
}
