/* SPDX-License-Identifier: MIT */
/* select.c: the exact solver's entry point: checks a problem, runs prepare, bound and search in turn, and fills the answer. */
#include "select.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

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

int hant__select_result_prepare(struct hant_select_result *r, size_t G, size_t K) {
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

int hant__select_result_copy(struct hant_select_result *dst, const struct hant_select_result *src) {
  int rc = hant__select_result_prepare(dst, src->n_groups, src->n_dims);
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
  int rc = hant__select_prep_build(p, r, &w);
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
    rc = hant__select_hulls_build(&h, G, w.cstart, w.cc, 1, 0, w.cv);
    if (rc < 0)
      goto out;
    hant__select_hulls_lp(&h, w.R[0], w.tol[0], &lam[0]);
    hant__select_hulls_free(&h);
  }
  L = hant__select_lagr_eval(&w, lam, sel, use);
  memcpy(cur, sel, G * sizeof *cur);
  if (hant__select_greedy(&w, cur, use, &z))
    memcpy(zsel, cur, G * sizeof *cur);
  else
    z = -INFINITY;
  if (K >= 2) {
    L = hant__select_lagr_optimise(&w, lam, sel, use, &z, zsel);
    memcpy(cur, sel, G * sizeof *cur);
    double z2;
    if (hant__select_greedy(&w, cur, use, &z2) && z2 > z) {
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
    rc = hant__select_bnb_setup(&b, &w, lam, L, z, zsel, ord, deadline, &emptied);
    if (rc < 0)
      goto out;
    b.nodes += nodes_before;
    if (emptied) {
      hant__select_bnb_free(&b);
      b.nodes = nodes_before;
      b.have = isfinite(z);
      b.z = z;
      goto done;
    }
    if (K >= 2 && pass == 0 && b.dstart[G] > 4 * G) {
      b.node_limit = b.nodes + 5000 + 20 * (uint64_t)b.dstart[G];
      rc = hant__select_bnb_search(&b, w.vtol);
      if (rc < 0)
        goto out;
      if (!b.dfs_done && !b.timed_out && b.z > z + w.vtol) {
        z = b.z;
        memcpy(zsel, b.best, G * sizeof *zsel);
        nodes_before = b.nodes;
        hant__select_bnb_free(&b);
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
      rc = hant__select_bnb_search(&b, w.vtol);
      if (rc < 0 || b.dfs_done || b.timed_out)
        break;
      rc = hant__select_dp_search(&b, w.vtol, work);
      if (rc <= 0) {
        b.dfs_done = rc == 0 && !b.timed_out;
        break;
      }
      work *= 4;
    }
  } else {
    rc = hant__select_bnb_search(&b, w.vtol);
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
  hant__select_bnb_free(&b);
  hant__select_prep_free(&w);
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

double hant__select_deadline(double t0, double limit_ms) {
  return limit_ms > 0 ? t0 + limit_ms * 1e-3 : INFINITY;
}

int hant__select_solve_until(const struct hant_select_problem *p, struct hant_select_result *r,
                             double deadline, const size_t *warm) {
  double t0 = hant_now_s();
  int rc = hant_select_check(p);
  if (rc < 0)
    return rc;
  rc = hant__select_result_prepare(r, p->n_groups, p->n_dims);
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
  return hant__select_solve_until(p, r, p ? hant__select_deadline(t0, p->time_limit_ms) : INFINITY,
                                  NULL);
}
