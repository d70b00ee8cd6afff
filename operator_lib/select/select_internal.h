/* SPDX-License-Identifier: MIT */
/* select_internal.h: what the solver's files share: tolerances, prepared candidates, LP hulls, the search tree and one solve. */
#ifndef HANT_SELECT_INTERNAL_H
#define HANT_SELECT_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "select.h"

/* Relative tolerances of values and costs, as select.h defines them. */
#define VALUE_RTOL 1e-9
#define COST_RTOL 1e-9

/* fmax/fmin are library calls (NaN rules); inputs here are finite. */
static inline double dmax(double a, double b) { return a > b ? a : b; }
static inline double dmin(double a, double b) { return a < b ? a : b; }

/* ---------------------------------------------------------------------------
 * Answers and one solve (select.c).
 * ------------------------------------------------------------------------- */

/* Frees what r holds and allocates its arrays for G groups and K budgets,
 * with bound and gap set to INFINITY. Returns 0 or HANT_ENOMEM (r then
 * holds no arrays). */
int hant__select_result_prepare(struct hant_select_result *r, size_t G, size_t K);

/* Makes dst a deep copy of src, reusing dst's arrays. Returns 0 or
 * HANT_ENOMEM. */
int hant__select_result_copy(struct hant_select_result *dst, const struct hant_select_result *src);

/* The hant_now_s() instant limit_ms milliseconds after t0, or INFINITY
 * when limit_ms is 0 or less (no limit). */
double hant__select_deadline(double t0, double limit_ms);

/* hant_select_solve with an absolute deadline (hant_now_s() seconds) and an
 * optional warm start: warm, when not NULL, is a choice ([n_groups] indices
 * within each group) that becomes the first incumbent if it is feasible. */
int hant__select_solve_until(const struct hant_select_problem *p, struct hant_select_result *r,
                             double deadline, const size_t *warm);

/* ---------------------------------------------------------------------------
 * Prepared candidates (select_prep.c): costs shifted so that each group's
 * cheapest candidate costs 0, candidates that cannot fit or are dominated
 * dropped.
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

/* Fills w from p (w's previous contents are ignored) and r->min_totals,
 * r->over_budget and r->jointly_infeasible (r must be prepared). Returns 0
 * when the candidates are ready, 1 when the problem is infeasible (r says
 * why), or HANT_ENOMEM. Release w with hant__select_prep_free whatever the
 * outcome. */
int hant__select_prep_build(const struct hant_select_problem *p, struct hant_select_result *r,
                            struct prep *w);
void hant__select_prep_free(struct prep *w);

/* Drops dominated candidates from w's range [s0, n), which must be in value
 * order (an earlier candidate has at least the value of a later one);
 * compacts in place and returns the new end of the range. */
size_t hant__select_drop_dominated(struct prep *w, size_t s0, size_t n);

/* ---------------------------------------------------------------------------
 * One-dimensional LP relaxations (select_lp.c): per-group upper concave
 * hulls, their slope-ordered merge, and suffix envelopes.
 * ------------------------------------------------------------------------- */

/* Hulls of every group for one cost function, groups in a given order. */
struct hulls {
  size_t G;
  double *base_c, *base_v; /* [G] */
  size_t *istart;          /* [G+1] increments of group d */
  double *dc, *dv, *slope; /* [n_inc] */
};

/* Builds the hulls of G groups whose candidates are given by ranges
 * start[0..G]; fc is [n, stride] cost function values read at column col,
 * v the [n] values. Returns 0 or HANT_ENOMEM (h then holds nothing). */
int hant__select_hulls_build(struct hulls *h, size_t G, const size_t *start, const double *fc,
                             size_t stride, size_t col, const double *v);
void hant__select_hulls_free(struct hulls *h);

/* The LP relaxation of all groups of h with capacity cap (already net of no
 * base cost): its value, and the multiplier (slope at the break) in
 * *lambda. Returns -INFINITY when even the bases do not fit. */
double hant__select_hulls_lp(const struct hulls *h, double cap, double tolc, double *lambda);

/* Suffix envelopes: for a start depth d, the increments of groups d..G-1 in
 * slope order with running sums, so that the LP of those groups at any
 * capacity costs one binary search. */
struct env {
  size_t n;
  double sum_c, sum_v; /* bases of groups d..G-1 */
  uint32_t *idx;       /* [n] increment indices, slope descending */
  double *cumc, *cumv; /* [n] running sums */
};

/* The LP of an envelope's groups at capacity cap. Here rather than in
 * select_lp.c because every node of the search calls it: it stays inlined. */
static inline double env_eval(const struct env *e, const double *slope, double cap, double tolc) {
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

struct bnb;

/* Builds the suffix envelopes of b's cost function f for depths >= b->d0.
 * Returns 0 or HANT_ENOMEM (hant__select_bnb_free releases what was built). */
int hant__select_env_build(struct bnb *b, size_t f);

/* ---------------------------------------------------------------------------
 * Lagrangian relaxation and greedy warm start (select_lagrange.c).
 * ------------------------------------------------------------------------- */

/* L(lam) = sum_i max_j (v_ij - lam . c_ij) + lam . R, an upper bound for
 * any lam >= 0. Writes the maximisers to sel ([G] candidates of w) and
 * their cost to use ([K]). */
double hant__select_lagr_eval(const struct prep *w, const double *lam, size_t *sel, double *use);

/* Repairs cur ([G] candidates of w) into a feasible choice and then climbs
 * by the best feasible single swaps. Returns 1 if cur ends feasible; *val
 * is its value and use ([K]) its cost. */
int hant__select_greedy(const struct prep *w, size_t *cur, double *use, double *val);

/* Improves the multipliers lam ([K], >= 0) by projected subgradient steps
 * and returns the Lagrangian bound at the best of them, with sel and use as
 * hant__select_lagr_eval leaves them. Feasible Lagrangian solutions found on
 * the way raise the incumbent *z, whose choice goes to zsel ([G]). */
double hant__select_lagr_optimise(const struct prep *w, double *lam, size_t *sel, double *use,
                                  double *z, size_t *zsel);

/* ---------------------------------------------------------------------------
 * Branch and bound (select_bnb.c) and the one-budget dynamic program
 * (select_dp.c), which share the search tree below.
 * ------------------------------------------------------------------------- */

/* A slot and how much its second-best candidate loses: the depth order. */
struct order_key {
  double regret;
  size_t g;
};

struct child; /* a node's child: bound and candidate (select_bnb.c) */
struct frame; /* a depth of the depth-first search (select_bnb.c) */

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

/* Reduced-cost fixing of w against incumbent z (choice zsel, item indices)
 * at multipliers lam with Lagrangian bound L, then the search tree in b:
 * depth order (ord: [G] scratch), cost functions, LP hulls and envelopes.
 * Compacts w's candidates. Sets *emptied when some slot has no candidate
 * left, i.e. nothing beats z. Returns 0 or HANT_ENOMEM. */
int hant__select_bnb_setup(struct bnb *b, struct prep *w, const double *lam, double L, double z,
                           const size_t *zsel, struct order_key *ord, double deadline,
                           int *emptied);
void hant__select_bnb_free(struct bnb *b);

/* Upper bound on p plus the best completion over depths d..G-1 with
 * residual capacities r[F]; may stop early once it is at most cutoff. */
double hant__select_bnb_bound(const struct bnb *b, size_t d, double p, const double *r,
                              double cutoff);

/* Depth-first branch and bound. Runs until it finishes (dfs_done), the
 * deadline passes (timed_out, with ub_left) or b->nodes reaches node_limit,
 * in which case a later call resumes where it stopped. Returns 0 or
 * HANT_ENOMEM. */
int hant__select_bnb_search(struct bnb *b, double vtol);

/* The dynamic program over slots for one budget, on b's tree, spending at
 * most `work` nodes. Returns 0 when finished (b->z and b->best hold the
 * optimum, or b->timed_out is set), 1 when it ran out of work or its state
 * lists overflowed (nothing concluded), or HANT_ENOMEM. */
int hant__select_dp_search(struct bnb *b, double vtol, uint64_t work);

#endif
