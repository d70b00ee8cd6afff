/* SPDX-License-Identifier: MIT */
/* select_lagrange.c: Lagrangian multipliers and the greedy warm start that give the search its first bound and incumbent. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

/* L(lam) = sum_i max_j (v_ij - lam . c_ij) + lam . R, an upper bound for
 * any lam >= 0. Writes the maximisers to sel and their cost to use. */
double hant__select_lagr_eval(const struct prep *w, const double *lam, size_t *sel, double *use) {
  size_t K = w->K;
  double L = 0;
  for (size_t k = 0; k < K; k++) {
    use[k] = 0;
    L += lam[k] * w->R[k];
  }
  for (size_t i = 0; i < w->G; i++) {
    double best = -INFINITY;
    size_t bj = w->cstart[i];
    for (size_t c = w->cstart[i]; c < w->cstart[i + 1]; c++) {
      double rv = w->cv[c];
      for (size_t k = 0; k < K; k++)
        rv -= lam[k] * w->cc[c * K + k];
      if (rv > best) {
        best = rv;
        bj = c;
      }
    }
    sel[i] = bj;
    L += best;
    for (size_t k = 0; k < K; k++)
      use[k] += w->cc[bj * K + k];
  }
  return L;
}

static int fits(const struct prep *w, const double *use) {
  for (size_t k = 0; k < w->K; k++)
    if (use[k] > w->R[k] + w->tol[k])
      return 0;
  return 1;
}

/* Total relative excess over the budgets of use (+ dc when not NULL). */
static double violation(const struct prep *w, const double *use, const double *dc) {
  double s = 0;
  for (size_t k = 0; k < w->K; k++) {
    double e = use[k] + (dc ? dc[k] : 0) - w->R[k];
    if (e > w->tol[k])
      s += e / dmax(fabs(w->R[k]), w->tol[k] * 1e3);
  }
  return s;
}

/* Repairs cur into a feasible choice (value lost per violation removed) and
 * then climbs by the best feasible single swaps. Returns 1 if cur ends
 * feasible; *val is its value. */
int hant__select_greedy(const struct prep *w, size_t *cur, double *use, double *val) {
  size_t K = w->K, G = w->G;
  double *dc = malloc((K + 1) * sizeof *dc);
  if (!dc)
    return 0;
  for (size_t k = 0; k < K; k++)
    use[k] = 0;
  for (size_t i = 0; i < G; i++)
    for (size_t k = 0; k < K; k++)
      use[k] += w->cc[cur[i] * K + k];
  for (size_t it = 0; it < 4 * G + 16 && !fits(w, use); it++) {
    double v0 = violation(w, use, NULL), best = INFINITY;
    size_t bi = SIZE_MAX, bc = 0;
    for (size_t i = 0; i < G; i++) {
      for (size_t c = w->cstart[i]; c < w->cstart[i + 1]; c++) {
        if (c == cur[i])
          continue;
        for (size_t k = 0; k < K; k++)
          dc[k] = w->cc[c * K + k] - w->cc[cur[i] * K + k];
        double gain = v0 - violation(w, use, dc);
        if (gain <= 0)
          continue;
        double score = (w->cv[cur[i]] - w->cv[c]) / gain;
        if (score < best) {
          best = score;
          bi = i;
          bc = c;
        }
      }
    }
    if (bi == SIZE_MAX)
      break;
    for (size_t k = 0; k < K; k++)
      use[k] += w->cc[bc * K + k] - w->cc[cur[bi] * K + k];
    cur[bi] = bc;
  }
  int ok = fits(w, use);
  if (ok) {
    for (size_t it = 0; it < 8 * G + 16; it++) {
      double best = 0;
      size_t bi = SIZE_MAX, bc = 0;
      for (size_t i = 0; i < G; i++) {
        for (size_t c = w->cstart[i]; c < w->cstart[i + 1]; c++) {
          double gain = w->cv[c] - w->cv[cur[i]];
          if (gain <= best)
            continue;
          int fit = 1;
          for (size_t k = 0; k < K && fit; k++)
            fit = use[k] + w->cc[c * K + k] - w->cc[cur[i] * K + k] <= w->R[k] + w->tol[k];
          if (fit) {
            best = gain;
            bi = i;
            bc = c;
          }
        }
      }
      if (bi == SIZE_MAX)
        break;
      for (size_t k = 0; k < K; k++)
        use[k] += w->cc[bc * K + k] - w->cc[cur[bi] * K + k];
      cur[bi] = bc;
    }
  }
  double s = 0;
  for (size_t i = 0; i < G; i++)
    s += w->cv[cur[i]];
  *val = s;
  free(dc);
  return ok;
}

/* Projected subgradient descent on L(lam) with Polyak steps towards the
 * incumbent. Any lam >= 0 gives a valid bound, so stopping early only costs
 * speed, never correctness. Feasible Lagrangian solutions improve the
 * incumbent on the way. */
#define SUBGRAD_ITERS 400     /* iterations in all */
#define SUBGRAD_FULL_ITERS 15 /* iterations on every candidate before the active set */
#define SUBGRAD_ACTIVE_TOP 8  /* per slot: the best candidates at the current multipliers */

/* Iterates projected subgradient steps on w from lam; candidate c of w is
 * candidate map[c] of the caller's set (map NULL: the same). */
static void subgrad_run(const struct prep *w, const size_t *map, double *lam, double *best_lam,
                        double *Lbest, double *theta, int iters, size_t *sel, double *use,
                        double *g, double *z, size_t *zsel, unsigned char *seen) {
  size_t K = w->K, G = w->G;
  int stall = 0;
  for (int it = 0; it < iters; it++) {
    double L = hant__select_lagr_eval(w, lam, sel, use);
    if (seen)
      for (size_t i = 0; i < G; i++)
        seen[sel[i]] = 1;
    if (fits(w, use)) {
      double v = 0;
      for (size_t i = 0; i < G; i++)
        v += w->cv[sel[i]];
      if (v > *z) {
        *z = v;
        for (size_t i = 0; i < G; i++)
          zsel[i] = map ? map[sel[i]] : sel[i];
      }
    }
    if (L < *Lbest - 1e-12 * fabs(L)) {
      *Lbest = L;
      memcpy(best_lam, lam, K * sizeof *lam);
      stall = 0;
    } else if (++stall >= 8) {
      *theta *= 0.5;
      stall = 0;
      memcpy(lam, best_lam, K * sizeof *lam);
      if (*theta < 1e-6)
        return;
      continue;
    }
    double norm = 0;
    for (size_t k = 0; k < K; k++) {
      g[k] = w->R[k] - use[k];
      if (lam[k] <= 0 && g[k] > 0)
        g[k] = 0;
      norm += g[k] * g[k];
    }
    if (norm == 0)
      return;
    double target = isfinite(*z) ? *z : L - 0.05 * fabs(L) - 1;
    double gapL = L - target;
    if (gapL <= w->vtol)
      gapL = 0.01 * fabs(L) * *theta + w->vtol;
    double step = *theta * gapL / norm;
    for (size_t k = 0; k < K; k++)
      lam[k] = dmax(0, lam[k] - step * g[k]);
  }
}

static int dbl_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x > y ? -1 : (x < y);
}

/* Projected subgradient descent on L(lam) with Polyak steps towards the
 * incumbent. Any lam >= 0 gives a valid bound, so stopping early only costs
 * speed, never correctness; the value returned is always evaluated on every
 * candidate. After a few iterations on every candidate the steps run on an
 * active set (each slot's best few at the current multipliers and every
 * past maximiser), since far-off candidates never become maximisers near
 * the optimum. Feasible Lagrangian solutions improve the incumbent. */
double hant__select_lagr_optimise(const struct prep *w, double *lam, size_t *sel, double *use,
                                  double *z, size_t *zsel) {
  size_t K = w->K, G = w->G, n = w->n;
  double *g = malloc((K + 1) * sizeof *g), *best_lam = malloc((K + 1) * sizeof *best_lam);
  unsigned char *seen = calloc(n + 1, 1);
  struct prep a;
  memset(&a, 0, sizeof a);
  size_t *map = NULL;
  double *rv = NULL;
  if (!g || !best_lam || !seen)
    goto done;
  double Lbest = INFINITY, theta = 1.0;
  memcpy(best_lam, lam, K * sizeof *lam);
  subgrad_run(w, NULL, lam, best_lam, &Lbest, &theta, SUBGRAD_FULL_ITERS, sel, use, g, z, zsel,
              seen);
  if (theta < 1e-6)
    goto done;
  /* the active set */
  a = *w;
  a.cstart = malloc((G + 1) * sizeof *a.cstart);
  a.cv = malloc((n + 1) * sizeof *a.cv);
  a.cc = malloc((n * K + 1) * sizeof *a.cc);
  map = malloc((n + 1) * sizeof *map);
  rv = malloc((n + 1) * sizeof *rv);
  if (!a.cstart || !a.cv || !a.cc || !map || !rv)
    goto done;
  size_t m = 0;
  for (size_t i = 0; i < G; i++) {
    size_t c0 = w->cstart[i], cn = w->cstart[i + 1] - c0;
    for (size_t c = 0; c < cn; c++) {
      double r = w->cv[c0 + c];
      for (size_t k = 0; k < K; k++)
        r -= best_lam[k] * w->cc[(c0 + c) * K + k];
      rv[c] = r;
    }
    double cut = -INFINITY;
    if (cn > SUBGRAD_ACTIVE_TOP) {
      double *t = rv + cn; /* scratch after this group's values */
      if (t + cn > rv + n + 1) {
        cut = -INFINITY;
      } else {
        memcpy(t, rv, cn * sizeof *t);
        qsort(t, cn, sizeof *t, dbl_desc);
        cut = t[SUBGRAD_ACTIVE_TOP - 1];
      }
    }
    a.cstart[i] = m;
    for (size_t c = 0; c < cn; c++)
      if (rv[c] >= cut || seen[c0 + c]) {
        map[m] = c0 + c;
        a.cv[m] = w->cv[c0 + c];
        memcpy(a.cc + m * K, w->cc + (c0 + c) * K, K * sizeof *a.cc);
        m++;
      }
  }
  a.cstart[G] = m;
  a.n = m;
  memcpy(lam, best_lam, K * sizeof *lam);
  subgrad_run(&a, map, lam, best_lam, &Lbest, &theta, SUBGRAD_ITERS - SUBGRAD_FULL_ITERS, sel, use,
              g, z, zsel, NULL);
done:
  if (best_lam)
    memcpy(lam, best_lam, K * sizeof *lam);
  free(g);
  free(best_lam);
  free(seen);
  free(a.cstart);
  free(a.cv);
  free(a.cc);
  free(map);
  free(rv);
  return hant__select_lagr_eval(w, lam, sel, use);
}
