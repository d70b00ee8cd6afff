/* SPDX-License-Identifier: MIT */
/* select_correct.c: the measured-latency correction loop: solve, measure, tighten the latency budget, solve again. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

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
  double t0 = hant_now_s(), deadline = hant__select_deadline(t0, p->time_limit_ms);
  for (int round = 0; round < max_rounds; round++) {
    c.budget_used = budget[latency_dim];
    rc = hant__select_solve_until(&q, r, deadline, NULL);
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
