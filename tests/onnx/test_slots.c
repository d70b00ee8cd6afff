/* SPDX-License-Identifier: MIT */
/* test_slots.c: slot discovery finds in a bare graph the same blocks the architecture text declared. */
#include <stdbool.h>
#include <string.h>

#include "../test_util.h"
#include "arch.h"
#include "hant.h"
#include "net.h"
#include "slots.h"

/* Rediscovers the slots of an architecture-built network, before and after
 * folding its batch norms, and checks they match the declared ones. */
static void same_slots(const char *name, const char *desc, bool fold) {
  hant_net *net = hant_arch_build(desc, name);
  CHECK(net, "%s: %s", name, hant_errmsg());
  if (!net)
    return;
  if (fold)
    hant_net_fold_bn(net);
  int n = net->n_slots;
  hant_slot *want = malloc(sizeof(hant_slot) * (size_t)(n ? n : 1));
  memcpy(want, net->slots, sizeof(hant_slot) * (size_t)n);
  int got = hant_slots_discover(net);
  /* identity blocks are skips the graph cannot show */
  int expect = 0;
  for (int i = 0; i < n; i++)
    expect += strcmp(want[i].kind, "identity") != 0;
  CHECK(got == expect, "%s%s: found %d slots, the architecture declares %d", name, fold ? " (folded)" : "", got, expect);
  for (int i = 0, k = 0; i < n && k < got; i++) {
    if (!strcmp(want[i].kind, "identity"))
      continue;
    const hant_slot *s = &net->slots[k++];
    CHECK(!strcmp(s->kind, want[i].kind) && s->first == want[i].first && s->last == want[i].last && s->in == want[i].in,
          "%s%s: slot %d is %s [%d-%d] from %d (\"%s\"), declared %s [%d-%d] from %d (\"%s\")", name,
          fold ? " (folded)" : "", k - 1, s->kind, s->first, s->last, s->in, s->desc, want[i].kind, want[i].first,
          want[i].last, want[i].in, want[i].desc);
  }
  free(want);
  hant_net_destroy(net);
}

int main(void) {
  for (const char *const *p = hant_arch_preset_names(); *p; p++) {
    same_slots(*p, hant_arch_preset(*p), false);
    same_slots(*p, hant_arch_preset(*p), true);
  }
  const char *mixed = "input 3x32x32; conv 16 k=3 s=2 act=hswish; dws 24 k=5 act=relu6; ir 24 e=4; ir 32 e=3 s=2 k=5 act=hswish;"
                      "res 32; res 48 mid=24 s=2; conv 48 k=1 act=none bn=0; maxpool k=2; conv 32 g=4 act=relu6;"
                      "gap; flatten; linear 64 act=relu; linear 10";
  same_slots("mixed", mixed, false);
  same_slots("mixed", mixed, true);
  /* Inverted residuals whose widths do not tell their shape (issue 18). */
  const char *ir_flags = "input 1x16x16; conv 16 act=relu6; ir 16 e=1 expand=1 skip=1; ir 16 e=1 skip=0; ir 16 e=4 skip=0;"
                         "ir 24 e=1 s=2 expand=1; ir 24 e=1; gap; linear 10";
  /* ShuffleNet V2 units of both strides, one with a narrower branch. */
  const char *shuffle = "input 3x16x16; conv 24 s=2; shuffle 48 s=2; shuffle 48; shuffle 48 k=5 mid=16; "
                        "shuffle 96 s=2 k=5; conv 64 k=1; gap; linear 10";
  same_slots("shuffle", shuffle, false);
  same_slots("shuffle", shuffle, true);
  /* SqueezeNet's fire modules and GoogLeNet's Inception modules. */
  const char *concat = "input 3x16x16; conv 32 s=2 act=relu; fire 32 sq=8 e1=16; maxpool k=3 s=2 ceil=1; "
                       "fire 64 sq=8 e1=24 k=5 bn=1; inception 64 c1=16 r3=16 c3=24 r5=4 c5=8 pool=16 k5=3; "
                       "inception 48 c1=8 r3=8 c3=16 r5=4 c5=8 pool=16 bn=0; gap; linear 10";
  same_slots("concat", concat, false);
  same_slots("concat", concat, true);
  same_slots("ir-flags", ir_flags, false);
  same_slots("ir-flags", ir_flags, true);
  /* Inverted residuals ending in a ReLU (post=relu, as the ir family makes
   * them for slots that end in one), with and without a skip or an
   * expansion; the rediscovered lines say post=relu and rebuild the block. */
  const char *ir_post = "input 1x16x16; conv 16 act=relu6; ir 16 e=1 skip=1 post=relu; ir 16 e=4 skip=0 post=relu;"
                        "ir 24 e=1 s=2 post=relu; ir 24 e=3 k=5 post=relu; gap; linear 10";
  same_slots("ir-post", ir_post, false);
  same_slots("ir-post", ir_post, true);
  hant_net *pn = hant_arch_build(ir_post, "ir-post");
  HANT_ASSERT(pn && hant_net_fold_bn(pn) == 0 && hant_slots_discover(pn) > 0);
  int posts = 0;
  for (int i = 0; i < pn->n_slots; i++) {
    if (strcmp(pn->slots[i].kind, "ir"))
      continue;
    char line[256];
    snprintf(line, sizeof(line), "input %dx%dx%d; %s", pn->slots[i].in_c, pn->slots[i].in_h, pn->slots[i].in_w,
             pn->slots[i].desc);
    hant_net *b = hant_arch_build(line, "rebuilt");
    posts += strstr(pn->slots[i].desc, " post=relu") != NULL;
    CHECK(b && hant_net_output(b) == pn->slots[i].last - pn->slots[i].first + 1,
          "ir-post: slot %d's line \"%s\" does not rebuild its %d nodes: %s", i, pn->slots[i].desc,
          pn->slots[i].last - pn->slots[i].first + 1, b ? "other count" : hant_errmsg());
    hant_net_destroy(b);
  }
  CHECK(posts == 4, "ir-post: %d of 4 ir slots say post=relu", posts);
  hant_net_destroy(pn);
  static const struct {
    const char *line, *says;
  } bad[] = {
      {"input 1x8x8; conv 8; ir 8 e=2 expand=0", "expand=0 has its input width 8 as inner width, not mid=16"},
      {"input 1x8x8; conv 8; ir 8 e=1 s=2 skip=1", "skip=1 needs stride 1"},
      {"input 1x8x8; conv 8; ir 12 e=1 skip=1", "skip=1 needs stride 1 and output width = input width (8)"},
      {"input 1x8x8; conv 8; ir 8 expand=2", "'expand=2' needs an integer in [0, 1]"},
      {"input 1x8x8; conv 8; ir 8 e=2 post=none", "unknown activation 'none' for post"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    hant_net *n = hant_arch_build(bad[i].line, "arch");
    CHECK(!n && strstr(hant_errmsg(), bad[i].says), "'%s' is refused saying '%s': %s", bad[i].line, bad[i].says,
          n ? "built" : hant_errmsg());
    hant_net_destroy(n);
  }
  return test_summary("slots");
}
