/* SPDX-License-Identifier: MIT */
/* select_modes.c: co-selection over power modes: one solve per mode, the best answer kept. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

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
  double t0 = hant_now_s(), deadline = hant__select_deadline(t0, p->time_limit_ms);
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
    rc = hant__select_solve_until(&q, r, deadline, NULL);
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
      rc = hant__select_result_copy(best, r);
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
    rc = per_mode ? hant__select_result_copy(best, &per_mode[0])
                  : hant__select_solve_until(&q, best, deadline, NULL);
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
