/* SPDX-License-Identifier: MIT */
/* test_predictor.c: the calibrated predictor recovers known coefficients, ignores noise-level gains, and steers the exact solver away from a pair of candidates that only fail together; the divergences' slot weights and chance floor come back from networks built on them. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "../test_util.h"

/* xorshift64*, independent of libhant's generator. */
static double urand(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double sigmoid(double z) { return 1 / (1 + exp(-z)); }

/* Data made by a known log-odds model, without noise: the fit must pick
 * that scale and give back its coefficients. */
static void recovers_known_coefficients(void) {
  enum { SLOTS = 4, PER = 4, C = SLOTS * PER, N = 160 };
  double truth[C], score[C], acc[N];
  int choice[N * SLOTS];
  const double b = 2.5; /* teacher accuracy sigmoid(2.5) = 0.924 */
  uint64_t s = 42;
  for (int c = 0; c < C; c++) {
    truth[c] = c % PER == 0 ? 0 : -0.1 - 0.6 * urand(&s); /* candidate 0 of each slot is the teacher's block */
    score[c] = sigmoid(b + truth[c]) - sigmoid(b);
  }
  for (int k = 0; k < N; k++) {
    double z = b;
    for (int sl = 0; sl < SLOTS; sl++) {
      int c = sl * PER + (int)(urand(&s) * PER);
      choice[k * SLOTS + sl] = c;
      z += truth[c];
    }
    acc[k] = sigmoid(z);
  }
  /* Scores from a million images: noise is no excuse here. */
  hant_predictor_data d = {SLOTS, C, score, sigmoid(b), 1000000, N, choice, acc, 0};
  hant_predictor p;
  int rc = hant_predictor_fit(&d, NULL, &p);
  CHECK(rc == 0, "fit on synthetic data: %s", hant_errmsg());
  if (rc)
    return;
  CHECK(p.scale == HANT_CALIB_LOG_ODDS, "picked scale %s, the data are log-odds additive",
        hant_calib_scale_name(p.scale));
  CHECK(p.folds == 5 && p.heldout_samples == N, "5 folds over %d samples (got %d folds, %d)", N, p.folds,
        p.heldout_samples);
  double worst = 0;
  for (int c = 0; c < C; c++)
    worst = fmax(worst, fabs((p.coef[c] - p.coef[c - c % PER]) - truth[c]));
  CHECK(worst < 1e-3, "coefficients (relative to each slot's teacher block) recovered within 1e-3, worst %.2g", worst);
  CHECK(p.heldout_median_abs_err < 1e-3, "held-out median error %.2g on noiseless data", p.heldout_median_abs_err);
  CHECK(p.heldout_kendall_tau > 0.99, "held-out Kendall tau %.4f on noiseless data", p.heldout_kendall_tau);
  hant_predictor p2;
  if (!hant_predictor_fit(&d, NULL, &p2)) {
    CHECK(!memcmp(p.coef, p2.coef, sizeof(double) * C) && p.intercept == p2.intercept,
          "a second fit of the same data is bit for bit the same");
    hant_predictor_free(&p2);
  }
  hant_predictor_free(&p);
}

static void noise_is_no_gain(void) {
  double se = hant_calib_noise_se(0.94, 5000);
  CHECK(fabs(se - 0.00336) < 1e-4, "standard error at 94%% on 5000 images is 0.0034 (got %.5f)", se);
  for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++) {
    CHECK(hant_calib_prior((hant_calib_scale)s, 0.94, 0.001, se, 1e-4, 0.1) == 0, "%s: a +0.001 score is no gain",
          hant_calib_scale_name((hant_calib_scale)s));
    CHECK(hant_calib_prior((hant_calib_scale)s, 0.94, se, se, 1e-4, 0.1) == 0, "%s: a gain of one standard error is none",
          hant_calib_scale_name((hant_calib_scale)s));
    CHECK(hant_calib_prior((hant_calib_scale)s, 0.94, -0.02, se, 1e-4, 0.1) < 0, "%s: a loss stays a loss",
          hant_calib_scale_name((hant_calib_scale)s));
    CHECK(hant_calib_prior((hant_calib_scale)s, 0.94, 0.02, se, 1e-4, 0.1) > 0, "%s: a real gain is kept",
          hant_calib_scale_name((hant_calib_scale)s));
    double z = hant_calib_link((hant_calib_scale)s, 0.8, 1e-4, 0.1);
    CHECK(fabs(hant_calib_unlink((hant_calib_scale)s, z, 0.1) - 0.8) < 1e-12, "%s: unlink inverts link",
          hant_calib_scale_name((hant_calib_scale)s));
  }
  double a[] = {1, 2, 3, 4}, b[] = {10, 20, 30, 40}, r[] = {4, 3, 2, 1};
  CHECK(hant_kendall_tau(a, b, 4) == 1 && hant_kendall_tau(a, r, 4) == -1, "Kendall tau of (anti)monotone series");
}

/* Three slots, each with the teacher's block (cost 1) and a cheap
 * candidate (cost 0); the budget (1) forces at least two cheap ones.
 * Alone, a1 and b1 look free (+0.002, noise) and c1 loses 2 points; a1
 * and b1 together break the network (50%). */
static double measure(const int *x) {
  bool a1 = x[0] == 1, b1 = x[1] == 3, c1 = x[2] == 5;
  return (a1 && b1 ? 0.5 : 0.9) - (c1 ? 0.02 : 0);
}

static void solve(const double *value, int *out) {
  size_t gsize[3] = {2, 2, 2}, ch[3];
  double cost[6] = {1, 0, 1, 0, 1, 0}, budget = 1;
  struct hant_select_problem p = {3, gsize, 1, value, cost, &budget, 0};
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "solve");
  for (int s = 0; s < 3; s++)
    out[s] = 2 * s + (int)(ch[s] = r.choice[s]);
  hant_select_result_free(&r);
}

static void interaction_avoided(void) {
  const double score[6] = {0, 0.002, 0, 0.002, 0, -0.02};
  int choice[8 * 3];
  double acc[8];
  for (int k = 0; k < 8; k++) {
    for (int s = 0; s < 3; s++)
      choice[k * 3 + s] = 2 * s + ((k >> s) & 1);
    acc[k] = measure(&choice[k * 3]);
  }
  hant_predictor_data d = {3, 6, score, 0.9, 1000, 8, choice, acc, 0.1};
  hant_predictor p;
  int rc = hant_predictor_fit(&d, NULL, &p);
  CHECK(rc == 0, "fit: %s", hant_errmsg());
  if (rc)
    return;
  int add[3], cal[3];
  solve(score, add);
  solve(p.coef, cal);
  CHECK(add[0] == 1 && add[1] == 3 && add[2] == 4, "the additive objective picks the failing pair a1+b1 (got %d %d %d)",
        add[0], add[1], add[2]);
  CHECK(!(cal[0] == 1 && cal[1] == 3), "the calibrated objective avoids the pair a1+b1 (got %d %d %d)", cal[0], cal[1],
        cal[2]);
  CHECK(measure(cal) > 0.85 && measure(add) < 0.55, "calibrated choice measures %.2f, additive %.2f", measure(cal),
        measure(add));
  double pc = hant_predictor_predict(&p, cal, 3);
  CHECK(fabs(pc - measure(cal)) < 0.1, "calibrated prediction %.3f of its choice within 0.1 of %.3f", pc,
        measure(cal));
  CHECK(p.folds == 5, "held out in 5 folds (got %d)", p.folds);
  hant_predictor_free(&p);
}

static void bad_input_named(void) {
  const double score[2] = {0, -0.01};
  int choice[2] = {0, 7};
  double acc[2] = {0.9, 0.8};
  hant_predictor_data d = {1, 2, score, 0.9, 1000, 2, choice, acc, 0.1};
  hant_predictor p;
  CHECK(hant_predictor_fit(&d, NULL, &p) == HANT_EINVAL && strstr(hant_errmsg(), "choice[1][0]"),
        "an out-of-range choice is refused, naming it: %s", hant_errmsg());
  choice[1] = 1;
  acc[1] = 1.5;
  CHECK(hant_predictor_fit(&d, NULL, &p) == HANT_EINVAL && strstr(hant_errmsg(), "accuracy[1]"),
        "an accuracy above 1 is refused, naming it: %s", hant_errmsg());
  acc[1] = 0.8;
  CHECK(hant_predictor_fit(&d, NULL, &p) == 0 && p.folds == 0 && isnan(p.heldout_median_abs_err),
        "two samples fit without held-out figures");
  hant_predictor_free(&p);
}

/* Networks whose drop below the teacher is a known weighted sum of their
 * divergences (a cut in slot 2 costs twelve times one in slot 0), some cut
 * so deep they sit at chance: the slot weights come back exactly, because
 * the collapsed networks (whose drop the floor hides) are left out of the
 * fit, and they predict held-out networks far better than one slope. */
static void slot_weights_recovered(void) {
  enum { SLOTS = 4, N = 120 };
  const double truth[SLOTS] = {0.1, 0.6, 1.2, 0.0}, teacher = 0.92, chance = 0.1;
  double kl[N * SLOTS], acc[N], w[SLOTS];
  uint64_t s = 7;
  int collapsed = 0;
  for (int i = 0; i < N; i++) {
    double drop = 0, scale = i % 4 == 0 ? 3.0 : 0.25; /* a quarter cut deep */
    for (int t = 0; t < SLOTS; t++) {
      kl[i * SLOTS + t] = scale * urand(&s);
      drop += truth[t] * kl[i * SLOTS + t];
    }
    acc[i] = teacher - drop < chance ? chance : teacher - drop;
    collapsed += acc[i] < 2 * chance;
  }
  hant_slot_weights_stats st;
  CHECK(hant_slot_weights_fit(SLOTS, N, kl, acc, teacher, chance, 0.5, 5, w, &st) == 0, "slot weights fit");
  CHECK(collapsed >= 10 && st.fitted == N - collapsed, "fitted on the %d of %d networks above twice chance (%d "
        "collapsed)", st.fitted, N, collapsed);
  double worst = 0;
  for (int t = 0; t < SLOTS; t++)
    worst = fmax(worst, fabs(w[t] - truth[t]));
  CHECK(worst < 1e-6, "the weights come back within 1e-6 (worst %.2g): %g %g %g %g", worst, w[0], w[1], w[2], w[3]);
  CHECK(st.cv_median_abs_err < 1e-6 && st.cv_tau > 0.99 && st.floor_scale == 0,
        "held out: median error %.2g, tau %.4f, on the hard floor the data has (scale %g)", st.cv_median_abs_err,
        st.cv_tau, st.floor_scale);
  /* one slope for every slot (the least-squares one through the same
   * samples would do no better than the right weights): it errs */
  double one[SLOTS] = {0.475, 0.475, 0.475, 0.475}, err = 0;
  for (int i = 0; i < N; i++) {
    double drop = 0;
    for (int t = 0; t < SLOTS; t++)
      drop += one[t] * kl[i * SLOTS + t];
    err += fabs(hant_floor_predict(teacher, drop, chance, 0) - acc[i]) / N;
  }
  CHECK(err > 0.02, "one slope errs by %.3f on average", err);
  /* too few networks to fit a weight per slot: no held-out figures */
  CHECK(hant_slot_weights_fit(SLOTS, 7, kl, acc, teacher, chance, 0.5, 5, w, &st) == 0 && isnan(st.cv_median_abs_err),
        "seven networks for four slots give no held-out figures (%d fitted)", st.fitted);
}

/* The chance floor: networks whose accuracies bend onto chance over a
 * known scale give that scale back, from the grid, and not its neighbours;
 * the prediction on it keeps ordering networks past the floor, stays
 * within its bounds, and at scale 0 is the hard floor. */
static void floor_scale_recovered(void) {
  enum { N = 60 };
  const double teacher = 0.93, chance = 0.1, truth = 0.05;
  double drop[N], acc[N];
  for (int i = 0; i < N; i++) {
    drop[i] = 1.6 * i / (N - 1); /* 0 to twice the way down to chance */
    acc[i] = hant_floor_predict(teacher, drop[i], chance, truth);
  }
  double s = hant_floor_scale_fit(N, drop, acc, teacher, chance), held[N];
  CHECK(s == truth, "the floor's scale comes back: %g (want %g)", s, truth);
  double all = hant_floor_heldout(N, drop, acc, teacher, chance, 5, held), worst = 0;
  for (int i = 0; i < N; i++)
    worst = fmax(worst, fabs(held[i] - acc[i]));
  CHECK(all == truth && worst < 1e-12, "held out in five folds each fold finds it too (scale %g, worst error %.2g)",
        all, worst);
  /* two folds on two floors, the even networks' wide and the odd ones'
   * hard: held out, each fold is predicted on the other's scale (one scale
   * fitted on all would put both folds on the same) */
  double mixed[N];
  for (int i = 0; i < N; i++)
    mixed[i] = hant_floor_predict(teacher, drop[i], chance, i % 2 ? 0 : 0.3);
  hant_floor_heldout(N, drop, mixed, teacher, chance, 2, held);
  bool crossed = true;
  for (int i = 0; i < N; i++)
    crossed &= held[i] == hant_floor_predict(teacher, drop[i], chance, i % 2 ? 0.3 : 0);
  CHECK(crossed, "each fold is predicted on the scale of the other");
  for (int i = 0; i < N; i++)
    acc[i] = fmax(chance, teacher - drop[i]);
  CHECK(hant_floor_scale_fit(N, drop, acc, teacher, chance) == 0, "a hard floor gives scale 0");
  CHECK(hant_floor_scale_fit(0, drop, acc, teacher, chance) == 0, "no networks give scale 0");
  bool ordered = true, bounded = true;
  for (int i = 0; i < N; i++) {
    double a = hant_floor_predict(teacher, drop[i], chance, truth);
    ordered &= i == 0 || a < hant_floor_predict(teacher, drop[i - 1], chance, truth);
    double hard = fmax(chance, teacher - drop[i]);
    bounded &= a > chance && a >= hard - 1e-12 && a <= hard + truth * log(2) + 1e-12;
  }
  CHECK(ordered && bounded, "the floor orders every network (%d) and lies between the hard floor max(chance, t - d) "
        "and s ln 2 above it (%d)", ordered, bounded);
  CHECK(hant_floor_predict(teacher, 0.5, chance, 0) == teacher - 0.5 && hant_floor_predict(teacher, 5, chance, 0) ==
        chance, "scale 0 is the hard floor");
  double far = hant_floor_predict(teacher, 1e6, chance, truth), up = hant_floor_predict(teacher, -1e6, chance, truth);
  CHECK(far == chance && fabs(up - (teacher + 1e6)) < 1e-6, "far from the floor nothing overflows: %g, %g", far, up);
}

int main(void) {
  floor_scale_recovered();
  slot_weights_recovered();
  recovers_known_coefficients();
  noise_is_no_gain();
  interaction_avoided();
  bad_input_named();
  return test_summary("predictor");
}
