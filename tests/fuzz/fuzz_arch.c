/* SPDX-License-Identifier: MIT */
/* fuzz_arch.c: fuzz target for the architecture description parser, which reads text from native network files
 * and the command line; networks it accepts must also run. */
#include <stdint.h>
#include <string.h>

#include "arch.h"
#include "hant.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  hant_errmsg_clear();
  /* The same parameter limit a native file of this size would get. */
  hant_net *net = hant_arch_build_limited(text, "fuzz", size / 4 + (1u << 16));
  free(text);
  if (!net) {
    if (!hant_errmsg()[0])
      abort();
    return 0;
  }
  /* Every slot is a node range inside the network. */
  for (int s = 0; s < net->n_slots; s++) {
    const hant_slot *sl = &net->slots[s];
    if (sl->first < 1 || sl->last < sl->first || sl->last >= net->n_nodes || sl->in < 0 || sl->in >= sl->first)
      abort();
  }
  const hant_node *in = &net->nodes[0];
  size_t nx = (size_t)in->c * in->h * in->w;
  if (nx <= (1u << 14) && hant_net_macs(net) <= 2e6) {
    float *x = calloc(2 * nx, sizeof(float));
    if (x) {
      hant_pass p;
      hant_pass_init(&p);
      p.act.block_bytes = p.tmp.block_bytes = (size_t)1 << 20;
      int rc = hant_net_forward(net, &p, x, 2, false);
      if (rc && rc != HANT_ENOMEM)
        abort();
      hant_pass_free(&p);
      free(x);
    }
  }
  hant_net_destroy(net);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_arch"
#include "fuzz_driver.h"

static const char *const base_seeds[] = {
    "input 1x28x28; conv 16; res 16; res 32 s=2; res 32; res 64 s=2; res 64; gap; linear 10",
    "input 1x28x28; conv 16; ir 16 e=1; ir 24 s=2; ir 24; conv 128 k=1 act=relu6; gap; linear 10",
    "input 1x16x16; conv 16; ir 16 e=1 skip=1 post=relu; ir 24 e=3 s=2 post=relu; ir 24 k=5 post=hswish; gap; linear 4",
    "input 3x16x16\nconv 8 k=5 s=2 g=1 act=hswish bn=0 # stem\ndws 16 k=3 act=relu\nres 16 mid=8 g=2 r=4\n"
    "maxpool k=3 s=2 p=1\navgpool k=2\nidentity\nflatten\nlinear 10 r=3",
    "input 2x9x7; conv 4 k=3 r=2 bn=0; res 6 s=2 k=5; gap; linear 3 act=relu",
    /* squeeze-and-excitation blocks */
    "input 1x12x12; conv 8 s=2 act=hswish; se_ir 8 e=3 act=hswish se=8 sa=relu gate=hsigmoid; "
    "se_ir 16 e=1 k=5 s=2 act=silu se=2 sa=silu; se_bottleneck 16 mid=16 g=2 se=4 bn=0; gap; linear 4 act=sigmoid",
};
static const char *const dict[] = {"input ", "conv ", "res ", "ir ", "dws ", "linear ", "identity", "gap", "flatten",
                                   "maxpool ", "avgpool ", " k=", " s=", " g=", " r=", " e=", " mid=", " bn=0",
                                   " act=relu6", " se=", " sa=silu", " gate=hsigmoid", " post=relu", " post=none",
                                   "se_ir ", "se_bottleneck ",
                                   "; ", "\n", "#", "1x1x1", "65536", "0", "-1", "99999999999"};

static const fuzz_target target = {.seeds = base_seeds,
                                    .n_seeds = sizeof(base_seeds) / sizeof(base_seeds[0]),
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0])};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
