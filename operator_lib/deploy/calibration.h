/* SPDX-License-Identifier: MIT */
/* calibration.h: calibrating the accuracy predictor: a deterministic plan of assembled networks across the cost range, each measured on the validation split and committed, then the fit. */
#ifndef HANT_CALIBRATION_H
#define HANT_CALIBRATION_H

#include <stdint.h>

#include "dataset.h"
#include "library.h"
#include "predictor.h"
#include "store.h"

/*
 * The plan, drawn from a seed and the library snapshot alone:
 *
 *   0        the teacher (its own block, family "teacher", in every slot)
 *   solver   the solver's choice on the additive objective (the summed
 *            scores, whatever fit the library has, so the plan never
 *            depends on an earlier calibration) at
 *            1/2, 1/4 and 1/8 of the teacher's MACs, and of its energy and
 *            latency on every device of the library with costs (first power
 *            mode), one budget at a time
 *   random   `random_samples` selections stratified by total MACs: the
 *            range from the cheapest to the dearest selection is cut into as
 *            many strata, evenly in log MACs, and each stratum gets one
 *            uniformly drawn selection whose total lies in it
 *
 * Repeated selections are dropped, so positions are dense. Each position
 * is assembled (the snapshot's teacher, the store's candidates), evaluated
 * on the validation images given, and committed at once as a row of
 * calib_sample (seed, position), so a killed run resumes at the first
 * position whose network has no row and measures each network once. A
 * network already measured (under any seed or position) is not measured
 * again; a new network whose position an earlier plan of the same seed
 * took (costs changed since) goes after that plan's positions. The fit then reads every sample of
 * the library (all seeds), so its result depends only on the samples.
 */

typedef struct hant_calibration_opts {
  uint64_t seed;      /* of the plan (default 1) */
  int random_samples; /* stratified random selections (default 48) */
  int folds;          /* of the fit's cross-validation (default 5) */
  /* Whether the solver is to maximise the fit's coefficients rather than
   * the noise-aware single-slot scores whatever the measured check finds
   * (default false: the check decides, see hant_calibration_fit). On the
   * first default library the fit predicted accuracy far better than the
   * sum of scores but its choices at the budgets of docs/results.md
   * measured worse. */
  bool fit_objective;
  /* Called after each sample with the samples done and planned and what was
   * measured; nonzero stops the run (HANT_ECANCELED) after that commit. */
  int (*progress)(void *user, int done, int total, const char *note);
  void *user;
} hant_calibration_opts;

void hant_calibration_opts_default(hant_calibration_opts *o);

typedef struct hant_calibration_plan {
  int n_slots;
  int n;
  int *choice;      /* [n, n_slots] indices into lib->cands */
  char (*origin)[16];
  char (*note)[96];
} hant_calibration_plan;

/* Draws the plan for lib (see above). *out is new; free it with
 * hant_calibration_plan_destroy. HANT_ENOENT for an empty library or one whose
 * slot lacks a teacher-copy candidate. */
int hant_calibration_plan_new(const hant_library *lib, const hant_calibration_opts *o, hant_calibration_plan **out);
void hant_calibration_plan_destroy(hant_calibration_plan *p);

typedef struct hant_calibration_summary {
  int planned;    /* positions in the plan */
  int existing;   /* already measured before this run */
  int measured;   /* measured by this run */
  int64_t images; /* validation images evaluated by this run */
  double seconds; /* wall time of this run's measurements */
} hant_calibration_summary;

/* Measures every position of the plan that has no sample yet, on val (the
 * validation split, already limited to the images wanted; never the test
 * split), committing each. st must be the store lib was loaded from,
 * writable. */
int hant_calibration_measure(hant_store *st, const hant_library *lib, const hant_dataset *val, const hant_calibration_opts *o,
                       hant_calibration_summary *sum);

/* The measured check of the fit as the solver's objective: at every budget
 * of the plan's solver positions, the choice maximising the fit against the
 * choice maximising the noise-aware scores, both measured on the
 * validation split where they differ. */
typedef struct hant_calibration_check {
  int budgets;      /* budgets where both objectives found a network */
  int differ;       /* ... where they chose different networks, each then measured */
  int fit_better;   /* the fit's choice measured better by more than two standard errors */
  int fit_worse;    /* ... worse by more than two standard errors */
  double mean_gain; /* the fit's measured accuracy minus the scores', averaged over budgets (0 where they agree) */
  bool use_fit;     /* no budget worse, a gain on average: the solver maximises the fit */
  /* The divergences' own prediction (transform_solve.h) on every sample,
   * when the library has divergences: none of its figures was fitted on
   * the samples, so each sample is out of its sample. It is the library's
   * prediction when its median error is below the fit's held-out one
   * (meta calibration_prediction "divergence", figures in meta
   * calibration_divergence). */
  bool by_divergence;
  double div_median_abs_err, div_p90_abs_err, div_tau; /* NaN without divergences */
  /* The scale of the prediction's chance floor (hant_floor_predict; meta
   * calibration_floor_scale), fitted on the samples' predicted drops by
   * hant_floor_scale_fit: the one figure of the one slope's prediction
   * fitted on the samples, and so held out too (hant_floor_heldout: each
   * sample's error is on the scale fitted without its fold).
   * div_floor_scale is the prediction's (the slot weights' when
   * slot_weighted), slot_floor_scale theirs. */
  double div_floor_scale, slot_floor_scale;
  /* One weight per slot for the divergences (library.h's kl_slot_weight),
   * fitted on the samples at twice chance or more (slot_samples; a network
   * that collapsed to chance shows its loss only up to the floor). The
   * slot_* errors are cross-validated: each sample predicted by weights
   * fitted without its fold. The prediction takes them (slot_weighted, meta
   * calibration_slot_kl_weights) when their held-out median error is below
   * the one slope's; div_* are then the slot_* figures. The solver
   * maximises them too (slot_objective, meta calibration_slot_kl_objective)
   * only when, with val, their choices at the plan's budgets measure no
   * worse than the one slope's anywhere (by two standard errors) nor on
   * average (slot_budgets ... slot_mean_gain, as above). */
  bool slot_weighted, slot_objective;
  int slot_samples;
  double slot_median_abs_err, slot_p90_abs_err, slot_tau; /* NaN when not fitted */
  int slot_budgets, slot_differ, slot_better, slot_worse;
  double slot_mean_gain;
} hant_calibration_check;

/* Fits the predictor on every sample of the library whose candidates are
 * all in lib (others are skipped) and stores it (hant_store_calib_fit_put,
 * which bumps the library version), with the objective the solver is to
 * maximise (meta calibration_objective): the fit when o->fit_objective
 * asks, or when val (the validation split) is given and the measured check
 * passes (its figures go to meta calibration_check and *check when not
 * NULL); the noise-aware scores otherwise. p, when not NULL, receives the
 * fit (release it with hant_predictor_free). HANT_ENOENT when there is no
 * sample to fit. */
int hant_calibration_fit(hant_store *st, const hant_library *lib, const hant_calibration_opts *o,
                         const hant_dataset *val, hant_predictor *p, hant_calibration_check *check);

/* The library indices of a stored selection text ("id,id,..."), checked
 * against lib: one candidate per slot, in slot order. HANT_EINVAL names
 * what is wrong. */
int hant_calibration_selection_parse(const hant_library *lib, const char *text, int *choice);

/* A choice's network, measured: assembled from lib's teacher and st's
 * candidates, and evaluated on ds. */
int hant_calibration_evaluate(hant_store *st, const hant_library *lib, const int *choice, const hant_dataset *ds,
                        double *accuracy);

#endif
