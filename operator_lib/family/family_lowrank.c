/* SPDX-License-Identifier: MIT */
/* family_lowrank.c: low-rank factorisation by truncated SVD: kxk as kx1 then 1xk, a linear layer as in->r->out. */
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "family_internal.h"
#include "svd.h"
#include "base.h"

/* Ranks at 1/4, 1/2 and 3/4 of the break-even rank, where the factorised
 * pair costs as many MACs as the original: for a kxk conv from c to k
 * channels, r (c + k) k = c k k^2. Every rank is below the matrix rank. */
static int add_ranks(const slot_geom *g, cand_list *l, double r_even, int r_max, const char *fmt_kind) {
  int last = 0;
  bool linear = !strcmp(fmt_kind, "linear");
  for (int i = 1; i <= (linear && r_max <= 16 ? r_max - 1 : 3); i++) {
    int r = linear && r_max <= 16 ? i : (int)ceil(r_even * 0.25 * i);
    if (r < 1)
      r = 1;
    if (r >= r_max || r == last)
      continue;
    last = r;
    char key[32], hp[HANT__HPARAMS_BYTES];
    snprintf(key, sizeof(key), "lowrank r=%d", r);
    hant_jsonw w;
    hant_jsonw_init_buf(&w, hp, sizeof(hp));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "rank"), hant_jsonw_int(&w, r);
    hant_jsonw_obj_end(&w);
    int rc;
    if (linear)
      rc = hant__cand_add(l, HANT_FAMILY_LOWRANK, "svd", key, &w, "linear %d r=%d", g->cout, r);
    else if (!strcmp(fmt_kind, "res"))
      rc = hant__cand_add(l, HANT_FAMILY_LOWRANK, "svd", key, &w, "res %d s=%d k=%d mid=%d r=%d bn=0", g->cout,
                          g->stride, g->k, g->mid, r);
    else
      rc = hant__cand_add(l, HANT_FAMILY_LOWRANK, "svd", key, &w, "conv %d k=%d s=%d r=%d bn=0", g->cout, g->k,
                          g->stride, r);
    if (rc)
      return rc;
  }
  return 0;
}

int hant__gen_lowrank(const slot_geom *g, cand_list *l) {
  if (!strcmp(g->kind, "linear")) {
    int f = g->s->in_c * g->s->in_h * g->s->in_w;
    int r_max = f < g->cout ? f : g->cout;
    return add_ranks(g, l, (double)f * g->cout / (f + g->cout), r_max, "linear");
  }
  if (g->k < 2 || strstr(g->s->desc, " g=") || strstr(g->s->desc, " r="))
    return 0;
  if (!strcmp(g->kind, "conv")) {
    int r_max = (g->cin * g->k < g->cout * g->k) ? g->cin * g->k : g->cout * g->k;
    return add_ranks(g, l, (double)g->cin * g->cout * g->k / (g->cin + g->cout), r_max, "conv");
  }
  if (!strcmp(g->kind, "res")) {
    /* Both kxk convs get rank r; bound it by the smaller of the two. */
    int r0 = (g->cin < g->mid ? g->cin : g->mid) * g->k, r1 = (g->mid < g->cout ? g->mid : g->cout) * g->k;
    return add_ranks(g, l, (double)g->mid * g->cout * g->k / (g->mid + g->cout), r0 < r1 ? r0 : r1, "res");
  }
  return 0;
}

/* A[r, c, i, 0] and B[m, r, 0, j] from the SVD of W reshaped to
 * [(c, i), (m, j)], so that sum_r A B reproduces W at full rank. */
static int factor_conv(const hant_net *t, int tn, hant_net *c, int ca, int cb) {
  const hant_param *W = &t->params[t->nodes[tn].param[0]];
  hant_param *A = &c->params[c->nodes[ca].param[0]], *B = &c->params[c->nodes[cb].param[0]];
  int K = W->shape[0], C = W->shape[1], k = W->shape[2];
  int R = A->shape[0];
  if (W->shape[3] != k || A->shape[1] != C || A->shape[2] != k || B->shape[0] != K || B->shape[1] != R ||
      B->shape[3] != k)
    return hant__error(HANT_ESHAPE, "low-rank: teacher conv %dx%dx%dx%d does not match the factor shapes", K, C, k,
                       W->shape[3]);
  int m = C * k, n = K * k, mn = m < n ? m : n;
  float *mat = malloc(sizeof(float) * (size_t)m * n), *u = malloc(sizeof(float) * (size_t)m * mn);
  float *s = malloc(sizeof(float) * (size_t)mn), *vt = malloc(sizeof(float) * (size_t)mn * n);
  int rc = HANT_ENOMEM;
  if (!mat || !u || !s || !vt)
    goto out;
  for (int kk = 0; kk < K; kk++)
    for (int cc = 0; cc < C; cc++)
      for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
          mat[(size_t)(cc * k + i) * n + kk * k + j] = W->w[(((size_t)kk * C + cc) * k + i) * k + j];
  if ((rc = hant_svd(m, n, mat, u, s, vt)))
    goto out;
  for (int r = 0; r < R; r++) {
    float sq = r < mn ? sqrtf(s[r]) : 0.0f;
    for (int cc = 0; cc < C; cc++)
      for (int i = 0; i < k; i++)
        A->w[((size_t)r * C + cc) * k + i] = r < mn ? u[(size_t)(cc * k + i) * mn + r] * sq : 0.0f;
    for (int kk = 0; kk < K; kk++)
      for (int j = 0; j < k; j++)
        B->w[((size_t)kk * R + r) * k + j] = r < mn ? vt[(size_t)r * n + kk * k + j] * sq : 0.0f;
  }
  if (t->nodes[tn].param[1] >= 0 && c->nodes[cb].param[1] >= 0)
    memcpy(c->params[c->nodes[cb].param[1]].w, t->params[t->nodes[tn].param[1]].w, sizeof(float) * (size_t)K);
  rc = 0;
out:
  free(mat);
  free(u);
  free(s);
  free(vt);
  return rc;
}

/* W[O, F] = U S Vt -> first [R, F] = sqrt(S) Vt, second [O, R] = U sqrt(S). */
static int factor_linear(const hant_net *t, int tn, hant_net *c, int ca, int cb) {
  const hant_param *W = &t->params[t->nodes[tn].param[0]];
  hant_param *A = &c->params[c->nodes[ca].param[0]], *B = &c->params[c->nodes[cb].param[0]];
  int O = W->shape[0], F = W->shape[1], R = A->shape[0], mn = O < F ? O : F;
  if (A->shape[1] != F || B->shape[0] != O || B->shape[1] != R)
    return hant__error(HANT_ESHAPE, "low-rank: linear %dx%d does not match the factor shapes", O, F);
  float *u = malloc(sizeof(float) * (size_t)O * mn), *s = malloc(sizeof(float) * (size_t)mn);
  float *vt = malloc(sizeof(float) * (size_t)mn * F);
  int rc = HANT_ENOMEM;
  if (!u || !s || !vt)
    goto out;
  if ((rc = hant_svd(O, F, W->w, u, s, vt)))
    goto out;
  for (int r = 0; r < R; r++) {
    float sq = r < mn ? sqrtf(s[r]) : 0.0f;
    for (int f = 0; f < F; f++)
      A->w[(size_t)r * F + f] = r < mn ? vt[(size_t)r * F + f] * sq : 0.0f;
    for (int o = 0; o < O; o++)
      B->w[(size_t)o * R + r] = r < mn ? u[(size_t)o * mn + r] * sq : 0.0f;
  }
  if (t->nodes[tn].param[1] >= 0 && c->nodes[cb].param[1] >= 0)
    memcpy(c->params[c->nodes[cb].param[1]].w, t->params[t->nodes[tn].param[1]].w, sizeof(float) * (size_t)O);
  rc = 0;
out:
  free(u);
  free(s);
  free(vt);
  return rc;
}

static int copy_node(const hant_net *t, int tn, hant_net *c, int cn) {
  for (int j = 0; j < 2; j++) {
    int pt = t->nodes[tn].param[j], pc = c->nodes[cn].param[j];
    if (pt < 0 || pc < 0)
      continue;
    if (t->params[pt].n != c->params[pc].n)
      return hant__error(HANT_ESHAPE, "copy: %zu teacher values, %zu candidate values", t->params[pt].n,
                         c->params[pc].n);
    memcpy(c->params[pc].w, t->params[pt].w, sizeof(float) * t->params[pt].n);
  }
  return 0;
}

int hant__init_svd(const hant_net *teacher, int slot, hant_net *cand) {
  int tw[8], cw[16];
  int nt = hant_slot_weight_nodes(teacher, slot, tw, 8), nc = hant_net_weight_nodes(cand, cw, 16);
  /* Every teacher kxk conv (or linear) became two layers; 1x1 shortcuts are copied. */
  int j = 0, rc = 0;
  for (int i = 0; i < nt && !rc; i++) {
    const hant_node *n = &teacher->nodes[tw[i]];
    bool factored = n->op == HANT_OP_LINEAR || n->conv.kh > 1;
    if (factored) {
      if (j + 1 >= nc)
        return hant__error(HANT_ESHAPE, "low-rank candidate has too few layers for slot %d", slot);
      rc = n->op == HANT_OP_LINEAR ? factor_linear(teacher, tw[i], cand, cw[j], cw[j + 1])
                                   : factor_conv(teacher, tw[i], cand, cw[j], cw[j + 1]);
      j += 2;
    } else {
      if (j >= nc)
        return hant__error(HANT_ESHAPE, "low-rank candidate has too few layers for slot %d", slot);
      rc = copy_node(teacher, tw[i], cand, cw[j++]);
    }
  }
  if (!rc && j != nc)
    rc = hant__error(HANT_ESHAPE, "low-rank candidate has %d layers, expected %d", nc, j);
  return rc;
}
