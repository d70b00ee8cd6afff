/* SPDX-License-Identifier: MIT */
/* glpk_run.h: writes a selection problem as a CPLEX LP file and runs GLPK's glpsol on it as a
 * separate program (never linked: GLPK is GPL). */
#ifndef HANT_TEST_GLPK_RUN_H
#define HANT_TEST_GLPK_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hant.h"
#include "select.h"

extern char **environ;

/* Writes p as a maximisation MIP in CPLEX LP format. Returns 0 or -1. */
static inline int glpk_write_lp(const struct hant_select_problem *p, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  size_t G = p->n_groups, K = p->n_dims, o = 0;
  fprintf(f, "\\ hant selection problem: %zu groups, %zu budgets\nMaximize\n obj:", G, K);
  for (size_t i = 0; i < G; i++) {
    for (size_t j = 0; j < p->group_size[i]; j++)
      fprintf(f, " %+.17g x%zu_%zu%s", p->value[o + j], i, j, (o + j) % 8 == 7 ? "\n" : "");
    o += p->group_size[i];
  }
  fprintf(f, "\nSubject To\n");
  for (size_t i = 0; i < G; i++) {
    fprintf(f, " g%zu:", i);
    for (size_t j = 0; j < p->group_size[i]; j++)
      fprintf(f, " + x%zu_%zu%s", i, j, j % 16 == 15 ? "\n" : "");
    fprintf(f, " = 1\n");
  }
  for (size_t k = 0; k < K; k++) {
    fprintf(f, " b%zu:", k);
    o = 0;
    for (size_t i = 0; i < G; i++) {
      for (size_t j = 0; j < p->group_size[i]; j++)
        fprintf(f, " %+.17g x%zu_%zu%s", p->cost[(o + j) * K + k], i, j,
                (o + j) % 8 == 7 ? "\n" : "");
      o += p->group_size[i];
    }
    fprintf(f, " <= %.17g\n", p->budget[k]);
  }
  fprintf(f, "Binary\n");
  o = 0;
  for (size_t i = 0; i < G; i++)
    for (size_t j = 0; j < p->group_size[i]; j++)
      fprintf(f, " x%zu_%zu%s", i, j, ++o % 16 == 0 ? "\n" : "");
  fprintf(f, "\nEnd\n");
  return fclose(f) == 0 ? 0 : -1;
}

enum glpk_status { GLPK_OPTIMAL, GLPK_FEASIBLE_TIMEOUT, GLPK_INFEASIBLE, GLPK_NOSOL, GLPK_ERROR };

struct glpk_answer {
  enum glpk_status status;
  double objective; /* incumbent, when one exists */
  double bound;     /* best bound from the last progress line (time-outs), else objective */
  double wall_s;    /* wall-clock time of the glpsol process */
};

/* Is glpsol on PATH? */
static inline int glpk_available(void) { return system("command -v glpsol >/dev/null 2>&1") == 0; }

/* Runs `glpsol --lp LP [--tmlim S] -o OUT` with its log in LOG; fills a.
 * Returns 0, or -1 when glpsol could not run. */
static inline int glpk_solve(const char *lp, const char *out, const char *log, int tmlim_s,
                             struct glpk_answer *a) {
  char tm[32];
  snprintf(tm, sizeof tm, "%d", tmlim_s);
  char *argv_tl[] = {"glpsol", "--lp", (char *)lp, "--tmlim", tm, "-o", (char *)out, NULL};
  char *argv_nl[] = {"glpsol", "--lp", (char *)lp, "-o", (char *)out, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  double t0 = hant_now_s();
  int rc = posix_spawnp(&pid, "glpsol", &fa, NULL, tmlim_s > 0 ? argv_tl : argv_nl, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return -1;
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  a->wall_s = hant_now_s() - t0;
  a->status = GLPK_ERROR;
  a->objective = a->bound = NAN;
  if (!WIFEXITED(st))
    return -1;
  char line[4096];
  FILE *f = fopen(out, "r");
  if (f) {
    while (fgets(line, sizeof line, f)) {
      if (!strncmp(line, "Status:", 7)) {
        if (strstr(line, "INTEGER OPTIMAL"))
          a->status = GLPK_OPTIMAL;
        else if (strstr(line, "INTEGER NON-OPTIMAL"))
          a->status = GLPK_FEASIBLE_TIMEOUT;
        else if (strstr(line, "EMPTY") || strstr(line, "UNDEFINED"))
          a->status = GLPK_NOSOL;
      }
      char *e = strstr(line, "obj = ");
      if (!strncmp(line, "Objective:", 10) && e)
        a->objective = strtod(e + 6, NULL);
    }
    fclose(f);
  }
  /* progress lines: "+  1234: mip =  1.0e+04 <=  1.1e+04  1.0% (12; 0)" */
  f = fopen(log, "r");
  if (f) {
    while (fgets(line, sizeof line, f)) {
      char *le = strstr(line, "<=");
      if (strstr(line, "mip =") && le) {
        char *endp;
        double bnd = strtod(le + 2, &endp);
        if (endp != le + 2)
          a->bound = bnd;
      }
      if (strstr(line, "PROBLEM HAS NO INTEGER FEASIBLE SOLUTION") ||
          strstr(line, "PROBLEM HAS NO PRIMAL FEASIBLE SOLUTION"))
        a->status = GLPK_INFEASIBLE;
    }
    fclose(f);
  }
  if (a->status == GLPK_OPTIMAL || isnan(a->bound))
    a->bound = a->objective;
  return 0;
}

#endif
