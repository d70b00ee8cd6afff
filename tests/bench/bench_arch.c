/* SPDX-License-Identifier: MIT */
/* bench_arch.c: prints the architecture description of a preset, so scripts can hand it to the PyTorch twin. */
#include <stdio.h>

#include "arch.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: bench_arch PRESET|DESC\n");
    return 2;
  }
  const char *d = hant_arch_preset(argv[1]);
  puts(d ? d : argv[1]);
  return 0;
}
