/* SPDX-License-Identifier: MIT */
/* test_select_enum.c: the solver matches exhaustive enumeration on thousands of small random
 * instances. */
#include <stdbool.h>
#include <stdio.h>

#include "../test_util.h"
#include "hant.h"
#include "select.h"
#include "select_gen.h"

struct brute {
  int feasible;
  double best;
  size_t n_opt; /* how many choices reach the optimum (ties) */
};

/* Tries every choice; the optimum within the solver's value tolerance. */
static struct brute enumerate(const struct hant_select_problem *p) {
  size_t G = p->n_groups, K = p->n_dims;
  size_t idx[16] = {0}, off[17] = {0};
  double tol[8];
  for (size_t i = 0; i < G; i++)
    off[i + 1] = off[i] + p->group_size[i];
  for (size_t k = 0; k < K; k++)
    tol[k] = gen_tol(p, k);
  struct brute b = {0, -INFINITY, 0};
  for (;;) {
    double v = 0, t[8] = {0};
    for (size_t i = 0; i < G; i++) {
      size_t g = off[i] + idx[i];
      v += p->value[g];
      for (size_t k = 0; k < K; k++)
        t[k] += p->cost[g * K + k];
    }
    int ok = 1;
    for (size_t k = 0; k < K; k++)
      ok &= t[k] <= p->budget[k] + tol[k];
    if (ok) {
      b.feasible = 1;
      if (v > b.best) {
        b.best = v;
        b.n_opt = 1;
      } else if (v == b.best) {
        b.n_opt++;
      }
    }
    size_t i = 0;
    while (i < G && ++idx[i] == p->group_size[i])
      idx[i++] = 0;
    if (i == G)
      break;
  }
  return b;
}

static double vscale(const struct hant_select_problem *p) {
  double s = 0;
  size_t o = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    double mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++)
      mx = fmax(mx, fabs(p->value[o + j]));
    s += mx;
    o += p->group_size[i];
  }
  return 1 + s;
}

/* One instance: solver vs enumeration, plus the infeasibility report. */
static void check_instance(const struct gen_inst *g, const char *what, uint64_t seed,
                           int *n_feasible, int *n_infeasible) {
  const struct hant_select_problem *p = &g->prob;
  struct hant_select_result r;
  hant_select_result_init(&r);
  int rc = hant_select_solve(p, &r);
  CHECK(rc == 0, "%s seed %llu: solve failed: %s", what, (unsigned long long)seed, hant_errmsg());
  if (rc)
    return;
  struct brute b = enumerate(p);
  if (b.feasible) {
    (*n_feasible)++;
    double tot[8] = {0}, v = 0;
    CHECK(r.status == HANT_SELECT_OPTIMAL, "%s seed %llu: status %s, expected optimal", what,
          (unsigned long long)seed, hant_select_status_name(r.status));
    CHECK(r.has_choice && gen_eval(p, r.choice, &v, tot), "%s seed %llu: choice infeasible", what,
          (unsigned long long)seed);
    CHECK(fabs(r.objective - b.best) <= 2e-9 * vscale(p),
          "%s seed %llu: objective %.17g, enumeration %.17g (G=%zu K=%zu)", what,
          (unsigned long long)seed, r.objective, b.best, p->n_groups, p->n_dims);
    CHECK(r.has_choice && fabs(v - r.objective) <= 1e-9 * vscale(p),
          "%s seed %llu: objective does not match the choice", what, (unsigned long long)seed);
    for (size_t k = 0; k < p->n_dims && r.has_choice; k++)
      CHECK(fabs(tot[k] - r.totals[k]) <= 1e-9 * (1 + fabs(tot[k])),
            "%s seed %llu: totals[%zu] wrong", what, (unsigned long long)seed, k);
    CHECK(r.gap == 0 && r.bound == r.objective, "%s seed %llu: optimal with gap %g", what,
          (unsigned long long)seed, r.gap);
  } else {
    (*n_infeasible)++;
    CHECK(r.status == HANT_SELECT_INFEASIBLE && !r.has_choice,
          "%s seed %llu: status %s, enumeration finds no feasible choice", what,
          (unsigned long long)seed, hant_select_status_name(r.status));
    int any_over = 0;
    size_t o = 0;
    double mt[8] = {0};
    for (size_t i = 0; i < p->n_groups; i++) {
      for (size_t k = 0; k < p->n_dims; k++) {
        double mn = INFINITY;
        for (size_t j = 0; j < p->group_size[i]; j++)
          mn = fmin(mn, p->cost[(o + j) * p->n_dims + k]);
        mt[k] += mn;
      }
      o += p->group_size[i];
    }
    for (size_t k = 0; k < p->n_dims; k++) {
      CHECK(fabs(mt[k] - r.min_totals[k]) <= 1e-9 * (1 + fabs(mt[k])),
            "%s seed %llu: min_totals[%zu] %.17g, expected %.17g", what, (unsigned long long)seed,
            k, r.min_totals[k], mt[k]);
      int over = mt[k] > p->budget[k] + gen_tol(p, k);
      CHECK(over == r.over_budget[k], "%s seed %llu: over_budget[%zu] is %d", what,
            (unsigned long long)seed, k, r.over_budget[k]);
      any_over |= over;
    }
    CHECK(r.jointly_infeasible == !any_over, "%s seed %llu: jointly_infeasible is %d", what,
          (unsigned long long)seed, r.jointly_infeasible);
  }
  hant_select_result_free(&r);
}

int main(void) {
  int feas = 0, infeas = 0;
  double t0 = hant_now_s();
  const uint64_t n_seeds = 12000;
  for (uint64_t seed = 1; seed <= n_seeds; seed++) {
    struct gen_rng rng = {seed};
    enum gen_class cls = (enum gen_class)(seed % GEN_CLASS_COUNT);
    size_t G = gen_int(&rng, 1, 6);
    size_t nmax = gen_int(&rng, 1, 6);
    size_t K = gen_int(&rng, 1, 3);
    /* mostly binding budgets; some at the smallest total, some infeasible */
    double tight;
    switch (seed % 10) {
    case 0: tight = 0; break;
    case 1: tight = 1.05; break;
    default: tight = gen_unif(&rng, 0.02, 0.9); break;
    }
    struct gen_inst g;
    if (gen_make(&g, cls, G, 1, nmax, K, tight, 0, seed) != 0) {
      CHECK(0, "out of memory");
      break;
    }
    check_instance(&g, gen_class_name[cls], seed, &feas, &infeas);
    gen_free(&g);
  }
  /* Few slots, many candidates: the dominance pre-filter and the hulls see
   * groups of up to 40 items. */
  for (uint64_t seed = 1; seed <= 1500; seed++) {
    struct gen_rng rng = {seed + 500000};
    enum gen_class cls = (enum gen_class)(seed % GEN_CLASS_COUNT);
    size_t G = gen_int(&rng, 1, 3), nmax = gen_int(&rng, 9, G == 3 ? 25 : 40);
    size_t K = gen_int(&rng, 1, 3);
    double tight = seed % 10 == 1 ? 1.05 : gen_unif(&rng, 0.02, 0.9);
    struct gen_inst g;
    if (gen_make(&g, cls, G, 1, nmax, K, tight, seed % 3 == 0 ? 1 : 0, seed) != 0) {
      CHECK(0, "out of memory");
      break;
    }
    check_instance(&g, gen_class_name[cls], seed + 500000, &feas, &infeas);
    gen_free(&g);
  }
  /* Jointly infeasible by construction: each budget alone can be met, the
   * two together cannot (every cheap-in-one candidate is dear in the other). */
  for (uint64_t seed = 1; seed <= 300; seed++) {
    struct gen_rng rng = {seed + 1000000};
    size_t G = gen_int(&rng, 1, 5), n = gen_int(&rng, 2, 5);
    size_t gs[8];
    double v[64], c[128], bud[2] = {0, 0};
    for (size_t i = 0; i < G; i++) {
      gs[i] = n;
      for (size_t j = 0; j < n; j++) {
        double a = gen_unif(&rng, 0, 10);
        v[i * n + j] = gen_unif(&rng, 0, 5);
        c[(i * n + j) * 2] = a;
        c[(i * n + j) * 2 + 1] = 10 - a;
      }
      bud[0] += 4;
      bud[1] += 4;
    }
    struct gen_inst g = {0};
    g.prob = (struct hant_select_problem){G, gs, 2, v, c, bud, 0};
    check_instance(&g, "joint", seed, &feas, &infeas);
  }
  printf("enumeration: %d feasible and %d infeasible instances in %.1f s\n", feas, infeas,
         hant_now_s() - t0);
  CHECK(feas > 3000 && infeas > 500, "instance mix too narrow");
  return test_summary("select_enum");
}
