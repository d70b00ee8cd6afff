/* SPDX-License-Identifier: MIT */
/* family_prune.c: structured channel pruning: keep 30-70% of inner channels, ranked by L1 importance. */
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "family_internal.h"

/* A bottleneck keeps 30-70% of its inner channels; a grouped one keeps
 * whole groups at the teacher's group width (RegNet's design space holds
 * the group width fixed), so the kept kxk filters stay as they were. */
static int gen_prune_bottleneck(const slot_geom *g, cand_list *l) {
  int groups = hant__desc_int(g->s->desc, "g", 1);
  int gw = g->mid / groups;
  for (int pct = 30; pct <= 70; pct += 10) {
    int keep_g = groups > 1 ? (int)lround(groups * pct / 100.0) : 1;
    int m = groups > 1 ? keep_g * gw : (int)lround(g->mid * pct / 100.0);
    if (m < 1 || m >= g->mid || keep_g < 1)
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES], gopt[16] = "";
    snprintf(key, sizeof(key), "prune keep=%d%%", pct);
    if (keep_g > 1)
      snprintf(gopt, sizeof(gopt), " g=%d", keep_g);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "keep"), hant_jsonw_numf(&w, "%.2f", pct / 100.0);
    hant_jsonw_key(&w, "mid"), hant_jsonw_int(&w, m);
    hant_jsonw_key(&w, "groups"), hant_jsonw_int(&w, keep_g);
    hant_jsonw_key(&w, "importance"), hant_jsonw_str(&w, "l1");
    hant_jsonw_obj_end(&w);
    int rc = hant__cand_add(l, HANT_FAMILY_PRUNE, "l1-prune", key, &w, "bottleneck %d mid=%d k=%d s=%d%s bn=0",
                            g->cout, m, g->k, g->stride, gopt);
    if (rc)
      return rc;
  }
  return 0;
}

/* Modules whose concatenated outputs must keep their widths prune their
 * inner widths only: a ShuffleNet unit's branch (mid), a fire module's
 * squeeze (sq), an Inception module's two reductions (r3, r5). */
static int gen_prune_module(const slot_geom *g, cand_list *l) {
  const char *d = g->s->desc;
  bool shuffle = !strcmp(g->kind, "shuffle"), fire = !strcmp(g->kind, "fire");
  int w0 = shuffle ? hant__desc_int(d, "mid", g->cout / 2) : fire ? hant__desc_int(d, "sq", 1) : hant__desc_int(d, "r3", 1);
  int w1 = shuffle || fire ? 0 : hant__desc_int(d, "r5", 1);
  for (int pct = 30; pct <= 70; pct += 10) {
    int m0 = (int)lround(w0 * pct / 100.0), m1 = (int)lround(w1 * pct / 100.0);
    if (m0 < 1 || m0 >= w0 || (w1 && (m1 < 1 || m1 >= w1)))
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "prune keep=%d%%", pct);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "keep"), hant_jsonw_numf(&w, "%.2f", pct / 100.0);
    hant_jsonw_key(&w, shuffle ? "mid" : fire ? "sq" : "r3"), hant_jsonw_int(&w, m0);
    if (w1)
      hant_jsonw_key(&w, "r5"), hant_jsonw_int(&w, m1);
    hant_jsonw_key(&w, "importance"), hant_jsonw_str(&w, "l1");
    hant_jsonw_obj_end(&w);
    int rc;
    if (shuffle)
      rc = hant__cand_add(l, HANT_FAMILY_PRUNE, "l1-prune", key, &w, "shuffle %d k=%d s=%d mid=%d bn=0", g->cout,
                          g->k, g->stride, m0);
    else if (fire)
      rc = hant__cand_add(l, HANT_FAMILY_PRUNE, "l1-prune", key, &w, "fire %d sq=%d e1=%d k=%d bn=0", g->cout, m0,
                          hant__desc_int(d, "e1", 1), g->k);
    else
      rc = hant__cand_add(l, HANT_FAMILY_PRUNE, "l1-prune", key, &w,
                          "inception %d c1=%d r3=%d c3=%d r5=%d c5=%d pool=%d k3=%d k5=%d bn=0", g->cout,
                          hant__desc_int(d, "c1", 1), m0, hant__desc_int(d, "c3", 1), m1, hant__desc_int(d, "c5", 1),
                          hant__desc_int(d, "pool", 1), hant__desc_int(d, "k3", 3), hant__desc_int(d, "k5", 5));
    if (rc)
      return rc;
  }
  return 0;
}

int hant__gen_prune(const slot_geom *g, cand_list *l) {
  if (!strcmp(g->kind, "bottleneck"))
    return gen_prune_bottleneck(g, l);
  if (!strcmp(g->kind, "shuffle") || !strcmp(g->kind, "fire") || !strcmp(g->kind, "inception"))
    return gen_prune_module(g, l);
  bool res = !strcmp(g->kind, "res"), ir = !strcmp(g->kind, "ir");
  if ((!res && !ir) || (ir && !g->expand)) /* no inner width of its own to prune */
    return 0;
  for (int pct = 30; pct <= 70; pct += 10) {
    int m = (int)lround(g->mid * pct / 100.0);
    if (m < 1 || m >= g->mid)
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "prune keep=%d%%", pct);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "keep"), hant_jsonw_numf(&w, "%.2f", pct / 100.0);
    hant_jsonw_key(&w, "mid"), hant_jsonw_int(&w, m);
    hant_jsonw_key(&w, "importance"), hant_jsonw_str(&w, "l1");
    hant_jsonw_obj_end(&w);
    int rc = res ? hant__cand_add(l, HANT_FAMILY_PRUNE, "l1-prune", key, &w, "res %d s=%d k=%d mid=%d bn=0", g->cout,
                                  g->stride, g->k, m)
                 : hant__cand_add(l, HANT_FAMILY_PRUNE, "l1-prune", key, &w, "ir %d k=%d s=%d mid=%d bn=0 expand=1 skip=%d",
                                  g->cout, g->k, g->stride, m, g->skip);
    if (rc)
      return rc;
  }
  return 0;
}
