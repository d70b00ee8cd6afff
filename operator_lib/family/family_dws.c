/* SPDX-License-Identifier: MIT */
/* family_dws.c: depthwise-separable replacements (depthwise kxk, then pointwise 1x1), ReLU or hard-swish. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"

int hant__gen_dws(const slot_geom *g, cand_list *l) {
  if (!strcmp(g->kind, "linear") || !strcmp(g->kind, "identity"))
    return 0;
  static const char *const acts[] = {"relu", "hswish"};
  for (int a = 0; a < 2; a++)
    for (int k = 3; k <= 7; k += 2) {
      char key[40], hp[HANT__HPARAMS_BYTES];
      snprintf(key, sizeof(key), "dws k=%d act=%s", k, acts[a]);
      hant_jsonw w;
      hant_jsonw_init_buf(&w, hp, sizeof(hp));
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "k"), hant_jsonw_int(&w, k);
      hant_jsonw_key(&w, "act"), hant_jsonw_str(&w, acts[a]);
      hant_jsonw_obj_end(&w);
      int rc = hant__cand_add(l, HANT_FAMILY_DWS, "random", key, &w, "dws %d k=%d s=%d act=%s", g->cout, k, g->stride,
                              acts[a]);
      if (rc)
        return rc;
    }
  return 0;
}
