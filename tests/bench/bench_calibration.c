/* SPDX-License-Identifier: MIT */
/* bench_calibration.c: how well the calibrated prediction holds on assembled networks the fit never saw, against the additive one: Kendall tau on validation, absolute error on test, and what calibrating cost. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"

/*
 * The held-out set: a calibration plan drawn with another seed (the
 * teacher, the additive solver's choices at 1/2, 1/4 and 1/8 of the
 * teacher's MACs, energy and latency per costed device, random selections
 * stratified by MACs), plus the calibrated solver's own choices (the
 * product path, hant_transform_solve) at 1/2, 1/4 and 1/8 of the teacher's
 * energy and latency on each device asked for; selections already among
 * the library's calibration samples are left out, so the fit saw none.
 * Each is evaluated on the validation split (for the rank correlation) and
 * on the test split (for the absolute errors); nothing is fitted or chosen
 * on the test split.
 */

static void die(const char *what) {
  fprintf(stderr, "bench_calibration: %s: %s\n", what, hant_errmsg());
  exit(1);
}

typedef struct net {
  int *choice;
  char origin[16], note[200];
  double add, cal, div; /* predicted validation accuracy: additive, calibrated, by divergences */
  double hard;          /* by divergences on the hard floor, at least chance (the same when the floor's scale is 0) */
  double val, test;
} net;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Which prediction: 0 additive, 1 calibrated, 2 by divergences, 3 by divergences on the hard floor. */
static double pred_of(const net *n, int which) {
  return which == 3 ? n->hard : which == 2 ? n->div : which == 1 ? n->cal : n->add;
}

static void quantiles(const net *n, int k, int which, double *median, double *p90) {
  double *e = malloc(sizeof(double) * (size_t)k);
  if (!e)
    die("out of memory");
  for (int i = 0; i < k; i++)
    e[i] = fabs(pred_of(&n[i], which) - n[i].test);
  qsort(e, (size_t)k, sizeof(double), cmp_double);
  *median = k % 2 ? e[k / 2] : 0.5 * (e[k / 2 - 1] + e[k / 2]);
  int i90 = (int)ceil(0.9 * k) - 1;
  *p90 = e[i90 < 0 ? 0 : i90];
  free(e);
}

static double tau_of(const net *n, int k, int which) {
  double *p = malloc(sizeof(double) * (size_t)k), *m = malloc(sizeof(double) * (size_t)k);
  if (!p || !m)
    die("out of memory");
  for (int i = 0; i < k; i++)
    p[i] = pred_of(&n[i], which), m[i] = n[i].val;
  double t = hant_kendall_tau(p, m, k);
  free(p);
  free(m);
  return t;
}

/* The table of the first `preds` predictions (pred_of's order) on k networks. */
static void print_table(const net *n, int k, int preds, bool slot_weighted) {
  const char *const names[] = {"additive (teacher + summed scores)", "calibrated",
                               slot_weighted ? "divergences (teacher - each slot's weight x its KL, on the floor)"
                                             : "divergences (teacher - slope x summed KL, on the floor)",
                               "the same on the hard floor (at least chance)"};
  printf("| prediction | Kendall tau vs validation | median abs error vs test (points) | p90 abs error vs test "
         "(points) |\n|---|---:|---:|---:|\n");
  for (int c = 0; c < preds; c++) {
    double med, p90;
    quantiles(n, k, c, &med, &p90);
    printf("| %s | %.3f | %.2f | %.2f |\n", names[c], tau_of(n, k, c), 100 * med, 100 * p90);
  }
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_calibration --db LIBRARY.db [options]\n"
             "\n"
             "Measures the calibrated and the additive accuracy prediction on assembled\n"
             "networks the fit never saw (run hant-distill calibrate first), and prints\n"
             "Kendall tau against validation accuracy, median and 90th-percentile absolute\n"
             "error against test accuracy, and the calibration's cost.\n"
             "\n"
             "  --db FILE          a calibrated library with costs for the devices (required)\n"
             "  --devices LIST     for the calibrated solver's choices (default cortex-m7,rpi4,jetson-nano)\n"
             "  --random N         random held-out networks stratified by MACs (default 60, so that with\n"
             "                     the solver's choices at least 50 are held out)\n"
             "  --seed S           of the held-out plan; must differ from the calibration's (default 1001)\n"
             "  --val-samples M    validation images per network (default 5000)\n"
             "  --test-samples N   test images per network (default 10000)\n"
             "  --threads N        kernel threads (default: one per core)\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},          {"devices", required_argument, 0, 'D'},
      {"random", required_argument, 0, 'r'},      {"seed", required_argument, 0, 's'},
      {"val-samples", required_argument, 0, 'v'}, {"test-samples", required_argument, 0, 't'},
      {"threads", required_argument, 0, 'T'},     {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *db = NULL;
  char devices_s[256] = "cortex-m7,rpi4,jetson-nano";
  int random_n = 60, val_n = 5000, test_n = 10000, threads = 0, o;
  uint64_t seed = 1001;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'd': db = optarg; break;
    case 'D': snprintf(devices_s, sizeof(devices_s), "%s", optarg); break;
    case 'r': random_n = atoi(optarg); break;
    case 's': seed = strtoull(optarg, NULL, 10); break;
    case 'v': val_n = atoi(optarg); break;
    case 't': test_n = atoi(optarg); break;
    case 'T': threads = atoi(optarg); break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!db || random_n < 0 || val_n < 1 || test_n < 1 || threads < 0) {
    usage(stderr);
    return 2;
  }
  hant_threads_set(threads ? threads : hant_cpu_count());
  hant_store *st;
  hant_library *lib;
  if (hant_store_open(db, HANT_STORE_READONLY, &st) || hant_library_load(st, NULL, &lib))
    die(db);
  if (!lib->calibrated) {
    fprintf(stderr, "bench_calibration: %s has no calibration in use: run hant-distill calibrate --db %s\n", db, db);
    return 1;
  }
  if (seed == lib->calib.seed) {
    fprintf(stderr, "bench_calibration: --seed %llu is the calibration's own: choose another\n",
            (unsigned long long)seed);
    return 2;
  }
  hant_calib_sample_rec *seen = NULL;
  int n_seen = 0;
  if (hant_store_calib_samples(st, &seen, &n_seen))
    die("calibration samples");
  int ns = lib->n_slots;

  /* The held-out selections. */
  hant_calibration_opts co;
  hant_calibration_opts_default(&co);
  co.seed = seed;
  co.random_samples = random_n;
  hant_calibration_plan *plan;
  if (hant_calibration_plan_new(lib, &co, &plan))
    die("held-out plan");
  int cap = plan->n + 64, n = 0;
  net *nets = calloc((size_t)cap, sizeof(net));
  int *tmp = malloc(sizeof(int) * (size_t)ns);
  if (!nets || !tmp)
    die("out of memory");
  for (int k = 0; k < plan->n + 64 && n < cap; k++) {
    const int *ch;
    char origin[16], note[200];
    hant_transform_result res;
    hant_transform_result_init(&res);
    if (k < plan->n) {
      ch = plan->choice + (size_t)k * (size_t)ns;
      snprintf(origin, sizeof(origin), "%s", plan->origin[k]);
      snprintf(note, sizeof(note), "%s", plan->note[k]);
    } else {
      /* The calibrated solver's choices: device d, kind, divisor. */
      int j = k - plan->n, d = j / 6, kind = j / 3 % 2, f = 1 << (j % 3 + 1);
      char list[256], *save = NULL, *dev = NULL;
      snprintf(list, sizeof(list), "%s", devices_s);
      dev = strtok_r(list, ",", &save);
      for (int i = 0; i < d && dev; i++)
        dev = strtok_r(NULL, ",", &save);
      if (!dev)
        break;
      const hant_library_device *ld = hant_library_device_find(lib, dev);
      if (!ld || !ld->n_modes) {
        fprintf(stderr, "bench_calibration: no costs for %s: run hant-distill profile --db %s --device %s\n", dev, db,
                dev);
        return 1;
      }
      double tc = 0;
      for (int s = 0; s < ns; s++)
        for (int c = lib->slot_first[s]; c < lib->slot_first[s] + lib->slot_count[s]; c++)
          if (!strcmp(lib->cands[c].family, "teacher"))
            tc += kind ? ld->modes[0].latency_ms[c] * (ld->has_additivity ? ld->additivity.factor : 1)
                       : ld->modes[0].energy_mj[c];
      if (kind && ld->has_additivity)
        tc += ld->additivity.overhead_ms;
      hant_transform_req req;
      hant_transform_req_init(&req);
      snprintf(req.device, sizeof(req.device), "%s", dev);
      snprintf(req.power_mode, sizeof(req.power_mode), "%s", ld->modes[0].name);
      hant_budget b = {.kind = kind ? HANT_BUDGET_LATENCY : HANT_BUDGET_ENERGY, .value = tc / f};
      hant_transform_req_add_budget(&req, &b);
      if (hant_transform_solve(lib, &req, &res))
        die("calibrated solve");
      if (!res.has_choice) {
        hant_transform_result_free(&res);
        continue;
      }
      ch = res.choice;
      snprintf(origin, sizeof(origin), "calibrated");
      snprintf(note, sizeof(note), "%s %s 1/%d", dev, kind ? "latency_ms" : "energy_mj", f);
    }
    bool dup = false;
    for (int i = 0; i < n && !dup; i++)
      dup = !memcmp(nets[i].choice, ch, sizeof(int) * (size_t)ns);
    for (int i = 0; i < n_seen && !dup; i++)
      dup = !hant_calibration_selection_parse(lib, seen[i].selection, tmp) && !memcmp(tmp, ch, sizeof(int) * (size_t)ns);
    hant_errmsg_clear();
    if (!dup) {
      net *e = &nets[n++];
      if (!(e->choice = malloc(sizeof(int) * (size_t)ns)))
        die("out of memory");
      memcpy(e->choice, ch, sizeof(int) * (size_t)ns);
      snprintf(e->origin, sizeof(e->origin), "%s", origin);
      snprintf(e->note, sizeof(e->note), "%s", note);
    }
    hant_transform_result_free(&res);
  }
  hant_calibration_plan_destroy(plan);

  hant_dataset val, test;
  /* The library's data, normalised as it was built (Fashion-MNIST unless it records other data). */
  hant_build_settings recorded;
  hant_data_spec spec;
  const hant_net *teacher;
  if (hant_library_teacher(lib, st, &teacher) || hant_deploy_data_spec(st, teacher, NULL, &recorded, &spec) ||
      hant_data_load(&spec, HANT_SPLIT_VAL, val_n, &val) || hant_data_load(&spec, HANT_SPLIT_TEST, test_n, &test))
    die("the library's data");
  hant_calib_scale scale = hant_calib_scale_from_name(lib->calib.scale);
  fprintf(stderr, "bench_calibration: %d held-out networks (%d calibration samples excluded); %d validation and %d "
                  "test images each\n",
          n, n_seen, val.n, test.n);
  double t0 = hant_now_s();
  for (int i = 0; i < n; i++) {
    net *e = &nets[i];
    double z = lib->calib.intercept, sum = 0;
    for (int s = 0; s < ns; s++)
      z += lib->calib_coef[e->choice[s]], sum += lib->cands[e->choice[s]].score;
    e->cal = hant_calib_unlink(scale, z, lib->teacher.classes > 0 ? 1.0 / lib->teacher.classes : 0);
    e->add = lib->teacher.val_accuracy + sum;
    e->div = lib->has_divergence ? hant_transform_predicted_divergence(lib, e->choice) : NAN;
    double floor_scale = lib->kl_floor_scale; /* the same prediction on the hard floor, beside it */
    lib->kl_floor_scale = 0;
    e->hard = lib->has_divergence ? hant_transform_predicted_divergence(lib, e->choice) : NAN;
    lib->kl_floor_scale = floor_scale;
    if (hant_calibration_evaluate(st, lib, e->choice, &val, &e->val) ||
        hant_calibration_evaluate(st, lib, e->choice, &test, &e->test))
      die(e->note);
    double kl = 0;
    char ids[256] = "";
    for (int s = 0, at = 0; s < ns; s++) {
      kl += lib->cands[e->choice[s]].val_kl;
      at += snprintf(ids + at, at < (int)sizeof(ids) ? sizeof(ids) - (size_t)at : 0, "%s%lld", s ? "," : "",
                     (long long)lib->cands[e->choice[s]].id);
    }
    fprintf(stderr,
            "  %3d/%d %-10s %-32s additive %.4f calibrated %.4f divergences %.4f val %.4f test %.4f kl %.5f ids %s\n",
            i + 1, n, e->origin, e->note, e->add, e->cal, e->div, e->val, e->test, kl, ids);
  }
  double wall = hant_now_s() - t0;
  printf("Library %s: %d slots, %d candidates; calibration: %s scale, ridge %g, %d samples, %lld validation images, "
         "%.0f s measuring (held out in the fit: median %.2f, p90 %.2f points, tau %.3f).\n\n",
         db, ns, lib->n_cands, lib->calib.scale, lib->calib.ridge, lib->calib.samples, (long long)lib->calib.images,
         lib->calib.seconds, 100 * lib->calib.heldout_median_abs_err, 100 * lib->calib.heldout_p90_abs_err,
         lib->calib.heldout_kendall_tau);
  if (lib->kl_slot_weighted) {
    printf("The divergences' prediction weighs each slot as the calibration fitted (a nat costs");
    for (int s = 0; s < ns; s++)
      printf(" %.1f", 100 * lib->kl_slot_weight[s]);
    printf(" points in slots 0-%d; one slope: %.1f)%s.\n\n", ns - 1, 100 * lib->kl_slope,
           lib->kl_slot_objective ? ", and the solver maximises them" : "; the solver keeps the one slope");
  }
  printf("Held-out networks: %d (the fit saw none), %d validation and %d test images each, measured in %.0f s.\n\n", n,
         val.n, test.n, wall);
  int preds = !lib->has_divergence ? 2 : lib->kl_floor_scale > 0 ? 4 : 3;
  if (lib->has_divergence)
    printf("The divergences' prediction bends onto chance over %.1f points (the calibration's floor scale%s).\n\n",
           100 * lib->kl_floor_scale, lib->kl_floor_scale > 0 ? "" : ": a hard floor");
  print_table(nets, n, preds, lib->kl_slot_weighted);
  /* The same figures on the networks that work: at least half the
   * teacher's validation accuracy. More than half of the held-out set
   * collapses to near chance (random selections of cheap candidates),
   * whose accuracies (8-30 %) only the floor's bend can order. */
  net *near = malloc(sizeof(*near) * (size_t)n);
  int nn = 0;
  if (!near)
    die("out of memory");
  for (int i = 0; i < n; i++)
    if (nets[i].val >= 0.5 * lib->teacher.val_accuracy)
      near[nn++] = nets[i];
  if (nn >= 2) {
    printf("\nThe %d of them with at least half the teacher's validation accuracy:\n\n", nn);
    print_table(near, nn, preds, lib->kl_slot_weighted);
  }
  free(near);
  for (int i = 0; i < n; i++)
    free(nets[i].choice);
  free(nets);
  free(tmp);
  free(seen);
  hant_dataset_free(&val);
  hant_dataset_free(&test);
  hant_library_unref(lib);
  hant_store_close(st);
  return 0;
}
