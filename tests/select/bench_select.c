/* SPDX-License-Identifier: MIT */
/* bench_select.c: benchmark of hant's selection solver against GLPK's glpsol on HANT-scale
 * instances, plus Pareto front timing. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glpk_run.h"
#include "hant.h"
#include "select.h"
#include "select_gen.h"

/*
 * usage: bench_select [--seeds N] [--groups G] [--items N] [--tmlim S] [--hant-limit-ms MS]
 *                     [--reps R] [--classes LIST] [--budgets LIST] [--no-glpk] [--points N]
 *
 * For every class (default uncorrelated,strong), budget count (default 1,3)
 * and seed, builds a G x N instance (default 50 x 200, budgets halfway
 * between the smallest and largest totals), solves it with hant (median of
 * R runs when a run takes under 50 ms) and with glpsol (one run, --tmlim S,
 * as a separate program on a CPLEX LP file), checks that the objectives
 * agree, and times a sampled Pareto front of value against budget 0 (the
 * other budgets respected): with one budget the merged front
 * (hant_select_front_new, then sampled), with several the exact
 * warm-started level solves (hant_select_front_levels, 200 ms limit
 * per level). Prints one line per instance and a summary.
 */

struct row {
  const char *cls;
  size_t K;
  int seed;
  int hstatus;
  double hobj, hbound, hms;
  uint64_t nodes;
  int gstatus;
  double gobj, gbound, gs;
  int agree; /* 1 same optimum, 0 mismatch, -1 not comparable (a time limit) */
  double front_ms;
  size_t front_n;
  int front_exact;
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y);
}

static double quantile(double *v, size_t n, double q) {
  if (n == 0)
    return NAN;
  qsort(v, n, sizeof *v, cmp_double);
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  double f = pos - (double)i;
  return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

static void machine(void) {
  char line[512], model[256] = "unknown";
  int cpus = 0;
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof line, f)) {
    if (!strncmp(line, "model name", 10) && !cpus++) {
      char *c = strchr(line, ':');
      if (c)
        snprintf(model, sizeof model, "%s", c + 2);
      model[strcspn(model, "\n")] = '\0';
    } else if (!strncmp(line, "model name", 10)) {
      cpus++;
    }
  }
  if (f)
    fclose(f);
  double load[3] = {0};
  f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
      load[0] = NAN;
    fclose(f);
  }
  char gv[128] = "unknown";
  FILE *p = popen("glpsol --version 2>/dev/null | head -1", "r");
  if (p) {
    if (fgets(gv, sizeof gv, p))
      gv[strcspn(gv, "\n")] = '\0';
    pclose(p);
  }
  printf("machine: %s, %d logical CPUs, load average %.2f at start\n", model, cpus, load[0]);
  printf("glpsol: %s; hant %s (single thread)\n", gv, hant_version());
}

static int in_list(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *s = list; (s = strstr(s, name)); s += n)
    if ((s == list || s[-1] == ',') && (s[n] == ',' || s[n] == '\0'))
      return 1;
  return 0;
}

int main(int argc, char **argv) {
  int seeds = 3, reps = 5, tmlim = 60, glpk = 1, points = 100;
  size_t G = 50, N = 200;
  double hant_limit_ms = 10000;
  const char *classes = "uncorrelated,strong", *budgets = "1,3";
  for (int i = 1; i < argc; i++) {
    int more = i + 1 < argc;
    if (!strcmp(argv[i], "--seeds") && more)
      seeds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--groups") && more)
      G = (size_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--items") && more)
      N = (size_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tmlim") && more)
      tmlim = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hant-limit-ms") && more)
      hant_limit_ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && more)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--classes") && more)
      classes = argv[++i];
    else if (!strcmp(argv[i], "--budgets") && more)
      budgets = argv[++i];
    else if (!strcmp(argv[i], "--points") && more)
      points = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-glpk"))
      glpk = 0;
    else {
      fprintf(stderr,
              "bench_select: unknown argument '%s' (see the comment at the top of "
              "tests/select/bench_select.c)\n",
              argv[i]);
      return 2;
    }
  }
  if (glpk && !glpk_available()) {
    fprintf(stderr, "bench_select: glpsol not found; install glpk-utils or pass --no-glpk\n");
    return 1;
  }
  if (seeds < 1 || reps < 1 || G < 1 || N < 1 || points < 1)
    return 2;
  machine();
  printf("instances: %zu slots x %zu candidates, budgets halfway between smallest and largest "
         "totals, %d seeds; glpsol --tmlim %d s, hant limit %.0f ms\n\n",
         G, N, seeds, tmlim, hant_limit_ms);
  char dir[] = "/tmp/hant-bench-select-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char lp[256], out[256], log[256];
  snprintf(lp, sizeof lp, "%s/p.lp", dir);
  snprintf(out, sizeof out, "%s/p.out", dir);
  snprintf(log, sizeof log, "%s/p.log", dir);

  struct row rows[256];
  size_t nr = 0;
  printf("%-13s %2s %4s | %-10s %16s %10s %11s | %-10s %16s %9s | %9s %-6s | %s\n", "class", "K",
         "seed", "hant", "objective", "ms", "nodes", "glpsol", "objective", "s", "ratio", "same",
         "front");
  for (int c = 0; c < GEN_CLASS_COUNT; c++) {
    if (!in_list(classes, gen_class_name[c]))
      continue;
    for (size_t K = 1; K <= 8; K++) {
      char kb[8];
      snprintf(kb, sizeof kb, "%zu", K);
      if (!in_list(budgets, kb))
        continue;
      for (int s = 1; s <= seeds && nr < 256; s++) {
        struct gen_inst g;
        if (gen_make(&g, (enum gen_class)c, G, N, N, K, 0.5, 0, (uint64_t)s) != 0)
          return 1;
        g.prob.time_limit_ms = hant_limit_ms;
        struct row *rw = &rows[nr++];
        memset(rw, 0, sizeof *rw);
        rw->cls = gen_class_name[c];
        rw->K = K;
        rw->seed = s;
        /* hant: median over reps when fast */
        struct hant_select_result r;
        hant_select_result_init(&r);
        double t[64];
        size_t n = 0;
        for (int k = 0; k < reps && k < 64; k++) {
          double t0 = hant_now_s();
          if (hant_select_solve(&g.prob, &r) != 0) {
            fprintf(stderr, "bench_select: %s\n", hant_errmsg());
            return 1;
          }
          t[n++] = (hant_now_s() - t0) * 1e3;
          if (t[n - 1] > 50)
            break; /* slow: one run is enough */
        }
        rw->hms = quantile(t, n, 0.5);
        rw->hstatus = r.status;
        rw->hobj = r.objective;
        rw->hbound = r.bound;
        rw->nodes = r.nodes;
        /* Pareto front of value against budget 0, other budgets respected:
         * one budget: the merged front, sampled; several: exact warm-started
         * solves at the sampled levels */
        double t0 = hant_now_s();
        double *lv = malloc((size_t)points * sizeof *lv), *vv = malloc((size_t)points * sizeof *vv);
        if (!lv || !vv)
          return 1;
        if (K == 1) {
          struct hant_select_front *f = NULL;
          struct hant_select_front_options fo = {0, 1, 0};
          if (hant_select_front_new(&g.prob, &fo, &f) == 0) {
            hant_select_front_sample(f, (size_t)points, lv, vv, NULL);
            rw->front_ms = (hant_now_s() - t0) * 1e3;
            rw->front_n = hant_select_front_size(f);
            rw->front_exact = !hant_select_front_approximate(f);
            hant_select_front_destroy(f);
          } else {
            rw->front_ms = NAN;
          }
        } else {
          struct hant_select_problem q = g.prob;
          int st[1024];
          q.time_limit_ms = 200;
          if (hant_select_front_levels(&q, 0, (size_t)points, lv, vv, points <= 1024 ? st : NULL,
                                       NULL) == 0) {
            rw->front_ms = (hant_now_s() - t0) * 1e3;
            rw->front_n = (size_t)points;
            rw->front_exact = 1;
            for (int l = 0; l < points && l < 1024; l++)
              rw->front_exact &= st[l] != HANT_SELECT_TIME_LIMIT;
          } else {
            rw->front_ms = NAN;
          }
        }
        free(lv);
        free(vv);
        /* glpsol */
        rw->gstatus = -1;
        rw->agree = -1;
        if (glpk) {
          struct glpk_answer a = {GLPK_ERROR, NAN, NAN, 0};
          if (glpk_write_lp(&g.prob, lp) != 0 || glpk_solve(lp, out, log, tmlim, &a) != 0) {
            fprintf(stderr, "bench_select: glpsol failed to run\n");
            return 1;
          }
          rw->gstatus = (int)a.status;
          rw->gobj = a.objective;
          rw->gbound = a.bound;
          rw->gs = a.wall_s;
          double tol = 1e-6 * fmax(1.0, fabs(rw->hobj));
          if (a.status == GLPK_OPTIMAL && r.status == HANT_SELECT_OPTIMAL)
            rw->agree = fabs(a.objective - r.objective) <= tol;
          else if (a.status == GLPK_FEASIBLE_TIMEOUT || r.status == HANT_SELECT_TIME_LIMIT) {
            /* consistent: neither incumbent beats the other's bound */
            int ok = 1;
            if (r.has_choice && isfinite(a.bound))
              ok &= r.objective <= a.bound + tol;
            if (isfinite(a.objective) && isfinite(r.bound))
              ok &= a.objective <= r.bound + tol;
            rw->agree = ok ? -1 : 0;
          }
        }
        static const char *const gname[] = {"optimal", "time_limit", "infeasible", "no_sol",
                                            "error"};
        char ratio[32] = "-";
        if (glpk && rw->gstatus == GLPK_OPTIMAL && rw->hstatus == HANT_SELECT_OPTIMAL)
          snprintf(ratio, sizeof ratio, "%.0fx", rw->gs * 1e3 / rw->hms);
        else if (glpk && rw->hstatus == HANT_SELECT_OPTIMAL)
          snprintf(ratio, sizeof ratio, ">%.0fx", rw->gs * 1e3 / rw->hms);
        printf("%-13s %2zu %4d | %-10s %16.6f %10.3f %11llu | %-10s %16.6f %9.3f | %9s %-6s | "
               "%.1f ms, %zu %s%s\n",
               rw->cls, K, s, hant_select_status_name(r.status), r.objective, rw->hms,
               (unsigned long long)r.nodes, glpk ? gname[rw->gstatus] : "-", glpk ? rw->gobj : NAN,
               glpk ? rw->gs : NAN, ratio,
               rw->agree == 1   ? "yes"
               : rw->agree == 0 ? "NO"
                                : "n/a",
               rw->front_ms, rw->front_n, K == 1 ? "points" : "levels",
               rw->front_exact ? "" : (K == 1 ? " (thinned)" : " (some levels timed out)"));
        if (r.status == HANT_SELECT_TIME_LIMIT || (glpk && rw->gstatus == GLPK_FEASIBLE_TIMEOUT))
          printf("%22s hant bound %.6f (gap %.6g); glpsol bound %.6f (gap %.6g)\n", "", r.bound,
                 r.gap, rw->gbound, rw->gbound - rw->gobj);
        fflush(stdout);
        hant_select_result_free(&r);
        gen_free(&g);
      }
    }
  }
  unlink(lp);
  unlink(out);
  unlink(log);
  rmdir(dir);

  /* summary */
  printf("\nsummary (ratio = glpsol wall time / hant solve time, where both proved the optimum)\n");
  double all[256], hall[256], gall[256];
  size_t na = 0;
  int mism = 0, both = 0, total = (int)nr;
  for (size_t i = 0; i < nr; i++) {
    if (rows[i].agree == 0)
      mism++;
  }
  for (int c = 0; c < GEN_CLASS_COUNT; c++) {
    for (size_t K = 1; K <= 8; K++) {
      double rat[64], hm[64], fm[64];
      size_t n = 0, nh = 0, nf = 0, opt_h = 0, opt_g = 0, cnt = 0;
      for (size_t i = 0; i < nr; i++) {
        if (strcmp(rows[i].cls, gen_class_name[c]) || rows[i].K != K)
          continue;
        cnt++;
        hm[nh++] = rows[i].hms;
        if (isfinite(rows[i].front_ms))
          fm[nf++] = rows[i].front_ms;
        opt_h += rows[i].hstatus == HANT_SELECT_OPTIMAL;
        opt_g += rows[i].gstatus == GLPK_OPTIMAL;
        if (rows[i].agree == 1) {
          rat[n++] = rows[i].gs * 1e3 / rows[i].hms;
          all[na] = rat[n - 1];
          hall[na] = rows[i].hms;
          gall[na] = rows[i].gs;
          na++;
        }
      }
      if (!cnt)
        continue;
      double hmed = quantile(hm, nh, 0.5), hmin = quantile(hm, nh, 0), hmax = quantile(hm, nh, 1);
      printf("  %-13s K=%zu: hant optimal %zu/%zu (median %.3f ms, range %.3f-%.3f ms); "
             "glpsol optimal %zu/%zu",
             gen_class_name[c], K, opt_h, cnt, hmed, hmin, hmax, opt_g, cnt);
      if (n)
        printf("; ratio median %.0fx (range %.0f-%.0fx)", quantile(rat, n, 0.5),
               quantile(rat, n, 0), quantile(rat, n, 1));
      if (nf)
        printf("; %d-point front median %.1f ms", points, quantile(fm, nf, 0.5));
      printf("\n");
      both += (int)n;
    }
  }
  if (na) {
    double rq[256];
    memcpy(rq, all, na * sizeof *rq);
    printf("  all instances both proved (%zu of %d): median ratio %.0fx, quartiles %.0fx-%.0fx, "
           "range %.0f-%.0fx; hant median %.3f ms, glpsol median %.3f s\n",
           na, total, quantile(rq, na, 0.5), quantile(rq, na, 0.25), quantile(rq, na, 0.75),
           quantile(rq, na, 0), quantile(rq, na, 1), quantile(hall, na, 0.5),
           quantile(gall, na, 0.5));
  }
  printf("  objectives: %d of %d instances with both optimal agree to 1e-6 relative; %d "
         "inconsistent (incumbent above the other's bound or different optimum)\n",
         both, total, mism);
  return mism ? 1 : 0;
}
