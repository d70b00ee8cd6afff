/* SPDX-License-Identifier: MIT */
/* baseline.h: the selections hant's exact solver is measured against: greedy score per cost, the best of random feasible choices, and uniform width scaling of the teacher. */
#ifndef HANT_BASELINE_H
#define HANT_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "select.h"

/*
 * The two library baselines read a hant_select_problem with exactly one
 * cost dimension (n_dims == 1) and return a feasible choice ([n_groups]
 * indices within each group) and its summed value. Both return
 * HANT_EINFEASIBLE when even the cheapest choice is over the budget, and
 * HANT_EINVAL for a problem hant_select_check refuses or with n_dims != 1.
 */

/* Greedy by value per cost: start from each group's cheapest candidate
 * (the better one on ties), then repeatedly take the upgrade, one group to
 * one candidate, with the largest value gained per unit of cost added
 * among those that stay within the budget; an upgrade that costs nothing
 * more is taken first. Stops when no upgrade gains value. The usual
 * heuristic for the multiple-choice knapsack, without the exact search. */
int hant_baseline_greedy(const struct hant_select_problem *p, size_t *choice, double *value);

/* The best, by summed value, of n_draws random feasible choices. A draw
 * visits the groups in a random order and picks uniformly among the
 * candidates that still leave the budget reachable (the cheapest
 * candidates of the groups not yet visited fit in what remains), so every
 * draw is feasible and no draw is rejected. Deterministic for a seed. */
int hant_baseline_random(const struct hant_select_problem *p, int n_draws, uint64_t seed, size_t *choice,
                         double *value);

/* Which channels uniform width scaling keeps. */
typedef enum hant_uniform_pick {
  HANT_UNIFORM_FIRST, /* the first ones of every layer */
  HANT_UNIFORM_L1,    /* the most important: largest L1 norm of their filters, as the prune family ranks them */
} hant_uniform_pick;

/* Uniform width scaling: the teacher with every slot's output and inner
 * channel counts multiplied by `width` (rounded, at least 1), except the
 * last slot's outputs (the classes). Slots are rebuilt from their
 * architecture lines without batch norm (the teacher is folded, see
 * hant_teacher_prepare); the nodes between slots must be global
 * average pooling or flatten. Weights are sliced from the teacher,
 * keeping the channels `pick` chooses; channels joined by a residual
 * addition are chosen together (scored by every filter writing into
 * them), so they stay aligned. *out is new. Returns 0, HANT_EINVAL (width
 * not in (0, 1], or a teacher this cannot scale, named) or HANT_ENOMEM. */
int hant_baseline_uniform(const hant_net *teacher, double width, hant_uniform_pick pick, hant_net **out);

/* The architecture line of a slot scaled by width, as hant_baseline_uniform
 * builds it, into buf; keep_out leaves the output count alone. */
int hant_baseline_scale_line(const char *line, double width, int keep_out, char *buf, size_t n);

#endif
