/* SPDX-License-Identifier: MIT */
/* hant-distill: the offline stage; dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
    {"teacher", cmd_teacher, "train a teacher network on Fashion-MNIST"},
    {"eval", cmd_eval, "accuracy and loss of a model on a data split"},
    {"inspect", cmd_inspect, "list a model's slots, shapes, MACs and parameters"},
    {"export", cmd_export, "write a network as an ONNX model"},
    {"build", cmd_build, "distil the operator library of a teacher into SQLite"},
    {"library", cmd_library, "list a library's slots, candidates and costs"},
    {"calibrate", cmd_calibrate, "measure assembled networks and fit the accuracy predictor"},
    {"quantize", cmd_quantize, "score every candidate under int8 arithmetic for int8 devices"},
    {"verify", cmd_verify, "check a library and re-measure its losses and scores"},
    {"profile", cmd_profile, "measure (host) or model (any device) every candidate's costs"},
    {"devices", cmd_devices, "list and check device profiles; cost a network on each"},
    {"export-ops", cmd_export_ops, "write the library's operators for hant-bench on a board"},
    {"import-costs", cmd_import_costs, "load a cost table measured on a board"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f, "usage: hant-distill COMMAND [OPTIONS]\n\n"
             "The offline stage of hant: teachers, operator libraries, costs.\n\ncommands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf(f, "  %-13s %s\n", c->name, c->summary);
  fprintf(f, "\n  --help       show this help and exit\n"
             "  --version    print the version and exit\n"
             "\nRun 'hant-distill COMMAND --help' for a command's options.\n"
             "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int main(int argc, char **argv) {
  bool version = false;
  const hant_opt opts[] = {
      HANT_OPT_FLAG("version", 0, &version, NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill", .opts = opts, .stop_at_operand = true};
  int next, rc = hant_opt_parse(&cmd, argc, argv, &next);
  if (rc == HANT_OPT_HELP_ASKED) {
    usage(stdout);
    return EXIT_OK_;
  }
  if (rc) {
    fprintf(stderr, "hant-distill: %s\n", hant_errmsg());
    return EXIT_USAGE;
  }
  if (version) {
    printf("hant-distill %s\n", hant_version());
    return EXIT_OK_;
  }
  if (next >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  for (const struct command *c = commands; c->name; c++)
    if (!strcmp(c->name, argv[next]))
      return c->fn(argc - next, argv + next);
  fprintf(stderr, "hant-distill: unknown command '%s'; see 'hant-distill --help'\n", argv[next]);
  return EXIT_USAGE;
}
