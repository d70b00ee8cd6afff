/* SPDX-License-Identifier: MIT */
/* cmd_calibrate.c: `hant-distill calibrate` measures assembled networks on the validation split and fits the accuracy predictor the solver maximises. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill calibrate --db LIBRARY.db [options]\n"
    "\n"
    "Calibrates the library's accuracy prediction. Assembles networks across the\n"
    "whole cost range (the teacher; the solver's choices at 1/2, 1/4 and 1/8 of the\n"
    "teacher's MACs, and of its energy and latency on every costed device; random\n"
    "selections stratified by total MACs), measures each on the validation split\n"
    "(never the test split) and commits it. Then fits one divergence weight per\n"
    "slot and per-candidate coefficients (ridge regression toward them, the scale\n"
    "and ridge chosen by cross-validated error); the one that errs least held out\n"
    "predicts, and the solver maximises slot weights or fit only when their\n"
    "choices, measured at the plan's budgets, are no worse. Every answer carries\n"
    "the prediction's held-out error. A rerun resumes where a killed run stopped;\n"
    "the same seed draws the same plan.\n"
    "\n";

struct ui {
  bool json;
  hant_progress bar;
};

static int on_sample(void *user, int done, int total, const char *note) {
  struct ui *u = user;
  if (u->json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, "sample");
    hant_jsonw_key(&w, "done"), hant_jsonw_int(&w, done);
    hant_jsonw_key(&w, "total"), hant_jsonw_int(&w, total);
    hant_jsonw_key(&w, "note"), hant_jsonw_str(&w, note);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
    fflush(stdout);
  } else if (u->bar.tty) {
    hant_progress_update(&u->bar, done, total, note);
  } else {
    fprintf(stderr, "calibrate: %d/%d %s\n", done, total, note);
  }
  return 0;
}

int calibrate_run(hant_store *st, const data_args *data, const calibrate_args *a, bool json) {
  hant_library *lib = NULL;
  hant_dataset va = {0};
  hant_predictor p = {0};
  hant_calibration_opts o;
  hant_calibration_opts_default(&o);
  o.seed = (uint64_t)a->seed;
  o.random_samples = (int)a->samples;
  o.folds = (int)a->folds;
  o.fit_objective = a->fit_objective;
  struct ui u = {.json = json};
  o.progress = on_sample;
  o.user = &u;
  hant_calibration_summary sum;
  int rc = hant_library_load(st, NULL, &lib);
  if (rc)
    goto out;
  if (!lib->has_teacher) {
    rc = hant__error(HANT_ENOENT, "%s is empty: build it first (hant-distill build)", hant_store_path(st));
    goto out;
  }
  /* The samples are measured on the images the scores were measured on,
   * unless asked for fewer. */
  int images = a->val_samples > 0 ? (int)a->val_samples : lib->teacher.val_images;
  /* The images are the teacher's shape and normalised as the library was built. */
  const hant_net *teacher = NULL;
  hant_data_spec spec;
  if ((rc = hant_library_teacher(lib, st, &teacher)))
    goto out;
  if (cli_data_spec("hant-distill calibrate", data, teacher, lib->has_build ? &lib->build : NULL, &spec) >= 0) {
    rc = hant__error(HANT_EINVAL, "bad --data options");
    goto out;
  }
  if ((rc = hant_data_load(&spec, HANT_SPLIT_VAL, images, &va)))
    goto out;
  if (!json)
    fprintf(stderr, "calibrate: %d slots, %d candidates, %d devices with costs; %d validation images per network\n",
            lib->n_slots, lib->n_cands, lib->n_devices, va.n);
  /* Candidates built before divergences were measured get theirs first:
   * with every one measured the solver ranks by them, so the samples' plan
   * and the objective check below see the objective answers will use. */
  hant_divergence_summary dsum = {0};
  if (lib->kl_measured < lib->n_cands) {
    hant_progress_start(&u.bar, "divergences");
    rc = hant_divergence_measure(st, lib, &va, on_sample, &u, &dsum);
    hant_progress_end(&u.bar);
    hant_library_unref(lib);
    lib = NULL;
    if (rc || (rc = hant_library_load(st, NULL, &lib)))
      goto out;
  }
  hant_progress_start(&u.bar, "calibrate");
  rc = hant_calibration_measure(st, lib, &va, &o, &sum);
  hant_progress_end(&u.bar);
  hant_calibration_check chk = {0};
  if (rc || (rc = hant_calibration_fit(st, lib, &o, &va, &p, &chk)))
    goto out;
  hant_calib_fit_rec f;
  if ((rc = hant_store_calib_fit_get(st, &f, NULL, NULL)))
    goto out;
  char *objective = NULL, *add_tau_s = NULL;
  hant_store_meta_get(st, "calibration_objective", &objective);
  hant_store_meta_get(st, "calibration_additive_tau", &add_tau_s);
  hant_errmsg_clear();
  double add_tau = add_tau_s ? strtod(add_tau_s, NULL) : NAN;
  bool fit_objective = objective && !strcmp(objective, "calibrated");
  free(objective);
  free(add_tau_s);
  /* the slot weights as stored (one per slot), when the fit adopted them */
  double *slot_w = malloc(sizeof(double) * (size_t)(lib->n_slots + 1));
  int n_slot_w = -1;
  char *wtext = NULL;
  if (slot_w && !hant_store_meta_get(st, "calibration_slot_kl_weights", &wtext) && wtext)
    n_slot_w = hant_library_slot_weights_parse(wtext, slot_w, lib->n_slots + 1);
  hant_errmsg_clear();
  free(wtext);
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, "summary");
    hant_jsonw_key(&w, "planned"), hant_jsonw_int(&w, sum.planned);
    hant_jsonw_key(&w, "existing"), hant_jsonw_int(&w, sum.existing);
    hant_jsonw_key(&w, "measured"), hant_jsonw_int(&w, sum.measured);
    hant_jsonw_key(&w, "images"), hant_jsonw_int(&w, sum.images);
    hant_jsonw_key(&w, "seconds"), hant_jsonw_num(&w, sum.seconds);
    hant_jsonw_key(&w, "divergences_measured"), hant_jsonw_int(&w, dsum.measured);
    hant_jsonw_key(&w, "divergences_seconds"), hant_jsonw_num(&w, dsum.seconds);
    hant_jsonw_key(&w, "kl_slope"), lib->has_divergence ? hant_jsonw_num(&w, lib->kl_slope) : hant_jsonw_null(&w);
    hant_jsonw_key(&w, "scale"), hant_jsonw_str(&w, f.scale);
    hant_jsonw_key(&w, "ridge"), hant_jsonw_num(&w, f.ridge);
    hant_jsonw_key(&w, "samples"), hant_jsonw_int(&w, f.samples);
    hant_jsonw_key(&w, "folds"), hant_jsonw_int(&w, f.folds);
    hant_jsonw_key(&w, "heldout_median_abs_err"), hant_jsonw_num(&w, f.heldout_median_abs_err);
    hant_jsonw_key(&w, "heldout_p90_abs_err"), hant_jsonw_num(&w, f.heldout_p90_abs_err);
    hant_jsonw_key(&w, "heldout_kendall_tau"), hant_jsonw_num(&w, f.heldout_kendall_tau);
    hant_jsonw_key(&w, "additive_kendall_tau"), hant_jsonw_num(&w, add_tau);
    hant_jsonw_key(&w, "objective"), hant_jsonw_str(&w, fit_objective ? "calibrated" : "additive");
    hant_jsonw_key(&w, "prediction"), hant_jsonw_str(&w, chk.by_divergence ? "divergence" : "fit");
    hant_jsonw_key(&w, "divergence_median_abs_err");
    isfinite(chk.div_median_abs_err) ? hant_jsonw_num(&w, chk.div_median_abs_err) : hant_jsonw_null(&w);
    hant_jsonw_key(&w, "floor_scale");
    lib->has_divergence ? hant_jsonw_num(&w, chk.div_floor_scale) : hant_jsonw_null(&w);
    if (lib->has_divergence) {
      hant_jsonw_key(&w, "slot_weights");
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "prediction"), hant_jsonw_bool(&w, chk.slot_weighted);
      hant_jsonw_key(&w, "objective"), hant_jsonw_bool(&w, chk.slot_objective);
      hant_jsonw_key(&w, "weights");
      hant_jsonw_arr_begin(&w);
      for (int s = 0; chk.slot_weighted && s < n_slot_w; s++)
        hant_jsonw_num(&w, slot_w[s]);
      hant_jsonw_arr_end(&w);
      hant_jsonw_key(&w, "samples_fitted"), hant_jsonw_int(&w, chk.slot_samples);
      hant_jsonw_key(&w, "floor_scale"), hant_jsonw_num(&w, chk.slot_floor_scale);
      hant_jsonw_key(&w, "cv_median_abs_err");
      isfinite(chk.slot_median_abs_err) ? hant_jsonw_num(&w, chk.slot_median_abs_err) : hant_jsonw_null(&w);
      hant_jsonw_key(&w, "cv_p90_abs_err");
      isfinite(chk.slot_p90_abs_err) ? hant_jsonw_num(&w, chk.slot_p90_abs_err) : hant_jsonw_null(&w);
      hant_jsonw_key(&w, "cv_kendall_tau");
      isfinite(chk.slot_tau) ? hant_jsonw_num(&w, chk.slot_tau) : hant_jsonw_null(&w);
      hant_jsonw_key(&w, "budgets"), hant_jsonw_int(&w, chk.slot_budgets);
      hant_jsonw_key(&w, "differ"), hant_jsonw_int(&w, chk.slot_differ);
      hant_jsonw_key(&w, "better"), hant_jsonw_int(&w, chk.slot_better);
      hant_jsonw_key(&w, "worse"), hant_jsonw_int(&w, chk.slot_worse);
      hant_jsonw_key(&w, "mean_gain");
      isfinite(chk.slot_mean_gain) ? hant_jsonw_num(&w, chk.slot_mean_gain) : hant_jsonw_null(&w);
      hant_jsonw_obj_end(&w);
    }
    if (!a->fit_objective) {
      hant_jsonw_key(&w, "objective_check");
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "budgets"), hant_jsonw_int(&w, chk.budgets);
      hant_jsonw_key(&w, "differ"), hant_jsonw_int(&w, chk.differ);
      hant_jsonw_key(&w, "fit_better"), hant_jsonw_int(&w, chk.fit_better);
      hant_jsonw_key(&w, "fit_worse"), hant_jsonw_int(&w, chk.fit_worse);
      hant_jsonw_key(&w, "mean_gain"), hant_jsonw_num(&w, chk.mean_gain);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_key(&w, "heldout_mean_abs_err");
    hant_jsonw_obj_begin(&w);
    for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++)
      hant_jsonw_key(&w, hant_calib_scale_name((hant_calib_scale)s)), hant_jsonw_num(&w, p.heldout_mean_abs_err[s]);
    hant_jsonw_obj_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("library       %s\n", hant_store_path(st));
    printf("samples       %d planned, %d already measured, %d measured now (%lld images, %.1f s)\n", sum.planned,
           sum.existing, sum.measured, (long long)sum.images, sum.seconds);
    if (lib->has_divergence)
      printf("divergences   every candidate's (%d measured now, %.1f s); a nat costs %.1f points of accuracy\n",
             dsum.measured, dsum.seconds, 100 * lib->kl_slope);
    else
      printf("divergences   %d of %d candidates; the scores stay the objective\n", lib->kl_measured, lib->n_cands);
    printf("fit           %s scale, ridge %g, on %d samples\n", f.scale, f.ridge, f.samples);
    printf("scales        held-out mean |error|:");
    for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++)
      printf(" %s %.2f", hant_calib_scale_name((hant_calib_scale)s), 100 * p.heldout_mean_abs_err[s]);
    printf(" points\n");
    if (f.folds)
      printf("held out      %d-fold: median |error| %.2f points, 90th percentile %.2f, Kendall tau %.3f\n", f.folds,
             100 * f.heldout_median_abs_err, 100 * f.heldout_p90_abs_err, f.heldout_kendall_tau);
    else
      printf("held out      none (fewer than 4 samples)\n");
    printf("objective     %s (Kendall tau on the samples: the fit %.3f held out, the additive objective %.3f)\n",
           a->fit_objective ? "the fit's coefficients (--calibrate-objective)"
           : fit_objective  ? "the fit's coefficients (its choices passed the measured check)"
           : chk.slot_objective  ? "the divergences, weighed by slot"
           : lib->has_divergence ? "the divergences, one slope"
                                 : "the noise-aware scores",
           f.heldout_kendall_tau, add_tau);
    if (lib->has_divergence && isfinite(chk.slot_median_abs_err)) {
      printf("slot weights  %s: fitted on the %d samples at twice chance or more; %d-fold held out median |error| "
             "%.2f points, 90th percentile %.2f, Kendall tau %.3f\n",
             chk.slot_objective  ? "the prediction and the objective"
             : chk.slot_weighted ? "the prediction, not the objective"
                                 : "neither prediction nor objective",
             chk.slot_samples, o.folds > 1 ? o.folds : 5, 100 * chk.slot_median_abs_err, 100 * chk.slot_p90_abs_err,
             chk.slot_tau);
      if (chk.slot_budgets)
        printf("              at %d budgets they chose %d other networks than one slope: measured %d better, %d "
               "worse (beyond two standard errors), %+.2f points on average (the objective takes them only with "
               "none worse)\n",
               chk.slot_budgets, chk.slot_differ, chk.slot_better, chk.slot_worse, 100 * chk.slot_mean_gain);
      if (chk.slot_weighted) {
        printf("              a nat costs, by slot:");
        for (int s = 0; s < n_slot_w; s++)
          printf(" %.1f", 100 * slot_w[s]);
        printf(" points\n");
      }
    } else if (lib->has_divergence) {
      printf("slot weights  not fitted: %d samples at twice chance or more, fewer than two per slot\n",
             chk.slot_samples);
    }
    if (isfinite(chk.div_median_abs_err))
      printf("prediction    %s: the divergences' median |error| on the %d samples (%s) "
             "%.2f points, 90th percentile %.2f, Kendall tau %.3f; the fit's held out %.2f\n",
             chk.by_divergence ? "the divergences'" : "the fit's", f.samples,
             chk.slot_weighted ? "slot weights held out" : "only the floor fitted on them", 100 * chk.div_median_abs_err,
             100 * chk.div_p90_abs_err, chk.div_tau, 100 * f.heldout_median_abs_err);
    if (lib->has_divergence)
      printf("floor         the divergences' prediction bends onto chance over %.1f points (%s)\n",
             100 * chk.div_floor_scale,
             chk.div_floor_scale > 0 ? "a softplus: networks past the floor stay ordered by their divergences"
                                     : "a hard floor: the samples ask no bend");
    if (!a->fit_objective)
      printf("check         at %d budgets the fit chose %d other networks: measured %d better, %d worse (beyond "
             "two standard errors), %+.2f points on average\n",
             chk.budgets, chk.differ, chk.fit_better, chk.fit_worse, 100 * chk.mean_gain);
  }
  free(slot_w);
out:
  hant_predictor_free(&p);
  hant_dataset_free(&va);
  hant_library_unref(lib);
  return rc;
}

int cmd_calibrate(int argc, char **argv) {
  const char *db = NULL;
  data_args da = DATA_ARGS_DEFAULT;
  calibrate_args a = CALIBRATE_ARGS_DEFAULT;
  long threads = hant_cpu_count();
  bool json = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("db", 0, &db, "FILE", "the library (required)"),
      DATA_OPTS(da, "validation images", "the library's data"),
      CALIBRATE_OPTS(a),
      HANT_OPT_INT("threads", 0, &threads, 1, 1024, "N", "kernel threads (default: all cores)"),
      HANT_OPT_FLAG("json", 0, &json, "progress events and the summary as JSON lines on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill calibrate",
                            .usage = usage,
                            .footer = "\nExit status: 0 calibrated, 1 failed, 2 usage error.\n",
                            .column = 26,
                            .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!db)
    return cli_usage_error(&cmd, "--db FILE is required");
  if (access(db, F_OK))
    return cli_usage_error(&cmd, "--db %s: no such library", db);
  hant_threads_set((int)threads);
  hant_store *st = NULL;
  int rc = hant_store_open(db, 0, &st);
  if (!rc)
    rc = hant_store_lock_build(st);
  if (!rc)
    rc = calibrate_run(st, &da, &a, json);
  if (rc)
    fprintf(stderr, "hant-distill calibrate: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  hant_store_close(st);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
