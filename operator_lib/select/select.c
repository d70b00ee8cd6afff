/* SPDX-License-Identifier: MIT */
/* select.c: the exact multiple-choice knapsack solver, its Pareto front, power modes and latency
 * correction. */
#include "select.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base.h"

#define VALUE_RTOL 1e-9
#define COST_RTOL 1e-9
/* Suffix envelopes cost memory quadratic in the number of slots; past this
 * many entries the shallow levels use a Lagrangian bound instead. */
#define ENV_MAX_ENTRIES ((size_t)1 << 22)
#define SUBGRAD_ITERS 400
#ifndef SUR_SPREAD
#define SUR_SPREAD 0.1
#endif
#define FRONT_DEFAULT_POINTS ((size_t)65536)
#define FRONT_DEFAULT_POINTS_MULTI ((size_t)4096)
/* with several costs per state, dominance is checked against this many
 * most recent states (exact while lists are shorter) */
#define FRONT_DOMINANCE_WINDOW 512

/* fmax/fmin are library calls (NaN rules); inputs here are finite. */
static inline double dmax(double a, double b) { return a > b ? a : b; }
static inline double dmin(double a, double b) { return a < b ? a : b; }

static const char *const status_names[] = {"optimal", "infeasible", "time_limit"};
static_assert(sizeof(status_names) / sizeof(status_names[0]) == HANT_SELECT_STATUS_COUNT,
              "one name per status");

const char *hant_select_status_name(enum hant_select_status s) {
  if ((unsigned)s >= HANT_SELECT_STATUS_COUNT)
    return "unknown";
  return status_names[s];
}

void hant_select_result_init(struct hant_select_result *r) { memset(r, 0, sizeof *r); }

void hant_select_result_free(struct hant_select_result *r) {
  if (!r)
    return;
  free(r->choice);
  free(r->totals);
  free(r->min_totals);
  free(r->over_budget);
  memset(r, 0, sizeof *r);
}

static int result_prepare(struct hant_select_result *r, size_t G, size_t K) {
  hant_select_result_free(r);
  r->choice = calloc(G, sizeof *r->choice);
  r->totals = calloc(K ? K : 1, sizeof *r->totals);
  r->min_totals = calloc(K ? K : 1, sizeof *r->min_totals);
  r->over_budget = calloc(K ? K : 1, sizeof *r->over_budget);
  if (!r->choice || !r->totals || !r->min_totals || !r->over_budget) {
    hant_select_result_free(r);
    return hant__error(HANT_ENOMEM, "select: out of memory for a result of %zu groups", G);
  }
  r->n_groups = G;
  r->n_dims = K;
  r->gap = INFINITY;
  r->bound = INFINITY;
  return 0;
}

double hant_select_cost_tol(const struct hant_select_problem *p, size_t k) {
  double sc = 0;
  size_t g = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    double mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++, g++)
      mx = dmax(mx, fabs(p->cost[g * p->n_dims + k]));
    sc += mx;
  }
  return COST_RTOL * dmax(1.0, dmax(fabs(p->budget[k]), sc));
}

int hant_select_check(const struct hant_select_problem *p) {
  if (!p)
    return hant__error(HANT_EINVAL, "select: problem is NULL");
  if (p->n_groups == 0)
    return hant__error(HANT_EINVAL, "select: the problem has no groups (slots)");
  if (!p->group_size || !p->value)
    return hant__error(HANT_EINVAL, "select: group_size and value must not be NULL");
  if (p->n_dims > 0 && (!p->cost || !p->budget))
    return hant__error(HANT_EINVAL, "select: %zu budgets but cost or budget is NULL", p->n_dims);
  if (isnan(p->time_limit_ms))
    return hant__error(HANT_EINVAL, "select: time_limit_ms is NaN");
  size_t n = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    if (p->group_size[i] == 0)
      return hant__error(HANT_EINVAL, "select: group %zu has no candidates", i);
    if (p->group_size[i] > SIZE_MAX / 16 - n)
      return hant__error(HANT_EINVAL, "select: too many items at group %zu", i);
    n += p->group_size[i];
  }
  if (n > UINT32_MAX || (p->n_dims && n > SIZE_MAX / sizeof(double) / (p->n_dims + 1)))
    return hant__error(HANT_EINVAL, "select: %zu items x %zu budgets is too large", n, p->n_dims);
  for (size_t k = 0; k < p->n_dims; k++)
    if (!isfinite(p->budget[k]))
      return hant__error(HANT_EINVAL, "select: budget[%zu] is not a finite number", k);
  size_t g = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    for (size_t j = 0; j < p->group_size[i]; j++, g++) {
      if (!isfinite(p->value[g]))
        return hant__error(HANT_EINVAL, "select: group %zu item %zu: value is not a finite number",
                           i, j);
      for (size_t k = 0; k < p->n_dims; k++)
        if (!isfinite(p->cost[g * p->n_dims + k]))
          return hant__error(
              HANT_EINVAL, "select: group %zu item %zu: cost[%zu] is not a finite number", i, j, k);
    }
  }
  return 0;
}

/* ---------------------------------------------------------------------------
 * Preprocessing: shift costs, drop candidates that cannot fit or are dominated.
 * ------------------------------------------------------------------------- */

struct prep {
  size_t G, K;
  size_t *off;    /* [G+1] first global item of each group */
  double *R;      /* [K] budgets after the shift */
  double *tol;    /* [K] feasibility tolerance per budget */
  double vtol;    /* value tolerance for pruning */
  size_t n;       /* candidates kept */
  size_t *cstart; /* [G+1] candidate range of each group */
  size_t *citem;  /* [n] item index within its group */
  double *cv;     /* [n] value */
  double *cc;     /* [n, K] shifted costs, all >= 0 */
};

static void prep_free(struct prep *w) {
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
static size_t drop_dominated(struct prep *w, size_t s0, size_t n) {
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
static int prep_build(const struct hant_select_problem *p, struct hant_select_result *r,
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
     * reduced-cost fixing (drop_dominated), on far fewer candidates: a
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
      n = drop_dominated(w, w->cstart[i], n);
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

/* ---------------------------------------------------------------------------
 * One-dimensional LP relaxations: per-group upper concave hulls and their
 * slope-ordered merge (the classical LP of the multiple-choice knapsack).
 * ------------------------------------------------------------------------- */

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

/* Hulls of every group for one cost function, groups in a given order. */
struct hulls {
  size_t G;
  double *base_c, *base_v; /* [G] */
  size_t *istart;          /* [G+1] increments of group d */
  double *dc, *dv, *slope; /* [n_inc] */
};

static void hulls_free(struct hulls *h) {
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
static int hulls_build(struct hulls *h, size_t G, const size_t *start, const double *fc,
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
    hulls_free(h);
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
static double hulls_lp(const struct hulls *h, double cap, double tolc, double *lambda) {
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

/* Suffix envelopes: for a start depth d, the increments of groups d..G-1 in
 * slope order with running sums, so that the LP of those groups at any
 * capacity costs one binary search. */
struct env {
  size_t n;
  double sum_c, sum_v; /* bases of groups d..G-1 */
  uint32_t *idx;       /* [n] increment indices, slope descending */
  double *cumc, *cumv; /* [n] running sums */
};

static double env_eval(const struct env *e, const double *slope, double cap, double tolc) {
  double room = cap - e->sum_c;
  if (room < -tolc)
    return -INFINITY;
  if (room <= 0 || e->n == 0)
    return e->sum_v;
  size_t lo = 0, hi = e->n; /* first index with cumc > room */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (e->cumc[mid] <= room)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == e->n)
    return e->sum_v + e->cumv[e->n - 1];
  double pc = lo ? e->cumc[lo - 1] : 0, pv = lo ? e->cumv[lo - 1] : 0;
  return e->sum_v + pv + (room - pc) * slope[e->idx[lo]];
}

/* ---------------------------------------------------------------------------
 * Branch and bound.
 * ------------------------------------------------------------------------- */

struct child {
  double bound;
  uint32_t cand;
};

static int child_cmp(const void *a, const void *b) {
  const struct child *x = a, *y = b;
  if (x->bound != y->bound)
    return x->bound > y->bound ? -1 : 1;
  return x->cand < y->cand ? -1 : (x->cand > y->cand);
}

struct frame {
  size_t n, next;
  double p;
};

struct bnb {
  size_t G, K, F;
  size_t *dstart;    /* [G+1] candidates of depth d */
  size_t *dgroup;    /* [G] original group at depth d */
  uint32_t *dcand;   /* [n] item index within its group */
  double *dv;        /* [n] */
  double *dfc;       /* [n, F] cost functions: K budgets then the weighted sum */
  double *Rf, *tolf; /* [F] */
  struct hulls *hl;  /* [F] */
  struct env *env;   /* [F, G+1] */
  size_t d0;         /* envelopes exist for depths >= d0 */
  double *lam_f;     /* [F] root LP multiplier of each function */
  double *lagsum;    /* [F, G+1] sum over depths >= d of max_j (v - lam_f fc) */
  /* search state */
  double z;     /* incumbent value, -INFINITY if none */
  size_t *best; /* [G] incumbent: item index within each original group */
  int have;
  uint64_t nodes;
  double deadline; /* hant_now_s() value, or INFINITY */
  int timed_out;
  uint64_t node_limit; /* the depth-first search pauses at this many nodes */
  int dfs_done;        /* the depth-first search has finished: optimality proved */
  /* depth-first search state, kept so that a paused search can resume */
  struct child *ch; /* [n] children of every depth */
  struct frame *fr; /* [G+1] */
  double *rr;       /* [(G+2) * F] residual capacities per depth, plus scratch */
  uint32_t *pick;   /* [G+1] candidate taken at each depth */
  size_t depth;
  unsigned tick;
  double ub_left; /* bound over unexplored nodes at timeout */
};

static void bnb_free(struct bnb *b) {
  free(b->dstart);
  free(b->dgroup);
  free(b->dcand);
  free(b->dv);
  free(b->dfc);
  free(b->Rf);
  free(b->tolf);
  if (b->hl)
    for (size_t f = 0; f < b->F; f++)
      hulls_free(&b->hl[f]);
  free(b->hl);
  if (b->env)
    for (size_t i = 0; i < b->F * (b->G + 1); i++) {
      free(b->env[i].idx);
      free(b->env[i].cumc);
      free(b->env[i].cumv);
    }
  free(b->env);
  free(b->lam_f);
  free(b->lagsum);
  free(b->best);
  free(b->ch);
  free(b->fr);
  free(b->rr);
  free(b->pick);
  memset(b, 0, sizeof *b);
}

/* Upper bound on p plus the best completion over depths d..G-1 with
 * residual capacities r[F]: the smallest LP bound over the cost functions.
 * Stops early once it is at most cutoff (the node is pruned anyway); the
 * minimum over the functions tried so far is still a valid bound. The
 * weighted sums come first: they are the tight ones. */
static double bound_at(const struct bnb *b, size_t d, double p, const double *r, double cutoff) {
  double best = INFINITY;
  for (size_t q = 0; q < b->F && best > cutoff; q++) {
    size_t f = q + b->K < b->F ? q + b->K : q + b->K - b->F;
    double lp;
    if (d >= b->d0) {
      lp = env_eval(&b->env[f * (b->G + 1) + d], b->hl[f].slope, r[f], b->tolf[f]);
    } else {
      lp = r[f] < -b->tolf[f] ? -INFINITY
                              : b->lagsum[f * (b->G + 1) + d] + b->lam_f[f] * dmax(r[f], 0);
    }
    if (p + lp < best)
      best = p + lp;
  }
  return best;
}

static void record_leaf(struct bnb *b, const uint32_t *pick, size_t depth_leaf, uint32_t leaf,
                        double value) {
  b->z = value;
  b->have = 1;
  for (size_t d = 0; d < depth_leaf; d++)
    b->best[b->dgroup[d]] = b->dcand[pick[d]];
  b->best[b->dgroup[depth_leaf]] = b->dcand[leaf];
}

/* Evaluates the children of a node at depth d (value p, residuals r) into
 * ch[], sorted best bound first; at the last depth they are leaves and only
 * update the incumbent. Returns the number of children kept. */
static size_t expand(struct bnb *b, size_t d, double p, const double *r, struct child *ch,
                     double *rtmp, const uint32_t *pick, double vtol) {
  size_t F = b->F, K = b->K, n = 0;
  int leaf = d + 1 == b->G;
  for (size_t c = b->dstart[d]; c < b->dstart[d + 1]; c++) {
    const double *fc = b->dfc + c * F;
    int ok = 1;
    for (size_t f = 0; f < K; f++) {
      rtmp[f] = r[f] - fc[f];
      if (rtmp[f] < -b->tolf[f])
        ok = 0;
    }
    if (!ok)
      continue;
    double pv = p + b->dv[c];
    if (leaf) {
      b->nodes++;
      if (pv > b->z)
        record_leaf(b, pick, d, (uint32_t)c, pv);
      continue;
    }
    for (size_t f = K; f < F; f++)
      rtmp[f] = r[f] - fc[f];
    double bd = bound_at(b, d + 1, pv, rtmp, b->z + vtol);
    if (bd > b->z + vtol)
      ch[n++] = (struct child){bd, (uint32_t)c};
  }
  if (n > 1)
    qsort(ch, n, sizeof *ch, child_cmp);
  return n;
}

/* Depth-first branch and bound. Runs until it finishes (dfs_done), the
 * deadline passes (timed_out, with ub_left) or b->nodes reaches node_limit,
 * in which case a later call resumes where it stopped. */
static int bnb_search(struct bnb *b, double vtol) {
  size_t G = b->G, F = b->F;
  if (b->dfs_done || b->timed_out)
    return 0;
  if (!b->fr) {
    b->ch = malloc((b->dstart[G] + 1) * sizeof *b->ch);
    b->fr = malloc((G + 1) * sizeof *b->fr);
    b->rr = malloc(((G + 2) * F + 1) * sizeof *b->rr);
    b->pick = calloc(G + 1, sizeof *b->pick);
    if (!b->ch || !b->fr || !b->rr || !b->pick)
      return hant__error(HANT_ENOMEM, "select: out of memory for the search");
    memcpy(b->rr, b->Rf, F * sizeof *b->rr);
    b->fr[0].p = 0;
    b->fr[0].next = 0;
    b->fr[0].n = expand(b, 0, 0, b->rr, b->ch + b->dstart[0], b->rr + (G + 1) * F, b->pick, vtol);
    b->depth = 0;
  }
  struct child *ch = b->ch;
  struct frame *fr = b->fr;
  double *rr = b->rr, *rtmp = b->rr + (G + 1) * F;
  uint32_t *pick = b->pick;
  size_t d = b->depth;
  for (;;) {
    struct frame *f = &fr[d];
    if (f->next >= f->n) {
      if (d == 0) {
        b->dfs_done = 1;
        break;
      }
      d--;
      continue;
    }
    if ((++b->tick & 255) == 0 && hant_now_s() > b->deadline) {
      double ub = -INFINITY;
      for (size_t e = 0; e <= d; e++)
        if (fr[e].next < fr[e].n)
          ub = dmax(ub, ch[b->dstart[e] + fr[e].next].bound);
      b->timed_out = 1;
      b->ub_left = ub;
      break;
    }
    if (b->nodes >= b->node_limit)
      break;
    struct child c = ch[b->dstart[d] + f->next++];
    if (c.bound <= b->z + vtol) {
      f->next = f->n; /* siblings are sorted: none left can win */
      continue;
    }
    b->nodes++;
    pick[d] = c.cand;
    double *rc = rr + (d + 1) * F;
    const double *rp = rr + d * F;
    for (size_t q = 0; q < F; q++)
      rc[q] = rp[q] - b->dfc[(size_t)c.cand * F + q];
    double p = f->p + b->dv[c.cand];
    d++;
    fr[d].p = p;
    fr[d].next = 0;
    fr[d].n = expand(b, d, p, rc, ch + b->dstart[d], rtmp, pick, vtol);
  }
  b->depth = d;
  return 0;
}

/* ---------------------------------------------------------------------------
 * One budget: dynamic programming over slots with Pareto states.
 *
 * A state is a partial choice (cost, value). States of equal or higher cost
 * and no higher value are dropped (dominance), as are states whose value
 * plus the LP bound of the remaining slots cannot beat the incumbent. When
 * costs repeat (integers, ties) states merge, which is what makes strongly
 * correlated instances tractable; when they do not merge and the state
 * lists grow past a cap, the caller falls back to the depth-first search.
 * ------------------------------------------------------------------------- */

#define DP_LAYER_CAP ((size_t)1 << 20)
#define DP_TOTAL_CAP ((size_t)1 << 23)

struct dpstate {
  double c, v, bound; /* cost, value, upper bound on any completion */
};

struct dplink {
  uint32_t parent; /* index of the parent state in the previous layer */
  uint32_t cand;   /* depth-order candidate taken */
};

struct dpheap {
  double c, v;
  uint32_t s, j;
};

static int dpheap_less(const struct dpheap *a, const struct dpheap *b) {
  if (a->c != b->c)
    return a->c < b->c;
  return a->v > b->v;
}

static void dpheap_down(struct dpheap *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && dpheap_less(&h[l], &h[m]))
      m = l;
    if (l + 1 < n && dpheap_less(&h[l + 1], &h[m]))
      m = l + 1;
    if (m == i)
      return;
    struct dpheap t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Returns 0 when finished (b->z and b->best hold the optimum, or b->timed_out
 * is set), 1 when the state lists overflowed (nothing concluded), or an
 * error. Each layer is a k-way merge of (states + candidate j) streams, all
 * sorted by cost, so dominance is a running maximum of value. */
static int dp_search(struct bnb *b, double vtol, uint64_t work) {
  size_t G = b->G;
  int rc = 0;
  uint64_t work_end = b->nodes + work;
  size_t maxg = 0, total = 0;
  for (size_t d = 0; d < G; d++)
    maxg = b->dstart[d + 1] - b->dstart[d] > maxg ? b->dstart[d + 1] - b->dstart[d] : maxg;
  struct dpstate *cur = NULL, *nxt = NULL;
  size_t ncur = 1, nnxt = 0, cap_cur = 1024, cap_nxt = 0, cap_link = 0;
  struct dplink **links = calloc(G, sizeof *links);
  uint32_t *order = malloc((maxg + 1) * sizeof *order);
  struct dpheap *heap = malloc((maxg + 1) * sizeof *heap);
  cur = malloc(cap_cur * sizeof *cur);
  if (!links || !order || !heap || !cur)
    goto nomem;
  double R = b->Rf[0], tol = b->tolf[0];
  cur[0] = (struct dpstate){0, 0, bound_at(b, 0, 0, b->Rf, -INFINITY)};
  unsigned tick = 0;
  for (size_t d = 0; d < G; d++) {
    size_t c0 = b->dstart[d], m = b->dstart[d + 1] - c0;
    /* candidates by cost; with one budget, dominance left values increasing */
    for (size_t j = 0; j < m; j++)
      order[j] = (uint32_t)(c0 + j);
    for (size_t j = 1; j < m; j++) {
      uint32_t t = order[j];
      size_t q = j;
      while (q > 0 && b->dfc[order[q - 1]] > b->dfc[t]) {
        order[q] = order[q - 1];
        q--;
      }
      order[q] = t;
    }
    int last = d + 1 == G;
    size_t hn = 0;
    for (size_t j = 0; j < m; j++)
      heap[hn++] =
          (struct dpheap){cur[0].c + b->dfc[order[j]], cur[0].v + b->dv[order[j]], 0, (uint32_t)j};
    for (size_t q = hn / 2 + 1; q-- > 0;)
      dpheap_down(heap, hn, q);
    double vbest = -INFINITY;
    nnxt = 0;
    cap_link = 0;
    while (hn) {
      if ((++tick & 4095) == 0 && hant_now_s() > b->deadline) {
        double ub = -INFINITY;
        for (size_t q = 0; q < ncur; q++)
          ub = dmax(ub, cur[q].bound);
        b->timed_out = 1;
        b->ub_left = ub;
        goto out;
      }
      struct dpheap e = heap[0];
      if (++b->nodes >= work_end) {
        rc = 1; /* out of work: inconclusive */
        goto out;
      }
      if (e.c > R + tol) {
        /* this stream only gets dearer */
        heap[0] = heap[--hn];
        dpheap_down(heap, hn, 0);
        continue;
      }
      if (e.v > vbest) {
        /* Not dominated. A state pruned by its bound still counts for
         * dominance: any dearer, worse state has a lower bound. */
        vbest = e.v;
        if (last) {
          if (e.v > b->z) {
            b->z = e.v;
            b->have = 1;
            b->best[b->dgroup[d]] = b->dcand[order[e.j]];
            uint32_t s = e.s;
            for (size_t q = d; q-- > 0;) {
              b->best[b->dgroup[q]] = b->dcand[links[q][s].cand];
              s = links[q][s].parent;
            }
          }
        } else {
          double bd = e.v + (d + 1 >= b->d0 ? env_eval(&b->env[d + 1], b->hl[0].slope, R - e.c, tol)
                                            : b->lagsum[d + 1] + b->lam_f[0] * dmax(R - e.c, 0));
          if (bd > b->z + vtol) {
            if (nnxt + 1 > DP_LAYER_CAP || total + nnxt + 1 > DP_TOTAL_CAP) {
              rc = 1;
              goto out;
            }
            if (nnxt == cap_nxt) {
              size_t nc = cap_nxt ? 2 * cap_nxt : 1024;
              struct dpstate *t = realloc(nxt, nc * sizeof *t);
              if (!t)
                goto nomem;
              nxt = t;
              cap_nxt = nc;
            }
            if (nnxt == cap_link) {
              size_t nc = cap_link ? 2 * cap_link : 1024;
              struct dplink *t = realloc(links[d], nc * sizeof *t);
              if (!t)
                goto nomem;
              links[d] = t;
              cap_link = nc;
            }
            nxt[nnxt] = (struct dpstate){e.c, e.v, bd};
            links[d][nnxt] = (struct dplink){e.s, order[e.j]};
            nnxt++;
          }
        }
      }
      if (e.s + 1 < ncur) {
        e.s++;
        heap[0] = (struct dpheap){cur[e.s].c + b->dfc[order[e.j]], cur[e.s].v + b->dv[order[e.j]],
                                  e.s, e.j};
      } else {
        heap[0] = heap[--hn];
      }
      dpheap_down(heap, hn, 0);
    }
    if (last)
      break;
    total += nnxt;
    struct dpstate *t = cur;
    size_t tc = cap_cur;
    cur = nxt;
    cap_cur = cap_nxt;
    ncur = nnxt;
    nxt = t;
    cap_nxt = tc;
    if (ncur == 0)
      break; /* nothing beats the incumbent */
  }
out:
  free(cur);
  free(nxt);
  if (links)
    for (size_t d = 0; d < G; d++)
      free(links[d]);
  free(links);
  free(order);
  free(heap);
  return rc;
nomem:
  rc = hant__error(HANT_ENOMEM, "select: out of memory in the dynamic program");
  goto out;
}

/* Builds the suffix envelopes of function f for depths >= d0. */
static int env_build(struct bnb *b, size_t f) {
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

/* ---------------------------------------------------------------------------
 * Lagrangian relaxation and greedy warm start, on the prepared candidates.
 * ------------------------------------------------------------------------- */

/* L(lam) = sum_i max_j (v_ij - lam . c_ij) + lam . R, an upper bound for
 * any lam >= 0. Writes the maximisers to sel and their cost to use. */
static double lagr_eval(const struct prep *w, const double *lam, size_t *sel, double *use) {
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
static int greedy(const struct prep *w, size_t *cur, double *use, double *val) {
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
    double L = lagr_eval(w, lam, sel, use);
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
static double lagr_optimise(const struct prep *w, double *lam, size_t *sel, double *use, double *z,
                            size_t *zsel) {
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
  return lagr_eval(w, lam, sel, use);
}

/* ---------------------------------------------------------------------------
 * Solve.
 * ------------------------------------------------------------------------- */

struct order_key {
  double regret;
  size_t g;
};

static int order_cmp(const void *a, const void *b) {
  const struct order_key *x = a, *y = b;
  if (x->regret != y->regret)
    return x->regret > y->regret ? -1 : 1;
  return x->g < y->g ? -1 : (x->g > y->g);
}

/* Reduced-cost fixing against incumbent z, then the search tree: depth
 * order, cost functions, LP hulls and envelopes. Compacts w's candidates.
 * Sets *emptied when some slot has no candidate left, i.e. nothing beats z. */
static int bnb_setup(struct bnb *b, struct prep *w, const double *lam, double L, double z,
                     const size_t *zsel, struct order_key *ord, double deadline, int *emptied) {
  size_t G = w->G, K = w->K;
  /* Reduced-cost fixing: value(x) <= L - sum_i (r*_i - r_i(x)), so a
   * candidate whose own deficit closes the gap cannot beat the incumbent. */
  size_t *keep_start = w->cstart;
  size_t n2 = 0;
  *emptied = 0;
  for (size_t i = 0; i < G; i++) {
    double rbest = -INFINITY, second = INFINITY;
    for (size_t c = keep_start[i]; c < keep_start[i + 1]; c++) {
      double rv = w->cv[c];
      for (size_t k = 0; k < K; k++)
        rv -= lam[k] * w->cc[c * K + k];
      rbest = dmax(rbest, rv);
    }
    size_t s0 = n2;
    for (size_t c = keep_start[i]; c < keep_start[i + 1]; c++) {
      double rv = w->cv[c];
      for (size_t k = 0; k < K; k++)
        rv -= lam[k] * w->cc[c * K + k];
      double deficit = rbest - rv;
      if (isfinite(z) && deficit >= L - z - w->vtol)
        continue;
      if (deficit > 0)
        second = dmin(second, deficit);
      /* compact in place: n2 <= c always */
      w->citem[n2] = w->citem[c];
      w->cv[n2] = w->cv[c];
      memmove(w->cc + n2 * K, w->cc + c * K, K * sizeof *w->cc);
      n2++;
    }
    n2 = drop_dominated(w, s0, n2);
    keep_start[i] = s0;
    if (n2 == s0)
      *emptied = 1;
    ord[i] = (struct order_key){n2 - s0 <= 1 ? INFINITY : second, i};
  }
  keep_start[G] = n2;
  w->n = n2;

  if (*emptied)
    return 0; /* nothing can beat the incumbent (or, without one, nothing fits) */

  /* Depth order: groups whose second choice costs most go first (they
   * rarely branch), the undecided ones last, where residual budgets are
   * known precisely. */
  qsort(ord, G, sizeof *ord, order_cmp);
  int use_sur = K >= 2;
  if (use_sur) {
    double s = 0;
    for (size_t k = 0; k < K; k++)
      s += lam[k];
    use_sur = s > 0;
  }
  b->G = G;
  b->K = K;
  /* Surrogate directions: lam itself, and lam with each component scaled
   * up and down, since deeper nodes want other multipliers than the root. */
  size_t S = use_sur ? 1 + 2 * K : 0;
  b->F = K + S;
  size_t F = b->F;
  double *mu = malloc((S * K + 1) * sizeof *mu);
  if (!mu)
    return hant__error(HANT_ENOMEM, "select: out of memory for the search");
  for (size_t q = 0; q < S; q++)
    for (size_t k = 0; k < K; k++) {
      double sc = 1;
      if (q >= 1 && q <= K && k == q - 1)
        sc = 1 + SUR_SPREAD;
      if (q > K && k == q - 1 - K)
        sc = 1 - SUR_SPREAD;
      mu[q * K + k] = lam[k] * sc;
    }
  b->dstart = malloc((G + 1) * sizeof *b->dstart);
  b->dgroup = malloc(G * sizeof *b->dgroup);
  b->dcand = malloc((n2 + 1) * sizeof *b->dcand);
  b->dv = malloc((n2 + 1) * sizeof *b->dv);
  b->dfc = malloc((n2 * F + 1) * sizeof *b->dfc);
  b->Rf = malloc((F + 1) * sizeof *b->Rf);
  b->tolf = malloc((F + 1) * sizeof *b->tolf);
  b->hl = calloc(F + 1, sizeof *b->hl);
  b->env = calloc(F * (G + 1) + 1, sizeof *b->env);
  b->lam_f = calloc(F + 1, sizeof *b->lam_f);
  b->lagsum = calloc(F * (G + 1) + 1, sizeof *b->lagsum);
  b->best = malloc(G * sizeof *b->best);
  if (!b->dstart || !b->dgroup || !b->dcand || !b->dv || !b->dfc || !b->Rf || !b->tolf || !b->hl ||
      !b->env || !b->lam_f || !b->lagsum || !b->best) {
    free(mu);
    return hant__error(HANT_ENOMEM, "select: out of memory for the search");
  }
  size_t m = 0;
  for (size_t d = 0; d < G; d++) {
    size_t i = ord[d].g;
    b->dgroup[d] = i;
    b->dstart[d] = m;
    for (size_t c = keep_start[i]; c < keep_start[i + 1]; c++, m++) {
      b->dcand[m] = (uint32_t)w->citem[c];
      b->dv[m] = w->cv[c];
      for (size_t k = 0; k < K; k++)
        b->dfc[m * F + k] = w->cc[c * K + k];
      for (size_t q = 0; q < S; q++) {
        double s = 0;
        for (size_t k = 0; k < K; k++)
          s += mu[q * K + k] * w->cc[c * K + k];
        b->dfc[m * F + K + q] = s;
      }
    }
  }
  b->dstart[G] = m;
  for (size_t k = 0; k < K; k++) {
    b->Rf[k] = w->R[k];
    b->tolf[k] = w->tol[k];
  }
  for (size_t q = 0; q < S; q++) {
    b->Rf[K + q] = 0;
    b->tolf[K + q] = 0;
    for (size_t k = 0; k < K; k++) {
      b->Rf[K + q] += mu[q * K + k] * w->R[k];
      b->tolf[K + q] += mu[q * K + k] * w->tol[k];
    }
  }
  free(mu);
  for (size_t f = 0; f < F; f++) {
    int rc = hulls_build(&b->hl[f], G, b->dstart, b->dfc, F, f, b->dv);
    if (rc < 0)
      return rc;
    hulls_lp(&b->hl[f], b->Rf[f], b->tolf[f], &b->lam_f[f]);
    double *ls = b->lagsum + f * (G + 1);
    ls[G] = 0;
    for (size_t d = G; d-- > 0;) {
      double mx = -INFINITY;
      for (size_t c = b->dstart[d]; c < b->dstart[d + 1]; c++)
        mx = dmax(mx, b->dv[c] - b->lam_f[f] * b->dfc[c * F + f]);
      ls[d] = ls[d + 1] + mx;
    }
  }
  /* keep the envelopes of the deepest levels within the memory cap */
  b->d0 = G;
  {
    size_t used = 0, suffix = 0;
    for (size_t d = G; d-- > 0;) {
      size_t add = 0;
      for (size_t f = 0; f < F; f++)
        add += b->hl[f].istart[d + 1] - b->hl[f].istart[d];
      suffix += add;
      if (used + suffix > ENV_MAX_ENTRIES)
        break;
      used += suffix;
      b->d0 = d;
    }
  }
  for (size_t f = 0; f < F; f++) {
    int rc = env_build(b, f);
    if (rc < 0)
      return rc;
  }
  b->z = z;
  b->have = isfinite(z);
  b->deadline = deadline;
  b->node_limit = UINT64_MAX;
  if (b->have)
    memcpy(b->best, zsel, G * sizeof *zsel);
  return 0;
}

static void finish_choice(const struct hant_select_problem *p, const struct prep *w,
                          const size_t *item, struct hant_select_result *r) {
  size_t K = p->n_dims;
  r->objective = 0;
  for (size_t k = 0; k < K; k++)
    r->totals[k] = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    size_t j = item[i], g = w->off[i] + j;
    r->choice[i] = j;
    r->objective += p->value[g];
    for (size_t k = 0; k < K; k++)
      r->totals[k] += p->cost[g * K + k];
  }
  r->has_choice = 1;
}

static int solve_core(const struct hant_select_problem *p, struct hant_select_result *r,
                      double deadline, const size_t *warm) {
  size_t G = p->n_groups, K = p->n_dims;
  struct prep w;
  struct bnb b;
  memset(&b, 0, sizeof b);
  size_t *cur = NULL, *sel = NULL, *zsel = NULL;
  double *lam = NULL, *use = NULL;
  struct order_key *ord = NULL;
  int rc = prep_build(p, r, &w);
  if (rc < 0)
    goto out;
  if (rc == 1) {
    r->status = HANT_SELECT_INFEASIBLE;
    if (!r->jointly_infeasible) {
      int any = 0;
      for (size_t k = 0; k < K; k++)
        any |= r->over_budget[k];
      r->jointly_infeasible = !any;
    }
    rc = 0;
    goto out;
  }
  cur = malloc(G * sizeof *cur);
  sel = malloc(G * sizeof *sel);
  zsel = malloc(G * sizeof *zsel);
  lam = calloc(K + 1, sizeof *lam);
  use = calloc(K + 1, sizeof *use);
  ord = malloc(G * sizeof *ord);
  if (!cur || !sel || !zsel || !lam || !use || !ord) {
    rc = hant__error(HANT_ENOMEM, "select: out of memory");
    goto out;
  }

  /* Multipliers: exact for one budget (slope at the LP break), subgradient
   * otherwise. Warm start: repair and climb from the Lagrangian choice. */
  double z = -INFINITY, L;
  if (K == 1) {
    struct hulls h;
    rc = hulls_build(&h, G, w.cstart, w.cc, 1, 0, w.cv);
    if (rc < 0)
      goto out;
    hulls_lp(&h, w.R[0], w.tol[0], &lam[0]);
    hulls_free(&h);
  }
  L = lagr_eval(&w, lam, sel, use);
  memcpy(cur, sel, G * sizeof *cur);
  if (greedy(&w, cur, use, &z))
    memcpy(zsel, cur, G * sizeof *cur);
  else
    z = -INFINITY;
  if (K >= 2) {
    L = lagr_optimise(&w, lam, sel, use, &z, zsel);
    memcpy(cur, sel, G * sizeof *cur);
    double z2;
    if (greedy(&w, cur, use, &z2) && z2 > z) {
      z = z2;
      memcpy(zsel, cur, G * sizeof *cur);
    }
  }

  /* from here on the incumbent is kept as item indices: fixing renumbers */
  if (isfinite(z))
    for (size_t i = 0; i < G; i++)
      zsel[i] = w.citem[zsel[i]];
  /* a caller's warm start (e.g. the previous level of a front) */
  if (warm) {
    double v = 0;
    int ok = 1;
    for (size_t k = 0; k < K; k++)
      use[k] = 0;
    for (size_t i = 0; i < G && ok; i++) {
      if (warm[i] >= p->group_size[i]) {
        ok = 0;
        break;
      }
      size_t g = w.off[i] + warm[i];
      v += p->value[g];
      for (size_t k = 0; k < K; k++)
        use[k] += p->cost[g * K + k];
    }
    for (size_t k = 0; k < K && ok; k++)
      ok = use[k] <= p->budget[k] + w.tol[k];
    if (ok && v > z) {
      z = v;
      memcpy(zsel, warm, G * sizeof *zsel);
    }
  }

  /* For several budgets the warm start can be poor, and with it the
   * fixing: a short bounded dive first, then, if it found better, fix
   * again and search the smaller tree. */
  uint64_t nodes_before = 0;
  for (int pass = 0;; pass++) {
    int emptied = 0;
    rc = bnb_setup(&b, &w, lam, L, z, zsel, ord, deadline, &emptied);
    if (rc < 0)
      goto out;
    b.nodes += nodes_before;
    if (emptied) {
      bnb_free(&b);
      b.nodes = nodes_before;
      b.have = isfinite(z);
      b.z = z;
      goto done;
    }
    if (K >= 2 && pass == 0 && b.dstart[G] > 4 * G) {
      b.node_limit = b.nodes + 5000 + 20 * (uint64_t)b.dstart[G];
      rc = bnb_search(&b, w.vtol);
      if (rc < 0)
        goto out;
      if (!b.dfs_done && !b.timed_out && b.z > z + w.vtol) {
        z = b.z;
        memcpy(zsel, b.best, G * sizeof *zsel);
        nodes_before = b.nodes;
        bnb_free(&b);
        continue;
      }
      b.node_limit = UINT64_MAX;
    }
    break;
  }
  /* With one budget two exact methods run in turns, each with four times
   * the work of the last turn, until one concludes: the depth-first search
   * (resumed where it paused; fast when good choices are easy to find and
   * states do not merge) and the dynamic program (restarted, pruning against
   * the best incumbent so far; fast when costs repeat, as on integer data).
   * The total is within a small factor of the faster method alone. */
  if (K == 1) {
    uint64_t work = 20000 + 20 * (uint64_t)b.dstart[G];
    for (;;) {
      b.node_limit = b.nodes + work;
      rc = bnb_search(&b, w.vtol);
      if (rc < 0 || b.dfs_done || b.timed_out)
        break;
      rc = dp_search(&b, w.vtol, work);
      if (rc <= 0) {
        b.dfs_done = rc == 0 && !b.timed_out;
        break;
      }
      work *= 4;
    }
  } else {
    rc = bnb_search(&b, w.vtol);
  }
  if (rc < 0)
    goto out;
  if (b.have)
    memcpy(zsel, b.best, G * sizeof *zsel);
  z = b.z;

done:
  r->nodes = b.nodes;
  if (b.have) {
    finish_choice(p, &w, zsel, r);
    if (b.timed_out) {
      r->status = HANT_SELECT_TIME_LIMIT;
      r->bound = dmax(r->objective, b.ub_left);
      r->gap = r->bound - r->objective;
    } else {
      r->status = HANT_SELECT_OPTIMAL;
      r->bound = r->objective;
      r->gap = 0;
    }
  } else if (b.timed_out) {
    r->status = HANT_SELECT_TIME_LIMIT;
    r->bound = b.ub_left;
    r->gap = INFINITY;
  } else {
    r->status = HANT_SELECT_INFEASIBLE;
    r->jointly_infeasible = 1;
  }
  rc = 0;
out:
  free(cur);
  free(sel);
  free(zsel);
  free(lam);
  free(use);
  free(ord);
  bnb_free(&b);
  prep_free(&w);
  return rc;
}

/* Without budgets every slot takes its best value. */
static void solve_unconstrained(const struct hant_select_problem *p, struct hant_select_result *r) {
  size_t g = 0;
  r->objective = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    size_t bj = 0;
    for (size_t j = 0; j < p->group_size[i]; j++)
      if (p->value[g + j] > p->value[g + bj])
        bj = j;
    r->choice[i] = bj;
    r->objective += p->value[g + bj];
    g += p->group_size[i];
  }
  r->has_choice = 1;
  r->status = HANT_SELECT_OPTIMAL;
  r->bound = r->objective;
  r->gap = 0;
}

static double deadline_of(double t0, double limit_ms) {
  return limit_ms > 0 ? t0 + limit_ms * 1e-3 : INFINITY;
}

static int solve_until(const struct hant_select_problem *p, struct hant_select_result *r,
                       double deadline, const size_t *warm) {
  double t0 = hant_now_s();
  int rc = hant_select_check(p);
  if (rc < 0)
    return rc;
  rc = result_prepare(r, p->n_groups, p->n_dims);
  if (rc < 0)
    return rc;
  if (p->n_dims == 0)
    solve_unconstrained(p, r);
  else
    rc = solve_core(p, r, deadline, warm);
  if (rc < 0) {
    hant_select_result_free(r);
    return rc;
  }
  r->solve_ms = (hant_now_s() - t0) * 1e3;
  return 0;
}

int hant_select_solve(const struct hant_select_problem *p, struct hant_select_result *r) {
  if (!r)
    return hant__error(HANT_EINVAL, "select: result is NULL");
  double t0 = hant_now_s();
  return solve_until(p, r, p ? deadline_of(t0, p->time_limit_ms) : INFINITY, NULL);
}

/* ---------------------------------------------------------------------------
 * Pareto front.
 * ------------------------------------------------------------------------- */

struct fstate {
  uint32_t parent; /* index in the previous layer */
  uint32_t item;   /* item index within the group */
};

struct hant_select_front {
  size_t G;
  size_t n;              /* points */
  double *cost, *value;  /* [n] */
  uint32_t *last;        /* [n] state index in the last layer */
  struct fstate **layer; /* [G] */
  int approximate;
  double cost_error;
  double tol;
};

void hant_select_front_destroy(struct hant_select_front *f) {
  if (!f)
    return;
  if (f->layer)
    for (size_t i = 0; i < f->G; i++)
      free(f->layer[i]);
  free(f->layer);
  free(f->cost);
  free(f->value);
  free(f->last);
  free(f);
}

size_t hant_select_front_size(const struct hant_select_front *f) { return f ? f->n : 0; }
int hant_select_front_approximate(const struct hant_select_front *f) {
  return f ? f->approximate : 0;
}
double hant_select_front_cost_error(const struct hant_select_front *f) {
  return f ? f->cost_error : 0;
}

/* A layer of partial choices: axis cost, value, other costs, back pointer. */
struct flist {
  size_t n, cap, K2;
  double *c, *v, *o; /* o: [n, K2] other costs, when budgets are respected */
  struct fstate *st;
};

static void flist_free(struct flist *l) {
  free(l->c);
  free(l->v);
  free(l->o);
  free(l->st);
  memset(l, 0, sizeof *l);
}

static int flist_reserve(struct flist *l, size_t n) {
  if (n <= l->cap)
    return 0;
  size_t cap = l->cap ? l->cap : 64;
  while (cap < n)
    cap *= 2;
  double *c = realloc(l->c, cap * sizeof *c);
  if (c)
    l->c = c;
  double *v = realloc(l->v, cap * sizeof *v);
  if (v)
    l->v = v;
  double *o = realloc(l->o, (cap * l->K2 + 1) * sizeof *o);
  if (o)
    l->o = o;
  struct fstate *st = realloc(l->st, cap * sizeof *st);
  if (st)
    l->st = st;
  if (!c || !v || !o || !st)
    return hant__error(HANT_ENOMEM, "select: out of memory for a Pareto front of %zu points", n);
  l->cap = cap;
  return 0;
}

struct heapent {
  double c, v;
  uint32_t s, j;
};

static int heap_less(const struct heapent *a, const struct heapent *b) {
  if (a->c != b->c)
    return a->c < b->c;
  return a->v > b->v;
}

static void heap_down(struct heapent *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && heap_less(&h[l], &h[m]))
      m = l;
    if (l + 1 < n && heap_less(&h[l + 1], &h[m]))
      m = l + 1;
    if (m == i)
      return;
    struct heapent t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Thins a Pareto list (cost ascending, value ascending) so that of every
 * run of points within delta on the cost axis only the last survives.
 * Returns delta (0 when nothing was dropped). */
static double flist_thin(struct flist *l, size_t target) {
  if (l->n <= target || l->n < 2)
    return 0;
  double delta = (l->c[l->n - 1] - l->c[0]) / (double)(target / 2 + 1);
  size_t o = 0;
  size_t i = 0;
  while (i < l->n) {
    double start = l->c[i];
    size_t j = i;
    while (j + 1 < l->n && l->c[j + 1] < start + delta)
      j++;
    l->c[o] = l->c[j];
    l->v[o] = l->v[j];
    l->st[o] = l->st[j];
    if (l->K2)
      memmove(l->o + o * l->K2, l->o + j * l->K2, l->K2 * sizeof *l->o);
    o++;
    i = j + 1;
  }
  l->n = o;
  return delta;
}

/* Does some point among the last `window` kept ones dominate (c, v, o)? */
static int dominated_multi(const struct flist *l, double c, double v, const double *o,
                           size_t window) {
  size_t lo = l->n > window ? l->n - window : 0;
  for (size_t s = l->n; s-- > lo;) {
    if (l->c[s] > c || l->v[s] < v)
      continue;
    int le = 1;
    for (size_t k = 0; k < l->K2 && le; k++)
      le = l->o[s * l->K2 + k] <= o[k];
    if (le)
      return 1;
  }
  return 0;
}

int hant_select_front_new(const struct hant_select_problem *p,
                          const struct hant_select_front_options *opt,
                          struct hant_select_front **out) {
  if (!out || !opt)
    return hant__error(HANT_EINVAL, "select: front options and output must not be NULL");
  *out = NULL;
  int rc = hant_select_check(p);
  if (rc < 0)
    return rc;
  size_t G = p->n_groups, K = p->n_dims, ax = opt->axis;
  if (ax >= K)
    return hant__error(HANT_EINVAL, "select: front axis %zu but the problem has %zu budgets", ax,
                       K);
  size_t cap = opt->max_points                 ? opt->max_points
               : opt->respect_budgets && K > 1 ? FRONT_DEFAULT_POINTS_MULTI
                                               : FRONT_DEFAULT_POINTS;
  if (cap < 4)
    cap = 4;
  size_t K2 = opt->respect_budgets ? K - 1 : 0;
  struct hant_select_front *f = calloc(1, sizeof *f);
  struct flist cur, nxt;
  memset(&cur, 0, sizeof cur);
  memset(&nxt, 0, sizeof nxt);
  cur.K2 = nxt.K2 = K2;
  size_t *off = malloc((G + 1) * sizeof *off);
  double *minc = calloc(G * K + 1, sizeof *minc), *R = calloc(K + 1, sizeof *R),
         *tol = calloc(K + 1, sizeof *tol);
  size_t maxg = 0;
  struct heapent *heap = NULL;
  uint32_t *items = NULL;
  double *otmp = malloc((K + 1) * sizeof *otmp);
  if (!f || !off || !minc || !R || !tol || !otmp)
    goto nomem;
  f->G = G;
  f->layer = calloc(G, sizeof *f->layer);
  if (!f->layer)
    goto nomem;
  off[0] = 0;
  for (size_t i = 0; i < G; i++) {
    off[i + 1] = off[i] + p->group_size[i];
    if (p->group_size[i] > maxg)
      maxg = p->group_size[i];
  }
  double axis_base = 0, axis_scale = 0;
  for (size_t k = 0; k < K; k++) {
    double mt = 0, sc = 0;
    for (size_t i = 0; i < G; i++) {
      double mn = INFINITY, mx = 0;
      for (size_t g = off[i]; g < off[i + 1]; g++) {
        mn = dmin(mn, p->cost[g * K + k]);
        mx = dmax(mx, fabs(p->cost[g * K + k]));
      }
      minc[i * K + k] = mn;
      mt += mn;
      sc += mx;
    }
    tol[k] = COST_RTOL * dmax(1.0, dmax(fabs(p->budget[k]), sc));
    R[k] = p->budget[k] - mt;
    if (k == ax) {
      axis_base = mt;
      axis_scale = sc;
    }
    if (K2 && k != ax && R[k] < -tol[k]) {
      rc = hant__error(HANT_EINFEASIBLE,
                       "select: budget %zu cannot be met (smallest total %.17g > %.17g)", k, mt,
                       p->budget[k]);
      goto out;
    }
  }
  f->tol = COST_RTOL * dmax(1.0, axis_scale);
  heap = malloc((maxg + 1) * sizeof *heap);
  items = malloc((maxg + 1) * sizeof *items);
  if (!heap || !items)
    goto nomem;

  for (size_t i = 0; i < G; i++) {
    /* this group's candidates: within the other budgets, sorted by axis
     * cost then value, dominated ones dropped */
    size_t m = 0;
    for (size_t j = 0; j < p->group_size[i]; j++) {
      size_t g = off[i] + j;
      int ok = 1;
      for (size_t k = 0; k < K && K2; k++)
        if (k != ax && p->cost[g * K + k] - minc[i * K + k] > R[k] + tol[k])
          ok = 0;
      if (ok)
        items[m++] = (uint32_t)j;
    }
    /* insertion sort by (axis cost asc, value desc): groups are small */
    for (size_t a = 1; a < m; a++) {
      uint32_t t = items[a];
      size_t b = a;
      double tc = p->cost[(off[i] + t) * K + ax], tv = p->value[off[i] + t];
      while (b > 0) {
        size_t g2 = off[i] + items[b - 1];
        double c2 = p->cost[g2 * K + ax], v2 = p->value[g2];
        if (c2 < tc || (c2 == tc && v2 >= tv))
          break;
        items[b] = items[b - 1];
        b--;
      }
      items[b] = t;
    }
    {
      /* drop items dominated in value, axis cost and (when respected) the
       * other costs; items come by axis cost, so only earlier ones can
       * dominate */
      size_t o = 0;
      double vbest = -INFINITY;
      for (size_t a = 0; a < m; a++) {
        size_t g = off[i] + items[a];
        double v = p->value[g];
        int dom = 0;
        if (!K2) {
          dom = v <= vbest;
        } else {
          for (size_t q = 0; q < o && !dom; q++) {
            size_t h = off[i] + items[q];
            if (p->value[h] < v)
              continue;
            int le = 1;
            for (size_t k = 0; k < K && le; k++)
              le = p->cost[h * K + k] <= p->cost[g * K + k];
            dom = le;
          }
        }
        if (!dom) {
          items[o++] = items[a];
          vbest = v > vbest ? v : vbest;
        }
      }
      m = o;
    }
    if (m == 0) {
      rc = hant__error(HANT_EINFEASIBLE,
                       "select: no candidate of group %zu meets the other budgets", i);
      goto out;
    }
    nxt.n = 0;
    if (i == 0) {
      rc = flist_reserve(&nxt, m);
      if (rc < 0)
        goto out;
      for (size_t a = 0; a < m; a++) {
        size_t g = off[0] + items[a];
        nxt.c[nxt.n] = p->cost[g * K + ax] - minc[ax];
        nxt.v[nxt.n] = p->value[g];
        size_t q = 0;
        for (size_t k = 0; k < K && K2; k++)
          if (k != ax)
            nxt.o[nxt.n * K2 + q++] = p->cost[g * K + k] - minc[k];
        nxt.st[nxt.n] = (struct fstate){0, items[a]};
        if (K2 && dominated_multi(&nxt, nxt.c[nxt.n], nxt.v[nxt.n], nxt.o + nxt.n * K2,
                                  FRONT_DOMINANCE_WINDOW))
          continue;
        nxt.n++;
      }
    } else {
      /* k-way merge of cur + item over the items, by axis cost */
      size_t hn = 0;
      for (size_t a = 0; a < m; a++) {
        size_t g = off[i] + items[a];
        heap[hn++] = (struct heapent){cur.c[0] + p->cost[g * K + ax] - minc[i * K + ax],
                                      cur.v[0] + p->value[g], 0, (uint32_t)a};
      }
      for (size_t s = hn / 2 + 1; s-- > 0;)
        heap_down(heap, hn, s);
      double vbest = -INFINITY;
      while (hn) {
        struct heapent e = heap[0];
        size_t g = off[i] + items[e.j];
        int take;
        if (!K2) {
          take = e.v > vbest;
        } else {
          take = 1;
          size_t q = 0;
          for (size_t k = 0; k < K; k++) {
            if (k == ax)
              continue;
            otmp[q] = cur.o[(size_t)e.s * K2 + q] + p->cost[g * K + k] - minc[i * K + k];
            if (otmp[q] > R[k] + tol[k])
              take = 0;
            q++;
          }
          if (take)
            take = !dominated_multi(&nxt, e.c, e.v, otmp, FRONT_DOMINANCE_WINDOW);
        }
        if (take) {
          rc = flist_reserve(&nxt, nxt.n + 1);
          if (rc < 0)
            goto out;
          nxt.c[nxt.n] = e.c;
          nxt.v[nxt.n] = e.v;
          if (K2)
            memcpy(nxt.o + nxt.n * K2, otmp, K2 * sizeof *otmp);
          nxt.st[nxt.n] = (struct fstate){e.s, items[e.j]};
          nxt.n++;
          if (e.v > vbest)
            vbest = e.v;
        }
        if (e.s + 1 < cur.n) {
          e.s++;
          heap[0] = (struct heapent){cur.c[e.s] + p->cost[g * K + ax] - minc[i * K + ax],
                                     cur.v[e.s] + p->value[g], e.s, e.j};
        } else {
          heap[0] = heap[--hn];
        }
        heap_down(heap, hn, 0);
      }
      if (nxt.n == 0) {
        rc = hant__error(HANT_EINFEASIBLE, "select: no choice meets the other budgets");
        goto out;
      }
    }
    if (nxt.n > cap) {
      double delta = flist_thin(&nxt, cap);
      f->approximate = 1;
      f->cost_error = K2 ? INFINITY : f->cost_error + delta;
    }
    f->layer[i] = malloc(nxt.n * sizeof *f->layer[i]);
    if (!f->layer[i])
      goto nomem;
    memcpy(f->layer[i], nxt.st, nxt.n * sizeof *nxt.st);
    struct flist t = cur;
    cur = nxt;
    nxt = t;
  }
  /* the front: strictly increasing value along increasing cost */
  f->cost = malloc(cur.n * sizeof *f->cost);
  f->value = malloc(cur.n * sizeof *f->value);
  f->last = malloc(cur.n * sizeof *f->last);
  if (!f->cost || !f->value || !f->last)
    goto nomem;
  double vbest = -INFINITY;
  for (size_t s = 0; s < cur.n; s++) {
    if (cur.v[s] > vbest) {
      vbest = cur.v[s];
      f->cost[f->n] = cur.c[s] + axis_base;
      f->value[f->n] = cur.v[s];
      f->last[f->n] = (uint32_t)s;
      f->n++;
    }
  }
  *out = f;
  f = NULL;
  rc = 0;
out:
  hant_select_front_destroy(f);
  flist_free(&cur);
  flist_free(&nxt);
  free(off);
  free(minc);
  free(R);
  free(tol);
  free(heap);
  free(items);
  free(otmp);
  return rc;
nomem:
  rc = hant__error(HANT_ENOMEM, "select: out of memory for the Pareto front");
  goto out;
}

int hant_select_front_point(const struct hant_select_front *f, size_t i, double *cost,
                            double *value, size_t *choice) {
  if (!f || i >= f->n)
    return hant__error(HANT_ERANGE, "select: front point %zu out of range", i);
  if (cost)
    *cost = f->cost[i];
  if (value)
    *value = f->value[i];
  if (choice) {
    uint32_t s = f->last[i];
    for (size_t g = f->G; g-- > 0;) {
      choice[g] = f->layer[g][s].item;
      s = f->layer[g][s].parent;
    }
  }
  return 0;
}

int hant_select_front_lookup(const struct hant_select_front *f, double budget, size_t *point) {
  if (!f || f->n == 0 || !(budget >= f->cost[0] - f->tol))
    return HANT_EINFEASIBLE;
  size_t lo = 0, hi = f->n; /* first point above budget */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (f->cost[mid] <= budget + f->tol)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (point)
    *point = lo - 1;
  return 0;
}

int hant_select_front_sample(const struct hant_select_front *f, size_t n_levels, double *level,
                             double *value, size_t *point) {
  if (!f || n_levels == 0 || f->n == 0)
    return hant__error(HANT_EINVAL, "select: a sampled front needs at least one level");
  double lo = f->cost[0], hi = f->cost[f->n - 1];
  for (size_t l = 0; l < n_levels; l++) {
    double b = n_levels == 1 ? hi : lo + (hi - lo) * (double)l / (double)(n_levels - 1);
    if (l == n_levels - 1)
      b = hi;
    size_t pt = 0;
    hant_select_front_lookup(f, b, &pt);
    if (level)
      level[l] = b;
    if (value)
      value[l] = f->value[pt];
    if (point)
      point[l] = pt;
  }
  return 0;
}

/* Levels go up, so each level's optimum is feasible at the next and seeds
 * its incumbent: the search then only has to prove or improve it. */
int hant_select_front_levels(const struct hant_select_problem *p, size_t axis, size_t n_levels,
                             double *level, double *value, int *status, size_t *choice) {
  int rc = hant_select_check(p);
  if (rc < 0)
    return rc;
  size_t G = p->n_groups, K = p->n_dims;
  if (axis >= K || n_levels == 0 || !level || !value)
    return hant__error(HANT_EINVAL, "select: front levels: axis %zu of %zu budgets, %zu levels",
                       axis, K, n_levels);
  double *bud = malloc(K * sizeof *bud);
  size_t *warm = malloc(G * sizeof *warm);
  struct hant_select_result r;
  hant_select_result_init(&r);
  if (!bud || !warm) {
    rc = hant__error(HANT_ENOMEM, "select: out of memory");
    goto out;
  }
  memcpy(bud, p->budget, K * sizeof *bud);
  struct hant_select_problem q = *p;
  q.budget = bud;
  double lo = 0, hi_free = 1;
  for (size_t i = 0, o = 0; i < G; i++) {
    double mn = INFINITY, mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++, o++) {
      mn = dmin(mn, p->cost[o * K + axis]);
      mx = dmax(mx, fabs(p->cost[o * K + axis]));
    }
    lo += mn;
    hi_free += mx;
  }
  /* the top level: the axis total of the optimum without the axis budget */
  bud[axis] = lo + hi_free;
  double t0 = hant_now_s();
  rc = solve_until(&q, &r, deadline_of(t0, p->time_limit_ms), NULL);
  if (rc < 0)
    goto out;
  double hi = r.has_choice ? r.totals[axis] : lo;
  int have = 0;
  for (size_t l = 0; l < n_levels; l++) {
    double b = n_levels == 1 ? hi : lo + (hi - lo) * (double)l / (double)(n_levels - 1);
    if (l == n_levels - 1)
      b = hi;
    bud[axis] = b;
    rc = solve_until(&q, &r, deadline_of(hant_now_s(), p->time_limit_ms), have ? warm : NULL);
    if (rc < 0)
      goto out;
    level[l] = b;
    value[l] = r.has_choice ? r.objective : NAN;
    if (status)
      status[l] = (int)r.status;
    if (r.has_choice) {
      memcpy(warm, r.choice, G * sizeof *warm);
      have = 1;
    }
    if (choice)
      for (size_t i = 0; i < G; i++)
        choice[l * G + i] = r.has_choice ? r.choice[i] : SIZE_MAX;
  }
out:
  hant_select_result_free(&r);
  free(bud);
  free(warm);
  return rc;
}

static int result_copy(struct hant_select_result *dst, const struct hant_select_result *src) {
  int rc = result_prepare(dst, src->n_groups, src->n_dims);
  if (rc < 0)
    return rc;
  size_t *ch = dst->choice;
  double *tt = dst->totals, *mt = dst->min_totals;
  int *ob = dst->over_budget;
  *dst = *src;
  dst->choice = ch;
  dst->totals = tt;
  dst->min_totals = mt;
  dst->over_budget = ob;
  memcpy(ch, src->choice, src->n_groups * sizeof *ch);
  memcpy(tt, src->totals, src->n_dims * sizeof *tt);
  memcpy(mt, src->min_totals, src->n_dims * sizeof *mt);
  memcpy(ob, src->over_budget, src->n_dims * sizeof *ob);
  return 0;
}

/* ---------------------------------------------------------------------------
 * Power modes.
 * ------------------------------------------------------------------------- */

int hant_select_solve_modes(const struct hant_select_problem *p,
                            const struct hant_select_modes *modes, struct hant_select_result *best,
                            size_t *best_mode, struct hant_select_result *per_mode) {
  if (!p || !modes || !best || !best_mode)
    return hant__error(HANT_EINVAL, "select: modes: NULL argument");
  if (modes->n_modes == 0 || !modes->cost)
    return hant__error(HANT_EINVAL, "select: modes: no power modes given");
  if (p->n_dims == 0)
    return hant__error(HANT_EINVAL, "select: modes: the problem has no budgets");
  for (size_t m = 0; m < modes->n_modes; m++) {
    struct hant_select_problem q = *p;
    q.cost = modes->cost[m];
    q.budget = modes->budget && modes->budget[m] ? modes->budget[m] : p->budget;
    int rc = hant_select_check(&q);
    if (rc < 0) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", hant_errmsg());
      return hant__error(rc, "mode %zu: %s", m, msg);
    }
  }
  double t0 = hant_now_s(), deadline = deadline_of(t0, p->time_limit_ms);
  struct hant_select_result tmp;
  hant_select_result_init(&tmp);
  hant_select_result_free(best);
  size_t bm = 0;
  int have = 0, timed = 0, rc = 0;
  double maxbound = -INFINITY, best_energy = INFINITY;
  uint64_t nodes = 0;
  double vscale = 0;
  for (size_t g = 0, i = 0; i < p->n_groups; i++) {
    double mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++, g++)
      mx = dmax(mx, fabs(p->value[g]));
    vscale += mx;
  }
  double vtol = VALUE_RTOL * (1 + vscale);
  for (size_t m = 0; m < modes->n_modes; m++) {
    struct hant_select_problem q = *p;
    q.cost = modes->cost[m];
    q.budget = modes->budget && modes->budget[m] ? modes->budget[m] : p->budget;
    struct hant_select_result *r = per_mode ? &per_mode[m] : &tmp;
    rc = solve_until(&q, r, deadline, NULL);
    if (rc < 0)
      goto out;
    nodes += r->nodes;
    if (r->status == HANT_SELECT_TIME_LIMIT)
      timed = 1;
    if (r->status != HANT_SELECT_INFEASIBLE)
      maxbound = dmax(maxbound, r->bound);
    if (!r->has_choice)
      continue;
    double energy = modes->energy_dim < p->n_dims ? r->totals[modes->energy_dim] : 0;
    int better = !have || r->objective > best->objective + vtol ||
                 (r->objective >= best->objective - vtol && energy < best_energy);
    if (better) {
      rc = result_copy(best, r);
      if (rc < 0)
        goto out;
      best_energy = energy;
      bm = m;
      have = 1;
    }
  }
  if (!have) {
    /* report mode 0's infeasibility (or its time-out without a choice) */
    struct hant_select_problem q = *p;
    q.cost = modes->cost[0];
    q.budget = modes->budget && modes->budget[0] ? modes->budget[0] : p->budget;
    rc = per_mode ? result_copy(best, &per_mode[0]) : solve_until(&q, best, deadline, NULL);
    if (rc < 0)
      goto out;
    if (timed)
      best->status = HANT_SELECT_TIME_LIMIT;
    bm = 0;
  } else if (timed) {
    best->status = HANT_SELECT_TIME_LIMIT;
    best->bound = dmax(best->objective, maxbound);
    best->gap = best->bound - best->objective;
  } else {
    best->status = HANT_SELECT_OPTIMAL;
  }
  best->nodes = nodes;
  best->solve_ms = (hant_now_s() - t0) * 1e3;
  *best_mode = bm;
out:
  hant_select_result_free(&tmp);
  return rc;
}

/* ---------------------------------------------------------------------------
 * Measured-latency correction.
 * ------------------------------------------------------------------------- */

int hant_select_solve_corrected(const struct hant_select_problem *p, size_t latency_dim,
                                hant_select_measure_fn measure, void *user, int max_rounds,
                                struct hant_select_result *r, struct hant_select_correction *info) {
  int rc = hant_select_check(p);
  if (rc < 0)
    return rc;
  if (!r || !measure)
    return hant__error(HANT_EINVAL, "select: corrected solve needs a result and a callback");
  if (latency_dim >= p->n_dims)
    return hant__error(HANT_EINVAL, "select: latency dimension %zu but only %zu budgets",
                       latency_dim, p->n_dims);
  if (max_rounds < 1)
    return hant__error(HANT_EINVAL, "select: max_rounds must be at least 1, not %d", max_rounds);
  double *budget = malloc(p->n_dims * sizeof *budget);
  if (!budget)
    return hant__error(HANT_ENOMEM, "select: out of memory");
  memcpy(budget, p->budget, p->n_dims * sizeof *budget);
  struct hant_select_problem q = *p;
  q.budget = budget;
  struct hant_select_correction c = {0};
  double orig = p->budget[latency_dim];
  double scale = 0;
  for (size_t g = 0, i = 0; i < p->n_groups; i++) {
    double mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++, g++)
      mx = dmax(mx, fabs(p->cost[g * p->n_dims + latency_dim]));
    scale += mx;
  }
  double tol = COST_RTOL * dmax(1.0, dmax(fabs(orig), scale));
  double t0 = hant_now_s(), deadline = deadline_of(t0, p->time_limit_ms);
  for (int round = 0; round < max_rounds; round++) {
    c.budget_used = budget[latency_dim];
    rc = solve_until(&q, r, deadline, NULL);
    if (rc < 0)
      break;
    c.rounds = round + 1;
    if (!r->has_choice)
      break; /* infeasible at this budget, or out of time */
    c.predicted = r->totals[latency_dim];
    double m = 0;
    rc = measure(user, r->choice, p->n_groups, &m);
    if (rc < 0)
      break;
    if (!isfinite(m)) {
      rc = hant__error(HANT_EINVAL, "select: the measured latency is not a finite number");
      break;
    }
    c.measured = m;
    if (m <= orig + tol) {
      c.fits = 1;
      break;
    }
    /* Predicted totals must shrink by measured / predicted to fit; and
     * strictly below this prediction, so this choice is excluded. */
    double pred = c.predicted, next;
    if (pred > 0 && m > 0)
      next = orig * (pred / m);
    else
      next = pred - (m - orig);
    double step = dmax(1e-6 * dmax(1.0, fabs(orig)), 4 * tol);
    next = dmin(next, pred - step);
    budget[latency_dim] = next;
  }
  free(budget);
  if (info)
    *info = c;
  return rc;
}
