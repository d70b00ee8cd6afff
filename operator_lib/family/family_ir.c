/* SPDX-License-Identifier: MIT */
/* family_ir.c: inverted residual replacements (MobileNetV2/V3 style): expansion, kernel and activation. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"

int hant__gen_ir(const slot_geom *g, cand_list *l) {
  if (!strcmp(g->kind, "linear") || !strcmp(g->kind, "identity"))
    return 0;
  /* A slot that ends in a ReLU (a residual block, a conv) gets one after
   * the candidate too: the next block has only seen rectified inputs, and
   * the candidate's last conv then fits the teacher's pre-activation,
   * where a linear ending would have to make the ReLU's zeros itself. */
  const hant_node *last = &g->teacher->nodes[g->s->last];
  const char *post = last->op == HANT_OP_ACT && last->act == HANT_ACT_RELU ? " post=relu" : "";
  static const int es[] = {1, 2, 3, 4, 6};
  struct {
    int k;
    const char *act;
    int e_mask; /* which expansions, bit i for es[i] */
  } grid[] = {{3, "relu6", 0x1f}, {5, "relu6", 0x1f}, {3, "hswish", 0x1f}, {7, "relu6", 0x1a}};
  for (size_t gi = 0; gi < sizeof(grid) / sizeof(grid[0]); gi++)
    for (int i = 0; i < 5; i++) {
      if (!(grid[gi].e_mask & (1 << i)))
        continue;
      char key[48], hp[HANT__HPARAMS_BYTES];
      snprintf(key, sizeof(key), "ir e=%d k=%d act=%s", es[i], grid[gi].k, grid[gi].act);
      hant_jsonw w;
      hant_jsonw_init_buf(&w, hp, sizeof(hp));
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "e"), hant_jsonw_int(&w, es[i]);
      hant_jsonw_key(&w, "k"), hant_jsonw_int(&w, grid[gi].k);
      hant_jsonw_key(&w, "act"), hant_jsonw_str(&w, grid[gi].act);
      hant_jsonw_obj_end(&w);
      int rc = hant__cand_add(l, HANT_FAMILY_IR, "random", key, &w, "ir %d e=%d k=%d s=%d act=%s%s", g->cout, es[i],
                              grid[gi].k, g->stride, grid[gi].act, post);
      if (rc)
        return rc;
    }
  return 0;
}
