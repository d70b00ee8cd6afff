/* SPDX-License-Identifier: MIT */
/* family_kernel.c: elastic kernel: the same block with kernel 1, 3, 5 or 7, cropped or padded from the teacher. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"
#include "base.h"

/* Modules: a ShuffleNet unit's depthwise convs and a fire module's
 * expand conv take kernel 3, 5 or 7; an Inception module's second
 * reduction branch takes 1, 3 or 5 (GoogLeNet's paper has 5 where
 * torchvision has 3). Zero-padded from the teacher, a larger kernel starts
 * as the teacher's function. */
static int gen_kernel_module(const slot_geom *g, cand_list *l) {
  static const int ks[] = {1, 3, 5, 7};
  const char *d = g->s->desc;
  bool inception = !strcmp(g->kind, "inception");
  int cur = inception ? hant__desc_int(d, "k5", 5) : g->k;
  for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
    int k = ks[i], rc;
    if (k == cur || (inception ? k == 7 : k == 1))
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), inception ? "kernel k5=%d" : "kernel k=%d", k);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, inception ? "k5" : "k"), hant_jsonw_int(&w, k);
    hant_jsonw_obj_end(&w);
    if (!strcmp(g->kind, "shuffle"))
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w, "shuffle %d k=%d s=%d mid=%d bn=0", g->cout, k,
                          g->stride, hant__desc_int(d, "mid", g->cout / 2));
    else if (!strcmp(g->kind, "fire"))
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w, "fire %d sq=%d e1=%d k=%d bn=0", g->cout,
                          hant__desc_int(d, "sq", 1), hant__desc_int(d, "e1", 1), k);
    else
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w,
                          "inception %d c1=%d r3=%d c3=%d r5=%d c5=%d pool=%d k3=%d k5=%d bn=0", g->cout,
                          hant__desc_int(d, "c1", 1), hant__desc_int(d, "r3", 1), hant__desc_int(d, "c3", 1),
                          hant__desc_int(d, "r5", 1), hant__desc_int(d, "c5", 1), hant__desc_int(d, "pool", 1),
                          hant__desc_int(d, "k3", 3), k);
    if (rc)
      return rc;
  }
  return 0;
}

int hant__gen_kernel(const slot_geom *g, cand_list *l) {
  if (!strcmp(g->kind, "shuffle") || !strcmp(g->kind, "fire") || !strcmp(g->kind, "inception"))
    return gen_kernel_module(g, l);
  static const int ks[] = {1, 3, 5, 7};
  bool conv = !strcmp(g->kind, "conv"), res = !strcmp(g->kind, "res");
  bool dws = !strcmp(g->kind, "dws"), ir = !strcmp(g->kind, "ir");
  if (!conv && !res && !dws && !ir)
    return 0;
  for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
    int k = ks[i], rc = 0;
    /* 7x7 pays off only for single convs; residual blocks stop at 5. */
    if (k == g->k || (res && k == 7) || (k == 1 && (dws || ir)))
      continue;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "kernel k=%d", k);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "k"), hant_jsonw_int(&w, k);
    hant_jsonw_obj_end(&w);
    if (conv) {
      /* Keep the teacher's activation, if it named one. */
      const char *a = strstr(g->s->desc, "act=");
      char actopt[24] = "";
      if (a)
        snprintf(actopt, sizeof(actopt), " %.*s", (int)strcspn(a, " "), a);
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w, "conv %d k=%d s=%d bn=0%s", g->cout, k, g->stride,
                          actopt);
    } else if (res) {
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w, "res %d s=%d k=%d mid=%d bn=0", g->cout, g->stride,
                          k, g->mid);
    } else if (dws) {
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w, "dws %d k=%d s=%d bn=0", g->cout, k, g->stride);
    } else {
      rc = hant__cand_add(l, HANT_FAMILY_KERNEL, "kernel", key, &w, "ir %d k=%d s=%d mid=%d bn=0 expand=%d skip=%d",
                          g->cout, k, g->stride, g->mid, g->expand, g->skip);
    }
    if (rc)
      return rc;
  }
  return 0;
}

/* Crops the centre of a larger teacher kernel or pads a smaller one with
 * zeros; with "same" padding a padded kernel computes exactly the teacher's
 * function. */
static int resize_kernel(const hant_net *t, int tn, hant_net *c, int cn) {
  const hant_param *W = &t->params[t->nodes[tn].param[0]];
  hant_param *V = &c->params[c->nodes[cn].param[0]];
  int K = W->shape[0], C = W->shape[1], kt = W->shape[2], kc = V->shape[2];
  if (V->shape[0] != K || V->shape[1] != C || W->shape[3] != kt || V->shape[3] != kc)
    return hant__error(HANT_ESHAPE, "kernel: teacher %dx%dx%dx%d and candidate %dx%dx%dx%d differ beyond the kernel", K,
                       C, kt, W->shape[3], V->shape[0], V->shape[1], kc, V->shape[3]);
  int off = (kt - kc) / 2; /* > 0: crop, < 0: pad */
  for (size_t kk = 0; kk < (size_t)K * C; kk++)
    for (int i = 0; i < kc; i++)
      for (int j = 0; j < kc; j++) {
        int ti = i + off, tj = j + off;
        V->w[(kk * kc + i) * kc + j] = (ti >= 0 && ti < kt && tj >= 0 && tj < kt) ? W->w[(kk * kt + ti) * kt + tj] : 0.0f;
      }
  int pt = t->nodes[tn].param[1], pc = c->nodes[cn].param[1];
  if (pt >= 0 && pc >= 0)
    memcpy(c->params[pc].w, t->params[pt].w, sizeof(float) * (size_t)K);
  return 0;
}

int hant__init_kernel(const hant_net *teacher, int slot, hant_net *cand) {
  int tw[8], cw[8];
  int nt = hant_slot_weight_nodes(teacher, slot, tw, 8), nc = hant_net_weight_nodes(cand, cw, 8);
  if (nt != nc)
    return hant__error(HANT_ESHAPE, "kernel candidate has %d layers, teacher slot %d has %d", nc, slot, nt);
  for (int i = 0; i < nt; i++) {
    int rc = resize_kernel(teacher, tw[i], cand, cw[i]);
    if (rc)
      return rc;
  }
  return 0;
}
