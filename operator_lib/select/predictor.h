/* SPDX-License-Identifier: MIT */
/* predictor.h: the calibrated accuracy predictor: per-candidate coefficients fitted on measured assembled networks, linear in the choice so the exact solver maximises it. */
#ifndef HANT_PREDICTOR_H
#define HANT_PREDICTOR_H

#include <stdint.h>

/*
 * The model. For a choice x (one candidate per slot) the predicted
 * validation accuracy is
 *
 *     a(x) = link^-1(b + sum_slots w_{x_s}),
 *
 * with one coefficient w_c per candidate and an intercept b, on one of
 * four scales, all increasing, so that maximising sum_s w_{x_s} in the
 * integer program maximises a(x) exactly:
 *
 *     accuracy         link(a) = a
 *     log_error        link(a) = -log(1 - a)    (errors compound multiplicatively)
 *     log_odds         link(a) = log(a / (1 - a))
 *     log_odds_chance  link(a) = log((a - c) / (1 - a)), c the chance level
 *                      (1 / classes): a collapsed network scores chance, not
 *                      zero, and this link never predicts below it
 *
 * The fit is ridge regression of link(measured accuracy) on the choice
 * indicators, each w_c pulled toward a prior mean w0_c and b toward
 * link(teacher accuracy):
 *
 *     w0_c = link(t + s'_c) - link(t),   s'_c = s_c - se  if s_c > se,
 *                                               min(s_c, 0) otherwise,
 *
 * t the teacher's validation accuracy, s_c the candidate's single-slot
 * score and se = sqrt(t (1 - t) / n) the standard error of a score measured
 * on n validation images: a score within its standard error of zero is no
 * gain, so the prior never rewards it, and a larger gain is shrunk by one
 * standard error. A candidate no sample contains keeps w_c = w0_c.
 *
 * The scale and the ridge strength are chosen by k-fold cross-validation:
 * the pair with the lowest mean absolute held-out error (in accuracy) wins,
 * and the held-out figures of that pair are reported. Accuracies are
 * clamped to [0.5 / n, 1 - 0.5 / n] before the logarithmic links.
 */

typedef enum hant_calib_scale {
  HANT_CALIB_ACCURACY,
  HANT_CALIB_LOG_ERROR,
  HANT_CALIB_LOG_ODDS,
  HANT_CALIB_LOG_ODDS_CHANCE,
  HANT_CALIB_SCALE_COUNT
} hant_calib_scale;

/* "accuracy", "log_error", "log_odds", "log_odds_chance"; never NULL. */
const char *hant_calib_scale_name(hant_calib_scale s);
/* HANT_CALIB_SCALE_COUNT for an unknown name. */
hant_calib_scale hant_calib_scale_from_name(const char *name);
/* link(a) and link^-1(z) of a scale; chance is the chance level c of
 * log_odds_chance (ignored by the others). link clamps a to [eps, 1 - eps]
 * (to [c + eps, 1 - eps] for log_odds_chance) for the logarithmic scales
 * (eps > 0); link^-1 of the accuracy scale is not clamped. */
double hant_calib_link(hant_calib_scale s, double a, double eps, double chance);
double hant_calib_unlink(hant_calib_scale s, double z, double chance);

/* se = sqrt(t (1 - t) / n): the standard error of an accuracy t measured
 * on n images (0.0034 at t = 0.94, n = 5000). */
double hant_calib_noise_se(double t, int n);
/* The prior mean w0 of a candidate with single-slot score `score`, as above. */
double hant_calib_prior(hant_calib_scale s, double t, double score, double se, double eps, double chance);

/* What the fit reads. The caller owns every array. */
typedef struct hant_predictor_data {
  int n_slots;
  int n_cands;
  const double *score;     /* [n_cands] single-slot validation scores (accuracy change, fraction) */
  double teacher_accuracy; /* validation accuracy of the teacher, fraction 0-1 */
  int val_images;          /* images behind the scores and the samples (noise and clamping) */
  int n_samples;
  const int *choice;       /* [n_samples, n_slots] candidate indices in [0, n_cands) */
  const double *accuracy;  /* [n_samples] measured validation accuracy, fraction 0-1 */
  double chance;           /* chance accuracy, 1 / classes; 0: log_odds_chance is not tried */
} hant_predictor_data;

typedef struct hant_predictor_opts {
  int folds;                /* of the cross-validation (default 5; fewer when there are fewer samples) */
  uint64_t seed;            /* of the fold assignment */
  unsigned scales;          /* bit (1 << s) per scale tried; 0: all (log_odds_chance only with a chance level) */
  int n_ridges;             /* 0: the default grid 0.01, 0.03, 0.1, 0.3, 1, 3, 10 */
  const double *ridges;     /* [n_ridges] ridge strengths tried, each > 0 */
} hant_predictor_opts;

void hant_predictor_opts_default(hant_predictor_opts *o);

/* A fitted predictor. hant_predictor_fit fills it; hant_predictor_free
 * releases its arrays. */
typedef struct hant_predictor {
  hant_calib_scale scale;
  double chance; /* the data's chance level, for log_odds_chance */
  double intercept;
  double ridge;
  double noise_se;
  int n_cands;
  double *coef;  /* [n_cands] w_c */
  double *prior; /* [n_cands] w0_c */
  int *count;    /* [n_cands] samples containing the candidate */
  int n_samples;
  int folds;     /* 0 when there were too few samples (< 4) to hold any out */
  /* Held out, for the chosen scale and ridge; NaN without folds. Errors
   * are |predicted - measured| validation accuracy, fraction 0-1. */
  double heldout_median_abs_err, heldout_p90_abs_err, heldout_kendall_tau;
  int heldout_samples;
  double heldout_mean_abs_err[HANT_CALIB_SCALE_COUNT]; /* best over the ridges, per scale; NaN if not tried */
} hant_predictor;

/* Fits d. With fewer than 4 samples nothing is held out: the scale is
 * log_odds and the ridge 1. Returns 0, HANT_EINVAL naming the field
 * (a choice index out of range, an accuracy outside [0, 1], no samples,
 * a ridge <= 0), or HANT_ENOMEM. Deterministic for the same data and opts. */
int hant_predictor_fit(const hant_predictor_data *d, const hant_predictor_opts *o, hant_predictor *out);
void hant_predictor_free(hant_predictor *p);

/* a(x) of a choice ([n_slots] candidate indices). */
double hant_predictor_predict(const hant_predictor *p, const int *choice, int n_slots);

/* Kendall's tau-b of two series of n values (ties in either count as
 * neither concordant nor discordant); NaN when n < 2 or a series is constant. */
double hant_kendall_tau(const double *a, const double *b, int n);

/* How n predictions match n measurements: the median and 90th-percentile
 * absolute error and Kendall's tau-b. HANT_ENOMEM, else 0. */
int hant_prediction_errors(const double *predicted, const double *measured, int n, double *median_abs_err,
                           double *p90_abs_err, double *kendall_tau);

/* The chance floor of the divergences' prediction. A network whose
 * modelled drop below the teacher's accuracy t is d is predicted at
 *
 *     t - d                                   when s = 0, at least chance c,
 *     c + s ln(1 + exp((t - d - c) / s))      when s > 0,
 *
 * a softplus that is t - d well above chance and bends onto the floor over
 * about s (fraction of accuracy): it lies between the hard floor
 * max(c, t - d) and s ln 2 above it, and, unlike the hard floor, it keeps
 * ordering the networks that collapse by how far their divergences say
 * they fell (on the default library, the measured accuracies of collapsed
 * networks, 8-30 %, follow that order with a Kendall tau of 0.55). */
double hant_floor_predict(double teacher, double drop, double chance, double floor_scale);

/* The scale of the floor: of 0 and the grid HANT_FLOOR_SCALES, the one
 * whose predictions of n networks (drop[i] each network's drop, predicted
 * without it: its fold's) err least in mean absolute value against their
 * measured accuracies acc[i]. The mean, not the median: the floor's shape
 * matters only near chance, where the median does not look. 0 when n < 1. */
#define HANT_FLOOR_SCALES 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.12, 0.15, 0.2, 0.3
double hant_floor_scale_fit(int n, const double *drop, const double *acc, double teacher, double chance);
/* The floor held out: pred[i] is network i's prediction on the scale
 * fitted without its fold (the networks j with j % folds != i % folds),
 * so that the scale, too, is out of the sample its error is counted on;
 * returns the scale fitted on all n. With folds < 2 every prediction uses
 * that one. HANT_ENOMEM leaves pred unset and returns -1. */
double hant_floor_heldout(int n, const double *drop, const double *acc, double teacher, double chance, int folds,
                          double *pred);

/* Divergences weighed by slot. A network's drop below the teacher's
 * accuracy is modelled as sum_s w_s kl_s, kl_s the divergence of its
 * candidate in slot s (one weight per slot: a cut costs more where it
 * compounds through more of the network), the prediction teacher - that
 * on the chance floor (hant_floor_predict). */
typedef struct hant_slot_weights_stats {
  int fitted; /* samples at twice chance or more: those the weights are fitted on */
  /* The floor's scale, fitted on the cross-validated drops
   * (hant_floor_scale_fit); 0 without them. */
  double floor_scale;
  /* Cross-validated: sample i predicted by the weights fitted without fold
   * i % folds, on the floor fitted without it (hant_floor_heldout). NaN
   * with fewer than two fitted samples per slot or folds < 2. */
  double cv_median_abs_err, cv_p90_abs_err, cv_tau;
} hant_slot_weights_stats;

/* Fits w ([n_slots]) on n samples (kl [n, n_slots], measured accuracy acc
 * [n]) by least squares with every w_s >= 0, on the samples at twice chance
 * or more only (a network that collapsed to chance shows its loss only up to
 * the floor); a slot that none of them cuts keeps w0, as does every slot
 * when none is fitted. Deterministic. HANT_ENOMEM, else 0. */
int hant_slot_weights_fit(int n_slots, int n, const double *kl, const double *acc, double teacher, double chance,
                          double w0, int folds, double *w, hant_slot_weights_stats *st);

#endif
