/* SPDX-License-Identifier: MIT */
/* store_calib.h: the calibration of the accuracy predictor in the library: measured assembled networks and the fit on them. */
#ifndef HANT_STORE_CALIB_H
#define HANT_STORE_CALIB_H

#include <stdint.h>

#include "store.h"

/* One assembled network measured on the validation split (schema
 * migration 005, table calib_sample). A sample is identified by the seed of
 * the plan it was drawn from and its position idx in that plan. */
typedef struct hant_calib_sample_rec {
  int64_t id;
  uint64_t seed;
  int idx;
  char origin[16];      /* "teacher", "random" or "solver" */
  char note[96];        /* where in the plan it came from, e.g. "rpi4 energy_mj 1/4" */
  char selection[1024]; /* candidate ids, one per slot in slot order, comma-separated */
  double macs;          /* of the assembled network, per sample */
  double val_accuracy;  /* fraction 0-1 */
  int val_images;       /* first N validation images evaluated */
  double seconds;       /* wall time of assembling and measuring */
  char created[32];
} hant_calib_sample_rec;

/* Inserts a measured sample in its own transaction (so a killed
 * calibration keeps every sample it finished); sets r->id. HANT_EINVAL
 * when r->selection is empty, HANT_EDB naming the library otherwise (a
 * second sample at the same seed and idx is refused). The library version
 * is not bumped: samples alone change no selection. */
int hant_store_calib_sample_put(hant_store *st, hant_calib_sample_rec *r);
/* Every sample, ordered by seed then idx; *out is malloc'd (free it). */
int hant_store_calib_samples(hant_store *st, hant_calib_sample_rec **out, int *n);

/* The fit (table calib_fit): predicted validation accuracy =
 * link^-1(intercept + sum of the chosen candidates' coef), link given by
 * scale (see hant_calib_scale in select/predictor.h). Held-out figures are
 * in accuracy units (fraction 0-1). */
typedef struct hant_calib_fit_rec {
  char scale[16]; /* "accuracy", "log_error" or "log_odds" */
  double intercept;
  double ridge;    /* ridge strength chosen by held-out error */
  double noise_se; /* standard error of a single-slot score */
  int samples, folds;
  double heldout_median_abs_err, heldout_p90_abs_err, heldout_kendall_tau;
  int heldout_samples;
  int64_t images;  /* validation images evaluated for all samples */
  double seconds;  /* wall time of measuring them */
  uint64_t seed;
  char created[32];
} hant_calib_fit_rec;

/* One candidate's coefficient (table calib_coef). */
typedef struct hant_calib_coef_rec {
  int64_t candidate_id;
  double coef;  /* on the fit's scale */
  double prior; /* the ridge's prior mean for it */
  int samples;  /* fitted samples containing it */
} hant_calib_coef_rec;

/* Replaces the library's fit and its coefficients in one transaction and
 * bumps the library version, so daemons and regeneration see it. */
int hant_store_calib_fit_put(hant_store *st, const hant_calib_fit_rec *f, const hant_calib_coef_rec *coefs, int n);
/* The fit and, when coefs is not NULL, its coefficients ordered by
 * candidate id (*coefs malloc'd, the caller's). HANT_ENOENT when the
 * library has no fit. */
int hant_store_calib_fit_get(hant_store *st, hant_calib_fit_rec *f, hant_calib_coef_rec **coefs, int *n);

#endif
