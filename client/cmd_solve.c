/* SPDX-License-Identifier: MIT */
/* cmd_solve.c: hant-client solve (work in progress). */
#include <stdio.h>

#include "commands.h"

int cmd_solve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "hant-client solve: not built yet\n");
  return CLIENT_EXIT_FAILURE;
}
