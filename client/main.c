/* SPDX-License-Identifier: MIT */
/* hant-client: the command line for users and CI; dispatches to one file per subcommand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hant.h"
#include "rpc_client.h"

struct command {
  const char *name;
  client_cmd_fn fn;
  const char *summary;
};

static const struct command commands[] = {
    {"transform", cmd_transform, "choose a network for a device and budgets (and export it)"},
    {"pareto", cmd_pareto, "Pareto front of accuracy against a cost on a device"},
    {"solve", cmd_solve, "solve a generic selection problem file"},
    {"devices", cmd_devices, "devices with costs, and the profiles hantd knows"},
    {"library", cmd_library, "the library: teacher, slots, candidates"},
    {"status", cmd_status, "the daemon's uptime, load, cache and jobs"},
    {"version", cmd_version, "client and daemon versions"},
    {"jobs", cmd_jobs, "list, show, wait for, cancel jobs; queue an evaluation"},
    {"regen", cmd_regen, "regenerate a fleet's models and report (scheduled CI)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f, "usage: hant-client [--socket PATH] COMMAND [ARGS]\n\n"
             "Talks to hantd, hant's transformation service, on a Unix socket: --socket PATH,\n"
             "else $HANT_SOCKET, else $XDG_RUNTIME_DIR/hant/hantd.sock (or /run/hantd/hantd.sock).\n\n"
             "commands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf(f, "  %-10s %s\n", c->name, c->summary);
  fprintf(f, "\n  --help       show this help and exit\n"
             "  --version    print the version and exit\n"
             "\nRun 'hant-client COMMAND --help' for a command's options.\n"
             "Exit status: 0 success, 1 failure, 2 usage, 3 daemon unreachable, 4 infeasible\n"
             "budgets, 5 daemon error, 6 regen: some entries failed.\n");
}

int client_parse(const hant_opt_cmd *cmd, int argc, char **argv) {
  int rc = hant_opt_parse(cmd, argc, argv, NULL);
  if (rc == HANT_OPT_HELP_ASKED) {
    hant_opt_help(cmd, stdout);
    return CLIENT_EXIT_OK;
  }
  if (rc) {
    fprintf(stderr, "%s: %s\n", cmd->name, hant_errmsg());
    return CLIENT_EXIT_USAGE;
  }
  return -1;
}

int client_parse_epochs(const char *cmd, const char *opt, const char *arg, long *epochs) {
  if (!strcmp(arg, "auto")) {
    *epochs = HANT_FINETUNE_EPOCHS_AUTO;
    return 0;
  }
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (end == arg || *end || errno || v < 0 || v > 1000) {
    fprintf(stderr, "%s: %s: expected a whole number of epochs in [0, 1000] or auto, got '%s'\n", cmd, opt, arg);
    return -1;
  }
  *epochs = v;
  return 0;
}

int main(int argc, char **argv) {
  const char *socket_path = NULL;
  bool version = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("socket", 0, &socket_path, "PATH", NULL),
      HANT_OPT_FLAG("version", 0, &version, NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-client", .opts = opts, .stop_at_operand = true};
  int i, rc = hant_opt_parse(&cmd, argc, argv, &i);
  if (rc == HANT_OPT_HELP_ASKED) {
    usage(stdout);
    return CLIENT_EXIT_OK;
  }
  if (rc) {
    fprintf(stderr, "hant-client: %s\n", hant_errmsg());
    return CLIENT_EXIT_USAGE;
  }
  if (version) {
    printf("hant-client %s\n", hant_version());
    return CLIENT_EXIT_OK;
  }
  if (socket_path)
    client_set_socket(socket_path);
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
