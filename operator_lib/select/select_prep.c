/* SPDX-License-Identifier: MIT */
/* select_prep.c: prepares a problem for the search: shifts costs and drops candidates that cannot fit or are dominated. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

void hant__select_prep_free(struct prep *w) {
  free(w->off);
  free(w->R);
  free(w->tol);
  free(w->cstart);
  free(w->citem);
  free(w->cv);
  free(w->cc);
  memset(w, 0, sizeof *w);
}

struct skey {
  double v, s;
  size_t j;
};

static int skey_before(const struct skey *x, const struct skey *y) {
  if (x->v != y->v)
    return x->v > y->v;
  if (x->s != y->s)
    return x->s < y->s;
  return x->j < y->j;
}

/* Value descending, then cost ascending, then index: an inlined quicksort,
 * since qsort's comparator calls dominated the whole solve. */
static void skey_sort(struct skey *a, size_t n) {
  while (n > 16) {
    struct skey piv = a[n / 2], t;
    size_t i = 0, j = n - 1;
    for (;;) {
      while (skey_before(&a[i], &piv))
        i++;
      while (skey_before(&piv, &a[j]))
        j--;
      if (i >= j)
        break;
      t = a[i];
      a[i] = a[j];
      a[j] = t;
      i++;
      j--;
    }
    /* recurse on the smaller part, loop on the larger */
    size_t left = j + 1;
    if (left < n - left) {
      skey_sort(a, left);
      a += left;
      n -= left;
    } else {
      skey_sort(a + left, n - left);
      n = left;
    }
  }
  for (size_t i = 1; i < n; i++) {
    struct skey t = a[i];
    size_t j = i;
    while (j > 0 && skey_before(&t, &a[j - 1])) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = t;
  }
}

/* Drops dominated candidates from w's range [s0, n), kept in value order
 * (an earlier candidate has at least the value of a later one); compacts in
 * place and returns the new end. */
size_t hant__select_drop_dominated(struct prep *w, size_t s0, size_t n) {
  size_t K = w->K, o = s0;
  for (size_t a = s0; a < n; a++) {
    int dominated = 0;
    for (size_t b = s0; b < o && !dominated; b++) {
      int le = 1;
      for (size_t k = 0; k < K && le; k++)
        le = w->cc[b * K + k] <= w->cc[a * K + k];
      dominated = le;
    }
    if (dominated)
      continue;
    w->citem[o] = w->citem[a];
    w->cv[o] = w->cv[a];
    memmove(w->cc + o * K, w->cc + a * K, K * sizeof *w->cc);
    o++;
  }
  return o;
}

/* Returns 0 (candidates ready), 1 (infeasible; r says why) or an error. The
 * budgets are shifted by each group's cheapest cost so that every shifted
 * cost is >= 0: then a partial choice that exceeds a budget can never come
 * back under it, which both the pruning and the bounds rely on. */
int hant__select_prep_build(const struct hant_select_problem *p, struct hant_select_result *r,
                            struct prep *w) {
  size_t G = p->n_groups, K = p->n_dims;
  int rc = 0;
  double *minc = NULL, *scale = NULL;
  struct skey *keys = NULL;
  memset(w, 0, sizeof *w);
  w->G = G;
  w->K = K;
  w->off = malloc((G + 1) * sizeof *w->off);
  w->R = calloc(K + 1, sizeof *w->R);
  w->tol = calloc(K + 1, sizeof *w->tol);
  minc = malloc((G * K + 1) * sizeof *minc);
  scale = calloc(K + 1, sizeof *scale);
  if (!w->off || !w->R || !w->tol || !minc || !scale)
    goto nomem;
  w->off[0] = 0;
  size_t maxg = 0;
  for (size_t i = 0; i < G; i++) {
    w->off[i + 1] = w->off[i] + p->group_size[i];
    if (p->group_size[i] > maxg)
      maxg = p->group_size[i];
  }
  size_t N = w->off[G];
  double vscale = 0;
  for (size_t i = 0; i < G; i++) {
    double vmax = 0;
    for (size_t k = 0; k < K; k++)
      minc[i * K + k] = INFINITY;
    for (size_t g = w->off[i]; g < w->off[i + 1]; g++) {
      vmax = dmax(vmax, fabs(p->value[g]));
      for (size_t k = 0; k < K; k++)
        minc[i * K + k] = dmin(minc[i * K + k], p->cost[g * K + k]);
    }
    vscale += vmax;
    for (size_t k = 0; k < K; k++) {
      double cmax = 0;
      for (size_t g = w->off[i]; g < w->off[i + 1]; g++)
        cmax = dmax(cmax, fabs(p->cost[g * K + k]));
      scale[k] += cmax;
      r->min_totals[k] += minc[i * K + k];
    }
  }
  w->vtol = VALUE_RTOL * (1.0 + vscale);
  int over = 0;
  for (size_t k = 0; k < K; k++) {
    w->tol[k] = COST_RTOL * dmax(1.0, dmax(fabs(p->budget[k]), scale[k]));
    w->R[k] = p->budget[k] - r->min_totals[k];
    r->over_budget[k] = w->R[k] < -w->tol[k];
    over |= r->over_budget[k];
  }
  if (over) {
    rc = 1;
    goto out;
  }
  w->cstart = malloc((G + 1) * sizeof *w->cstart);
  w->citem = malloc(N * sizeof *w->citem);
  w->cv = malloc(N * sizeof *w->cv);
  w->cc = malloc((N * K + 1) * sizeof *w->cc);
  keys = malloc(maxg * sizeof *keys);
  size_t *probe = malloc((K + 8) * sizeof *probe);
  struct skey *pkey = malloc((K + 8) * sizeof *pkey);
  if (!w->cstart || !w->citem || !w->cv || !w->cc || !keys || !probe || !pkey) {
    free(probe);
    free(pkey);
    goto nomem;
  }
  size_t n = 0;
  for (size_t i = 0; i < G; i++) {
    w->cstart[i] = n;
    size_t m = 0;
    for (size_t j = 0; j < p->group_size[i]; j++) {
      size_t g = w->off[i] + j;
      double s = 0;
      int fits = 1;
      for (size_t k = 0; k < K; k++) {
        double c = p->cost[g * K + k] - minc[i * K + k];
        if (c > w->R[k] + w->tol[k])
          fits = 0;
        s += c / dmax(w->R[k] + w->tol[k], w->tol[k]);
      }
      if (fits)
        keys[m++] = (struct skey){p->value[g], s, j};
    }
    /* Pre-filter: most candidates are dominated by one of a few strong ones
     * (best value, cheapest per budget, best value per weighted cost), and
     * dropping them first keeps the sort below small. */
    size_t np = 0;
    if (m > 8) {
      size_t pv = 0, ps = 0;
      for (size_t a = 1; a < m; a++) {
        if (skey_before(&keys[a], &keys[pv]))
          pv = a;
        if (keys[a].v - keys[a].s > keys[ps].v - keys[ps].s)
          ps = a;
      }
      probe[np++] = pv;
      probe[np++] = ps;
      /* central candidates, best value per cost at a few exchange rates:
       * they dominate much of the interior */
      double vlo = keys[0].v, vhi = keys[0].v;
      for (size_t a = 1; a < m; a++) {
        vlo = dmin(vlo, keys[a].v);
        vhi = dmax(vhi, keys[a].v);
      }
      static const double rate[] = {0.5, 1, 2};
      for (size_t q = 0; q < 3; q++) {
        size_t pb = 0;
        double sb = -INFINITY, vr = vhi > vlo ? vhi - vlo : 1;
        for (size_t a = 0; a < m; a++) {
          double sc = (keys[a].v - vlo) / vr - rate[q] * keys[a].s / (double)K;
          if (sc > sb) {
            sb = sc;
            pb = a;
          }
        }
        probe[np++] = pb;
      }
      for (size_t k = 0; k < K; k++) {
        size_t pk = 0;
        for (size_t a = 1; a < m; a++) {
          double ca = p->cost[(w->off[i] + keys[a].j) * K + k];
          double cb = p->cost[(w->off[i] + keys[pk].j) * K + k];
          if (ca < cb || (ca == cb && skey_before(&keys[a], &keys[pk])))
            pk = a;
        }
        probe[np++] = pk;
      }
      for (size_t q = 0; q < np; q++)
        pkey[q] = keys[probe[q]]; /* copies: compaction below moves keys */
      for (size_t q = 0; q < np; q++)
        if (keys[probe[q]].s >= 0)
          keys[probe[q]].s = -keys[probe[q]].s - 1; /* mark (s >= 0 otherwise) */
      size_t o = 0;
      for (size_t a = 0; a < m; a++) {
        int drop = 0;
        if (keys[a].s >= 0) {
          /* branch-free: the outcome is data-dependent and mispredicts */
          const double *ca = p->cost + (w->off[i] + keys[a].j) * K;
          for (size_t q = 0; q < np; q++) {
            const double *cb = p->cost + (w->off[i] + pkey[q].j) * K;
            int le = pkey[q].v >= keys[a].v;
            for (size_t k = 0; k < K; k++)
              le &= cb[k] <= ca[k];
            drop |= le;
          }
        }
        if (!drop)
          keys[o++] = keys[a];
      }
      m = o;
      for (size_t a = 0; a < m; a++)
        if (keys[a].s < 0)
          keys[a].s = -keys[a].s - 1;
    }
    /* Value order within the slot; the exact dominance filter runs after
     * reduced-cost fixing (hant__select_drop_dominated), on far fewer candidates: a
     * dominated candidate's reduced value never beats its dominator's, so
     * fixing never keeps it while dropping the dominator. */
    skey_sort(keys, m);
    for (size_t a = 0; a < m; a++) {
      size_t g = w->off[i] + keys[a].j;
      w->citem[n] = keys[a].j;
      w->cv[n] = p->value[g];
      for (size_t k = 0; k < K; k++)
        w->cc[n * K + k] = p->cost[g * K + k] - minc[i * K + k];
      n++;
    }
    if (K == 1) /* cheap here (few survive), and every later stage gains */
      n = hant__select_drop_dominated(w, w->cstart[i], n);
    if (n == w->cstart[i]) {
      r->jointly_infeasible = 1;
      rc = 1;
    }
  }
  w->cstart[G] = n;
  w->n = n;
  free(probe);
  free(pkey);
out:
  free(minc);
  free(scale);
  free(keys);
  return rc;
nomem:
  rc = hant__error(HANT_ENOMEM, "select: out of memory preparing %zu groups", G);
  goto out;
}
