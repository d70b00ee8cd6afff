/* SPDX-License-Identifier: MIT */
/* test_select_edge.c: edge cases, input validation, time limits, Pareto fronts, power rows, power
 * modes and the latency-correction loop. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../test_util.h"
#include "hant.h"
#include "select.h"
#include "select_gen.h"

static int contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

/* Brute force optimum for small problems (<= 12 groups); -INFINITY if none. */
static double brute(const struct hant_select_problem *p) {
  size_t G = p->n_groups, idx[16] = {0};
  double best = -INFINITY;
  for (;;) {
    double v = 0, t[8] = {0};
    if (gen_eval(p, idx, &v, t) && v > best)
      best = v;
    size_t i = 0;
    while (i < G && ++idx[i] == p->group_size[i])
      idx[i++] = 0;
    if (i == G)
      return best;
  }
}

static void test_infeasible_report(void) {
  /* two slots, two budgets: smallest latency 1 + 2 = 3 > 2.5; energy can be met */
  size_t gs[] = {2, 2};
  double v[] = {1, 2, 3, 4};
  double c[] = {1, 5, 2, 1, 2, 0.5, 3, 4}; /* (latency, energy) per item */
  double b[] = {2.5, 10};
  struct hant_select_problem p = {2, gs, 2, v, c, b, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&p, &r) == 0, "infeasible: solve failed");
  CHECK(r.status == HANT_SELECT_INFEASIBLE && !r.has_choice, "infeasible: status %s",
        hant_select_status_name(r.status));
  CHECK(r.min_totals[0] == 3 && r.min_totals[1] == 1.5, "infeasible: min totals %g %g",
        r.min_totals[0], r.min_totals[1]);
  CHECK(r.over_budget[0] == 1 && r.over_budget[1] == 0, "infeasible: over_budget flags");
  CHECK(!r.jointly_infeasible, "infeasible: not a joint infeasibility");
  /* the same result struct is reused for the next solve */
  b[0] = 3;
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL,
        "budget at the smallest total is feasible");
  CHECK(r.objective == 4 && r.totals[0] == 3, "smallest-total choice: objective %g", r.objective);
  hant_select_result_free(&r);
  hant_select_result_free(&r); /* freeing twice is harmless */
}

static void test_single_slot_and_single_candidate(void) {
  size_t gs1[] = {5};
  double v1[] = {3, 9, 7, 1, 8};
  double c1[] = {1, 1, 6, 1, 2, 2, 0, 0, 4, 1};
  double b1[] = {4, 2};
  struct hant_select_problem p = {1, gs1, 2, v1, c1, b1, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "single slot");
  CHECK(r.choice[0] == 4 && r.objective == 8, "single slot picks item 4, got %zu", r.choice[0]);

  size_t gs2[] = {3, 1, 2};
  double v2[] = {1, 5, 3, -2, 4, 0};
  double c2[] = {1, 4, 2, 3, 5, 0};
  double b2[] = {7};
  struct hant_select_problem q = {3, gs2, 1, v2, c2, b2, 0};
  CHECK(hant_select_solve(&q, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "one candidate");
  CHECK(r.choice[1] == 0 && fabs(r.objective - brute(&q)) < 1e-12,
        "slot with one candidate: objective %g vs %g", r.objective, brute(&q));
  hant_select_result_free(&r);
}

static void test_zero_budgets(void) {
  struct hant_select_result r;
  hant_select_result_init(&r);
  size_t gs[] = {3, 2};
  double v[] = {1, 5, 2, 7, 3};
  double c[] = {0, 1, 0, 2, 0}; /* zero-cost items: 0 and 2 in slot 0, item 1 in slot 1 */
  double b[] = {0};
  struct hant_select_problem p = {2, gs, 1, v, c, b, 0};
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "zero budget feasible");
  CHECK(r.objective == 5 && r.choice[0] == 2 && r.choice[1] == 1, "zero budget: %g", r.objective);
  c[4] = 1; /* now slot 1 has no zero-cost item */
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_INFEASIBLE,
        "zero budget infeasible");
  CHECK(r.min_totals[0] == 1 && r.over_budget[0], "zero budget: smallest total 1");
  hant_select_result_free(&r);
}

static void test_negative_costs(void) {
  /* power-cap style row: sum (e - P t) <= 0 with negative entries */
  size_t gs[] = {2, 2, 2};
  double v[] = {1, 3, 1, 4, 2, 2.5};
  double c[] = {-3, 2, -1, 3, -2, 0.5};
  double b[] = {0};
  struct hant_select_problem p = {3, gs, 1, v, c, b, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "negative costs");
  CHECK(fabs(r.objective - brute(&p)) < 1e-12 && r.totals[0] <= 0,
        "negative costs: %g vs %g, total %g", r.objective, brute(&p), r.totals[0]);
  b[0] = -7; /* below the smallest total (-6) */
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_INFEASIBLE &&
            r.min_totals[0] == -6,
        "negative budget below the smallest total");
  hant_select_result_free(&r);
}

static void test_invalid(void) {
  size_t gs[] = {2, 2};
  double v[] = {1, 2, 3, 4};
  double c[] = {1, 1, 1, 1};
  double b[] = {2};
  struct hant_select_problem p = {2, gs, 1, v, c, b, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);

  v[3] = NAN;
  CHECK(hant_select_solve(&p, &r) == HANT_EINVAL &&
            contains(hant_errmsg(), "group 1 item 1: value is not a finite number"),
        "NaN value: %s", hant_errmsg());
  v[3] = 4;
  c[2] = INFINITY;
  CHECK(hant_select_solve(&p, &r) == HANT_EINVAL &&
            contains(hant_errmsg(), "group 1 item 0: cost[0] is not a finite number"),
        "inf cost: %s", hant_errmsg());
  c[2] = NAN;
  CHECK(hant_select_check(&p) == HANT_EINVAL && contains(hant_errmsg(), "cost[0]"), "NaN cost");
  c[2] = 1;
  b[0] = -INFINITY;
  CHECK(hant_select_solve(&p, &r) == HANT_EINVAL && contains(hant_errmsg(), "budget[0]"),
        "inf budget: %s", hant_errmsg());
  b[0] = 2;
  gs[1] = 0;
  CHECK(hant_select_solve(&p, &r) == HANT_EINVAL &&
            contains(hant_errmsg(), "group 1 has no candidates"),
        "empty group: %s", hant_errmsg());
  gs[1] = 2;
  p.n_groups = 0;
  CHECK(hant_select_solve(&p, &r) == HANT_EINVAL && contains(hant_errmsg(), "no groups"),
        "zero groups: %s", hant_errmsg());
  p.n_groups = 2;
  p.cost = NULL;
  CHECK(hant_select_solve(&p, &r) == HANT_EINVAL, "NULL cost");
  p.cost = c;
  CHECK(hant_select_solve(NULL, &r) == HANT_EINVAL && hant_select_solve(&p, NULL) == HANT_EINVAL,
        "NULL arguments");
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "valid again");
  /* no budgets at all: each slot takes its best value */
  struct hant_select_problem q = {2, gs, 0, v, NULL, NULL, 0};
  CHECK(hant_select_solve(&q, &r) == 0 && r.objective == 6 && r.status == HANT_SELECT_OPTIMAL,
        "no budgets");
  hant_select_result_free(&r);
}

static void test_time_limit(void) {
  /* strongly correlated, real-valued, three budgets: not provable in 50 ms */
  struct gen_inst g;
  CHECK(gen_make(&g, GEN_STRONG, 50, 200, 200, 3, 0.5, 0, 1) == 0, "gen");
  g.prob.time_limit_ms = 50;
  struct hant_select_result r;
  hant_select_result_init(&r);
  double t0 = hant_now_s();
  CHECK(hant_select_solve(&g.prob, &r) == 0, "time limit: %s", hant_errmsg());
  double ms = (hant_now_s() - t0) * 1e3;
  CHECK(r.status == HANT_SELECT_TIME_LIMIT, "time limit: status %s",
        hant_select_status_name(r.status));
  CHECK(r.has_choice && isfinite(r.gap) && r.gap >= 0 && r.bound >= r.objective,
        "time limit: gap %g bound %g objective %g", r.gap, r.bound, r.objective);
  CHECK(fabs(r.bound - r.objective - r.gap) <= 1e-9 * fabs(r.bound), "gap = bound - objective");
  double v = 0, t[8] = {0};
  CHECK(r.has_choice && gen_eval(&g.prob, r.choice, &v, t) && fabs(v - r.objective) < 1e-6,
        "time limit: the choice is feasible and matches the objective");
  CHECK(ms < 50 + 400, "time limit: took %.0f ms for a 50 ms limit", ms);
  CHECK(r.gap < 1e-3 * r.objective, "time limit: gap %g is small relative to %g", r.gap,
        r.objective);
  hant_select_result_free(&r);
  gen_free(&g);
}

/* Every front point is optimal at its own cost level, and every sampled
 * level's value is the optimum at that level. */
static void check_front(const struct hant_select_problem *p, size_t axis, int respect,
                        const char *what) {
  struct hant_select_front *f = NULL;
  struct hant_select_front_options opt = {axis, respect, 0};
  int rc = hant_select_front_new(p, &opt, &f);
  CHECK(rc == 0, "%s: front: %s", what, hant_errmsg());
  if (rc)
    return;
  size_t n = hant_select_front_size(f), G = p->n_groups, K = p->n_dims;
  /* With other budgets respected and several costs the merged front may be
   * thinned (an inner approximation); then check only that its points are
   * real, feasible and never better than the optimum. */
  int exact = !hant_select_front_approximate(f);
  CHECK(n > 0 && (exact || (respect && K > 1)), "%s: %zu points, exact %d", what, n, exact);
  double *bud = malloc(K * sizeof *bud);
  size_t *ch = malloc(G * sizeof *ch);
  memcpy(bud, p->budget, K * sizeof *bud);
  struct hant_select_problem q = *p;
  q.budget = bud;
  if (!respect)
    for (size_t k = 0; k < K; k++)
      bud[k] = 1e300;
  struct hant_select_result r;
  hant_select_result_init(&r);
  double pc = -INFINITY, pv = -INFINITY;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    double c = 0, v = 0, vv = 0, t[8] = {0};
    hant_select_front_point(f, i, &c, &v, ch);
    if (!(c > pc && v > pv))
      bad++;
    pc = c;
    pv = v;
    bud[axis] = c;
    /* the point's choice is real and feasible: its value and axis cost match */
    if (!gen_eval(&q, ch, &vv, t) || fabs(vv - v) > 1e-9 * (1 + fabs(v)) ||
        fabs(t[axis] - c) > 1e-9 * (1 + fabs(c)))
      bad++;
    if (hant_select_solve(&q, &r) != 0 || r.status != HANT_SELECT_OPTIMAL ||
        (exact ? fabs(r.objective - v) > 1e-9 * (1 + fabs(v)) : v > r.objective + 1e-9))
      bad++;
  }
  CHECK(bad == 0, "%s: %d front points not monotone, not matching or not optimal", what, bad);
  double lv[37], vv2[37];
  size_t pt[37];
  CHECK(hant_select_front_sample(f, 37, lv, vv2, pt) == 0, "%s: sample", what);
  bad = 0;
  for (size_t l = 0; l < 37; l++) {
    bud[axis] = lv[l];
    if (l && (lv[l] < lv[l - 1] || vv2[l] < vv2[l - 1]))
      bad++;
    if (hant_select_solve(&q, &r) != 0 || r.status != HANT_SELECT_OPTIMAL ||
        (exact ? fabs(r.objective - vv2[l]) > 1e-9 * (1 + fabs(vv2[l]))
               : vv2[l] > r.objective + 1e-9))
      bad++;
  }
  CHECK(bad == 0, "%s: %d sampled levels disagree with the solver", what, bad);
  /* below the cheapest point nothing fits */
  double c0;
  hant_select_front_point(f, 0, &c0, NULL, NULL);
  size_t ix;
  CHECK(hant_select_front_lookup(f, c0 - 1, &ix) == HANT_EINFEASIBLE, "%s: lookup below", what);
  hant_select_result_free(&r);
  free(bud);
  free(ch);
  hant_select_front_destroy(f);
}

static void test_pareto(void) {
  for (uint64_t seed = 1; seed <= 12; seed++) {
    struct gen_inst g;
    enum gen_class cls = (enum gen_class)(seed % GEN_CLASS_COUNT);
    size_t K = 1 + seed % 3;
    CHECK(gen_make(&g, cls, 6, 2, 7, K, 0.6, 0, seed) == 0, "gen");
    char what[64];
    snprintf(what, sizeof what, "pareto %s K=%zu seed %llu", gen_class_name[cls], K,
             (unsigned long long)seed);
    check_front(&g.prob, 0, 1, what);
    if (K > 1)
      check_front(&g.prob, K - 1, 0, what);
    gen_free(&g);
  }
  /* exact sampled levels for several budgets: monotone, and each the optimum */
  for (uint64_t seed = 1; seed <= 6; seed++) {
    struct gen_inst g;
    gen_make(&g, (enum gen_class)(seed % GEN_CLASS_COUNT), 6, 2, 6, 3, 0.6, 0, seed + 40);
    double lv[9], vl[9];
    int st[9];
    size_t ch[9 * 6];
    CHECK(hant_select_front_levels(&g.prob, 1, 9, lv, vl, st, ch) == 0, "levels: %s",
          hant_errmsg());
    struct hant_select_result r;
    hant_select_result_init(&r);
    int bad = 0;
    double keep = g.budget[1];
    for (int l = 0; l < 9; l++) {
      g.budget[1] = lv[l];
      hant_select_solve(&g.prob, &r);
      if (st[l] != (int)r.status || (r.has_choice && fabs(r.objective - vl[l]) > 1e-9) ||
          (!r.has_choice && !isnan(vl[l])) || (l && lv[l] < lv[l - 1]) ||
          (l && !isnan(vl[l - 1]) && !(vl[l] >= vl[l - 1])))
        bad++;
      double v = 0, t[8] = {0};
      if (r.has_choice && (!gen_eval(&g.prob, ch + l * 6, &v, t) || fabs(v - vl[l]) > 1e-9))
        bad++;
    }
    g.budget[1] = keep;
    CHECK(bad == 0, "levels seed %llu: %d levels disagree with the solver",
          (unsigned long long)seed, bad);
    hant_select_result_free(&r);
    gen_free(&g);
  }
  /* thinning: a tiny cap makes the front approximate but keeps its promise:
   * the value listed at b + cost_error is at least the optimum at b */
  struct gen_inst g;
  gen_make(&g, GEN_UNCORRELATED, 12, 6, 10, 1, 0.5, 0, 99);
  struct hant_select_front *f = NULL;
  struct hant_select_front_options opt = {0, 0, 16};
  CHECK(hant_select_front_new(&g.prob, &opt, &f) == 0, "thinned front");
  CHECK(hant_select_front_approximate(f) && hant_select_front_cost_error(f) > 0,
        "thinned front is flagged approximate");
  double err = hant_select_front_cost_error(f), lo, hi;
  hant_select_front_point(f, 0, &lo, NULL, NULL);
  hant_select_front_point(f, hant_select_front_size(f) - 1, &hi, NULL, NULL);
  struct hant_select_result r;
  hant_select_result_init(&r);
  int bad = 0;
  for (int l = 0; l <= 50; l++) {
    double bl = lo + (hi - lo) * l / 50.0;
    g.budget[0] = bl;
    hant_select_solve(&g.prob, &r);
    size_t pi;
    if (r.status != HANT_SELECT_OPTIMAL || hant_select_front_lookup(f, bl + err, &pi) != 0)
      continue;
    double v;
    hant_select_front_point(f, pi, NULL, &v, NULL);
    if (v < r.objective - 1e-9)
      bad++;
  }
  CHECK(bad == 0, "thinned front broke its error bound at %d levels", bad);
  hant_select_result_free(&r);
  hant_select_front_destroy(f);
  /* bad axis */
  CHECK(hant_select_front_new(&g.prob, &(struct hant_select_front_options){3, 0, 0}, &f) ==
            HANT_EINVAL,
        "front axis out of range");
  gen_free(&g);
}

static void test_power_rows(void) {
  double e[] = {4.0, 1.0, 6.0}; /* mJ */
  double t[] = {1.0, 2.0, 2.0}; /* ms */
  double row[3], rb, lat;
  CHECK(hant_power_cap_row(3, e, 1, t, 1, 2.0, row, &rb) == 0, "cap row");
  CHECK(row[0] == 2.0 && row[1] == -3.0 && row[2] == 2.0 && rb == 0, "cap row values");
  /* strided read from an interleaved (latency, energy) matrix */
  double m[] = {1.0, 4.0, 2.0, 1.0, 2.0, 6.0};
  double row2[3];
  CHECK(hant_power_cap_row(3, m + 1, 2, m, 2, 2.0, row2, &rb) == 0 &&
            !memcmp(row, row2, sizeof row),
        "strided cap row");
  /* sustained: F = 100 Hz, idle 0.5 W, cap 1 W. Item 0: E = 4 mJ, T = 1 ms:
   * 100 * 0.004 + 0.5 * (1 - 0.1) = 0.85 W; row = (0.4 - 0.05) = 0.35 <= 0.5 */
  CHECK(hant_power_sustained_row(3, e, 1, t, 1, 100, 0.5, 1.0, row, &rb, &lat) == 0,
        "sustained row");
  CHECK(fabs(row[0] - 0.35) < 1e-12 && fabs(rb - 0.5) < 1e-12 && fabs(lat - 10) < 1e-12,
        "sustained row values: %g %g %g", row[0], rb, lat);
  CHECK(fabs(row[0] + 0.5 - (100 * 4e-3 + 0.5 * (1 - 100 * 1e-3))) < 1e-12,
        "sustained row equals the power formula minus idle");
  CHECK(hant_power_sustained_row(3, e, 1, t, 1, 0, 0.5, 1, row, &rb, &lat) == HANT_EINVAL,
        "fps 0 refused");
  CHECK(hant_power_cap_row(3, e, 1, t, 1, NAN, row, &rb) == HANT_EINVAL, "NaN cap refused");

  /* solving under a cap: the chosen network's average power is within it */
  struct gen_inst g;
  gen_make(&g, GEN_UNCORRELATED, 8, 3, 6, 2, 0.7, 0, 5); /* dims: latency, energy */
  double *rowc = malloc(g.n_items * sizeof *rowc), *cost3 = malloc(g.n_items * 3 * sizeof *cost3);
  double cap = 1.0, b3[3] = {g.budget[0], g.budget[1], 0};
  hant_power_cap_row(g.n_items, g.cost + 1, 2, g.cost, 2, cap, rowc, &b3[2]);
  for (size_t i = 0; i < g.n_items; i++) {
    cost3[i * 3] = g.cost[i * 2];
    cost3[i * 3 + 1] = g.cost[i * 2 + 1];
    cost3[i * 3 + 2] = rowc[i];
  }
  struct hant_select_problem p = {g.prob.n_groups, g.group_size, 3, g.value, cost3, b3, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&p, &r) == 0, "cap solve");
  if (r.status == HANT_SELECT_OPTIMAL)
    CHECK(r.totals[1] / r.totals[0] <= cap + 1e-9, "average power %g W over the cap",
          r.totals[1] / r.totals[0]);
  CHECK(r.status != HANT_SELECT_OPTIMAL || fabs(r.objective - brute(&p)) < 1e-9, "cap optimum");
  hant_select_result_free(&r);
  free(rowc);
  free(cost3);
  gen_free(&g);
}

static void test_modes(void) {
  struct gen_inst g;
  gen_make(&g, GEN_UNCORRELATED, 6, 3, 6, 2, 0.5, 0, 11);
  size_t n = g.n_items;
  /* mode 0 as generated; mode 1 twice as fast, 1.2x the energy; mode 2 =
   * mode 1 with more energy (ties mode 1 in score, must lose on energy) */
  double *c1 = malloc(n * 2 * sizeof *c1), *c2 = malloc(n * 2 * sizeof *c2);
  for (size_t i = 0; i < n; i++) {
    c1[2 * i] = g.cost[2 * i] * 0.5;
    c1[2 * i + 1] = g.cost[2 * i + 1] * 1.2;
    c2[2 * i] = c1[2 * i];
    c2[2 * i + 1] = c1[2 * i + 1] * 1.0001;
  }
  const double *costs[] = {g.cost, c2, c1};
  struct hant_select_modes modes = {3, costs, NULL, SIZE_MAX};
  struct hant_select_result best, per[3];
  hant_select_result_init(&best);
  for (int m = 0; m < 3; m++)
    hant_select_result_init(&per[m]);
  size_t bm = 99;
  modes.energy_dim = 1;
  CHECK(hant_select_solve_modes(&g.prob, &modes, &best, &bm, per) == 0, "modes: %s", hant_errmsg());
  double expect = -INFINITY;
  for (int m = 0; m < 3; m++) {
    struct hant_select_problem q = g.prob;
    q.cost = costs[m];
    expect = fmax(expect, brute(&q));
    CHECK(per[m].status == HANT_SELECT_OPTIMAL && fabs(per[m].objective - brute(&q)) < 1e-9,
          "mode %d optimum", m);
  }
  CHECK(best.status == HANT_SELECT_OPTIMAL && fabs(best.objective - expect) < 1e-9,
        "best mode objective %g, expected %g", best.objective, expect);
  /* modes 1 and 2 tie on score when their choices coincide; the cheaper
   * energy (mode 2 here, listed as c1) must win any tie */
  if (fabs(per[1].objective - per[2].objective) < 1e-9 &&
      per[2].objective > per[0].objective + 1e-9)
    CHECK(bm == 2, "tie broken by lower energy: picked mode %zu", bm);
  CHECK(bm < 3 && fabs(per[bm].objective - best.objective) < 1e-12, "best_mode consistent");
  /* all modes infeasible */
  double nob[2] = {-1, -1};
  const double *buds[] = {nob, nob, nob};
  modes.budget = buds;
  CHECK(hant_select_solve_modes(&g.prob, &modes, &best, &bm, NULL) == 0 &&
            best.status == HANT_SELECT_INFEASIBLE && bm == 0,
        "no mode feasible");
  hant_select_result_free(&best);
  for (int m = 0; m < 3; m++)
    hant_select_result_free(&per[m]);
  free(c1);
  free(c2);
  gen_free(&g);
}

/* A deterministic, non-additive latency: the sum, plus 0.3 per slot, plus
 * 0.25 for every adjacent pair of slots that both chose an odd candidate. */
struct meas {
  const struct hant_select_problem *p;
  int calls;
  int fail_on;
};

static double measured_latency(const struct hant_select_problem *p, const size_t *choice) {
  double s = 0;
  size_t o = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    s += p->cost[(o + choice[i]) * p->n_dims] + 0.3;
    if (i && (choice[i] & 1) && (choice[i - 1] & 1))
      s += 0.25;
    o += p->group_size[i];
  }
  return s;
}

static int measure(void *user, const size_t *choice, size_t n_groups, double *out) {
  struct meas *m = user;
  m->calls++;
  if (m->fail_on && m->calls == m->fail_on)
    return hant__error(HANT_EIO, "measurement failed");
  *out = measured_latency(m->p, choice);
  (void)n_groups;
  return 0;
}

static void test_corrected(void) {
  struct gen_inst g;
  gen_make(&g, GEN_WEAK, 7, 4, 7, 2, 0.6, 0, 21);
  for (size_t j = 0; j < g.n_items; j++)
    g.cost[j * 2] *= 0.01; /* latency in ms, 0.01..10 per candidate */
  g.budget[0] *= 0.01;
  struct meas m = {&g.prob, 0, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);
  struct hant_select_correction info;
  CHECK(hant_select_solve_corrected(&g.prob, 0, measure, &m, 20, &r, &info) == 0, "corrected: %s",
        hant_errmsg());
  CHECK(info.rounds >= 2, "corrected: overheads force a second round (%d)", info.rounds);
  CHECK(info.fits && r.has_choice, "corrected: the measured network fits");
  CHECK(r.has_choice && measured_latency(&g.prob, r.choice) <= g.budget[0] + 1e-9,
        "corrected: measured %g > budget %g", measured_latency(&g.prob, r.choice), g.budget[0]);
  CHECK(info.rounds == m.calls, "one measurement per round");
  CHECK(info.budget_used < g.budget[0], "the latency budget was tightened");
  /* the final answer is the optimum under the tightened budget */
  double keep = g.budget[0];
  g.budget[0] = info.budget_used;
  CHECK(r.has_choice && fabs(r.objective - brute(&g.prob)) < 1e-9, "optimal at the final budget");
  g.budget[0] = keep;
  /* one round only: reports that it does not fit */
  m.calls = 0;
  CHECK(hant_select_solve_corrected(&g.prob, 0, measure, &m, 1, &r, &info) == 0 &&
            info.rounds == 1 && !info.fits && info.measured > g.budget[0],
        "max_rounds 1 does not fit");
  /* the callback's error aborts and comes back */
  m.calls = 0;
  m.fail_on = 2;
  CHECK(hant_select_solve_corrected(&g.prob, 0, measure, &m, 20, &r, &info) == HANT_EIO,
        "callback error propagates");
  /* invalid arguments: the callback never runs */
  m.calls = 0;
  m.fail_on = 0;
  CHECK(hant_select_solve_corrected(&g.prob, 5, measure, &m, 20, &r, &info) == HANT_EINVAL &&
            hant_select_solve_corrected(&g.prob, 0, measure, &m, 0, &r, &info) == HANT_EINVAL &&
            m.calls == 0,
        "bad latency dim or rounds: callback not called");
  hant_select_result_free(&r);
  gen_free(&g);
}

int main(void) {
  test_infeasible_report();
  test_single_slot_and_single_candidate();
  test_zero_budgets();
  test_negative_costs();
  test_invalid();
  test_time_limit();
  test_pareto();
  test_power_rows();
  test_modes();
  test_corrected();
  return test_summary("select_edge");
}
