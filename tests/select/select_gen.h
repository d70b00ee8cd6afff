/* SPDX-License-Identifier: MIT */
/* select_gen.h: seeded random selection instances for the select tests and benchmark, plus helpers
 * to check answers. */
#ifndef HANT_TEST_SELECT_GEN_H
#define HANT_TEST_SELECT_GEN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

/* Instance classes. */
enum gen_class {
  GEN_UNCORRELATED, /* values and costs independent, uniform in [1, R] */
  GEN_STRONG,       /* Pisinger's strongly correlated MCKP: per slot, sorted increments
                       w' ~ U[1, R] per budget, value increment = mean(w') + R / 100,
                       candidates are the running sums, so every one is on the LP hull */
  GEN_TIES,         /* small integers: many equal values, costs and totals */
  GEN_NEGATIVE,     /* costs in [-R, R] (power-cap style rows) */
  GEN_SUBSETSUM,    /* value = mean cost + constant: every slot's points are collinear */
  GEN_WEAK,         /* weakly correlated: value = mean cost + U[-R/10, R/10], the shape of
                       measured accuracy against cost */
  GEN_CLASS_COUNT
};

static const char *const gen_class_name[] = {"uncorrelated", "strong",    "ties",
                                             "negative",     "subsetsum", "weak"};
_Static_assert(sizeof(gen_class_name) / sizeof(gen_class_name[0]) == GEN_CLASS_COUNT,
               "one name per class");

struct gen_rng {
  uint64_t s;
};

static inline uint64_t gen_next(struct gen_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline double gen_unif(struct gen_rng *r, double lo, double hi) {
  return lo + (hi - lo) * ((double)(gen_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

static inline size_t gen_int(struct gen_rng *r, size_t lo, size_t hi) {
  return lo + (size_t)(gen_next(r) % (uint64_t)(hi - lo + 1));
}

/* An owned instance; prob points into the arrays below. */
struct gen_inst {
  struct hant_select_problem prob;
  size_t *group_size;
  double *value, *cost, *budget;
  size_t n_items;
};

static inline void gen_free(struct gen_inst *g) {
  free(g->group_size);
  free(g->value);
  free(g->cost);
  free(g->budget);
  memset(g, 0, sizeof *g);
}

struct gen_inc {
  double key;
  double w[8];
};

static inline int gen_inc_cmp(const void *a, const void *b) {
  const struct gen_inc *x = a, *y = b;
  return x->key < y->key ? -1 : (x->key > y->key);
}

/* Generates an instance of class cls with G slots, n_min..n_max candidates
 * per slot and K (<= 8) budgets. tightness in (0, 1) places each budget
 * between the smallest and the largest achievable total; values > 1 make
 * budgets below the smallest total (infeasible). round_to > 0 rounds every
 * number to a multiple of it (for LP files that print exactly).
 * Returns 0, or -1 when out of memory. */
static inline int gen_make(struct gen_inst *g, enum gen_class cls, size_t G, size_t n_min,
                           size_t n_max, size_t K, double tightness, double round_to,
                           uint64_t seed) {
  struct gen_rng rng = {seed * 0x2545F4914F6CDD1DULL + 12345};
  const double R = 1000;
  memset(g, 0, sizeof *g);
  g->group_size = malloc(G * sizeof *g->group_size);
  size_t N = 0;
  for (size_t i = 0; i < G && g->group_size; i++) {
    g->group_size[i] = gen_int(&rng, n_min, n_max);
    N += g->group_size[i];
  }
  g->value = malloc((N + 1) * sizeof *g->value);
  g->cost = malloc((N * K + 1) * sizeof *g->cost);
  g->budget = malloc((K + 1) * sizeof *g->budget);
  struct gen_inc *inc = malloc((n_max + 1) * sizeof *inc);
  if (!g->group_size || !g->value || !g->cost || !g->budget || !inc || K > 8) {
    free(inc);
    gen_free(g);
    return -1;
  }
  g->n_items = N;
  size_t o = 0;
  for (size_t i = 0; i < G; i++) {
    size_t n = g->group_size[i];
    if (cls == GEN_STRONG) {
      for (size_t j = 0; j < n; j++) {
        double s = 0;
        for (size_t k = 0; k < K; k++)
          s += inc[j].w[k] = gen_unif(&rng, 1, R);
        inc[j].key = s;
      }
      qsort(inc, n, sizeof *inc, gen_inc_cmp);
      double acc[8] = {0}, av = 0;
      for (size_t j = 0; j < n; j++) {
        av += inc[j].key / (double)(K ? K : 1) + R / 100;
        for (size_t k = 0; k < K; k++) {
          acc[k] += inc[j].w[k];
          g->cost[(o + j) * K + k] = acc[k];
        }
        g->value[o + j] = av;
      }
    } else {
      for (size_t j = 0; j < n; j++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) {
          double c;
          switch (cls) {
          case GEN_TIES: c = (double)gen_int(&rng, 0, 4); break;
          case GEN_NEGATIVE: c = gen_unif(&rng, -R, R); break;
          default: c = gen_unif(&rng, 1, R); break;
          }
          g->cost[(o + j) * K + k] = c;
          s += c;
        }
        double v;
        switch (cls) {
        case GEN_TIES: v = (double)gen_int(&rng, 0, 3); break;
        case GEN_SUBSETSUM: v = s / (double)(K ? K : 1) + R / 10; break;
        case GEN_WEAK: v = s / (double)(K ? K : 1) + gen_unif(&rng, -R / 10, R / 10); break;
        case GEN_NEGATIVE: v = gen_unif(&rng, -R, R); break;
        default: v = gen_unif(&rng, 1, R); break;
        }
        g->value[o + j] = v;
      }
    }
    o += n;
  }
  if (round_to > 0) {
    for (size_t j = 0; j < N; j++)
      g->value[j] = round(g->value[j] / round_to) * round_to;
    for (size_t j = 0; j < N * K; j++)
      g->cost[j] = round(g->cost[j] / round_to) * round_to;
  }
  for (size_t k = 0; k < K; k++) {
    double lo = 0, hi = 0;
    o = 0;
    for (size_t i = 0; i < G; i++) {
      double mn = INFINITY, mx = -INFINITY;
      for (size_t j = 0; j < g->group_size[i]; j++) {
        mn = fmin(mn, g->cost[(o + j) * K + k]);
        mx = fmax(mx, g->cost[(o + j) * K + k]);
      }
      lo += mn;
      hi += mx;
      o += g->group_size[i];
    }
    double b = tightness > 1 ? lo - (tightness - 1) * (hi - lo) - 1 : lo + tightness * (hi - lo);
    if (round_to > 0)
      b = round(b / round_to) * round_to;
    g->budget[k] = b;
  }
  free(inc);
  g->prob.n_groups = G;
  g->prob.group_size = g->group_size;
  g->prob.n_dims = K;
  g->prob.value = g->value;
  g->prob.cost = g->cost;
  g->prob.budget = g->budget;
  g->prob.time_limit_ms = 0;
  return 0;
}

/* The solver's feasibility tolerance for budget k (see select.h). */
static inline double gen_tol(const struct hant_select_problem *p, size_t k) {
  double sc = 0;
  size_t o = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    double mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++)
      mx = fmax(mx, fabs(p->cost[(o + j) * p->n_dims + k]));
    sc += mx;
    o += p->group_size[i];
  }
  return 1e-9 * fmax(1.0, fmax(fabs(p->budget[k]), sc));
}

/* Checks that a choice is feasible and recomputes its value and totals.
 * Returns 1 if feasible. */
static inline int gen_eval(const struct hant_select_problem *p, const size_t *choice, double *value,
                           double *totals) {
  size_t K = p->n_dims, o = 0;
  double v = 0;
  for (size_t k = 0; k < K; k++)
    totals[k] = 0;
  *value = NAN;
  for (size_t i = 0; i < p->n_groups; i++) {
    if (choice[i] >= p->group_size[i])
      return 0;
    size_t g = o + choice[i];
    v += p->value[g];
    for (size_t k = 0; k < K; k++)
      totals[k] += p->cost[g * K + k];
    o += p->group_size[i];
  }
  *value = v;
  for (size_t k = 0; k < K; k++)
    if (totals[k] > p->budget[k] + gen_tol(p, k))
      return 0;
  return 1;
}

#endif
