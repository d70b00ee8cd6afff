/* SPDX-License-Identifier: MIT */
/* test_select_glpk.c: the solver's optimum equals GLPK's (glpsol run as a separate program) on
 * medium random instances. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../test_util.h"
#include "glpk_run.h"
#include "hant.h"
#include "select.h"
#include "select_gen.h"

int main(void) {
  if (!glpk_available()) {
    fprintf(stderr, "FAIL: glpsol not found on PATH; install glpk-utils "
                    "(scripts/install-deps.sh does)\n");
    return 1;
  }
  char dir[] = "/tmp/hant-select-glpk-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char lp[256], out[256], log[256];
  snprintf(lp, sizeof lp, "%s/p.lp", dir);
  snprintf(out, sizeof out, "%s/p.out", dir);
  snprintf(log, sizeof log, "%s/p.log", dir);
  /* Classes glpsol proves quickly at these sizes; strongly correlated and
   * subset-sum instances take glpsol minutes even at 10 x 10, so they appear
   * only small here (enumeration covers them too). Numbers are rounded to
   * 0.01 so the LP file is exact. */
  static const struct {
    enum gen_class cls;
    size_t G, nmin, nmax, K;
    int seeds;
  } plan[] = {
      {GEN_UNCORRELATED, 20, 10, 30, 1, 8}, {GEN_UNCORRELATED, 20, 10, 30, 2, 8},
      {GEN_UNCORRELATED, 15, 10, 30, 3, 8}, {GEN_NEGATIVE, 20, 10, 30, 1, 6},
      {GEN_NEGATIVE, 15, 10, 30, 3, 6},     {GEN_TIES, 15, 10, 20, 2, 4},
      {GEN_TIES, 15, 10, 20, 3, 4},         {GEN_WEAK, 12, 10, 15, 1, 4},
      {GEN_WEAK, 10, 10, 15, 2, 4},         {GEN_WEAK, 10, 10, 12, 3, 3},
      {GEN_STRONG, 6, 5, 8, 1, 3},          {GEN_SUBSETSUM, 6, 5, 8, 2, 3},
  };
  int n = 0, infeasible = 0;
  double t0 = hant_now_s(), glpk_s = 0;
  for (size_t q = 0; q < sizeof plan / sizeof plan[0]; q++) {
    for (int s = 1; s <= plan[q].seeds; s++) {
      uint64_t seed = 1000 * q + (uint64_t)s;
      double tight = s == 3 ? 1.02 : 0.1 + 0.11 * (double)s; /* seed 3: infeasible */
      struct gen_inst g;
      if (gen_make(&g, plan[q].cls, plan[q].G, plan[q].nmin, plan[q].nmax, plan[q].K, tight, 0.01,
                   seed) != 0) {
        CHECK(0, "out of memory");
        continue;
      }
      struct hant_select_result r;
      hant_select_result_init(&r);
      int rc = hant_select_solve(&g.prob, &r);
      CHECK(rc == 0, "solve: %s", hant_errmsg());
      struct glpk_answer a = {GLPK_ERROR, NAN, NAN, 0};
      CHECK(glpk_write_lp(&g.prob, lp) == 0, "cannot write %s", lp);
      int grc = glpk_solve(lp, out, log, 60, &a);
      CHECK(grc == 0, "glpsol did not run");
      glpk_s += a.wall_s;
      const char *cn = gen_class_name[plan[q].cls];
      if (a.status == GLPK_INFEASIBLE || a.status == GLPK_NOSOL) {
        infeasible++;
        CHECK(r.status == HANT_SELECT_INFEASIBLE, "%s K=%zu seed %llu: glpsol infeasible, hant %s",
              cn, plan[q].K, (unsigned long long)seed, hant_select_status_name(r.status));
      } else {
        CHECK(a.status == GLPK_OPTIMAL, "%s K=%zu seed %llu: glpsol did not prove optimality", cn,
              plan[q].K, (unsigned long long)seed);
        CHECK(r.status == HANT_SELECT_OPTIMAL, "%s K=%zu seed %llu: hant %s", cn, plan[q].K,
              (unsigned long long)seed, hant_select_status_name(r.status));
        CHECK(t_near(r.objective, a.objective, 1e-6, 1e-9),
              "%s K=%zu seed %llu: hant %.10f, glpsol %.10f", cn, plan[q].K,
              (unsigned long long)seed, r.objective, a.objective);
        double v = 0, tot[8] = {0};
        CHECK(r.has_choice && gen_eval(&g.prob, r.choice, &v, tot), "%s seed %llu: bad choice", cn,
              (unsigned long long)seed);
      }
      n++;
      hant_select_result_free(&r);
      gen_free(&g);
    }
  }
  unlink(lp);
  unlink(out);
  unlink(log);
  rmdir(dir);
  printf("glpk: %d instances (%d infeasible) in %.1f s, of which glpsol %.1f s\n", n, infeasible,
         hant_now_s() - t0, glpk_s);
  return test_summary("select_glpk");
}
