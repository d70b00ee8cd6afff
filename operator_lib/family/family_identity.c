/* SPDX-License-Identifier: MIT */
/* family_identity.c: elastic depth: skip the block where shapes allow, or one conv for a two-conv block. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"

int hant__gen_identity(const slot_geom *g, cand_list *l) {
  int rc = 0;
  char hp[HANT__HPARAMS_BYTES];
  hant_jsonw w;
  if (g->same_shape && strcmp(g->kind, "linear")) {
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "op"), hant_jsonw_str(&w, "identity");
    hant_jsonw_obj_end(&w);
    rc = hant__cand_add(l, HANT_FAMILY_IDENTITY, "none", "identity", &w, "identity");
  }
  if (!rc && !strcmp(g->kind, "res"))
    for (int k = 1; k <= 3 && !rc; k += 2) {
      char key[32];
      snprintf(key, sizeof(key), "depth k=%d", k);
      hant_jsonw_init_buf(&w, hp, sizeof(hp));
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "op"), hant_jsonw_str(&w, "single-conv");
      hant_jsonw_key(&w, "k"), hant_jsonw_int(&w, k);
      hant_jsonw_obj_end(&w);
      rc = hant__cand_add(l, HANT_FAMILY_IDENTITY, "random", key, &w, "conv %d k=%d s=%d", g->cout, k, g->stride);
    }
  return rc;
}
