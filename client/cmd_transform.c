/* SPDX-License-Identifier: MIT */
/* cmd_transform.c: hant-client transform and pareto: a device and budgets in, the chosen network (or the front) out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "commands.h"
#include "rpc_client.h"

static void transform_usage(FILE *f) {
  fprintf(f,
          "usage: hant-client [--socket PATH] transform --device NAME [--budget B]... [--fps F]\n"
          "                   [--grid G] [--power-mode M] [--time-limit-ms N] [--out FILE [--no-wait]]\n"
          "                   [--finetune N] [--finetune-samples N] [--eval] [--eval-samples N] [--json]\n"
          "\n"
          "Asks hantd for the best candidate per slot of its library on a device within the\n"
          "budgets, and prints the choice with its predicted accuracy, latency, energy,\n"
          "power, memory, MACs and CO2e against the budgets.\n"
          "\n"
          "  --device NAME       a device with costs in the library (see 'hant-client devices')\n"
          "  --budget B          a budget with its unit; repeat for several:\n"
          "                      latency 15ms, 500us, 0.1s; energy 3mJ, 200uJ, 1J;\n"
          "                      power 2W, 500mW; memory 4MB, 512KB, 1MiB (weights + peak\n"
          "                      activations); work 300MMAC, 1GMAC\n"
          "  --fps F             frame rate: latency at most 1/F and, with a power budget,\n"
          "                      sustained power F*E + P_idle*(1 - F*T) within it\n"
          "  --grid G            grid carbon intensity in gCO2/kWh for CO2e (default %.0f)\n"
          "  --power-mode M      use this power mode only (default: choose the best)\n"
          "  --time-limit-ms N   solver time limit (default: the daemon's)\n"
          "  --out FILE          also assemble the network and write it as ONNX (a job);\n"
          "                      waits for it with a progress bar unless --no-wait. hantd\n"
          "                      writes the file in your directory of its state, under\n"
          "                      FILE's name; the client then copies it to FILE\n"
          "                      (with --no-wait, copy it yourself from where the answer says)\n"
          "  --finetune N        with --out: fine-tune the assembled network for N epochs by\n"
          "                      knowledge distillation from the teacher (KL on logits plus\n"
          "                      cross-entropy, training split), then evaluate it on the\n"
          "                      validation and test splits: predicted and measured accuracy\n"
          "  --finetune-samples N  fine-tune on the first N training images only (0: all)\n"
          "  --eval              with --out: evaluate on val and test without fine-tuning\n"
          "  --measure           device host with a latency budget: measure the assembled\n"
          "                      network here and re-solve with a tighter budget until it fits\n"
          "  --eval-samples N    evaluate on the first N images of each split (0: all)\n"
          "  --json              print the daemon's answer (and the job's) as JSON\n"
          "\n"
          "Exit status: 0 answered, 2 usage, 3 daemon unreachable, 4 infeasible budgets,\n"
          "5 daemon error, 1 the export job failed.\n",
          475.0);
}

static void pareto_usage(FILE *f) {
  fprintf(f,
          "usage: hant-client [--socket PATH] pareto --device NAME --axis KIND [--budget B]... [--fps F]\n"
          "                   [--power-mode M] [--points N] [--no-other-budgets] [--json]\n"
          "\n"
          "Prints the Pareto front of predicted accuracy against one cost on a device, per power\n"
          "mode: for each level of the cost, the best network the library offers.\n"
          "\n"
          "  --axis KIND         latency_ms, energy_mj, memory_bytes or macs (or ms, mJ, MB, MAC)\n"
          "  --budget B          budgets every point also meets (the axis's own is ignored)\n"
          "  --points N          sample the front at N levels (default 20; 0: every point)\n"
          "  --no-other-budgets  ignore the other budgets\n"
          "  --json              print the daemon's answer as JSON\n"
          "\n"
          "Exit status: 0 answered, 2 usage, 3 daemon unreachable, 5 daemon error.\n");
}

static int parse_num(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(x) || x < lo || x > hi) {
    fprintf(stderr, "hant-client %s: %s: expected a number from %g to %g, got '%s'\n", cmd, opt, lo, hi, s);
    return -1;
  }
  *out = x;
  return 0;
}

/* Options shared by transform and pareto. */
struct target {
  const char *device, *power_mode;
  json_t *budgets; /* array of strings, checked here so typos get a usage error */
  double fps, grid, time_limit_ms;
};

/* Returns 1 when argv[*i] was a target option, 0 when not, -1 on a usage error. */
static int target_opt(const char *cmd, int argc, char **argv, int *i, struct target *t) {
  const char *a = argv[*i];
  bool has = *i + 1 < argc;
  if (!has)
    return 0;
  if (!strcmp(a, "--device")) {
    t->device = argv[++*i];
  } else if (!strcmp(a, "--power-mode")) {
    t->power_mode = argv[++*i];
  } else if (!strcmp(a, "--budget")) {
    const char *b = argv[++*i];
    hant_budget bud;
    if (hant_budget_parse(b, &bud)) {
      fprintf(stderr, "hant-client %s: --budget: %s\n", cmd, hant_errmsg());
      return -1;
    }
    json_array_append_new(t->budgets, json_string(b));
  } else if (!strcmp(a, "--fps")) {
    if (parse_num(cmd, a, argv[++*i], 1e-6, 1e6, &t->fps))
      return -1;
  } else if (!strcmp(a, "--grid")) {
    if (parse_num(cmd, a, argv[++*i], 0, 1e5, &t->grid))
      return -1;
  } else if (!strcmp(a, "--time-limit-ms")) {
    if (parse_num(cmd, a, argv[++*i], 0, 600000, &t->time_limit_ms))
      return -1;
  } else {
    return 0;
  }
  return 1;
}

static json_t *target_params(const struct target *t) {
  json_t *p = json_object();
  json_object_set_new(p, "device", json_string(t->device));
  if (json_array_size(t->budgets))
    json_object_set(p, "budgets", t->budgets);
  if (t->fps > 0)
    json_object_set_new(p, "fps", json_real(t->fps));
  if (t->grid >= 0)
    json_object_set_new(p, "grid_g_per_kwh", json_real(t->grid));
  if (t->power_mode || t->time_limit_ms >= 0) {
    json_t *o = json_object();
    if (t->power_mode)
      json_object_set_new(o, "power_mode", json_string(t->power_mode));
    if (t->time_limit_ms >= 0)
      json_object_set_new(o, "time_limit_ms", json_real(t->time_limit_ms));
    json_object_set_new(p, "options", o);
  }
  return p;
}

static void row(const char *what, const char *key, double total, double budget) {
  char t[48], b[48], h[64];
  client_fmt_kind(key, total, t, sizeof(t));
  if (isfinite(budget)) {
    client_fmt_kind(key, budget, b, sizeof(b));
    char d[48];
    client_fmt_kind(key, fabs(budget - total), d, sizeof(d));
    if (total <= budget)
      snprintf(h, sizeof(h), "%s (%.0f%%)", d, budget > 0 ? 100 * (budget - total) / budget : 0);
    else
      snprintf(h, sizeof(h), "over by %s", d);
  } else {
    snprintf(b, sizeof(b), "-");
    snprintf(h, sizeof(h), "-");
  }
  printf("%-18s %-16s %-16s %s\n", what, t, b, h);
}

static void print_transform(const json_t *r) {
  const char *status = client_str(r, "status", "?");
  json_t *budgets = json_object_get(r, "budgets");
  double fps = client_num(r, "fps");
  const char *mode = client_str(r, "power_mode", NULL);
  printf("%s on %s%s%s: %s", json_is_true(json_object_get(r, "cache_hit")) ? "cached answer" : "answer",
         client_str(r, "device", "?"), mode ? ", power mode " : "", mode ? mode : "", status);
  printf(" (%.3f ms, %lld modes tried, library version %lld)\n", client_num(r, "solve_ms"),
         (long long)json_integer_value(json_object_get(r, "modes_tried")),
         (long long)json_integer_value(json_object_get(r, "library_version")));
  json_t *slots = json_object_get(r, "slots");
  if (json_is_array(slots)) {
    size_t w = 4, i;
    json_t *s;
    json_array_foreach(slots, i, s) {
      size_t l = strlen(client_str(s, "slot", ""));
      w = l > w ? l : w;
    }
    printf("\n%-*s %9s  %-10s %-26s %9s %12s %12s\n", (int)w, "slot", "candidate", "family", "key", "score",
           "latency ms", "energy mJ");
    json_array_foreach(slots, i, s) {
      printf("%-*s %9lld  %-10s %-26.26s %+9.4f %12.5g %12.5g\n", (int)w, client_str(s, "slot", "?"),
             (long long)json_integer_value(json_object_get(s, "candidate")), client_str(s, "family", "?"),
             client_str(s, "key", "?"), client_num(s, "score"), client_num(s, "latency_ms"),
             client_num(s, "energy_mj"));
    }
    json_t *t = json_object_get(r, "totals");
    printf("\n%-18s %-16s %-16s %s\n", "total", "predicted", "budget", "headroom");
    double lb = client_num(budgets, "latency_ms");
    if (isfinite(fps) && (!isfinite(lb) || 1000.0 / fps < lb))
      lb = 1000.0 / fps;
    row("latency", "latency_ms", client_num(t, "latency_ms"), lb);
    row("energy", "energy_mj", client_num(t, "energy_mj"), client_num(budgets, "energy_mj"));
    if (isfinite(fps)) {
      row("power (inferring)", "power_w", client_num(t, "power_w"), NAN);
      char what[48];
      snprintf(what, sizeof(what), "power at %g fps", fps);
      row(what, "power_w", client_num(t, "sustained_power_w"), client_num(budgets, "power_w"));
    } else {
      row("power", "power_w", client_num(t, "power_w"), client_num(budgets, "power_w"));
    }
    row("memory", "memory_bytes", client_num(t, "memory_bytes"), client_num(budgets, "memory_bytes"));
    row("MACs", "macs", client_num(t, "macs"), client_num(budgets, "macs"));
    printf("%-18s %.4f predicted (teacher %.4f, summed scores %+.4f)\n", "accuracy",
           client_num(r, "predicted_accuracy"), client_num(r, "teacher_accuracy"), client_num(r, "score"));
    printf("%-18s %.4g g per million inferences at %g gCO2/kWh\n", "CO2e", client_num(r, "co2e_g_per_million"),
           client_num(r, "grid_g_per_kwh"));
    json_t *lc = json_object_get(r, "latency_correction");
    if (json_is_object(lc))
      printf("%-18s latency = %.4g x sum of the candidates' + %.4g ms (measured additivity)\n", "",
             client_num(lc, "factor"), client_num(lc, "overhead_ms"));
    json_t *ml = json_object_get(r, "measured_latency");
    if (json_is_object(ml))
      printf("%-18s %.4g ms measured on this machine after %lld solve%s: %s the latency budget\n", "measured",
             client_num(ml, "latency_ms"), (long long)json_integer_value(json_object_get(ml, "rounds")),
             json_integer_value(json_object_get(ml, "rounds")) == 1 ? "" : "s",
             json_is_true(json_object_get(ml, "fits")) ? "within" : "over");
    if (json_integer_value(json_object_get(r, "skipped_candidates")))
      printf("(%lld candidates without costs on this device were left out)\n",
             (long long)json_integer_value(json_object_get(r, "skipped_candidates")));
  }
  if (!strcmp(status, "infeasible")) {
    printf("\nNo network in the library meets these budgets together.\n");
    json_t *mt = json_object_get(r, "min_totals");
    printf("%-18s %-16s %-16s\n", "budget", "smallest total", "budget");
    const char *k;
    json_t *v;
    json_object_foreach(mt, k, v) {
      char a[48], b[48];
      client_fmt_kind(k, json_is_number(v) ? json_number_value(v) : NAN, a, sizeof(a));
      double bv = client_num(budgets, k);
      if (!strcmp(k, "latency_ms") && isfinite(fps) && (!isfinite(bv) || 1000.0 / fps < bv))
        bv = 1000.0 / fps;
      client_fmt_kind(k, bv, b, sizeof(b));
      printf("%-18s %-16s %-16s\n", k, a, b);
    }
    json_t *ob = json_object_get(r, "over_budget");
    size_t i;
    json_t *o;
    if (json_array_size(ob)) {
      printf("Out of reach on its own:");
      json_array_foreach(ob, i, o) printf(" %s", json_string_value(o));
      printf("\n");
    } else if (json_is_true(json_object_get(r, "jointly_infeasible"))) {
      printf("Each budget can be met alone, but not all of them at once.\n");
    }
  } else if (!strcmp(status, "time_limit")) {
    printf("(time limit reached: the choice is the best found, within %.4g of the optimum)\n", client_num(r, "gap"));
  }
}

int cmd_transform(int argc, char **argv) {
  struct target t = {NULL, NULL, json_array(), 0, -1, -1};
  const char *out = NULL;
  bool json = false, wait = true, eval = false, measure = false;
  double finetune = -1, ft_samples = -1, ev_samples = -1;
  int code = CLIENT_EXIT_USAGE;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 < argc && (!strcmp(a, "--finetune") || !strcmp(a, "--finetune-samples") || !strcmp(a, "--eval-samples"))) {
      double *v = !strcmp(a, "--finetune") ? &finetune : !strcmp(a, "--finetune-samples") ? &ft_samples : &ev_samples;
      if (parse_num("transform", a, argv[++i], 0, v == &finetune ? 1000 : v == &ft_samples ? 55000 : 10000, v) ||
          *v != floor(*v)) {
        if (*v != floor(*v))
          fprintf(stderr, "hant-client transform: %s: expected a whole number\n", a);
        goto done;
      }
      continue;
    }
    if (!strcmp(a, "--eval")) {
      eval = true;
      continue;
    }
    if (!strcmp(a, "--measure")) {
      measure = true;
      continue;
    }
    int k = target_opt("transform", argc, argv, &i, &t);
    if (k < 0)
      goto done;
    if (k > 0)
      continue;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      transform_usage(stdout);
      code = CLIENT_EXIT_OK;
      goto done;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--no-wait")) {
      wait = false;
    } else if (!strcmp(a, "--out") && i + 1 < argc) {
      out = argv[++i];
    } else {
      fprintf(stderr, "hant-client transform: %s '%s'; see 'hant-client transform --help'\n",
              a[0] == '-' ? "unknown option or missing argument" : "unknown argument", a);
      goto done;
    }
  }
  if (!t.device) {
    fprintf(stderr, "hant-client transform: --device NAME is required (see 'hant-client devices')\n");
    goto done;
  }
  json_t *p = target_params(&t);
  char abs[1024];
  if (out) {
    /* hantd writes in its own places only: it gets FILE's name, writes
     * there, and this client, running as the user, places the file. */
    const char *slash = strrchr(out, '/');
    const char *name = slash ? slash + 1 : out;
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > 255) {
      fprintf(stderr, "hant-client transform: --out: expected a file name, got '%s'\n", out);
      json_decref(p);
      goto done;
    }
    if (client_absolute(out, abs, sizeof(abs))) {
      fprintf(stderr, "hant-client transform: --out: path too long\n");
      json_decref(p);
      goto done;
    }
    char dir[1024];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(abs, '/') - abs) ? (int)(strrchr(abs, '/') - abs) : 1, abs);
    if (access(dir, W_OK | X_OK)) {
      /* Before the job, not after its fine-tuning. */
      fprintf(stderr, "hant-client transform: --out: %s: %s\n", dir, strerror(errno));
      json_decref(p);
      code = CLIENT_EXIT_FAILURE;
      goto done;
    }
    json_object_set_new(p, "out", json_string(name));
    if (finetune >= 0)
      json_object_set_new(p, "finetune_epochs", json_integer((json_int_t)finetune));
    if (ft_samples >= 0)
      json_object_set_new(p, "finetune_samples", json_integer((json_int_t)ft_samples));
    if (ev_samples >= 0)
      json_object_set_new(p, "eval_samples", json_integer((json_int_t)ev_samples));
    if (eval)
      json_object_set_new(p, "evaluate", json_true());
  } else if (finetune >= 0 || ft_samples >= 0 || ev_samples >= 0 || eval) {
    fprintf(stderr, "hant-client transform: --finetune and --eval need --out FILE\n");
    json_decref(p);
    goto done;
  }
  if (measure)
    json_object_set_new(p, "measure", json_true());
  client_conn c;
  if ((code = client_connect(&c))) {
    json_decref(p);
    goto done;
  }
  json_t *r = NULL;
  code = client_call(&c, "transform", "transform", p, &r, NULL, NULL, NULL);
  if (code == CLIENT_EXIT_OK) {
    if (json)
      client_print_json(r);
    else
      print_transform(r);
    const char *status = client_str(r, "status", "");
    if (!strcmp(status, "infeasible")) {
      fprintf(stderr, "hant-client transform: infeasible: no network meets the budgets\n");
      code = CLIENT_EXIT_INFEASIBLE;
    } else if (!json_is_array(json_object_get(r, "slots"))) {
      fprintf(stderr, "hant-client transform: the time limit ran out before any choice was found\n");
      code = CLIENT_EXIT_FAILURE;
    }
    json_t *job = json_object_get(r, "job");
    if (code == CLIENT_EXIT_OK && json_is_object(job)) {
      long long id = (long long)json_integer_value(json_object_get(job, "id"));
      if (!wait) {
        if (!json)
          printf("\nexport job %lld queued: hantd writes %s ('hant-client jobs wait %lld' waits for it); copy it to "
                 "%s yourself\n",
                 id, client_str(job, "out", "?"), id, abs);
      } else {
        if (!json)
          printf("\n");
        json_t *done_job = NULL;
        code = client_wait_job_quiet(&c, "transform", id, json, &done_job);
        json_t *res = json_object_get(done_job, "result");
        if (code == CLIENT_EXIT_OK) {
          char err[1400];
          if (client_place_file(client_str(res, "out", ""), abs, err, sizeof(err))) {
            fprintf(stderr, "hant-client transform: --out %s: %s\n", abs, err);
            code = CLIENT_EXIT_FAILURE;
          } else {
            json_object_set_new(res, "placed", json_string(abs));
          }
        }
        if (done_job && (code == CLIENT_EXIT_OK || json))
          client_print_job(done_job, json);
        json_decref(done_job);
      }
    }
  }
  json_decref(r);
  client_close(&c);
done:
  json_decref(t.budgets);
  return code;
}

static const char *axis_key(const char *a) {
  static const struct {
    const char *alias, *key;
  } m[] = {{"latency_ms", "latency_ms"}, {"latency", "latency_ms"}, {"ms", "latency_ms"},
           {"energy_mj", "energy_mj"},   {"energy", "energy_mj"},   {"mJ", "energy_mj"},
           {"memory_bytes", "memory_bytes"}, {"memory", "memory_bytes"}, {"MB", "memory_bytes"},
           {"macs", "macs"}, {"MAC", "macs"}, {"MMAC", "macs"}};
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
    if (!strcmp(a, m[i].alias))
      return m[i].key;
  return NULL;
}

int cmd_pareto(int argc, char **argv) {
  struct target t = {NULL, NULL, json_array(), 0, -1, -1};
  const char *axis = NULL;
  bool json = false, respect = true;
  double points = 20;
  int code = CLIENT_EXIT_USAGE;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int k = target_opt("pareto", argc, argv, &i, &t);
    if (k < 0)
      goto done;
    if (k > 0)
      continue;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      pareto_usage(stdout);
      code = CLIENT_EXIT_OK;
      goto done;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--no-other-budgets")) {
      respect = false;
    } else if (!strcmp(a, "--axis") && i + 1 < argc) {
      if (!(axis = axis_key(argv[++i]))) {
        fprintf(stderr, "hant-client pareto: --axis: expected latency_ms, energy_mj, memory_bytes or macs, got '%s'\n",
                argv[i]);
        goto done;
      }
    } else if (!strcmp(a, "--points") && i + 1 < argc) {
      if (parse_num("pareto", a, argv[++i], 0, 10000, &points) || points != floor(points))
        goto done;
    } else {
      fprintf(stderr, "hant-client pareto: %s '%s'; see 'hant-client pareto --help'\n",
              a[0] == '-' ? "unknown option or missing argument" : "unknown argument", a);
      goto done;
    }
  }
  if (!t.device || !axis) {
    fprintf(stderr, "hant-client pareto: --device NAME and --axis KIND are required\n");
    goto done;
  }
  json_t *p = target_params(&t);
  json_object_set_new(p, "axis", json_string(axis));
  json_object_set_new(p, "points", json_integer((json_int_t)points));
  json_object_set_new(p, "respect_budgets", json_boolean(respect));
  json_t *r = NULL;
  code = client_call_once("pareto", "pareto", p, &r);
  if (code == CLIENT_EXIT_OK) {
    if (json) {
      client_print_json(r);
    } else {
      printf("Pareto front of predicted accuracy against %s on %s (library version %lld, %.2f ms)\n", axis,
             client_str(r, "device", "?"), (long long)json_integer_value(json_object_get(r, "library_version")),
             client_num(r, "solve_ms"));
      size_t i;
      json_t *f;
      json_array_foreach(json_object_get(r, "fronts"), i, f) {
        const char *mode = client_str(f, "power_mode", NULL);
        printf("\n%s%s: %s\n", mode ? "power mode " : "", mode ? mode : "front",
               json_is_true(json_object_get(f, "infeasible")) ? "no network meets the other budgets"
               : json_is_true(json_object_get(f, "exact"))    ? "exact"
                                                              : "approximate");
        printf("  %-16s %10s %10s\n", axis, "accuracy", "score");
        size_t j;
        json_t *pt;
        json_array_foreach(json_object_get(f, "points"), j, pt) {
          char c[48];
          client_fmt_kind(axis, client_num(pt, "cost"), c, sizeof(c));
          printf("  %-16s %10.4f %+10.4f\n", c, client_num(pt, "predicted_accuracy"), client_num(pt, "score"));
        }
      }
    }
  }
  json_decref(r);
done:
  json_decref(t.budgets);
  return code;
}
