/* SPDX-License-Identifier: MIT */
/* family_group.c: grouped convolutions (g = 2, 4, 8), initialised from the block-diagonal part of the teacher. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"
#include "base.h"

/* A bottleneck's kxk conv in 2, 4 or 8 times the teacher's groups (for a
 * dense one, g = 2, 4, 8; for RegNet's, narrower groups down to
 * depthwise), each group's filters sliced from the teacher's. */
static int gen_group_bottleneck(const slot_geom *g, cand_list *l) {
  int g0 = hant__desc_int(g->s->desc, "g", 1);
  for (int f = 2; f <= 8; f *= 2) {
    int gr = g0 * f;
    if (gr > g->mid || g->mid % gr)
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "group g=%d", gr);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "groups"), hant_jsonw_int(&w, gr);
    hant_jsonw_obj_end(&w);
    int rc = hant__cand_add(l, HANT_FAMILY_GROUP, "group-slice", key, &w, "bottleneck %d mid=%d k=%d s=%d g=%d bn=0",
                            g->cout, g->mid, g->k, g->stride, gr);
    if (rc)
      return rc;
  }
  return 0;
}

int hant__gen_group(const slot_geom *g, cand_list *l) {
  if (!strcmp(g->kind, "bottleneck"))
    return gen_group_bottleneck(g, l);
  bool conv = !strcmp(g->kind, "conv"), res = !strcmp(g->kind, "res");
  if ((!conv && !res) || strstr(g->s->desc, " g="))
    return 0;
  for (int gr = 2; gr <= 8; gr *= 2) {
    if (g->cin % gr || g->cout % gr || (res && g->mid % gr))
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "group g=%d", gr);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "groups"), hant_jsonw_int(&w, gr);
    hant_jsonw_obj_end(&w);
    int rc = res ? hant__cand_add(l, HANT_FAMILY_GROUP, "group-slice", key, &w, "res %d s=%d k=%d mid=%d g=%d bn=0",
                                  g->cout, g->stride, g->k, g->mid, gr)
                 : hant__cand_add(l, HANT_FAMILY_GROUP, "group-slice", key, &w, "conv %d k=%d s=%d g=%d bn=0", g->cout,
                                  g->k, g->stride, gr);
    if (rc)
      return rc;
  }
  return 0;
}

/* Candidate group gi sees input channels [gi*cg, (gi+1)*cg) only; keep the
 * teacher weights that connect those to the group's outputs. A grouped
 * teacher (G0 groups, G a multiple of G0) holds, for output k, only the
 * columns of k's own teacher group, which contain the candidate group's. */
static int group_slice(const hant_net *t, int tn, hant_net *c, int cn) {
  const hant_param *W = &t->params[t->nodes[tn].param[0]];
  hant_param *V = &c->params[c->nodes[cn].param[0]];
  int G0 = t->nodes[tn].conv.groups;
  int K = W->shape[0], ct = W->shape[1], C = ct * G0, kk = W->shape[2] * W->shape[3];
  int G = c->nodes[cn].conv.groups, cg = V->shape[1];
  if (V->shape[0] != K || cg * G != C || G % G0 || V->shape[2] * V->shape[3] != kk)
    return hant__error(HANT_ESHAPE, "group: teacher conv %dx%d in %d groups does not match %d groups of %d", K, C, G0,
                       G, cg);
  int kg = K / G, kt = K / G0;
  for (int k = 0; k < K; k++) {
    int gi = k / kg, gt = k / kt;
    for (int ci = 0; ci < cg; ci++)
      memcpy(V->w + ((size_t)k * cg + ci) * kk, W->w + ((size_t)k * ct + gi * cg + ci - gt * ct) * kk,
             sizeof(float) * (size_t)kk);
  }
  int pt = t->nodes[tn].param[1], pc = c->nodes[cn].param[1];
  if (pt >= 0 && pc >= 0)
    memcpy(c->params[pc].w, t->params[pt].w, sizeof(float) * (size_t)K);
  return 0;
}

int hant__init_group(const hant_net *teacher, int slot, hant_net *cand) {
  int tw[8], cw[8];
  int nt = hant_slot_weight_nodes(teacher, slot, tw, 8), nc = hant_net_weight_nodes(cand, cw, 8);
  if (nt != nc)
    return hant__error(HANT_ESHAPE, "group candidate has %d layers, teacher slot %d has %d", nc, slot, nt);
  for (int i = 0; i < nt; i++) {
    const hant_node *cn = &cand->nodes[cw[i]];
    if (cn->op == HANT_OP_CONV && cn->conv.groups > teacher->nodes[tw[i]].conv.groups) {
      int rc = group_slice(teacher, tw[i], cand, cw[i]);
      if (rc)
        return rc;
      continue;
    }
    /* Ungrouped layers (the 1x1 shortcut) are copied as they are. */
    for (int j = 0; j < 2; j++) {
      int pt = teacher->nodes[tw[i]].param[j], pc = cn->param[j];
      if (pt < 0 || pc < 0)
        continue;
      if (teacher->params[pt].n != cand->params[pc].n)
        return hant__error(HANT_ESHAPE, "group: layer %d sizes differ", i);
      memcpy(cand->params[pc].w, teacher->params[pt].w, sizeof(float) * teacher->params[pt].n);
    }
  }
  return 0;
}
