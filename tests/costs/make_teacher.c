/* SPDX-License-Identifier: MIT */
/* make_teacher.c: writes an untrained teacher of a given architecture in hant's native format, so tests skip training (costs depend on shapes, not weights). */
#include <stdio.h>

#include "arch.h"
#include "hant.h"
#include "netfile.h"
#include "rng.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: make_teacher ARCH|PRESET OUT.hant\n");
    return 2;
  }
  const char *desc = hant_arch_preset(argv[1]) ? hant_arch_preset(argv[1]) : argv[1];
  hant_net *net = hant_arch_build(desc, "arch");
  if (!net) {
    fprintf(stderr, "make_teacher: %s\n", hant_errmsg());
    return 1;
  }
  hant_rng rng;
  hant_rng_seed(&rng, 1);
  hant_net_init_params(net, &rng);
  int rc = hant_netfile_save(net, "{\"kind\":\"teacher\",\"trained\":false}", argv[2]);
  if (rc)
    fprintf(stderr, "make_teacher: %s\n", hant_errmsg());
  hant_net_destroy(net);
  return rc ? 1 : 0;
}
