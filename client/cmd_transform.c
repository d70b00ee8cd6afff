/* SPDX-License-Identifier: MIT */
/* cmd_transform.c: hant-client transform and pareto: a device and budgets in, the chosen network (or the front) out. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "commands.h"
#include "rpc_client.h"

static const char transform_usage[] =
    "usage: hant-client [--socket PATH] transform --device NAME [--budget B]... [--fps F]\n"
    "                   [--grid G] [--power-mode M] [--time-limit-ms N] [--out FILE [--no-wait]]\n"
    "                   [--finetune N|auto] [--finetune-samples N] [--eval] [--eval-samples N] [--measure]\n"
    "                   [--rerank K [--rerank-images N]] [--json]\n"
    "\n"
    "Asks hantd for the best candidate per slot of its library on a device within the\n"
    "budgets, and prints the choice with its predicted accuracy, latency, energy,\n"
    "power, memory, MACs and CO2e against the budgets.\n"
    "\n";

static const char pareto_usage[] =
    "usage: hant-client [--socket PATH] pareto --device NAME --axis KIND [--budget B]... [--fps F]\n"
    "                   [--power-mode M] [--points N] [--no-other-budgets] [--json]\n"
    "\n"
    "Prints the Pareto front of predicted accuracy against one cost on a device, per power\n"
    "mode: for each level of the cost, the best network the library offers.\n"
    "\n";

/* Options shared by transform and pareto. */
struct target {
  const char *device, *power_mode;
  hant_opt_list budget_args; /* as given; checked by target_budgets */
  json_t *budgets;           /* array of strings */
  double fps, grid, time_limit_ms;
};

/* Checks every --budget, so that typos get a usage error here rather than
 * an answer from the daemon, and collects them for the request. */
static int target_budgets(const char *cmd, struct target *t) {
  for (int i = 0; i < t->budget_args.n; i++) {
    hant_budget bud;
    if (hant_budget_parse(t->budget_args.v[i], &bud)) {
      fprintf(stderr, "hant-client %s: --budget: %s\n", cmd, hant_errmsg());
      return -1;
    }
    json_array_append_new(t->budgets, json_string(t->budget_args.v[i]));
  }
  return 0;
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

/* One line of the comparison with the teacher: "energy  16.4 mJ -> 4.6 mJ (-72 %)". */
static void versus(const char *what, const char *key, double teacher, double chosen, const json_t *cut) {
  if (!isfinite(teacher) || !isfinite(chosen))
    return;
  char a[48], b[48], c[32];
  if (key) {
    client_fmt_kind(key, teacher, a, sizeof(a));
    client_fmt_kind(key, chosen, b, sizeof(b));
  } else {
    snprintf(a, sizeof(a), "%.4f", teacher);
    snprintf(b, sizeof(b), "%.4f", chosen);
  }
  if (json_is_number(cut))
    snprintf(c, sizeof(c), "(%+.0f %%)", json_number_value(cut));
  else
    snprintf(c, sizeof(c), "(-)");
  printf("%-18s %s -> %s %s\n", what, a, b, c);
}

/* The teacher beside the answer, on the same device and mode. */
static void print_teacher(const json_t *r, double fps) {
  json_t *te = json_object_get(r, "teacher"), *cut = json_object_get(r, "cut_percent");
  if (!json_is_object(te) || !json_is_object(cut))
    return;
  json_t *tt = json_object_get(te, "totals"), *t = json_object_get(r, "totals");
  const char *mode = client_str(te, "power_mode", NULL);
  printf("\nagainst the teacher on %s%s%s (teacher -> this network):\n", client_str(r, "device", "?"),
         mode ? ", power mode " : "", mode ? mode : "");
  versus("latency", "latency_ms", client_num(tt, "latency_ms"), client_num(t, "latency_ms"),
         json_object_get(cut, "latency_ms"));
  versus("energy", "energy_mj", client_num(tt, "energy_mj"), client_num(t, "energy_mj"),
         json_object_get(cut, "energy_mj"));
  if (isfinite(fps))
    versus("power at fps", "power_w", client_num(tt, "sustained_power_w"), client_num(t, "sustained_power_w"),
           json_object_get(cut, "sustained_power_w"));
  versus("power", "power_w", client_num(tt, "power_w"), client_num(t, "power_w"), json_object_get(cut, "power_w"));
  versus("memory", "memory_bytes", client_num(tt, "memory_bytes"), client_num(t, "memory_bytes"),
         json_object_get(cut, "memory_bytes"));
  versus("MACs", "macs", client_num(tt, "macs"), client_num(t, "macs"), json_object_get(cut, "macs"));
  char a[48], b[48], c[32];
  snprintf(a, sizeof(a), "%.4g g", client_num(te, "co2e_g_per_million"));
  snprintf(b, sizeof(b), "%.4g g", client_num(r, "co2e_g_per_million"));
  json_t *cc = json_object_get(cut, "co2e_g_per_million");
  snprintf(c, sizeof(c), json_is_number(cc) ? "(%+.0f %%)" : "(-)", json_number_value(cc));
  printf("%-18s %s -> %s %s per million inferences\n", "CO2e", a, b, c);
  versus("accuracy", NULL, client_num(te, "predicted_accuracy"), client_num(r, "predicted_accuracy"),
         json_object_get(cut, "predicted_accuracy"));
  if (json_is_true(json_object_get(r, "teacher_chosen")))
    printf("The teacher itself is the answer: no other network is as accurate and no worse on the budgets.\n");
}

/* The predicted accuracy, whether it is calibrated (with its held-out
 * error) or the plain sum of scores, and what made the choice. */
static void print_prediction(const json_t *r) {
  double err = client_num(r, "predicted_accuracy_error");
  bool cal = !strcmp(client_str(r, "prediction", "uncalibrated"), "calibrated");
  char e[48] = "";
  if (cal && isfinite(err))
    snprintf(e, sizeof(e), " +- %.1f", 100 * err);
  printf("%-18s predicted %.2f %%%s (%s; teacher %.2f %%, summed scores %+.4f)\n", "accuracy",
         100 * client_num(r, "predicted_accuracy"), e, cal ? "calibrated" : "uncalibrated",
         100 * client_num(r, "teacher_accuracy"), client_num(r, "score"));
  const char *values = client_str(r, "objective_values", NULL);
  const char *prec = client_str(r, "precision", NULL), *sprec = client_str(r, "scores_precision", NULL);
  bool int8 = sprec && !strcmp(sprec, "int8");
  if (values)
    printf("%-18s chose the best by %s\n", "objective",
           !strcmp(values, "divergence")
               ? (int8 ? "each candidate's divergence from the teacher plus what quantising costs it"
                       : "each candidate's divergence from the teacher (its accuracy cost)")
           : !strcmp(values, "calibrated") ? "the calibrated fit's coefficients"
           : int8                          ? "the noise-aware single-slot int8 scores"
                                           : "the noise-aware single-slot scores");
  /* an int8 device served fp32 scores says so */
  if (prec && sprec)
    printf("%-18s the network runs in %s on this device; accuracy and scores measured in %s\n", "precision", prec,
           sprec);
  json_t *rr = json_object_get(r, "rerank");
  if (!json_is_object(rr))
    return;
  json_t *cands = json_object_get(rr, "candidates");
  const char *rprec = client_str(rr, "precision", NULL);
  printf("%-18s chosen by measured validation accuracy%s on %lld images, among the %zu best predicted:\n", "",
         rprec && !strcmp(rprec, "int8") ? " in int8" : "", (long long)json_integer_value(json_object_get(rr, "images")),
         json_array_size(cands));
  printf("%-18s %4s %10s %10s %12s %12s %10s %s\n", "", "rank", "predicted", "measured", "latency ms", "energy mJ",
         "power W", "mode");
  size_t i;
  json_t *c;
  json_array_foreach(cands, i, c) {
    json_t *t = json_object_get(c, "totals");
    printf("%-18s %4zu %9.2f%% %9.2f%% %12.5g %12.5g %10.4g %s%s\n", "", i,
           100 * client_num(c, "predicted_accuracy"), 100 * client_num(c, "measured_accuracy"),
           client_num(t, "latency_ms"), client_num(t, "energy_mj"), client_num(t, "power_w"),
           client_str(c, "power_mode", "-"), json_is_true(json_object_get(c, "chosen")) ? "  <- chosen" : "");
  }
}

static void print_transform(const json_t *r) {
  const char *status = client_str(r, "status", "?");
  json_t *budgets = json_object_get(r, "budgets");
  double fps = client_num(r, "fps");
  const char *mode = client_str(r, "power_mode", NULL);
  printf("%s on %s%s%s: %s", json_is_true(json_object_get(r, "cache_hit")) ? "cached answer" : "answer",
         client_str(r, "device", "?"), mode ? ", power mode " : "", mode ? mode : "", status);
  long long tried = (long long)json_integer_value(json_object_get(r, "modes_tried"));
  printf(" (%.3f ms, %lld %s tried, library version %lld)\n", client_num(r, "solve_ms"), tried,
         hant_plural(tried, "mode", "modes"), (long long)json_integer_value(json_object_get(r, "library_version")));
  json_t *rel = json_object_get(r, "relative_budgets");
  if (json_object_size(rel)) {
    const char *k;
    json_t *v;
    printf("relative budgets:");
    json_object_foreach(rel, k, v) {
      char a[48];
      client_fmt_kind(k, client_num(v, "value"), a, sizeof(a));
      printf(" %s = %s;", client_str(v, "budget", "?"), a);
    }
    printf(" of the teacher on this device\n");
  }
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
    print_prediction(r);
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
    double se = client_num(r, "noise_se");
    if (isfinite(se) && se > 0)
      printf("%-18s gains up to %.4f (one standard error of a score) count as none when choosing\n", "", se);
    print_teacher(r, fps);
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
    /* Power has a floor the device sets, not the network: say what it is. */
    json_t *mf = json_object_get(r, "mode_floors");
    if (json_is_array(mf) && isfinite(client_num(budgets, "power_w"))) {
      json_array_foreach(mf, i, o) {
        const char *m = client_str(o, "power_mode", NULL);
        char fl[48], id[48];
        client_fmt_kind("power_w", client_num(o, "power_floor_w"), fl, sizeof(fl));
        client_fmt_kind("power_w", client_num(o, "idle_w"), id, sizeof(id));
        printf("%s%s: idles at %s; the least power any network draws %s is %s\n", m ? "power mode " : "",
               m ? m : client_str(r, "device", "?"), id, isfinite(fps) ? "at this frame rate" : "while inferring", fl);
      }
    }
  } else if (!strcmp(status, "time_limit")) {
    printf("(time limit reached: the choice is the best found, within %.4g of the optimum)\n", client_num(r, "gap"));
  }
}

int cmd_transform(int argc, char **argv) {
  struct target t = {.budgets = json_array(), .grid = -1, .time_limit_ms = -1};
  const char *out = NULL;
  bool json = false, no_wait = false, eval = false, measure = false;
  long finetune = -1, ft_samples = -1, ev_samples = -1, rerank = -1, rerank_images = -1;
  const char *finetune_arg = NULL;
  char grid_help[64];
  snprintf(grid_help, sizeof(grid_help), "grid carbon intensity in gCO2/kWh for CO2e (default %.0f)",
           HANT_GRID_G_PER_KWH_DEFAULT);
  const hant_opt opts[] = {
      HANT_OPT_STRING("device", 0, &t.device, "NAME", "a device with costs in the library (see 'hant-client devices')"),
      HANT_OPT_LIST("budget", 0, &t.budget_args, "B",
                    "a budget with its unit; repeat for several:\n"
                    "latency 15ms, 500us, 0.1s; energy 3mJ, 200uJ, 1J;\n"
                    "power 2W, 500mW; memory 4MB, 512KB, 1MiB (weights + peak\n"
                    "activations); work 300MMAC, 1GMAC; or relative to\n"
                    "the teacher on the device, N%KIND: 50%energy, 33%latency,\n"
                    "80%power, 50%memory, 25%macs (N in (0, 100])"),
      HANT_OPT_DOUBLE("fps", 0, &t.fps, 1e-6, 1e6, "F",
                      "frame rate: latency at most 1/F and, with a power budget,\n"
                      "sustained power F*E + P_idle*(1 - F*T) within it"),
      HANT_OPT_DOUBLE("grid", 0, &t.grid, 0, 1e5, "G", grid_help),
      HANT_OPT_STRING("power-mode", 0, &t.power_mode, "M", "use this power mode only (default: choose the best)"),
      HANT_OPT_DOUBLE("time-limit-ms", 0, &t.time_limit_ms, 0, 600000, "N", "solver time limit (default: the daemon's)"),
      HANT_OPT_STRING("out", 0, &out, "FILE",
                      "also assemble the network and write it as ONNX (a job);\n"
                      "waits for it with a progress bar unless --no-wait. hantd\n"
                      "writes the file in your directory of its state, under\n"
                      "FILE's name; the client then copies it to FILE\n"
                      "(with --no-wait, copy it yourself from where the answer says)"),
      HANT_OPT_FLAG("no-wait", 0, &no_wait, NULL),
      HANT_OPT_STRING("finetune", 0, &finetune_arg, "N|auto",
                      "with --out: fine-tune the assembled network for N epochs by\n"
                      "knowledge distillation from the teacher (KL on logits plus\n"
                      "cross-entropy, training split), then evaluate it on the\n"
                      "validation and test splits: predicted and measured accuracy;\n"
                      "auto: as long as its loss as assembled asks (validation:\n"
                      "3 epochs within 2 points of the teacher, 8 within 8, else 16)"),
      HANT_OPT_INT("finetune-samples", 0, &ft_samples, 0, 55000, "N",
                   "fine-tune on the first N training images only (0: all)"),
      HANT_OPT_FLAG("eval", 0, &eval, "with --out: evaluate on val and test without fine-tuning"),
      HANT_OPT_FLAG("measure", 0, &measure,
                    "device host with a latency budget: measure the assembled\n"
                    "network here and re-solve with a tighter budget until it fits"),
      HANT_OPT_INT("eval-samples", 0, &ev_samples, 0, 10000, "N",
                   "evaluate on the first N images of each split (0: all)"),
      HANT_OPT_INT("rerank", 0, &rerank, 1, HANT_TRANSFORM_RERANK_K_MAX, "K",
                   "measured re-ranking: assemble the K best choices by\n"
                   "predicted accuracy, measure each on validation images and\n"
                   "answer with the best measured (default 1: no measuring)"),
      HANT_OPT_INT("rerank-images", 0, &rerank_images, 1, 5000, "N",
                   "with --rerank: validation images per choice (default 1000)"),
      HANT_OPT_FLAG("json", 0, &json, "print the daemon's answer (and the job's) as JSON"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-client transform",
                            .usage = transform_usage,
                            .footer = "\nExit status: 0 answered, 2 usage, 3 daemon unreachable, 4 infeasible budgets,\n"
                                      "5 daemon error, 1 the export job failed.\n",
                            .column = 22,
                            .opts = opts};
  bool wait;
  int code = client_parse(&cmd, argc, argv);
  if (code >= 0)
    goto done;
  code = CLIENT_EXIT_USAGE;
  wait = !no_wait;
  if (finetune_arg && client_parse_epochs("hant-client transform", "--finetune", finetune_arg, &finetune))
    goto done;
  if (target_budgets("transform", &t))
    goto done;
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
      /* Before the job, not after its fine-tuning; named as the user gave it. */
      fprintf(stderr, "hant-client transform: --out %s: cannot write in %s: %s\n", out, dir, strerror(errno));
      json_decref(p);
      code = CLIENT_EXIT_FAILURE;
      goto done;
    }
    json_object_set_new(p, "out", json_string(name));
    if (finetune == HANT_FINETUNE_EPOCHS_AUTO)
      json_object_set_new(p, "finetune_epochs", json_string("auto"));
    else if (finetune >= 0)
      json_object_set_new(p, "finetune_epochs", json_integer((json_int_t)finetune));
    if (ft_samples >= 0)
      json_object_set_new(p, "finetune_samples", json_integer((json_int_t)ft_samples));
    if (ev_samples >= 0)
      json_object_set_new(p, "eval_samples", json_integer((json_int_t)ev_samples));
    if (eval)
      json_object_set_new(p, "evaluate", json_true());
  } else if (finetune != -1 || ft_samples >= 0 || ev_samples >= 0 || eval) {
    fprintf(stderr, "hant-client transform: --finetune and --eval need --out FILE\n");
    json_decref(p);
    goto done;
  }
  if (measure)
    json_object_set_new(p, "measure", json_true());
  if (rerank_images >= 0 && rerank < 0) {
    fprintf(stderr, "hant-client transform: --rerank-images needs --rerank K\n");
    json_decref(p);
    goto done;
  }
  if (rerank >= 0)
    json_object_set_new(p, "rerank_k", json_integer((json_int_t)rerank));
  if (rerank_images >= 0)
    json_object_set_new(p, "rerank_images", json_integer((json_int_t)rerank_images));
  client_conn c;
  if ((code = client_connect(&c))) {
    json_decref(p);
    goto done;
  }
  json_t *r = NULL;
  code = client_call(&c, "transform", "transform", p, &r, NULL, NULL, NULL);
  if (code == CLIENT_EXIT_OK) {
    const char *status = client_str(r, "status", "");
    /* A waited-for export prints the answer once the file is in place:
     * an answer printed before a failed --out reads as a success. */
    bool later = wait && json_is_object(json_object_get(r, "job")) && strcmp(status, "infeasible") &&
                 json_is_array(json_object_get(r, "slots"));
    if (!later && json)
      client_print_json(r);
    else if (!later)
      print_transform(r);
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
        json_t *done_job = NULL;
        code = client_wait_job_quiet(&c, "transform", id, json, &done_job);
        json_t *res = json_object_get(done_job, "result");
        bool unplaced = false;
        if (code == CLIENT_EXIT_OK) {
          char err[1400];
          if (client_place_file(client_str(res, "out", ""), abs, err, sizeof(err))) {
            fprintf(stderr, "hant-client transform: --out %s: %s\n", out, err);
            code = CLIENT_EXIT_FAILURE;
            unplaced = true;
          } else {
            json_object_set_new(res, "placed", json_string(abs));
          }
        }
        if (code == CLIENT_EXIT_OK) {
          if (json) {
            client_print_json(r);
          } else {
            print_transform(r);
            printf("\n");
          }
        }
        /* A failed job's record is what --json asked for; a done job
         * whose file could not be placed is not shown as done. */
        if (done_job && (code == CLIENT_EXIT_OK || (json && !unplaced)))
          client_print_job(done_job, json);
        json_decref(done_job);
      }
    }
  }
  json_decref(r);
  client_close(&c);
done:
  hant_opt_list_free(&t.budget_args);
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
  struct target t = {.budgets = json_array(), .grid = -1, .time_limit_ms = -1};
  const char *axis = NULL, *axis_s = NULL;
  bool json = false, no_other = false;
  long points = 20;
  const hant_opt opts[] = {
      HANT_OPT_STRING("device", 0, &t.device, "NAME", NULL),
      HANT_OPT_STRING("axis", 0, &axis_s, "KIND", "latency_ms, energy_mj, memory_bytes or macs (or ms, mJ, MB, MAC)"),
      HANT_OPT_LIST("budget", 0, &t.budget_args, "B", "budgets every point also meets (the axis's own is ignored)"),
      HANT_OPT_DOUBLE("fps", 0, &t.fps, 1e-6, 1e6, "F", NULL),
      HANT_OPT_DOUBLE("grid", 0, &t.grid, 0, 1e5, "G", NULL),
      HANT_OPT_STRING("power-mode", 0, &t.power_mode, "M", NULL),
      HANT_OPT_DOUBLE("time-limit-ms", 0, &t.time_limit_ms, 0, 600000, "N", NULL),
      HANT_OPT_INT("points", 0, &points, 0, 10000, "N", "sample the front at N levels (default 20; 0: every point)"),
      HANT_OPT_FLAG("no-other-budgets", 0, &no_other, "ignore the other budgets"),
      HANT_OPT_FLAG("json", 0, &json, "print the daemon's answer as JSON"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-client pareto",
                            .usage = pareto_usage,
                            .footer = "\nExit status: 0 answered, 2 usage, 3 daemon unreachable, 5 daemon error.\n",
                            .column = 22,
                            .opts = opts};
  bool respect;
  int code = client_parse(&cmd, argc, argv);
  if (code >= 0)
    goto done;
  code = CLIENT_EXIT_USAGE;
  respect = !no_other;
  if (axis_s && !(axis = axis_key(axis_s))) {
    fprintf(stderr, "hant-client pareto: --axis: expected latency_ms, energy_mj, memory_bytes or macs, got '%s'\n",
            axis_s);
    goto done;
  }
  if (target_budgets("pareto", &t))
    goto done;
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
  hant_opt_list_free(&t.budget_args);
  json_decref(t.budgets);
  return code;
}
