/* SPDX-License-Identifier: MIT */
/* select.h: the exact selection solver: one candidate per slot, best summed score under budgets. */
#ifndef HANT_SELECT_H
#define HANT_SELECT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The problem (brief section 7), a multiple-choice knapsack problem with one
 * or more budgets:
 *
 *   maximise   sum_i sum_j v_ij x_ij
 *   subject to sum_j x_ij = 1                 for every group (slot) i,
 *              sum_ij c_ijk x_ij <= B_k       for every cost dimension k,
 *              x_ij in {0, 1}.
 *
 * Values and costs are finite doubles of any sign; costs need not be
 * integers. A choice is feasible when every total is at most B_k + tol_k,
 * where tol_k = 1e-9 * max(1, |B_k|, sum_i max_j |c_ijk|) absorbs rounding.
 * "Optimal" means no feasible choice is better by more than
 * 1e-9 * (1 + sum_i max_j |v_ij|); the solver proves this by exhausting a
 * branch and bound. The units of values and costs are the caller's; every
 * cost dimension k must use the same unit as its budget B_k.
 */

enum hant_select_status {
  HANT_SELECT_OPTIMAL = 0,    /* the choice is optimal, with proof */
  HANT_SELECT_INFEASIBLE = 1, /* no choice satisfies all budgets, with proof */
  HANT_SELECT_TIME_LIMIT = 2, /* stopped at the time limit: best choice so far and its gap */
  HANT_SELECT_STATUS_COUNT
};

/* Returns "optimal", "infeasible" or "time_limit"; never NULL. */
const char *hant_select_status_name(enum hant_select_status s);

/* A problem. The caller owns every array; the solver only reads them and
 * keeps no pointer after it returns. Items are numbered globally, group 0's
 * items first: item j of group i is global item off_i + j with
 * off_i = sum_{h<i} group_size[h]. */
struct hant_select_problem {
  size_t n_groups;          /* number of slots, at least 1 */
  const size_t *group_size; /* [n_groups] candidates per slot, each at least 1 */
  size_t n_dims;            /* number of budgets (cost dimensions), may be 0 */
  const double *value;      /* [n_items] score of each candidate, larger is better */
  const double *cost;       /* [n_items, n_dims] row-major; may be NULL when n_dims is 0 */
  const double *budget;     /* [n_dims] upper bound on each total; may be NULL when n_dims is 0 */
  double time_limit_ms;     /* wall-clock limit of one solve; 0 or less means none */
};

/* The answer. The caller provides the struct, hant_select_result_init()
 * clears it, the solver allocates the arrays inside it, and
 * hant_select_result_free() releases them. A result can be reused for
 * several solves; each solve frees what the previous one left. */
struct hant_select_result {
  enum hant_select_status status;
  int has_choice;   /* 1 when choice/totals/objective describe a feasible choice */
  double objective; /* sum of the chosen values; 0 when has_choice is 0 */
  double bound;     /* proven upper bound on the optimum; equals objective when optimal */
  double gap;       /* bound - objective, >= 0; 0 when optimal, INFINITY without a choice */
  size_t n_groups;  /* copies of the problem's sizes, for the arrays below */
  size_t n_dims;
  size_t *choice;         /* [n_groups] index of the chosen candidate within its group */
  double *totals;         /* [n_dims] sum of the chosen costs, in the budgets' units */
  double *min_totals;     /* [n_dims] sum_i min_j c_ijk: the smallest achievable total of each
                             cost on its own; always filled, the infeasibility report */
  int *over_budget;       /* [n_dims] 1 where min_totals[k] > budget[k] + tol_k */
  int jointly_infeasible; /* 1 when infeasible although each budget alone can be met */
  uint64_t nodes;         /* branch-and-bound nodes explored */
  double solve_ms;        /* wall-clock time of the solve in milliseconds */
};

void hant_select_result_init(struct hant_select_result *r);
void hant_select_result_free(struct hant_select_result *r);

/* The feasibility slack of budget k, as defined above:
 * 1e-9 * max(1, |B_k|, sum_i max_j |c_ijk|). p must pass hant_select_check. */
double hant_select_cost_tol(const struct hant_select_problem *p, size_t k);

/* Checks a problem without solving it. Returns 0, or HANT_EINVAL with a
 * message naming the group, item and field (NaN or infinite value, cost or
 * budget, an empty group, zero groups, NULL arrays). Zero budgets are legal. */
int hant_select_check(const struct hant_select_problem *p);

/* Solves p exactly. Returns 0 whenever the problem is valid, whatever the
 * status (optimal, infeasible or time limit); HANT_EINVAL for an invalid
 * problem (see hant_select_check) and HANT_ENOMEM when memory runs out, in
 * which case r holds no arrays.
 *
 * Method: costs are shifted so that each group's cheapest candidate costs 0
 * in every dimension (this makes negative costs work); candidates that
 * exceed a budget on their own or are dominated (no better value and no
 * lower cost in any dimension) are dropped; Lagrangian multipliers (exact
 * for one budget, subgradient for several), a greedy warm start and
 * reduced-cost fixing follow. Then a depth-first branch and bound proves
 * optimality, bounding each node by the exact linear-programming relaxation
 * of the remaining slots under each budget alone and under a few
 * Lagrangian-weighted sums of the budgets (LP-dominated candidates are left
 * out of these bounds, never out of the search). With one budget it takes
 * turns with a dynamic program over slots whose states merge when partial
 * costs coincide (integer data), whichever concludes first. See
 * docs/selection.md. */
int hant_select_solve(const struct hant_select_problem *p, struct hant_select_result *r);

/* ---------------------------------------------------------------------------
 * The K best selections (select_kbest.c).
 * ------------------------------------------------------------------------- */

/* Up to k distinct feasible choices of one problem, best first. The caller
 * provides the struct, hant_select_kbest_init() clears it, the search
 * allocates the arrays inside it and hant_select_kbest_free() releases
 * them; a struct can be reused, each search frees what the last one left. */
struct hant_select_kbest {
  /* OPTIMAL: choices 0..n-1 are the n best feasible choices, each within
   * the value tolerance of select.h, and n < k means no other feasible
   * choice exists. INFEASIBLE: no choice meets the budgets (n is 0; solve
   * with hant_select_solve for the report of why). TIME_LIMIT: the time
   * limit cut the search; the n choices are feasible, distinct and in
   * order, but better ones may exist. */
  enum hant_select_status status;
  size_t n;          /* choices found, at most k */
  size_t n_groups;   /* copies of the problem's sizes, for the arrays below */
  size_t n_dims;
  size_t *choice;    /* [n, n_groups] index of each choice's candidate within each group */
  double *objective; /* [n] summed value of each choice, non-increasing */
  double *totals;    /* [n, n_dims] summed costs of each choice, in the budgets' units */
  uint64_t solves;   /* exact solves of subproblems run */
  uint64_t nodes;    /* branch-and-bound nodes over all of them */
  double solve_ms;   /* wall-clock time of the whole search in milliseconds */
};

void hant_select_kbest_init(struct hant_select_kbest *r);
void hant_select_kbest_free(struct hant_select_kbest *r);

/* Finds the k best distinct feasible choices of p (k >= 1), in
 * non-increasing objective order; k = 1 gives hant_select_solve's optimum.
 * Returns 0 whenever p is valid, whatever the status; HANT_EINVAL for an
 * invalid problem (see hant_select_check) or k == 0, HANT_ENOMEM when
 * memory runs out (r then holds no arrays). p->time_limit_ms bounds the
 * whole search.
 *
 * Method: Lawler's partitioning. The space of a solved subproblem, less
 * its optimum x, splits into disjoint subproblems, the i-th keeping the
 * first i - 1 free slots at x's candidates and forbidding x's candidate in
 * the i-th; each is solved exactly by hant_select_solve's method and the
 * best unreported optimum of all subproblems is the next choice. A search
 * for k costs at most 1 + (k - 1) x n_groups exact solves of problems no
 * larger than p.
 *
 * Ties are broken deterministically: choices of equal objective (within
 * the value tolerance) come in lexicographic order of their candidate
 * indices, and when choices tie with the k-th one the lexicographically
 * smallest are kept, provided the search meets them within 2k choices in
 * all (beyond that, which of the tied choices are kept is the one the
 * solver's order gives, still the same on every run). */
int hant_select_kbest(const struct hant_select_problem *p, size_t k, struct hant_select_kbest *r);

/* ---------------------------------------------------------------------------
 * Pareto front: the best score at every level of one cost.
 * ------------------------------------------------------------------------- */

struct hant_select_front; /* opaque; created by the library */

struct hant_select_front_options {
  size_t axis;         /* the cost dimension traded against the score; its budget is ignored */
  int respect_budgets; /* nonzero: every point also satisfies the other dimensions' budgets */
  size_t max_points;   /* cap on points kept per merge step; 0 means 65536, or 4096 when
                          other budgets are respected (the states then carry every cost) */
};

/* Computes the exact Pareto front of (total cost on the axis, score) in one
 * pass: the per-group Pareto sets are merged slot by slot and dominated
 * partial choices are dropped, so no point is solved from scratch.
 *
 * If a merge step would keep more than max_points partial choices, the
 * front is thinned: of several partial choices within delta of each other
 * on the axis only the best-scoring one survives, delta being chosen so that
 * at most max_points remain. The result is then flagged approximate and
 * hant_select_front_cost_error() bounds the damage: for every budget level b
 * the front's best score at b + cost_error is at least the true optimum at b.
 * Every point reported is still an actual, feasible choice. With other
 * budgets respected the thinning has no such bound (cost_error is then
 * INFINITY); hant_select_front_levels() gives exact sampled points instead.
 *
 * On success *out is a new front owned by the caller, who releases it with
 * hant_select_front_destroy(). Returns HANT_EINVAL (bad problem or axis),
 * HANT_EINFEASIBLE (respect_budgets is set and no choice meets the other
 * budgets), or HANT_ENOMEM. */
int hant_select_front_new(const struct hant_select_problem *p,
                          const struct hant_select_front_options *opt,
                          struct hant_select_front **out);
void hant_select_front_destroy(struct hant_select_front *f);

/* Number of points. Points are sorted by strictly increasing axis cost and
 * strictly increasing score; point 0 is the cheapest choice. */
size_t hant_select_front_size(const struct hant_select_front *f);
/* 1 when thinning happened (see hant_select_front_new), else 0. */
int hant_select_front_approximate(const struct hant_select_front *f);
/* The axis-cost slack of an approximate front (0 when exact), in the axis unit. */
double hant_select_front_cost_error(const struct hant_select_front *f);

/* Point i: its axis total, its score and, when choice is not NULL, the
 * choice ([n_groups] candidate indices within each group). Returns
 * HANT_ERANGE when i is out of range. */
int hant_select_front_point(const struct hant_select_front *f, size_t i, double *cost,
                            double *value, size_t *choice);

/* Samples the front at n_levels budget levels evenly spaced from the
 * cheapest to the most expensive point (both included). For each level
 * writes the level to level[l], the best score achievable within it to
 * value[l] and the index of the point achieving it to point[l]. Any output
 * array may be NULL. Costs O(n_levels * log(size)). Returns HANT_EINVAL for
 * n_levels == 0. */
int hant_select_front_sample(const struct hant_select_front *f, size_t n_levels, double *level,
                             double *value, size_t *point);

/* An exact sampled front for any number of budgets: the optimum at n_levels
 * axis budgets evenly spaced from the smallest achievable axis total to the
 * axis total of the optimum without an axis budget, every other budget
 * holding. Each level is solved exactly by hant_select_solve's method,
 * levels in increasing order, each seeded with the previous level's
 * optimum (feasible there, hence a strong incumbent), so later levels
 * mostly only prove. Use it when other budgets constrain the front and the
 * merged front of hant_select_front_new() would be large; p->time_limit_ms
 * applies to each level. Writes the levels, the optimal values (NAN where
 * infeasible), the statuses (enum hant_select_status, may be NULL) and the
 * choices ([n_levels, n_groups], SIZE_MAX where none; may be NULL). */
int hant_select_front_levels(const struct hant_select_problem *p, size_t axis, size_t n_levels,
                             double *level, double *value, int *status, size_t *choice);

/* Best point within an axis budget: its index, or HANT_EINFEASIBLE when
 * even the cheapest point costs more than budget (+ tolerance). */
int hant_select_front_lookup(const struct hant_select_front *f, double budget, size_t *point);

/* ---------------------------------------------------------------------------
 * Power-mode co-selection: the same slots and candidates (same values),
 * with one cost matrix (and optionally one budget vector) per power mode.
 * ------------------------------------------------------------------------- */

struct hant_select_modes {
  size_t n_modes;
  const double *const *cost;   /* [n_modes] each [n_items, n_dims], like problem.cost */
  const double *const *budget; /* [n_modes] each [n_dims], or NULL: use the problem's budgets */
  size_t energy_dim; /* breaks ties in score: lower total wins; SIZE_MAX: lower mode index */
};

/* Solves the problem once per mode (p->cost and p->budget are ignored) and
 * puts the best mode's answer into best and its index into *best_mode.
 * Best is the highest objective; objectives within the value tolerance
 * count as ties, broken by lower energy total, then lower mode index. When
 * no mode is feasible, best is infeasible and *best_mode is 0. If any mode
 * stops at the time limit, best's status is TIME_LIMIT and its bound is the
 * largest bound over all modes. p->time_limit_ms bounds the whole call.
 * per_mode, if not NULL, must hold n_modes initialised results and
 * receives every mode's answer. */
int hant_select_solve_modes(const struct hant_select_problem *p,
                            const struct hant_select_modes *modes, struct hant_select_result *best,
                            size_t *best_mode, struct hant_select_result *per_mode);

/* ---------------------------------------------------------------------------
 * Measured-latency correction (brief section 7).
 * ------------------------------------------------------------------------- */

/* Measures the assembled network of a choice ([n_groups] candidate indices)
 * and writes its latency to *measured, in the unit of the latency
 * dimension. Returns 0, or a negative HANT_E* code to abort the loop. */
typedef int (*hant_select_measure_fn)(void *user, const size_t *choice, size_t n_groups,
                                      double *measured);

struct hant_select_correction {
  int rounds;         /* solves done (each followed by one measurement) */
  int fits;           /* 1 when the last choice's measurement met the original budget */
  double measured;    /* last measured latency */
  double predicted;   /* last predicted (summed) latency */
  double budget_used; /* the (tightened) latency budget of the last solve */
};

/* Solves, measures the choice, and while the measurement exceeds the
 * latency budget tightens that budget and solves again, at most max_rounds
 * times. The new budget is the old budget scaled by predicted / measured,
 * and always strictly below the last predicted total, so the same choice
 * cannot come back and the loop ends. r receives the last solve's answer
 * (infeasible if the tightened budget admits no choice); info, which may be
 * NULL, says whether the measured network fits. Returns 0, HANT_EINVAL
 * (invalid problem, latency_dim out of range, no callback, max_rounds < 1;
 * the callback is then never called), HANT_ENOMEM, or the callback's error. */
int hant_select_solve_corrected(const struct hant_select_problem *p, size_t latency_dim,
                                hant_select_measure_fn measure, void *user, int max_rounds,
                                struct hant_select_result *r, struct hant_select_correction *info);

#endif
