/* SPDX-License-Identifier: MIT */
/* family_identity.c: elastic depth: skip the block where shapes allow, or one conv for a two-conv block. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"

int hant__gen_identity(const slot_geom *g, cand_list *l) {
  int rc = 0;
  if (g->same_shape && strcmp(g->kind, "linear"))
    rc = hant__cand_add(l, HANT_FAMILY_IDENTITY, "none", "identity", "{\"op\":\"identity\"}", "identity");
  if (!rc && !strcmp(g->kind, "res"))
    for (int k = 1; k <= 3 && !rc; k += 2) {
      char key[32], hp[64];
      snprintf(key, sizeof(key), "depth k=%d", k);
      snprintf(hp, sizeof(hp), "{\"op\":\"single-conv\",\"k\":%d}", k);
      rc = hant__cand_add(l, HANT_FAMILY_IDENTITY, "random", key, hp, "conv %d k=%d s=%d", g->cout, k, g->stride);
    }
  return rc;
}
