/* SPDX-License-Identifier: MIT */
/* select_front.c: the Pareto front of score against one cost, merged slot by slot or solved exactly at sampled levels. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "heap.h"
#include "select_internal.h"

#define FRONT_DEFAULT_POINTS ((size_t)65536)
#define FRONT_DEFAULT_POINTS_MULTI ((size_t)4096)
/* with several costs per state, dominance is checked against this many
 * most recent states (exact while lists are shorter) */
#define FRONT_DOMINANCE_WINDOW 512

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
  struct hant_heap_entry *heap = NULL;
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
        heap[hn++] = (struct hant_heap_entry){cur.c[0] + p->cost[g * K + ax] - minc[i * K + ax],
                                              cur.v[0] + p->value[g], 0, (uint32_t)a};
      }
      hant_heap_build(heap, hn);
      double vbest = -INFINITY;
      while (hn) {
        struct hant_heap_entry e = heap[0];
        size_t g = off[i] + items[e.list];
        int take;
        if (!K2) {
          take = e.value > vbest;
        } else {
          take = 1;
          size_t q = 0;
          for (size_t k = 0; k < K; k++) {
            if (k == ax)
              continue;
            otmp[q] = cur.o[(size_t)e.pos * K2 + q] + p->cost[g * K + k] - minc[i * K + k];
            if (otmp[q] > R[k] + tol[k])
              take = 0;
            q++;
          }
          if (take)
            take = !dominated_multi(&nxt, e.cost, e.value, otmp, FRONT_DOMINANCE_WINDOW);
        }
        if (take) {
          rc = flist_reserve(&nxt, nxt.n + 1);
          if (rc < 0)
            goto out;
          nxt.c[nxt.n] = e.cost;
          nxt.v[nxt.n] = e.value;
          if (K2)
            memcpy(nxt.o + nxt.n * K2, otmp, K2 * sizeof *otmp);
          nxt.st[nxt.n] = (struct fstate){e.pos, items[e.list]};
          nxt.n++;
          if (e.value > vbest)
            vbest = e.value;
        }
        if (e.pos + 1 < cur.n) {
          e.pos++;
          heap[0] = (struct hant_heap_entry){cur.c[e.pos] + p->cost[g * K + ax] - minc[i * K + ax],
                                             cur.v[e.pos] + p->value[g], e.pos, e.list};
          hant_heap_sift_down(heap, hn, 0);
        } else {
          hn = hant_heap_pop(heap, hn);
        }
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
  rc = hant__select_solve_until(&q, &r, hant__select_deadline(t0, p->time_limit_ms), NULL);
  if (rc < 0)
    goto out;
  double hi = r.has_choice ? r.totals[axis] : lo;
  int have = 0;
  for (size_t l = 0; l < n_levels; l++) {
    double b = n_levels == 1 ? hi : lo + (hi - lo) * (double)l / (double)(n_levels - 1);
    if (l == n_levels - 1)
      b = hi;
    bud[axis] = b;
    rc = hant__select_solve_until(&q, &r, hant__select_deadline(hant_now_s(), p->time_limit_ms),
                                  have ? warm : NULL);
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
