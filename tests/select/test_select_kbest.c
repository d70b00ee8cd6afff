/* SPDX-License-Identifier: MIT */
/* test_select_kbest.c: the K-best search returns K distinct feasible selections in non-increasing objective order, the same as exhaustive enumeration on thousands of small random instances, ties and K beyond the feasible count included. */
#include <stdbool.h>
#include <stdio.h>

#include "../test_util.h"
#include "hant.h"
#include "select.h"
#include "select_gen.h"

#define MAX_G 6

/* Every feasible choice of a small instance, sorted best first and, among
 * equal objectives, in lexicographic order of the candidate indices. */
struct brute {
  size_t n, G;
  size_t *choice; /* [n, G] */
  double *obj;    /* [n] */
};

static bool brute_before(const struct brute *b, size_t x, size_t y) {
  if (b->obj[x] != b->obj[y])
    return b->obj[x] > b->obj[y];
  for (size_t i = 0; i < b->G; i++)
    if (b->choice[x * b->G + i] != b->choice[y * b->G + i])
      return b->choice[x * b->G + i] < b->choice[y * b->G + i];
  return false;
}

static int enumerate(const struct hant_select_problem *p, struct brute *b) {
  size_t G = p->n_groups, total = 1, idx[MAX_G] = {0};
  for (size_t i = 0; i < G; i++)
    total *= p->group_size[i];
  b->G = G;
  b->n = 0;
  b->choice = malloc(total * G * sizeof *b->choice);
  b->obj = malloc(total * sizeof *b->obj);
  size_t *ord = malloc(total * sizeof *ord);
  size_t *sc = malloc(total * G * sizeof *sc);
  double *so = malloc(total * sizeof *so);
  if (!b->choice || !b->obj || !ord || !sc || !so) {
    free(ord);
    free(sc);
    free(so);
    return -1;
  }
  for (;;) {
    double v, t[8];
    if (gen_eval(p, idx, &v, t)) {
      memcpy(&b->choice[b->n * G], idx, G * sizeof *idx);
      b->obj[b->n++] = v;
    }
    size_t i = 0;
    while (i < G && ++idx[i] == p->group_size[i])
      idx[i++] = 0;
    if (i == G)
      break;
  }
  /* insertion sort by (objective desc, lexicographic) */
  for (size_t i = 0; i < b->n; i++) {
    size_t j = i;
    for (; j > 0 && brute_before(b, i, ord[j - 1]); j--)
      ord[j] = ord[j - 1];
    ord[j] = i;
  }
  for (size_t i = 0; i < b->n; i++) {
    memcpy(&sc[i * G], &b->choice[ord[i] * G], G * sizeof *sc);
    so[i] = b->obj[ord[i]];
  }
  free(b->choice);
  free(b->obj);
  free(ord);
  b->choice = sc;
  b->obj = so;
  return 0;
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

static int n_exact; /* instances whose whole list matched enumeration choice for choice */

static void check_instance(const struct hant_select_problem *p, size_t k, const char *what, uint64_t seed) {
  struct hant_select_kbest r;
  hant_select_kbest_init(&r);
  struct brute b = {0};
  if (enumerate(p, &b)) {
    CHECK(0, "out of memory");
    return;
  }
  int rc = hant_select_kbest(p, k, &r);
  CHECK(rc == 0, "%s seed %llu k %zu: search failed: %s", what, (unsigned long long)seed, k, hant_errmsg());
  if (rc) {
    free(b.choice);
    free(b.obj);
    return;
  }
  size_t G = p->n_groups, want = b.n < k ? b.n : k;
  double tol = 1e-9 * vscale(p);
  CHECK(r.n == want, "%s seed %llu k %zu: %zu choices, enumeration has %zu feasible", what, (unsigned long long)seed,
        k, r.n, b.n);
  CHECK(r.status == (b.n ? HANT_SELECT_OPTIMAL : HANT_SELECT_INFEASIBLE), "%s seed %llu k %zu: status %s", what,
        (unsigned long long)seed, k, hant_select_status_name(r.status));
  CHECK(r.n_groups == G && r.n_dims == p->n_dims, "%s seed %llu: sizes", what, (unsigned long long)seed);
  bool same = r.n == want;
  for (size_t i = 0; i < r.n && i < want; i++) {
    const size_t *c = &r.choice[i * G];
    double v, t[8];
    CHECK(gen_eval(p, c, &v, t), "%s seed %llu k %zu: choice %zu is infeasible", what, (unsigned long long)seed, k,
          i);
    CHECK(fabs(v - r.objective[i]) <= tol, "%s seed %llu: objective %zu does not match its choice", what,
          (unsigned long long)seed, i);
    for (size_t d = 0; d < p->n_dims; d++)
      CHECK(fabs(t[d] - r.totals[i * p->n_dims + d]) <= 1e-9 * (1 + fabs(t[d])), "%s seed %llu: totals[%zu][%zu]",
            what, (unsigned long long)seed, i, d);
    CHECK(fabs(r.objective[i] - b.obj[i]) <= 2 * tol, "%s seed %llu k %zu: objective %zu is %.17g, enumeration %.17g",
          what, (unsigned long long)seed, k, i, r.objective[i], b.obj[i]);
    if (i > 0)
      CHECK(r.objective[i] <= r.objective[i - 1] + tol, "%s seed %llu: objective rises at %zu", what,
            (unsigned long long)seed, i);
    for (size_t j = 0; j < i; j++)
      CHECK(memcmp(c, &r.choice[j * G], G * sizeof *c), "%s seed %llu k %zu: choices %zu and %zu are the same", what,
            (unsigned long long)seed, k, j, i);
    same = same && !memcmp(c, &b.choice[i * G], G * sizeof *c);
  }
  /* Ties: when every choice tied with the k-th is met within 2k choices,
   * the list is exactly enumeration's, lexicographic among equals. */
  if (want) {
    size_t reach = 0;
    while (reach < b.n && b.obj[reach] >= b.obj[want - 1] - tol)
      reach++;
    if (reach <= 2 * k) {
      CHECK(same, "%s seed %llu k %zu: the choices differ from enumeration's (ties in lexicographic order)", what,
            (unsigned long long)seed, k);
      n_exact += same;
    }
  }
  /* k = 1 is the solver's optimum. */
  if (k == 1 && b.n) {
    struct hant_select_result s;
    hant_select_result_init(&s);
    CHECK(hant_select_solve(p, &s) == 0 && fabs(s.objective - r.objective[0]) <= 2 * tol,
          "%s seed %llu: k = 1 differs from the solver", what, (unsigned long long)seed);
    hant_select_result_free(&s);
  }
  free(b.choice);
  free(b.obj);
  hant_select_kbest_free(&r);
}

/* The same search twice gives the same list. */
static void check_repeatable(const struct hant_select_problem *p, size_t k) {
  struct hant_select_kbest a, b;
  hant_select_kbest_init(&a);
  hant_select_kbest_init(&b);
  CHECK(hant_select_kbest(p, k, &a) == 0 && hant_select_kbest(p, k, &b) == 0 && a.n == b.n &&
            !memcmp(a.choice, b.choice, a.n * p->n_groups * sizeof *a.choice),
        "two searches of one problem differ");
  hant_select_kbest_free(&a);
  hant_select_kbest_free(&b);
}

int main(void) {
  double t0 = hant_now_s();
  /* Arguments are checked. */
  {
    size_t gs[1] = {2};
    double v[2] = {1, 2}, c[2] = {1, 1}, bud[1] = {1};
    struct hant_select_problem p = {1, gs, 1, v, c, bud, 0};
    struct hant_select_kbest r;
    hant_select_kbest_init(&r);
    CHECK(hant_select_kbest(&p, 0, &r) == HANT_EINVAL, "k = 0 is refused");
    CHECK(hant_select_kbest(NULL, 3, &r) == HANT_EINVAL, "a NULL problem is refused");
    bud[0] = 0.5;
    CHECK(hant_select_kbest(&p, 3, &r) == 0 && r.n == 0 && r.status == HANT_SELECT_INFEASIBLE,
          "an infeasible problem gives no choice");
    hant_select_kbest_free(&r);
    hant_select_kbest_free(&r); /* twice is harmless */
  }
  const uint64_t n_seeds = 20000;
  for (uint64_t seed = 1; seed <= n_seeds; seed++) {
    struct gen_rng rng = {seed + 7000000};
    enum gen_class cls = (enum gen_class)(seed % GEN_CLASS_COUNT);
    size_t G = gen_int(&rng, 1, 5), nmax = gen_int(&rng, 1, 5), K = gen_int(&rng, 0, 3);
    double tight = seed % 10 == 1 ? 1.05 : gen_unif(&rng, 0.1, 0.95);
    /* k from 1 to beyond the number of feasible choices */
    size_t k = seed % 7 == 0 ? 1 : gen_int(&rng, 1, seed % 5 == 0 ? 200 : 12);
    struct gen_inst g;
    if (gen_make(&g, cls, G, 1, nmax, K, tight, seed % 4 == 0 ? 1 : 0, seed) != 0) {
      CHECK(0, "out of memory");
      break;
    }
    check_instance(&g.prob, k, gen_class_name[cls], seed);
    if (seed % 50 == 0)
      check_repeatable(&g.prob, k);
    gen_free(&g);
  }
  /* All ties: every choice has the same value, so the k best are the
   * first k in lexicographic order. */
  {
    size_t gs[3] = {2, 2, 2};
    double v[6] = {0}, c[6] = {0}, bud[1] = {1};
    struct hant_select_problem p = {3, gs, 1, v, c, bud, 0};
    struct hant_select_kbest r;
    hant_select_kbest_init(&r);
    CHECK(hant_select_kbest(&p, 5, &r) == 0 && r.n == 5, "all ties: five choices");
    static const size_t want[5][3] = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}, {1, 0, 0}};
    for (size_t i = 0; i < r.n; i++)
      CHECK(!memcmp(&r.choice[i * 3], want[i], sizeof want[i]), "all ties: choice %zu not in lexicographic order", i);
    hant_select_kbest_free(&r);
  }
  printf("k best: %d instances matched enumeration choice for choice, %.1f s\n", n_exact, hant_now_s() - t0);
  CHECK(n_exact > 1000, "too few instances were compared choice for choice");
  return test_summary("select_kbest");
}
