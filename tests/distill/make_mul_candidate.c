/* SPDX-License-Identifier: MIT */
/* make_mul_candidate.c: writes a one-slot network with a squeeze-and-excitation gate (a mul, which has no int8 form) for the quantize test to put in a library. */
#include <stdio.h>

#include "hant.h"

/* usage: make_mul_candidate "input CxHxW; <block>" OUT.hant */
int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: make_mul_candidate DESC OUT\n");
    return 2;
  }
  hant_net *net = hant_arch_build(argv[1], "mul-candidate");
  if (!net) {
    fprintf(stderr, "make_mul_candidate: %s\n", hant_errmsg());
    return 1;
  }
  int rc = hant_netfile_save(net, NULL, argv[2]);
  if (rc)
    fprintf(stderr, "make_mul_candidate: %s\n", hant_errmsg());
  hant_net_destroy(net);
  return rc ? 1 : 0;
}
