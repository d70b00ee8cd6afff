/* SPDX-License-Identifier: MIT */
/* predictor.c: fits the calibrated accuracy predictor by ridge regression toward the single-slot scores, choosing scale and strength by cross-validation. */
#include "predictor.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "rng.h"

static const char *const scale_names[HANT_CALIB_SCALE_COUNT] = {"accuracy", "log_error", "log_odds", "log_odds_chance"};
static_assert(sizeof(scale_names) / sizeof(scale_names[0]) == HANT_CALIB_SCALE_COUNT, "one name per scale");

static const double default_ridges[] = {0.01, 0.03, 0.1, 0.3, 1, 3, 10};

const char *hant_calib_scale_name(hant_calib_scale s) {
  return s >= 0 && s < HANT_CALIB_SCALE_COUNT ? scale_names[s] : "unknown";
}

hant_calib_scale hant_calib_scale_from_name(const char *name) {
  for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++)
    if (name && !strcmp(name, scale_names[s]))
      return (hant_calib_scale)s;
  return HANT_CALIB_SCALE_COUNT;
}

double hant_calib_link(hant_calib_scale s, double a, double eps, double chance) {
  if (s == HANT_CALIB_ACCURACY)
    return a;
  double lo = s == HANT_CALIB_LOG_ODDS_CHANCE ? chance : 0;
  a = fmin(fmax(a, lo + eps), 1 - eps);
  switch (s) {
  case HANT_CALIB_LOG_ERROR: return -log1p(-a);
  case HANT_CALIB_LOG_ODDS_CHANCE: return log((a - chance) / (1 - a));
  default: return log(a / (1 - a));
  }
}

double hant_calib_unlink(hant_calib_scale s, double z, double chance) {
  switch (s) {
  case HANT_CALIB_LOG_ERROR: return -expm1(-z);
  case HANT_CALIB_LOG_ODDS: return 1 / (1 + exp(-z));
  case HANT_CALIB_LOG_ODDS_CHANCE: return chance + (1 - chance) / (1 + exp(-z));
  default: return z;
  }
}

double hant_calib_noise_se(double t, int n) { return n > 0 && t >= 0 && t <= 1 ? sqrt(t * (1 - t) / n) : 0; }

double hant_calib_prior(hant_calib_scale s, double t, double score, double se, double eps, double chance) {
  /* A gain within the noise is no gain; a loss is kept, being the safe side. */
  double adj = score > se ? score - se : fmin(score, 0);
  return hant_calib_link(s, t + adj, eps, chance) - hant_calib_link(s, t, eps, chance);
}

void hant_predictor_opts_default(hant_predictor_opts *o) {
  memset(o, 0, sizeof(*o));
  o->folds = 5;
  o->seed = 1;
}

void hant_predictor_free(hant_predictor *p) {
  if (!p)
    return;
  free(p->coef);
  free(p->prior);
  free(p->count);
  p->coef = p->prior = NULL;
  p->count = NULL;
}

double hant_predictor_predict(const hant_predictor *p, const int *choice, int n_slots) {
  double z = p->intercept;
  for (int s = 0; s < n_slots; s++)
    z += p->coef[choice[s]];
  return hant_calib_unlink(p->scale, z, p->chance);
}

double hant_kendall_tau(const double *a, const double *b, int n) {
  double conc = 0, disc = 0, ta = 0, tb = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double x = a[i] - a[j], y = b[i] - b[j];
      if (x == 0 && y == 0)
        continue;
      if (x == 0)
        ta++;
      else if (y == 0)
        tb++;
      else if ((x > 0) == (y > 0))
        conc++;
      else
        disc++;
    }
  double den = sqrt((conc + disc + ta) * (conc + disc + tb));
  return n >= 2 && den > 0 ? (conc - disc) / den : NAN;
}

/* ---- one ridge fit -------------------------------------------------------- */

/* In-place Cholesky of the d x d row-major SPD matrix a (lower triangle
 * used); HANT_EINVAL when it is not positive definite (cannot happen with
 * a positive ridge, but rounding is checked rather than trusted). */
static int cholesky(double *a, int d) {
  for (int j = 0; j < d; j++) {
    double s = a[(size_t)j * d + j];
    for (int k = 0; k < j; k++)
      s -= a[(size_t)j * d + k] * a[(size_t)j * d + k];
    if (!(s > 0))
      return hant__error(HANT_EINVAL, "predictor: the ridge system is not positive definite at row %d", j);
    double l = sqrt(s);
    a[(size_t)j * d + j] = l;
    for (int i = j + 1; i < d; i++) {
      double t = a[(size_t)i * d + j];
      for (int k = 0; k < j; k++)
        t -= a[(size_t)i * d + k] * a[(size_t)j * d + k];
      a[(size_t)i * d + j] = t / l;
    }
  }
  return 0;
}

static void chol_solve(const double *l, int d, double *x) {
  for (int i = 0; i < d; i++) {
    double t = x[i];
    for (int k = 0; k < i; k++)
      t -= l[(size_t)i * d + k] * x[k];
    x[i] = t / l[(size_t)i * d + i];
  }
  for (int i = d - 1; i >= 0; i--) {
    double t = x[i];
    for (int k = i + 1; k < d; k++)
      t -= l[(size_t)k * d + i] * x[k];
    x[i] = t / l[(size_t)i * d + i];
  }
}

/* The fit works on deviations from the prior: theta = (b - link(t), w - w0),
 * features (1, indicators), target link(a) - link(t) - sum w0. The Gram
 * matrix depends only on which samples are in, so one factorisation per
 * (fold, ridge) serves every scale. */
struct work {
  const hant_predictor_data *d;
  int dim;      /* 1 + n_cands */
  double eps;
  double *gram; /* [dim, dim] */
  double *chol; /* [dim, dim] */
  double *w0[HANT_CALIB_SCALE_COUNT];  /* [n_cands] priors per scale */
  double *y[HANT_CALIB_SCALE_COUNT];   /* [n_samples] targets per scale (deviations) */
  double *theta;                       /* [dim] */
};

/* Sample k's candidates as feature indices (1 + candidate). */
static const int *row(const struct work *w, int k) { return w->d->choice + (size_t)k * (size_t)w->d->n_slots; }

static void gram_build(struct work *w, const unsigned char *in) {
  int dim = w->dim, ns = w->d->n_slots;
  memset(w->gram, 0, sizeof(double) * (size_t)dim * (size_t)dim);
  for (int k = 0; k < w->d->n_samples; k++) {
    if (!in[k])
      continue;
    const int *r = row(w, k);
    w->gram[0]++;
    for (int a = 0; a < ns; a++) {
      int i = 1 + r[a];
      w->gram[(size_t)i * dim] += 1;
      for (int b = 0; b < ns; b++)
        w->gram[(size_t)i * dim + 1 + r[b]] += 1;
    }
  }
}

/* theta for one scale from the current factorisation. */
static void solve_scale(struct work *w, const unsigned char *in, int s) {
  int dim = w->dim, ns = w->d->n_slots;
  memset(w->theta, 0, sizeof(double) * (size_t)dim);
  for (int k = 0; k < w->d->n_samples; k++) {
    if (!in[k])
      continue;
    const int *r = row(w, k);
    w->theta[0] += w->y[s][k];
    for (int a = 0; a < ns; a++)
      w->theta[1 + r[a]] += w->y[s][k];
  }
  chol_solve(w->chol, dim, w->theta);
}

static int factor(struct work *w, double ridge) {
  int dim = w->dim;
  memcpy(w->chol, w->gram, sizeof(double) * (size_t)dim * (size_t)dim);
  /* The intercept is nearly free: every sample informs it. */
  w->chol[0] += 0.01 * ridge;
  for (int i = 1; i < dim; i++)
    w->chol[(size_t)i * dim + i] += ridge;
  return cholesky(w->chol, dim);
}

static double predict_theta(const struct work *w, int s, int k) {
  double z = hant_calib_link((hant_calib_scale)s, w->d->teacher_accuracy, w->eps, w->d->chance) + w->theta[0];
  const int *r = row(w, k);
  for (int a = 0; a < w->d->n_slots; a++)
    z += w->w0[s][r[a]] + w->theta[1 + r[a]];
  return hant_calib_unlink((hant_calib_scale)s, z, w->d->chance);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int hant_prediction_errors(const double *predicted, const double *measured, int n, double *median_abs_err,
                           double *p90_abs_err, double *kendall_tau) {
  *median_abs_err = *p90_abs_err = *kendall_tau = NAN;
  if (n < 1)
    return 0;
  double *err = malloc(sizeof(double) * (size_t)n);
  if (!err)
    return HANT_ENOMEM;
  for (int k = 0; k < n; k++)
    err[k] = fabs(predicted[k] - measured[k]);
  qsort(err, (size_t)n, sizeof(double), cmp_double);
  *median_abs_err = n % 2 ? err[n / 2] : 0.5 * (err[n / 2 - 1] + err[n / 2]);
  int i90 = (int)ceil(0.9 * n) - 1;
  *p90_abs_err = err[i90 < 0 ? 0 : i90];
  *kendall_tau = hant_kendall_tau(predicted, measured, n);
  free(err);
  return 0;
}

static int check_data(const hant_predictor_data *d, const hant_predictor_opts *o) {
  if (d->n_slots < 1 || d->n_cands < 1)
    return hant__error(HANT_EINVAL, "predictor: expected at least one slot and one candidate");
  if (d->n_samples < 1)
    return hant__error(HANT_EINVAL, "predictor: no measured samples to fit");
  if (!(d->teacher_accuracy > 0 && d->teacher_accuracy < 1))
    return hant__error(HANT_EINVAL, "predictor: teacher_accuracy %g is not in (0, 1)", d->teacher_accuracy);
  for (int c = 0; c < d->n_cands; c++)
    if (!isfinite(d->score[c]))
      return hant__error(HANT_EINVAL, "predictor: score[%d] is not a finite number", c);
  for (int k = 0; k < d->n_samples; k++) {
    if (!(d->accuracy[k] >= 0 && d->accuracy[k] <= 1))
      return hant__error(HANT_EINVAL, "predictor: accuracy[%d] = %g is not in [0, 1]", k, d->accuracy[k]);
    for (int s = 0; s < d->n_slots; s++) {
      int c = d->choice[(size_t)k * (size_t)d->n_slots + (size_t)s];
      if (c < 0 || c >= d->n_cands)
        return hant__error(HANT_EINVAL, "predictor: choice[%d][%d] = %d is not a candidate index (0-%d)", k, s, c,
                           d->n_cands - 1);
    }
  }
  for (int r = 0; r < o->n_ridges; r++)
    if (!(o->ridges[r] > 0) || !isfinite(o->ridges[r]))
      return hant__error(HANT_EINVAL, "predictor: ridge[%d] = %g is not a positive number", r, o->ridges[r]);
  return 0;
}

int hant_predictor_fit(const hant_predictor_data *d, const hant_predictor_opts *opts, hant_predictor *out) {
  memset(out, 0, sizeof(*out));
  hant_predictor_opts def;
  if (!opts) {
    hant_predictor_opts_default(&def);
    opts = &def;
  }
  int rc = check_data(d, opts);
  if (rc)
    return rc;
  const double *ridges = opts->n_ridges ? opts->ridges : default_ridges;
  int n_ridges = opts->n_ridges ? opts->n_ridges : (int)(sizeof(default_ridges) / sizeof(default_ridges[0]));
  unsigned scales = opts->scales ? opts->scales : (1u << HANT_CALIB_SCALE_COUNT) - 1;
  /* Without a chance level below the teacher's accuracy the floored link
   * means nothing. */
  if (!(d->chance > 0 && d->chance < d->teacher_accuracy))
    scales &= ~(1u << HANT_CALIB_LOG_ODDS_CHANCE);
  int n = d->n_samples, nc = d->n_cands;
  int folds = n >= 4 ? (opts->folds > 1 ? opts->folds : 5) : 0;
  if (folds > n)
    folds = n;
  struct work w = {.d = d, .dim = 1 + nc, .eps = 0.5 / (d->val_images > 0 ? d->val_images : 1000)};
  size_t dd = (size_t)w.dim * (size_t)w.dim;
  int *fold = malloc(sizeof(int) * (size_t)n);
  unsigned char *in = malloc((size_t)n);
  double *pred = malloc(sizeof(double) * (size_t)n * HANT_CALIB_SCALE_COUNT * (size_t)n_ridges);
  w.gram = malloc(sizeof(double) * dd);
  w.chol = malloc(sizeof(double) * dd);
  w.theta = malloc(sizeof(double) * (size_t)w.dim);
  out->coef = malloc(sizeof(double) * (size_t)nc);
  out->prior = malloc(sizeof(double) * (size_t)nc);
  out->count = calloc((size_t)nc, sizeof(int));
  rc = !fold || !in || !pred || !w.gram || !w.chol || !w.theta || !out->coef || !out->prior || !out->count
           ? HANT_ENOMEM
           : 0;
  out->noise_se = hant_calib_noise_se(d->teacher_accuracy, d->val_images);
  for (int s = 0; s < HANT_CALIB_SCALE_COUNT && !rc; s++) {
    w.w0[s] = malloc(sizeof(double) * (size_t)nc);
    w.y[s] = malloc(sizeof(double) * (size_t)n);
    if (!w.w0[s] || !w.y[s]) {
      rc = HANT_ENOMEM;
      break;
    }
    double lt = hant_calib_link((hant_calib_scale)s, d->teacher_accuracy, w.eps, d->chance);
    for (int c = 0; c < nc; c++)
      w.w0[s][c] =
          hant_calib_prior((hant_calib_scale)s, d->teacher_accuracy, d->score[c], out->noise_se, w.eps, d->chance);
    for (int k = 0; k < n; k++) {
      double y = hant_calib_link((hant_calib_scale)s, d->accuracy[k], w.eps, d->chance) - lt;
      for (int a = 0; a < d->n_slots; a++)
        y -= w.w0[s][row(&w, k)[a]];
      w.y[s][k] = y;
    }
  }
  if (rc)
    goto out;
  /* Folds: a seeded shuffle dealt round-robin, so each fold mixes origins. */
  hant_rng rng;
  hant_rng_seed(&rng, opts->seed ^ 0x63616c6962ull);
  for (int k = 0; k < n; k++)
    fold[k] = k;
  hant_rng_shuffle(&rng, fold, n);
  int *pos = malloc(sizeof(int) * (size_t)n);
  if (!pos) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 0; i < n; i++)
    pos[fold[i]] = i;
  for (int k = 0; k < n; k++)
    fold[k] = folds ? pos[k] % folds : 0;
  free(pos);

  int best_s = HANT_CALIB_LOG_ODDS, best_r = 0;
  for (int r = 0; r < n_ridges; r++)
    if (ridges[r] == 1)
      best_r = r;
  for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++)
    out->heldout_mean_abs_err[s] = NAN;
  out->heldout_median_abs_err = out->heldout_p90_abs_err = out->heldout_kendall_tau = NAN;
  if (folds) {
    double best = INFINITY;
    for (int f = 0; f < folds && !rc; f++) {
      for (int k = 0; k < n; k++)
        in[k] = fold[k] != f;
      gram_build(&w, in);
      for (int r = 0; r < n_ridges && !rc; r++) {
        if ((rc = factor(&w, ridges[r])))
          break;
        for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++) {
          if (!(scales & (1u << s)))
            continue;
          solve_scale(&w, in, s);
          for (int k = 0; k < n; k++)
            if (!in[k])
              pred[((size_t)r * HANT_CALIB_SCALE_COUNT + (size_t)s) * (size_t)n + (size_t)k] = predict_theta(&w, s, k);
        }
      }
    }
    if (rc)
      goto out;
    for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++) {
      if (!(scales & (1u << s)))
        continue;
      for (int r = 0; r < n_ridges; r++) {
        const double *p = pred + ((size_t)r * HANT_CALIB_SCALE_COUNT + (size_t)s) * (size_t)n;
        double mae = 0;
        for (int k = 0; k < n; k++)
          mae += fabs(p[k] - d->accuracy[k]);
        mae /= n;
        if (!(mae >= out->heldout_mean_abs_err[s]))
          out->heldout_mean_abs_err[s] = mae;
        /* Ties keep the earlier (scale, smaller ridge): a fixed order keeps the choice deterministic. */
        if (mae < best) {
          best = mae;
          best_s = s;
          best_r = r;
        }
      }
    }
    const double *p = pred + ((size_t)best_r * HANT_CALIB_SCALE_COUNT + (size_t)best_s) * (size_t)n;
    if ((rc = hant_prediction_errors(p, d->accuracy, n, &out->heldout_median_abs_err, &out->heldout_p90_abs_err,
                                     &out->heldout_kendall_tau)))
      goto out;
    out->heldout_samples = n;
  } else if (!(scales & (1u << best_s))) {
    for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++)
      if (scales & (1u << s)) {
        best_s = s;
        break;
      }
  }
  /* The final fit on every sample. */
  for (int k = 0; k < n; k++)
    in[k] = 1;
  gram_build(&w, in);
  if ((rc = factor(&w, ridges[best_r])))
    goto out;
  solve_scale(&w, in, best_s);
  out->scale = (hant_calib_scale)best_s;
  out->ridge = ridges[best_r];
  out->folds = folds;
  out->n_samples = n;
  out->n_cands = nc;
  out->intercept = hant_calib_link(out->scale, d->teacher_accuracy, w.eps, d->chance) + w.theta[0];
  out->chance = d->chance;
  for (int c = 0; c < nc; c++) {
    out->prior[c] = w.w0[best_s][c];
    out->coef[c] = w.w0[best_s][c] + w.theta[1 + c];
  }
  for (int k = 0; k < n; k++)
    for (int a = 0; a < d->n_slots; a++)
      out->count[row(&w, k)[a]]++;
out:
  for (int s = 0; s < HANT_CALIB_SCALE_COUNT; s++) {
    free(w.w0[s]);
    free(w.y[s]);
  }
  free(w.gram);
  free(w.chol);
  free(w.theta);
  free(fold);
  free(in);
  free(pred);
  if (rc)
    hant_predictor_free(out);
  return rc;
}

/* ---- divergences weighed by slot ------------------------------------------- */

/* Least squares with every w_s >= 0 over the samples use[] marks, by cyclic
 * coordinate descent (exact in each coordinate; the problem is convex, so
 * it converges to the optimum). A slot no marked sample cuts keeps w0. */
static void slot_weights_nnls(int ns, int n, const double *kl, const double *drop, const unsigned char *use, double w0,
                              double *w) {
  for (int s = 0; s < ns; s++)
    w[s] = w0;
  for (int sweep = 0; sweep < 2000; sweep++) {
    double moved = 0;
    for (int s = 0; s < ns; s++) {
      double num = 0, den = 0;
      for (int i = 0; i < n; i++) {
        if (!use[i])
          continue;
        const double *k = kl + (size_t)i * (size_t)ns;
        double r = drop[i];
        for (int t = 0; t < ns; t++)
          r -= t == s ? 0 : w[t] * k[t];
        num += k[s] * r;
        den += k[s] * k[s];
      }
      double v = den > 0 ? fmax(0, num / den) : w0;
      moved = fmax(moved, fabs(v - w[s]));
      w[s] = v;
    }
    if (moved < 1e-12)
      break;
  }
}

double hant_floor_predict(double teacher, double drop, double chance, double floor_scale) {
  double a = teacher - drop;
  if (!(floor_scale > 0))
    return a < chance ? chance : a;
  double u = (a - chance) / floor_scale;
  /* log1p(exp(u)) = u + log1p(exp(-u)): exact for large u without overflow */
  return chance + floor_scale * (u > 0 ? u + log1p(exp(-u)) : log1p(exp(u)));
}

double hant_floor_scale_fit(int n, const double *drop, const double *acc, double teacher, double chance) {
  static const double grid[] = {0, HANT_FLOOR_SCALES};
  double best = 0, best_err = INFINITY;
  for (size_t g = 0; g < sizeof(grid) / sizeof(grid[0]); g++) {
    double err = 0;
    for (int i = 0; i < n; i++)
      err += fabs(hant_floor_predict(teacher, drop[i], chance, grid[g]) - acc[i]);
    if (n > 0 && err < best_err) {
      best_err = err;
      best = grid[g];
    }
  }
  return best;
}

double hant_floor_heldout(int n, const double *drop, const double *acc, double teacher, double chance, int folds,
                          double *pred) {
  double all = hant_floor_scale_fit(n, drop, acc, teacher, chance);
  size_t nn = (size_t)(n > 0 ? n : 1);
  double *d = malloc(sizeof(double) * nn), *a = malloc(sizeof(double) * nn);
  if (!d || !a) {
    free(d);
    free(a);
    return -1;
  }
  for (int f = 0; f < (folds > 1 ? folds : 1); f++) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (folds > 1 && i % folds != f)
        d[m] = drop[i], a[m++] = acc[i];
    double s = folds > 1 ? hant_floor_scale_fit(m, d, a, teacher, chance) : all;
    for (int i = f; i < n; i += folds > 1 ? folds : 1)
      pred[i] = hant_floor_predict(teacher, drop[i], chance, s);
  }
  free(d);
  free(a);
  return all;
}

int hant_slot_weights_fit(int n_slots, int n, const double *kl, const double *acc, double teacher, double chance,
                          double w0, int folds, double *w, hant_slot_weights_stats *st) {
  int ns = n_slots, rc = 0;
  size_t nn = (size_t)(n > 0 ? n : 1);
  double *drop = malloc(sizeof(double) * nn), *pred = malloc(sizeof(double) * nn),
         *wf = malloc(sizeof(double) * (size_t)(ns > 0 ? ns : 1));
  unsigned char *use = malloc(nn);
  st->fitted = 0;
  st->floor_scale = 0;
  st->cv_median_abs_err = st->cv_p90_abs_err = st->cv_tau = NAN;
  if (!drop || !pred || !wf || !use) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 0; i < n; i++) {
    drop[i] = teacher - acc[i];
    use[i] = acc[i] >= 2 * chance;
    st->fitted += use[i];
  }
  slot_weights_nnls(ns, n, kl, drop, use, w0, w);
  if (folds < 2 || st->fitted < 2 * ns) /* too few to fit a weight per slot and hold a fold out */
    goto out;
  for (int f = 0; f < folds; f++) {
    for (int i = 0; i < n; i++)
      use[i] = i % folds != f && acc[i] >= 2 * chance;
    slot_weights_nnls(ns, n, kl, drop, use, w0, wf);
    for (int i = f; i < n; i += folds) { /* the drop, then the prediction on the floor fitted on every drop */
      pred[i] = 0;
      for (int s = 0; s < ns; s++)
        pred[i] += wf[s] * kl[(size_t)i * (size_t)ns + (size_t)s];
    }
  }
  memcpy(drop, pred, sizeof(double) * nn); /* the held-out drops; the fit is done with the measured ones */
  if ((st->floor_scale = hant_floor_heldout(n, drop, acc, teacher, chance, folds, pred)) < 0) {
    st->floor_scale = 0;
    rc = HANT_ENOMEM;
    goto out;
  }
  rc = hant_prediction_errors(pred, acc, n, &st->cv_median_abs_err, &st->cv_p90_abs_err, &st->cv_tau);
out:
  free(drop);
  free(pred);
  free(wf);
  free(use);
  return rc;
}
