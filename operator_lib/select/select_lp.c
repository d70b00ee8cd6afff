/* SPDX-License-Identifier: MIT */
/* select_lp.c: the one-dimensional LP relaxations that bound the search: per-group concave hulls, their merge and suffix envelopes. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

struct hpt {
  double c, v;
};

static int hpt_cmp(const void *a, const void *b) {
  const struct hpt *x = a, *y = b;
  if (x->c != y->c)
    return x->c < y->c ? -1 : 1;
  if (x->v != y->v)
    return x->v > y->v ? -1 : 1;
  return 0;
}

/* Hull of one group's points (c, v): the cheapest point (best value among
 * equals) as base, then increments of strictly decreasing slope. Points
 * under the hull are LP-dominated: no LP optimum needs them. pts is sorted
 * in place. Returns the number of increments written to dc/dv. */
static size_t group_hull(struct hpt *pts, size_t n, double *base_c, double *base_v, double *dc,
                         double *dv) {
  qsort(pts, n, sizeof *pts, hpt_cmp);
  size_t h = 1; /* hull kept in pts[0..h) */
  for (size_t i = 1; i < n; i++) {
    struct hpt q = pts[i];
    if (q.v <= pts[h - 1].v)
      continue;
    while (h >= 2) {
      struct hpt a = pts[h - 2], b = pts[h - 1];
      /* drop b unless it lies strictly above the segment a-q */
      if ((b.v - a.v) * (q.c - b.c) <= (q.v - b.v) * (b.c - a.c))
        h--;
      else
        break;
    }
    pts[h++] = q;
  }
  *base_c = pts[0].c;
  *base_v = pts[0].v;
  for (size_t i = 1; i < h; i++) {
    dc[i - 1] = pts[i].c - pts[i - 1].c;
    dv[i - 1] = pts[i].v - pts[i - 1].v;
  }
  return h - 1;
}

void hant__select_hulls_free(struct hulls *h) {
  free(h->base_c);
  free(h->base_v);
  free(h->istart);
  free(h->dc);
  free(h->dv);
  free(h->slope);
  memset(h, 0, sizeof *h);
}

/* fc: [n, stride] cost function values, read at column col; groups given by
 * candidate ranges start[0..G]. */
int hant__select_hulls_build(struct hulls *h, size_t G, const size_t *start, const double *fc,
                             size_t stride, size_t col, const double *v) {
  size_t n = start[G], maxg = 0;
  memset(h, 0, sizeof *h);
  for (size_t d = 0; d < G; d++)
    if (start[d + 1] - start[d] > maxg)
      maxg = start[d + 1] - start[d];
  struct hpt *pts = malloc((maxg + 1) * sizeof *pts);
  h->G = G;
  h->base_c = malloc(G * sizeof *h->base_c);
  h->base_v = malloc(G * sizeof *h->base_v);
  h->istart = malloc((G + 1) * sizeof *h->istart);
  h->dc = malloc((n + 1) * sizeof *h->dc);
  h->dv = malloc((n + 1) * sizeof *h->dv);
  h->slope = malloc((n + 1) * sizeof *h->slope);
  if (!pts || !h->base_c || !h->base_v || !h->istart || !h->dc || !h->dv || !h->slope) {
    free(pts);
    hant__select_hulls_free(h);
    return hant__error(HANT_ENOMEM, "select: out of memory for LP hulls");
  }
  size_t m = 0;
  for (size_t d = 0; d < G; d++) {
    size_t cnt = start[d + 1] - start[d];
    for (size_t j = 0; j < cnt; j++)
      pts[j] = (struct hpt){fc[(start[d] + j) * stride + col], v[start[d] + j]};
    h->istart[d] = m;
    m += group_hull(pts, cnt, &h->base_c[d], &h->base_v[d], h->dc + m, h->dv + m);
  }
  h->istart[G] = m;
  for (size_t i = 0; i < m; i++)
    h->slope[i] = h->dv[i] / h->dc[i];
  free(pts);
  return 0;
}

static _Thread_local const double *sort_slope; /* qsort has no context argument */

static int by_slope_desc(const void *a, const void *b) {
  double x = sort_slope[*(const uint32_t *)a], y = sort_slope[*(const uint32_t *)b];
  return x > y ? -1 : (x < y);
}

/* LP relaxation of all groups of h with capacity cap (already net of no
 * base cost): value and the multiplier (slope at the break). Returns
 * -INFINITY when even the bases do not fit. */
double hant__select_hulls_lp(const struct hulls *h, double cap, double tolc, double *lambda) {
  double sum_c = 0, sum_v = 0;
  for (size_t d = 0; d < h->G; d++) {
    sum_c += h->base_c[d];
    sum_v += h->base_v[d];
  }
  *lambda = 0;
  double room = cap - sum_c;
  if (room < -tolc)
    return -INFINITY;
  size_t m = h->istart[h->G];
  uint32_t *idx = malloc((m + 1) * sizeof *idx);
  if (!idx)
    return INFINITY; /* still a valid (useless) bound */
  for (size_t i = 0; i < m; i++)
    idx[i] = (uint32_t)i;
  sort_slope = h->slope;
  qsort(idx, m, sizeof *idx, by_slope_desc);
  double val = sum_v;
  for (size_t i = 0; i < m && room > 0; i++) {
    uint32_t e = idx[i];
    if (h->dc[e] <= room) {
      room -= h->dc[e];
      val += h->dv[e];
    } else {
      val += room * h->slope[e];
      *lambda = h->slope[e];
      room = 0;
    }
  }
  free(idx);
  return val;
}

/* Builds the suffix envelopes of function f for depths >= d0. */
int hant__select_env_build(struct bnb *b, size_t f) {
  size_t G = b->G;
  const struct hulls *h = &b->hl[f];
  struct env *E = b->env + f * (G + 1);
  memset(&E[G], 0, sizeof E[G]);
  for (size_t d = G; d-- > b->d0;) {
    struct env *e = &E[d], *nx = &E[d + 1];
    size_t a0 = h->istart[d], na = h->istart[d + 1] - a0;
    e->n = na + nx->n;
    e->sum_c = nx->sum_c + h->base_c[d];
    e->sum_v = nx->sum_v + h->base_v[d];
    e->idx = malloc((e->n + 1) * sizeof *e->idx);
    e->cumc = malloc((e->n + 1) * sizeof *e->cumc);
    e->cumv = malloc((e->n + 1) * sizeof *e->cumv);
    if (!e->idx || !e->cumc || !e->cumv)
      return hant__error(HANT_ENOMEM, "select: out of memory for LP envelopes");
    /* a group's own increments are already in slope order (its hull is concave) */
    size_t i = 0, j = 0, o = 0;
    double sc = 0, sv = 0;
    while (i < na || j < nx->n) {
      uint32_t take;
      if (j >= nx->n || (i < na && h->slope[a0 + i] >= h->slope[nx->idx[j]]))
        take = (uint32_t)(a0 + i++);
      else
        take = nx->idx[j++];
      sc += h->dc[take];
      sv += h->dv[take];
      e->idx[o] = take;
      e->cumc[o] = sc;
      e->cumv[o] = sv;
      o++;
    }
  }
  return 0;
}
