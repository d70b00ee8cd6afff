/* SPDX-License-Identifier: MIT */
/* cmd_solve.c: hant-client solve: solves a generic selection problem file (in hantd, or in-process) and prints the answer or a Pareto front. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hant.h"
#include "rpc_client.h"

#define DEFAULT_TIME_LIMIT_MS 10000.0

static const char solve_usage[] =
    "usage: hant-client [--socket PATH] solve --problem FILE [--json] [--time-limit-ms N]\n"
    "                         [--pareto COSTKEY [--points N] [--no-other-budgets]]\n"
    "                         [--local [--kbest K]]\n"
    "\n"
    "Chooses one candidate per slot to maximise the summed value within the\n"
    "budgets of a problem file (see schema/problem.schema.json), exactly, with\n"
    "a proof of optimality or the remaining gap when the time limit hits.\n"
    "hantd solves it (its 'solve' method); --local solves in this process instead.\n"
    "\n";

/* Prints the answer as a table on stdout. */
static void print_table(const struct hant_problem *p, const struct hant_select_result *r) {
  size_t K = p->n_keys;
  printf("status     %s", hant_select_status_name(r->status));
  switch (r->status) {
  case HANT_SELECT_OPTIMAL:
    printf(" (proved; %llu nodes, %.3f ms)\n", (unsigned long long)r->nodes, r->solve_ms);
    break;
  case HANT_SELECT_TIME_LIMIT:
    if (r->has_choice)
      printf(" (stopped after %.0f ms; gap %.6g: optimum at most %.10g)\n", r->solve_ms, r->gap,
             r->bound);
    else
      printf(" (stopped after %.0f ms without finding a choice)\n", r->solve_ms);
    break;
  default: printf(": no choice meets all budgets\n"); break;
  }
  if (r->has_choice) {
    printf("objective  %.10g\n\n", r->objective);
    size_t w = 4;
    for (size_t i = 0; i < p->n_groups; i++)
      w = strlen(p->group_name[i]) > w ? strlen(p->group_name[i]) : w;
    printf("%-*s  %-16s %14s\n", (int)w, "slot", "choice", "value");
    size_t o = 0;
    for (size_t i = 0; i < p->n_groups; i++) {
      size_t g = o + r->choice[i];
      printf("%-*s  %-16s %14.6g\n", (int)w, p->group_name[i], p->item_id[g], p->value[g]);
      o += p->group_size[i];
    }
    printf("\n%-16s %14s %14s %14s\n", "cost", "total", "budget", "headroom");
    for (size_t k = 0; k < K; k++) {
      double t = 0;
      o = 0;
      for (size_t i = 0; i < p->n_groups; i++) {
        t += p->cost[(o + r->choice[i]) * K + k];
        o += p->group_size[i];
      }
      if (p->has_budget[k])
        printf("%-16s %14.6g %14.6g %14.6g\n", p->key[k], t, p->budget[k], p->budget[k] - t);
      else
        printf("%-16s %14.6g %14s %14s\n", p->key[k], t, "-", "-");
    }
  } else if (r->status == HANT_SELECT_INFEASIBLE) {
    printf("\n%-16s %14s %14s  %s\n", "cost", "smallest total", "budget", "");
    for (size_t k = 0; k < K; k++) {
      double s = 0;
      size_t o = 0;
      for (size_t i = 0; i < p->n_groups; i++) {
        double mn = INFINITY;
        for (size_t j = 0; j < p->group_size[i]; j++)
          mn = fmin(mn, p->cost[(o + j) * K + k]);
        s += mn;
        o += p->group_size[i];
      }
      if (!p->has_budget[k])
        printf("%-16s %14.6g %14s\n", p->key[k], s, "-");
      else if (s > p->budget[k])
        printf("%-16s %14.6g %14.6g  over by %.6g\n", p->key[k], s, p->budget[k],
               s - p->budget[k]);
      else
        printf("%-16s %14.6g %14.6g  can be met alone\n", p->key[k], s, p->budget[k]);
    }
    if (r->jointly_infeasible)
      printf("\nEach budget can be met on its own, but no choice meets them all together.\n");
  }
}

/* The k best distinct choices, best first, solved in this process. */
static int run_kbest(struct hant_problem *p, size_t k, double tl, int json) {
  struct hant_select_problem view;
  hant_problem_view(p, &view);
  view.time_limit_ms = tl;
  struct hant_select_kbest r;
  hant_select_kbest_init(&r);
  if (hant_select_kbest(&view, k, &r) < 0) {
    fprintf(stderr, "hant-client solve: %s\n", hant_errmsg());
    return CLIENT_EXIT_FAILURE;
  }
  int code = CLIENT_EXIT_OK;
  if (json) {
    char *s = hant_problem_kbest_json(p, k, &r);
    if (!s) {
      fprintf(stderr, "hant-client solve: out of memory writing the answer\n");
      code = CLIENT_EXIT_FAILURE;
    } else {
      printf("%s\n", s);
      free(s);
    }
  } else {
    printf("status     %s: the %zu best of %zu asked (%llu solves, %.3f ms)\n", hant_select_status_name(r.status),
           r.n, k, (unsigned long long)r.solves, r.solve_ms);
    size_t w = 4;
    for (size_t i = 0; i < p->n_groups; i++)
      w = strlen(p->group_name[i]) > w ? strlen(p->group_name[i]) : w;
    for (size_t i = 0; i < r.n; i++) {
      printf("\n#%zu objective %.10g\n", i + 1, r.objective[i]);
      size_t o = 0;
      for (size_t g = 0; g < p->n_groups; g++) {
        printf("  %-*s  %s\n", (int)w, p->group_name[g], p->item_id[o + r.choice[i * p->n_groups + g]]);
        o += p->group_size[g];
      }
    }
  }
  if (r.status == HANT_SELECT_INFEASIBLE) {
    fprintf(stderr, "hant-client solve: infeasible: no choice meets the budgets\n");
    code = CLIENT_EXIT_INFEASIBLE;
  } else if (r.status == HANT_SELECT_TIME_LIMIT) {
    fprintf(stderr, "hant-client solve: time limit of %.0f ms reached; the choices listed are not proven the best\n",
            tl);
    if (!r.n)
      code = CLIENT_EXIT_FAILURE;
  }
  hant_select_kbest_free(&r);
  return code;
}

static int run_front(struct hant_problem *p, const char *axis_name, size_t points, int respect,
                     int json) {
  long key = hant_problem_key_index(p, axis_name);
  if (key < 0) {
    fprintf(stderr, "hant-client solve: --pareto %s: no item has this cost key\n", axis_name);
    return CLIENT_EXIT_USAGE;
  }
  struct hant_select_problem view;
  size_t axis;
  int rc = hant_problem_view_axis(p, (size_t)key, &view, &axis);
  if (rc < 0) {
    fprintf(stderr, "hant-client solve: %s\n", hant_errmsg());
    return CLIENT_EXIT_FAILURE;
  }
  struct hant_select_front_options opt = {axis, respect, 0};
  struct hant_select_front *f = NULL;
  double t0 = hant_now_s();
  rc = hant_select_front_new(&view, &opt, &f);
  double ms = (hant_now_s() - t0) * 1e3;
  if (rc == HANT_EINFEASIBLE) {
    fprintf(stderr, "hant-client solve: %s\n", hant_errmsg());
    return CLIENT_EXIT_INFEASIBLE;
  }
  if (rc < 0) {
    fprintf(stderr, "hant-client solve: %s\n", hant_errmsg());
    return CLIENT_EXIT_FAILURE;
  }
  size_t n = hant_select_front_size(f);
  if (json) {
    char *s = hant_problem_front_json(p, f, (size_t)key, points, respect, ms);
    if (!s) {
      fprintf(stderr, "hant-client solve: out of memory writing the front\n");
      hant_select_front_destroy(f);
      return CLIENT_EXIT_FAILURE;
    }
    printf("%s\n", s);
    free(s);
  } else {
    printf("Pareto front of value against %s: %zu points, %s, computed in %.3f ms\n", axis_name,
           n, hant_select_front_approximate(f) ? "approximate" : "exact", ms);
    if (hant_select_front_approximate(f))
      printf("(thinned: within %s + %.6g the listed value is at least the optimum)\n", axis_name,
             hant_select_front_cost_error(f));
    printf("%14s %14s %16s\n", "budget", axis_name, "best value");
    size_t m = points ? points : n;
    double *lv = malloc(m * sizeof *lv), *vv = malloc(m * sizeof *vv);
    size_t *pt = malloc(m * sizeof *pt);
    if (lv && vv && pt) {
      if (points)
        hant_select_front_sample(f, points, lv, vv, pt);
      for (size_t l = 0; l < m; l++) {
        double c = 0, v = 0;
        hant_select_front_point(f, points ? pt[l] : l, &c, &v, NULL);
        printf("%14.6g %14.6g %16.10g\n", points ? lv[l] : c, c, v);
      }
    }
    free(lv);
    free(vv);
    free(pt);
  }
  hant_select_front_destroy(f);
  return CLIENT_EXIT_OK;
}

/* Sends the problem to hantd; the local parse gave names for the table. */
static int run_daemon(const struct hant_problem *p, const char *path, const char *pareto, size_t points, int respect,
                      double tl, int json) {
  json_error_t je;
  json_t *prob = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!prob) {
    fprintf(stderr, "hant-client solve: %s: %s\n", path, je.text);
    return CLIENT_EXIT_FAILURE;
  }
  json_t *params = json_object(), *opt = json_object();
  json_object_set_new(params, "problem", prob);
  if (tl >= 0)
    json_object_set_new(opt, "time_limit_ms", json_real(tl));
  if (pareto) {
    json_object_set_new(opt, "pareto", json_string(pareto));
    json_object_set_new(opt, "points", json_integer((json_int_t)points));
    json_object_set_new(opt, "respect_budgets", json_boolean(respect));
  }
  json_object_set_new(params, "options", opt);
  json_t *r = NULL;
  int rc = client_call_once("solve", "solve", params, &r);
  if (rc)
    return rc;
  const char *status = client_str(r, "status", "");
  if (json) {
    client_print_json(r);
  } else if (pareto) {
    json_t *pts = json_object_get(r, "points");
    if (!json_is_array(pts)) {
      printf("%s\n", client_str(r, "message", "no front"));
    } else {
      printf("Pareto front of value against %s: %zu points, %s\n", pareto, json_array_size(pts),
             json_is_true(json_object_get(r, "exact")) ? "exact" : "approximate");
      printf("%14s %14s %16s\n", "budget", pareto, "best value");
      size_t i;
      json_t *pt;
      json_array_foreach(pts, i, pt)
        printf("%14.6g %14.6g %16.10g\n", client_num(pt, "budget"), client_num(pt, "cost"), client_num(pt, "objective"));
    }
  } else {
    printf("status     %s (%.3f ms in hantd)\n", status, client_num(r, "solve_ms"));
    json_t *choice = json_object_get(r, "choice");
    if (json_is_array(choice)) {
      printf("objective  %.10g\n\n", client_num(r, "objective"));
      printf("%-16s  %-16s\n", "slot", "choice");
      for (size_t i = 0; i < p->n_groups && i < json_array_size(choice); i++)
        printf("%-16s  %-16s\n", p->group_name[i], json_string_value(json_array_get(choice, i)));
      json_t *totals = json_object_get(r, "totals");
      printf("\n%-16s %14s %14s %14s\n", "cost", "total", "budget", "headroom");
      for (size_t k = 0; k < p->n_keys; k++) {
        double t = client_num(totals, p->key[k]);
        if (p->has_budget[k])
          printf("%-16s %14.6g %14.6g %14.6g\n", p->key[k], t, p->budget[k], p->budget[k] - t);
        else
          printf("%-16s %14.6g %14s %14s\n", p->key[k], t, "-", "-");
      }
    } else if (!strcmp(status, "infeasible")) {
      json_t *mt = json_object_get(r, "min_totals");
      printf("\n%-16s %14s %14s\n", "cost", "smallest total", "budget");
      for (size_t k = 0; k < p->n_keys; k++)
        if (p->has_budget[k])
          printf("%-16s %14.6g %14.6g\n", p->key[k], client_num(mt, p->key[k]), p->budget[k]);
    }
  }
  int code = CLIENT_EXIT_OK;
  if (!strcmp(status, "infeasible")) {
    fprintf(stderr, "hant-client solve: infeasible: no choice meets the budgets\n");
    code = CLIENT_EXIT_INFEASIBLE;
  } else if (!strcmp(status, "time_limit") && !json_is_array(json_object_get(r, "choice"))) {
    fprintf(stderr, "hant-client solve: time limit reached; no choice found yet\n");
    code = CLIENT_EXIT_FAILURE;
  }
  json_decref(r);
  return code;
}

int cmd_solve(int argc, char **argv) {
  const char *path = NULL, *pareto = NULL;
  bool json = false, no_other = false, local = false;
  double tl = -1;
  long pts = 0, kbest = 0;
  char tl_help[192];
  snprintf(tl_help, sizeof(tl_help),
           "stop after N ms with the best choice so far and its gap;\n"
           "overrides the file's time_limit_ms; 0 means no limit;\n"
           "default %.0f ms",
           DEFAULT_TIME_LIMIT_MS);
  const hant_opt opts[] = {
      HANT_OPT_STRING("problem", 0, &path, "FILE", "the problem file (JSON)"),
      HANT_OPT_FLAG("json", 0, &json, "print the answer as JSON (schema/answer.schema.json)"),
      HANT_OPT_DOUBLE("time-limit-ms", 0, &tl, 0, 1e9, "N", tl_help),
      HANT_OPT_STRING("pareto", 0, &pareto, "COSTKEY",
                      "print the Pareto front of value against that cost\n"
                      "(its budget is ignored; the others hold on every point)"),
      HANT_OPT_INT("points", 0, &pts, 1, 1e6, "N", "sample the front at N evenly spaced budget levels"),
      HANT_OPT_FLAG("no-other-budgets", 0, &no_other, "ignore the other budgets too in the front"),
      HANT_OPT_FLAG("local", 0, &local, "solve in this process, without hantd"),
      HANT_OPT_INT("kbest", 0, &kbest, 1, 100000, "K",
                   "with --local: list the K best distinct choices, best\n"
                   "first (ties in order of the items' positions)"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {
      .name = "hant-client solve",
      .usage = solve_usage,
      .footer = "\nExit status: 0 answered (optimal, or time limit with a choice), 1 failure\n"
                "(unreadable or invalid file, or time limit without any choice), 2 usage,\n"
                "3 daemon unreachable, 4 infeasible (no choice meets the budgets), 5 daemon error.\n",
      .column = 22,
      .opts = opts};
  int parsed = client_parse(&cmd, argc, argv);
  if (parsed >= 0)
    return parsed;
  int respect = !no_other;
  if (!path) {
    fprintf(stderr, "hant-client solve: --problem FILE is required\n");
    hant_opt_help(&cmd, stderr);
    return CLIENT_EXIT_USAGE;
  }
  if (pts > 0 && !pareto) {
    fprintf(stderr, "hant-client solve: --points needs --pareto COSTKEY\n");
    return CLIENT_EXIT_USAGE;
  }
  if (kbest > 0 && (!local || pareto)) {
    fprintf(stderr, "hant-client solve: --kbest needs --local and no --pareto\n");
    return CLIENT_EXIT_USAGE;
  }
  struct hant_problem *p = NULL;
  int rc = hant_problem_load(path, NULL, &p);
  if (rc < 0) {
    fprintf(stderr, "hant-client solve: %s\n", hant_errmsg());
    return CLIENT_EXIT_FAILURE;
  }
  if (!local) {
    rc = run_daemon(p, path, pareto, (size_t)pts, respect, tl, json);
    hant_problem_destroy(p);
    return rc;
  }
  if (pareto) {
    rc = run_front(p, pareto, (size_t)pts, respect, json);
    hant_problem_destroy(p);
    return rc;
  }
  struct hant_select_problem view;
  hant_problem_view(p, &view);
  view.time_limit_ms = tl >= 0                ? tl
                       : p->time_limit_ms >= 0 ? p->time_limit_ms
                                               : DEFAULT_TIME_LIMIT_MS;
  if (kbest > 0) {
    rc = run_kbest(p, (size_t)kbest, view.time_limit_ms, json);
    hant_problem_destroy(p);
    return rc;
  }
  struct hant_select_result r;
  hant_select_result_init(&r);
  rc = hant_select_solve(&view, &r);
  if (rc < 0) {
    fprintf(stderr, "hant-client solve: %s: %s\n", path, hant_errmsg());
    hant_problem_destroy(p);
    return CLIENT_EXIT_FAILURE;
  }
  int code = CLIENT_EXIT_OK;
  if (r.status == HANT_SELECT_INFEASIBLE) {
    fprintf(stderr, "hant-client solve: infeasible: no choice meets the budgets\n");
    code = CLIENT_EXIT_INFEASIBLE;
  } else if (r.status == HANT_SELECT_TIME_LIMIT) {
    fprintf(stderr, "hant-client solve: time limit of %.0f ms reached; %s\n", view.time_limit_ms,
            r.has_choice ? "the answer is the best choice found, with its gap"
                         : "no choice found yet");
    if (!r.has_choice)
      code = CLIENT_EXIT_FAILURE;
  }
  if (json) {
    char *s = hant_problem_answer_json(p, &r);
    if (!s) {
      fprintf(stderr, "hant-client solve: out of memory writing the answer\n");
      code = CLIENT_EXIT_FAILURE;
    } else {
      printf("%s\n", s);
      free(s);
    }
  } else {
    print_table(p, &r);
  }
  hant_select_result_free(&r);
  hant_problem_destroy(p);
  return code;
}
