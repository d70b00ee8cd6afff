/* SPDX-License-Identifier: MIT */
/* family_width.c: elastic width: fewer inner channels at tile-aligned counts, sliced from the teacher. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "family_internal.h"

/* Most groups a pruned bottleneck chooses among (RegNet's widest stage has 25 at 400MF, 80 at 32GF). */
#define MAX_DIM_GROUPS 1024
#include "base.h"

/* Multiples of 8 below the teacher's inner width: 8 and 16 are common
 * vector and systolic-array tile sizes, so these widths waste no lanes. */
int hant__gen_width(const slot_geom *g, cand_list *l) {
  bool res = !strcmp(g->kind, "res"), ir = !strcmp(g->kind, "ir");
  /* An ir block without an expansion conv has its input width inside. */
  if ((!res && !ir) || (ir && !g->expand))
    return 0;
  for (int m = 8; m < g->mid; m += 8) {
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "width mid=%d", m);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "mid"), hant_jsonw_int(&w, m);
    hant_jsonw_key(&w, "tile"), hant_jsonw_int(&w, m % 16 ? 8 : 16);
    hant_jsonw_obj_end(&w);
    int rc = res ? hant__cand_add(l, HANT_FAMILY_WIDTH, "slice", key, &w, "res %d s=%d k=%d mid=%d bn=0", g->cout,
                                  g->stride, g->k, m)
                 : hant__cand_add(l, HANT_FAMILY_WIDTH, "slice", key, &w, "ir %d k=%d s=%d mid=%d bn=0 expand=1 skip=%d",
                                  g->cout, g->k, g->stride, m, g->skip);
    if (rc)
      return rc;
  }
  return 0;
}

/* Output rows `keep` of a weight node (all later dimensions copied). */
static void take_rows(const hant_param *src, hant_param *dst, const int *keep, int m) {
  size_t per = src->n / (size_t)src->shape[0];
  for (int i = 0; i < m; i++)
    memcpy(dst->w + (size_t)i * per, src->w + (size_t)keep[i] * per, sizeof(float) * per);
}

/* Input channels `keep` of a [K, C, kh, kw] weight. */
static void take_cols(const hant_param *src, hant_param *dst, const int *keep, int m) {
  int K = src->shape[0], C = src->shape[1];
  size_t kk = src->n / ((size_t)K * C);
  for (int k = 0; k < K; k++)
    for (int i = 0; i < m; i++)
      memcpy(dst->w + ((size_t)k * m + i) * kk, src->w + ((size_t)k * C + keep[i]) * kk, sizeof(float) * kk);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The inner channels to keep: the first m, or the m whose producing
 * filters have the largest L1 norm (Li et al., ICLR 2017). The teacher's
 * BN is folded into those filters, so this also weighs BN's gamma. */
static int choose(const hant_param *w, const hant_param *b, int m0, int m, bool by_l1, int *keep) {
  if (!by_l1) {
    for (int i = 0; i < m; i++)
      keep[i] = i;
    return 0;
  }
  double *score = malloc(sizeof(double) * (size_t)m0);
  int *order = malloc(sizeof(int) * (size_t)m0);
  if (!score || !order) {
    free(score);
    free(order);
    return HANT_ENOMEM;
  }
  size_t per = w->n / (size_t)m0;
  for (int i = 0; i < m0; i++) {
    double s = b ? fabs(b->w[i]) : 0.0;
    for (size_t j = 0; j < per; j++)
      s += fabs(w->w[(size_t)i * per + j]);
    score[i] = s;
    order[i] = i;
  }
  for (int i = 1; i < m0; i++) /* insertion sort, descending by score; m0 is small */
    for (int j = i; j > 0 && score[order[j]] > score[order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  memcpy(keep, order, sizeof(int) * (size_t)m);
  qsort(keep, (size_t)m, sizeof(int), cmp_int);
  free(score);
  free(order);
  return 0;
}

static const hant_param *bias_of(const hant_net *n, int node) {
  return n->nodes[node].param[1] >= 0 ? &n->params[n->nodes[node].param[1]] : NULL;
}

/* Bottleneck [1x1 a, kxk b (g groups), 1x1 c, (shortcut)]: a and b keep
 * the chosen inner channels as rows, b (when dense) and c as columns. A
 * grouped b keeps whole groups, chosen by the L1 norm of a's rows in each,
 * so its filters (which see only their own group) are copied unchanged. */
static int init_bottleneck(const hant_net *teacher, const int *tw, hant_net *cand, const int *cw, int nt,
                           bool by_l1) {
  const hant_param *a = &teacher->params[teacher->nodes[tw[0]].param[0]];
  int m0 = a->shape[0], m = cand->params[cand->nodes[cw[0]].param[0]].shape[0];
  int g0 = teacher->nodes[tw[1]].conv.groups, g1 = cand->nodes[cw[1]].conv.groups;
  if (m > m0 || (g0 > 1 && (m0 / g0 != m / g1)) || (g0 == 1 && g1 != 1))
    return hant__error(HANT_ESHAPE, "prune: a bottleneck of %d channels in %d groups cannot keep %d in %d groups", m0,
                       g0, m, g1);
  int *keep = malloc(sizeof(int) * (size_t)m0);
  if (!keep)
    return HANT_ENOMEM;
  int rc = 0;
  const hant_param *ab = bias_of(teacher, tw[0]);
  if (g0 > 1) {
    /* Score groups as one filter each: a group's rows of a, laid end to end. */
    int gw = m0 / g0, kept_groups[MAX_DIM_GROUPS];
    if (g0 > MAX_DIM_GROUPS) {
      free(keep);
      return hant__error(HANT_ELIMIT, "prune: %d groups (at most %d)", g0, MAX_DIM_GROUPS);
    }
    hant_param gsc = *a, gb = {0};
    float *sums = calloc((size_t)g0, sizeof(float));
    if (!sums) {
      free(keep);
      return HANT_ENOMEM;
    }
    if (ab)
      for (int i = 0; i < m0; i++)
        sums[i / gw] += fabsf(ab->w[i]);
    gsc.shape[0] = g0;
    gb.w = sums, gb.n = (size_t)g0;
    rc = choose(&gsc, ab ? &gb : NULL, g0, g1, by_l1, kept_groups);
    free(sums);
    for (int i = 0; i < g1 && !rc; i++)
      for (int j = 0; j < gw; j++)
        keep[i * gw + j] = kept_groups[i] * gw + j;
  } else {
    rc = choose(a, ab, m0, m, by_l1, keep);
  }
  for (int i = 0; i < nt && !rc; i++) {
    const hant_param *tp = &teacher->params[teacher->nodes[tw[i]].param[0]];
    hant_param *cp = &cand->params[cand->nodes[cw[i]].param[0]];
    const hant_param *tb = bias_of(teacher, tw[i]);
    const hant_param *cb = bias_of(cand, cw[i]);
    if (i == 0 || i == 1) {
      if (i == 1 && g0 == 1) { /* rows, then columns, through a scratch copy */
        hant_param rows = *cp;
        rows.shape[1] = m0;
        rows.n = (size_t)m * m0 * tp->shape[2] * tp->shape[3];
        rows.w = malloc(sizeof(float) * rows.n);
        if (!rows.w) {
          rc = HANT_ENOMEM;
          break;
        }
        take_rows(tp, &rows, keep, m);
        take_cols(&rows, cp, keep, m);
        free(rows.w);
      } else {
        take_rows(tp, cp, keep, m);
      }
      if (tb && cb)
        for (int j = 0; j < m; j++)
          cb->w[j] = tb->w[keep[j]];
    } else if (i == 2) {
      take_cols(tp, cp, keep, m);
      if (tb && cb)
        memcpy(cb->w, tb->w, sizeof(float) * tb->n);
    } else if (tp->n == cp->n) {
      memcpy(cp->w, tp->w, sizeof(float) * tp->n);
      if (tb && cb)
        memcpy(cb->w, tb->w, sizeof(float) * tb->n);
    } else {
      rc = hant__error(HANT_ESHAPE, "prune: shortcut sizes differ");
    }
  }
  free(keep);
  return rc;
}

/* One inner width of a module pruned: layer `row` (and `row2`, a
 * depthwise conv after it, when >= 0) keep the chosen output channels,
 * layers cols[0..ncols) keep them as inputs. */
static int prune_inner(const hant_net *teacher, const int *tw, hant_net *cand, const int *cw, int row, int row2,
                       const int *cols, int ncols, bool by_l1) {
  const hant_param *a = &teacher->params[teacher->nodes[tw[row]].param[0]];
  int m0 = a->shape[0], m = cand->params[cand->nodes[cw[row]].param[0]].shape[0];
  if (m > m0)
    return hant__error(HANT_ESHAPE, "prune: a candidate keeps %d of %d channels", m, m0);
  int *keep = malloc(sizeof(int) * (size_t)m);
  if (!keep)
    return HANT_ENOMEM;
  int rc = choose(a, bias_of(teacher, tw[row]), m0, m, by_l1, keep);
  for (int r = 0; r < 2 && !rc; r++) {
    int li = r ? row2 : row;
    if (li < 0)
      continue;
    take_rows(&teacher->params[teacher->nodes[tw[li]].param[0]], &cand->params[cand->nodes[cw[li]].param[0]], keep, m);
    const hant_param *tb = bias_of(teacher, tw[li]);
    const hant_param *cb = bias_of(cand, cw[li]);
    if (tb && cb)
      for (int j = 0; j < m; j++)
        cb->w[j] = tb->w[keep[j]];
  }
  for (int c = 0; c < ncols && !rc; c++) {
    take_cols(&teacher->params[teacher->nodes[tw[cols[c]]].param[0]], &cand->params[cand->nodes[cw[cols[c]]].param[0]],
              keep, m);
    const hant_param *tb = bias_of(teacher, tw[cols[c]]);
    const hant_param *cb = bias_of(cand, cw[cols[c]]);
    if (tb && cb)
      memcpy(cb->w, tb->w, sizeof(float) * tb->n);
  }
  free(keep);
  return rc;
}

/* Shuffle unit [(dw, 1x1,) 1x1 -> mid, dw mid, 1x1], fire [squeeze, e1,
 * e3], Inception [1x1, r3, c3, r5, c5, pool 1x1]: inner widths pruned,
 * every other layer copied. */
static int init_module(const hant_net *teacher, int slot, const int *tw, hant_net *cand, const int *cw, int nt,
                       bool by_l1) {
  const char *kind = teacher->slots[slot].kind;
  bool touched[16] = {false};
  int rc;
  if (!strcmp(kind, "shuffle")) {
    int o = nt == 5 ? 2 : 0, cols[1] = {o + 2};
    rc = prune_inner(teacher, tw, cand, cw, o, o + 1, cols, 1, by_l1);
    touched[o] = touched[o + 1] = touched[o + 2] = true;
  } else if (!strcmp(kind, "fire")) {
    int cols[2] = {1, 2};
    rc = prune_inner(teacher, tw, cand, cw, 0, -1, cols, 2, by_l1);
    touched[0] = touched[1] = touched[2] = true;
  } else {
    int c3[1] = {2}, c5[1] = {4};
    rc = prune_inner(teacher, tw, cand, cw, 1, -1, c3, 1, by_l1);
    if (!rc)
      rc = prune_inner(teacher, tw, cand, cw, 3, -1, c5, 1, by_l1);
    touched[1] = touched[2] = touched[3] = touched[4] = true;
  }
  for (int i = 0; i < nt && !rc; i++) {
    if (touched[i])
      continue;
    const hant_param *tp = &teacher->params[teacher->nodes[tw[i]].param[0]];
    hant_param *cp = &cand->params[cand->nodes[cw[i]].param[0]];
    const hant_param *tb = bias_of(teacher, tw[i]);
    const hant_param *cb = bias_of(cand, cw[i]);
    if (tp->n != cp->n)
      return hant__error(HANT_ESHAPE, "prune: %s layer %d sizes differ", kind, i);
    memcpy(cp->w, tp->w, sizeof(float) * tp->n);
    if (tb && cb)
      memcpy(cb->w, tb->w, sizeof(float) * tb->n);
  }
  return rc;
}

int hant__init_channels(const hant_net *teacher, int slot, hant_net *cand, bool by_l1) {
  int tw[8], cw[8];
  int nt = hant_slot_weight_nodes(teacher, slot, tw, 8), nc = hant_net_weight_nodes(cand, cw, 8);
  const char *kind = teacher->slots[slot].kind;
  bool res = !strcmp(kind, "res");
  if (nt != nc || nt < 2)
    return hant__error(HANT_ESHAPE, "width candidate has %d layers, teacher slot %d has %d", nc, slot, nt);
  if (!strcmp(kind, "shuffle") || !strcmp(kind, "fire") || !strcmp(kind, "inception")) {
    if (nt > 16 || (!strcmp(kind, "inception") && nt != 6) || (!strcmp(kind, "fire") && nt != 3) ||
        (!strcmp(kind, "shuffle") && nt != 3 && nt != 5))
      return hant__error(HANT_ESHAPE, "prune: teacher slot %d is a %s of %d layers", slot, kind, nt);
    return init_module(teacher, slot, tw, cand, cw, nt, by_l1);
  }
  if (!strcmp(kind, "bottleneck")) {
    if (nt < 3)
      return hant__error(HANT_ESHAPE, "prune: teacher slot %d is a bottleneck of %d layers", slot, nt);
    return init_bottleneck(teacher, tw, cand, cw, nt, by_l1);
  }
  /* res: [conv0 -> mid, conv1 mid ->, (shortcut)]; ir: [expand, depthwise, project]. */
  int first = tw[0];
  const hant_param *w0 = &teacher->params[teacher->nodes[first].param[0]];
  int m0 = w0->shape[0];
  int m = cand->params[cand->nodes[cw[0]].param[0]].shape[0];
  if (m > m0)
    return hant__error(HANT_ESHAPE, "width: candidate keeps %d of %d channels", m, m0);
  int *keep = malloc(sizeof(int) * (size_t)m);
  if (!keep)
    return HANT_ENOMEM;
  int rc = choose(w0, bias_of(teacher, first), m0, m, by_l1, keep);
  if (rc)
    goto out;
  /* Layers that produce the inner channels take rows; the layer that
   * consumes them takes columns; anything after is copied. */
  int consume = res ? 1 : nt - 1;
  for (int i = 0; i < nt; i++) {
    const hant_param *tw_p = &teacher->params[teacher->nodes[tw[i]].param[0]];
    hant_param *cw_p = &cand->params[cand->nodes[cw[i]].param[0]];
    const hant_param *tb = bias_of(teacher, tw[i]);
    const hant_param *cb = bias_of(cand, cw[i]);
    if (i < consume) {
      take_rows(tw_p, cw_p, keep, m);
      if (tb && cb)
        for (int j = 0; j < m; j++)
          cb->w[j] = tb->w[keep[j]];
    } else if (i == consume) {
      take_cols(tw_p, cw_p, keep, m);
      if (tb && cb)
        memcpy(cb->w, tb->w, sizeof(float) * tb->n);
    } else {
      if (tw_p->n != cw_p->n) {
        rc = hant__error(HANT_ESHAPE, "width: layer %d sizes differ", i);
        goto out;
      }
      memcpy(cw_p->w, tw_p->w, sizeof(float) * tw_p->n);
      if (tb && cb)
        memcpy(cb->w, tb->w, sizeof(float) * tb->n);
    }
  }
out:
  free(keep);
  return rc;
}
