/* SPDX-License-Identifier: MIT */
/* calibration.c: draws the calibration plan, measures each assembled network on the validation split, and fits and stores the predictor. */
#include "calibration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "deploy.h"
#include "rng.h"
#include "select.h"
#include "store_calib.h"
#include "transform_solve.h"
#include "train.h"

void hant_calibration_opts_default(hant_calibration_opts *o) {
  memset(o, 0, sizeof(*o));
  o->seed = 1;
  o->random_samples = 48;
  o->folds = 5;
}

void hant_calibration_plan_destroy(hant_calibration_plan *p) {
  if (!p)
    return;
  free(p->choice);
  free(p->origin);
  free(p->note);
  free(p);
}

/* Appends a selection unless the plan has it already. */
static int plan_add(hant_calibration_plan *p, int cap, const int *choice, const char *origin, const char *note) {
  size_t ns = (size_t)p->n_slots;
  for (int i = 0; i < p->n; i++)
    if (!memcmp(p->choice + (size_t)i * ns, choice, sizeof(int) * ns))
      return 0;
  if (p->n >= cap)
    return hant__error(HANT_ERANGE, "calibration plan: more than %d positions", cap);
  memcpy(p->choice + (size_t)p->n * ns, choice, sizeof(int) * ns);
  snprintf(p->origin[p->n], sizeof(p->origin[0]), "%s", origin);
  snprintf(p->note[p->n], sizeof(p->note[0]), "%s", note);
  p->n++;
  return 0;
}

/* The solver's choice with one budget: cost[c] per candidate (NAN where
 * the candidate has no cost), budget on their sum. Values are the
 * single-slot scores, never a previous fit's coefficients, so that the plan
 * depends only on the seed and the library's candidates and costs: a rerun
 * after a fit draws the same plan. */
static int solver_choice(const hant_library *lib, const double *values, const double *cost, double budget, int *choice,
                         int *found) {
  *found = 0;
  int ns = lib->n_slots, rc = 0;
  size_t *gsize = calloc((size_t)ns, sizeof(size_t));
  int *item = malloc(sizeof(int) * (size_t)lib->n_cands);
  double *value = malloc(sizeof(double) * (size_t)lib->n_cands), *c = malloc(sizeof(double) * (size_t)lib->n_cands);
  struct hant_select_result r;
  hant_select_result_init(&r);
  if (!gsize || !item || !value || !c) {
    rc = HANT_ENOMEM;
    goto out;
  }
  size_t n = 0;
  for (int s = 0; s < ns; s++) {
    for (int j = 0; j < lib->slot_count[s]; j++) {
      int ci = lib->slot_first[s] + j;
      if (isnan(cost[ci]))
        continue;
      item[n] = ci;
      value[n] = values ? values[ci] : lib->cands[ci].score;
      c[n] = cost[ci];
      n++;
      gsize[s]++;
    }
    if (!gsize[s])
      goto out; /* this slot has no costed candidate: no choice on this device */
  }
  struct hant_select_problem p = {(size_t)ns, gsize, 1, value, c, &budget, 0};
  if ((rc = hant_select_solve(&p, &r)) || !r.has_choice)
    goto out;
  size_t o = 0;
  for (int s = 0; s < ns; s++) {
    choice[s] = item[o + r.choice[s]];
    o += gsize[s];
  }
  *found = 1;
out:
  hant_select_result_free(&r);
  free(gsize);
  free(item);
  free(value);
  free(c);
  return rc;
}

static double macs_of(const hant_library *lib, const int *choice) {
  double m = 0;
  for (int s = 0; s < lib->n_slots; s++)
    m += lib->cands[choice[s]].macs;
  return m;
}

/* One selection with total MACs in [lo, hi], drawn slot by slot in a
 * random order among the candidates that keep the interval reachable
 * (by the cheapest and dearest choices of the slots still to visit). If
 * rounding leaves none, the candidate closest to reachable is taken. */
static void draw_in(const hant_library *lib, hant_rng *rng, double lo, double hi, const double *mn, const double *mx,
                    int *order, int *pick, int *choice) {
  int ns = lib->n_slots;
  for (int s = 0; s < ns; s++)
    order[s] = s;
  hant_rng_shuffle(rng, order, ns);
  double cur = 0, rest_min = 0, rest_max = 0;
  for (int s = 0; s < ns; s++)
    rest_min += mn[s], rest_max += mx[s];
  for (int k = 0; k < ns; k++) {
    int s = order[k];
    rest_min -= mn[s];
    rest_max -= mx[s];
    int n = 0, best = lib->slot_first[s];
    double best_miss = INFINITY;
    for (int j = 0; j < lib->slot_count[s]; j++) {
      int ci = lib->slot_first[s] + j;
      double t = cur + lib->cands[ci].macs;
      double miss = fmax(t + rest_min - hi, 0) + fmax(lo - (t + rest_max), 0);
      if (miss <= 0)
        pick[n++] = ci;
      if (miss < best_miss)
        best_miss = miss, best = ci;
    }
    int ci = n ? pick[hant_rng_below(rng, (uint32_t)n)] : best;
    choice[s] = ci;
    cur += lib->cands[ci].macs;
  }
}

/* The budgets the solver is tried at: 1/2, 1/4 and 1/8 of the teacher's
 * MACs, and of its energy and latency on every device with costs (first
 * power mode). cost is [n, n_cands] (NAN where a candidate has no cost). */
typedef struct budget_list {
  int n;
  double *cost;
  double *budget;
  char (*note)[200];
} budget_list;

static void budget_list_free(budget_list *b) {
  free(b->cost);
  free(b->budget);
  free(b->note);
}

static int budget_list_make(const hant_library *lib, const int *teacher, budget_list *b) {
  static const int divisors[] = {2, 4, 8};
  int cap = 3 * (1 + 2 * lib->n_devices), nc = lib->n_cands;
  memset(b, 0, sizeof(*b));
  b->cost = malloc(sizeof(double) * (size_t)cap * (size_t)(nc > 0 ? nc : 1));
  b->budget = malloc(sizeof(double) * (size_t)cap);
  b->note = calloc((size_t)cap, sizeof(*b->note));
  if (!b->cost || !b->budget || !b->note) {
    budget_list_free(b);
    return HANT_ENOMEM;
  }
  for (int d = -1; d < lib->n_devices; d++) {
    const hant_library_device *dev = d >= 0 ? &lib->devices[d] : NULL;
    if (dev && dev->n_modes == 0)
      continue;
    const hant_library_mode *md = dev ? &dev->modes[0] : NULL;
    double factor = dev && dev->has_additivity ? dev->additivity.factor : 1;
    for (int kind = 0; kind < (dev ? 2 : 1); kind++) {
      double *cost = b->cost + (size_t)b->n * (size_t)nc, tc = 0;
      /* MACs (d = -1): the one cost every library has. */
      for (int c = 0; c < nc; c++)
        cost[c] = !dev ? lib->cands[c].macs
                  : !md->has[c] ? NAN
                  : kind == 0   ? md->energy_mj[c]
                                : factor * md->latency_ms[c];
      for (int s = 0; s < lib->n_slots; s++)
        tc += cost[teacher[s]];
      if (isnan(tc))
        continue; /* the teacher itself is not costed here */
      for (int f = 0; f < 3; f++) {
        if (f)
          memcpy(b->cost + (size_t)b->n * (size_t)nc, cost, sizeof(double) * (size_t)nc);
        b->budget[b->n] = tc / divisors[f];
        if (!dev)
          snprintf(b->note[b->n], sizeof(b->note[0]), "macs 1/%d", divisors[f]);
        else
          snprintf(b->note[b->n], sizeof(b->note[0]), "%s%s%s %s 1/%d", dev->name, md->name[0] ? " " : "", md->name,
                   kind == 0 ? "energy_mj" : "latency_ms", divisors[f]);
        b->n++;
      }
    }
  }
  return 0;
}

int hant_calibration_plan_new(const hant_library *lib, const hant_calibration_opts *o, hant_calibration_plan **out) {
  *out = NULL;
  if (!lib->has_teacher || lib->n_slots == 0 || lib->n_cands == 0)
    return hant__error(HANT_ENOENT, "%s: the library is empty: build it first (hant-distill build)", lib->path);
  int ns = lib->n_slots, nr = o->random_samples > 0 ? o->random_samples : 0;
  int cap = 1 + 3 * (1 + 2 * lib->n_devices) + nr;
  hant_calibration_plan *p = calloc(1, sizeof(*p));
  int *teacher = malloc(sizeof(int) * (size_t)ns), *choice = malloc(sizeof(int) * (size_t)ns),
      *order = malloc(sizeof(int) * (size_t)ns), *pick = malloc(sizeof(int) * (size_t)lib->n_cands);
  double *mn = malloc(sizeof(double) * (size_t)ns),
         *mx = malloc(sizeof(double) * (size_t)ns);
  int rc = 0;
  if (!p || !teacher || !choice || !order || !pick || !mn || !mx ||
      !(p->choice = malloc(sizeof(int) * (size_t)cap * (size_t)ns)) || !(p->origin = calloc((size_t)cap, 16)) ||
      !(p->note = calloc((size_t)cap, 96))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  p->n_slots = ns;
  for (int s = 0; s < ns; s++) {
    teacher[s] = -1;
    mn[s] = INFINITY;
    mx[s] = -INFINITY;
    for (int j = 0; j < lib->slot_count[s]; j++) {
      int ci = lib->slot_first[s] + j;
      if (!strcmp(lib->cands[ci].family, "teacher"))
        teacher[s] = ci;
      mn[s] = fmin(mn[s], lib->cands[ci].macs);
      mx[s] = fmax(mx[s], lib->cands[ci].macs);
    }
    if (teacher[s] < 0) {
      rc = hant__error(HANT_ENOENT, "%s: slot %s has no teacher-copy candidate to calibrate against", lib->path,
                       lib->slots[s].name);
      goto out;
    }
  }
  if ((rc = plan_add(p, cap, teacher, "teacher", "the teacher")))
    goto out;
  budget_list bl;
  if ((rc = budget_list_make(lib, teacher, &bl)))
    goto out;
  for (int k = 0; k < bl.n && !rc; k++) {
    int found;
    rc = solver_choice(lib, NULL, bl.cost + (size_t)k * (size_t)lib->n_cands, bl.budget[k], choice, &found);
    if (!rc && found)
      rc = plan_add(p, cap, choice, "solver", bl.note[k]);
  }
  budget_list_free(&bl);
  /* Random selections, one per stratum of log MACs. */
  double lo_all = 0, hi_all = 0;
  for (int s = 0; s < ns; s++)
    lo_all += mn[s], hi_all += mx[s];
  hant_rng rng;
  hant_rng_seed(&rng, o->seed * 0x9E3779B97F4A7C15ull + 0x636174ull);
  for (int k = 0; k < nr && !rc; k++) {
    double a = log(lo_all), b = log(hi_all);
    double lo = exp(a + (b - a) * k / nr), hi = exp(a + (b - a) * (k + 1) / nr);
    draw_in(lib, &rng, lo, hi, mn, mx, order, pick, choice);
    char note[64];
    snprintf(note, sizeof(note), "stratum %d of %d", k + 1, nr);
    rc = plan_add(p, cap, choice, "random", note);
  }
out:
  free(teacher);
  free(choice);
  free(order);
  free(pick);
  free(mn);
  free(mx);
  if (rc) {
    hant_calibration_plan_destroy(p);
    return rc;
  }
  *out = p;
  return 0;
}

int hant_calibration_selection_parse(const hant_library *lib, const char *text, int *choice) {
  const char *q = text;
  for (int s = 0; s < lib->n_slots; s++) {
    char *end;
    long long id = strtoll(q, &end, 10);
    if (end == q)
      return hant__error(HANT_EINVAL, "selection '%.60s': expected a candidate id for slot %d", text, s);
    int c = hant_library_cand_find(lib, id);
    if (c < 0)
      return hant__error(HANT_EINVAL, "selection '%.60s': candidate %lld is not in the library", text, id);
    if (lib->cands[c].slot_id != lib->slots[s].id)
      return hant__error(HANT_EINVAL, "selection '%.60s': candidate %lld is not of slot %s", text, id,
                         lib->slots[s].name);
    choice[s] = c;
    q = end;
    if (s + 1 < lib->n_slots) {
      if (*q != ',')
        return hant__error(HANT_EINVAL, "selection '%.60s': expected %d comma-separated ids", text, lib->n_slots);
      q++;
    }
  }
  if (*q)
    return hant__error(HANT_EINVAL, "selection '%.60s': more ids than the library's %d slots", text, lib->n_slots);
  return 0;
}

static void selection_text(const hant_library *lib, const int *choice, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = '\0';
  for (int s = 0; s < lib->n_slots && o < n; s++)
    o += (size_t)snprintf(buf + o, n - o, "%s%lld", s ? "," : "", (long long)lib->cands[choice[s]].id);
}

int hant_calibration_evaluate(hant_store *st, const hant_library *lib, const int *choice, const hant_dataset *ds,
                        double *accuracy) {
  hant_net *net = NULL;
  double loss;
  int rc = hant_deploy_assemble_choice(st, lib, choice, lib->n_slots, &net);
  if (!rc)
    rc = hant_eval_classifier(net, ds, 250, accuracy, &loss);
  hant_net_destroy(net);
  return rc;
}

int hant_calibration_measure(hant_store *st, const hant_library *lib, const hant_dataset *val, const hant_calibration_opts *o,
                       hant_calibration_summary *sum) {
  memset(sum, 0, sizeof(*sum));
  hant_calibration_plan *plan = NULL;
  hant_calib_sample_rec *have = NULL;
  int n_have = 0;
  int rc = hant_calibration_plan_new(lib, o, &plan);
  if (rc || (rc = hant_store_calib_samples(st, &have, &n_have)))
    goto out;
  sum->planned = plan->n;
  unsigned char *done = calloc((size_t)plan->n, 1);
  if (!done) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* A position is done when its network was measured, under any seed or
   * position: a plan drawn after costs changed may hold a measured network
   * at another position, and measuring it twice would weigh it double. */
  int next_idx = plan->n;
  for (int i = 0; i < n_have; i++)
    if (have[i].seed == o->seed && have[i].idx >= next_idx)
      next_idx = have[i].idx + 1;
  char text[sizeof(have[0].selection)];
  for (int k = 0; k < plan->n; k++) {
    selection_text(lib, plan->choice + (size_t)k * (size_t)plan->n_slots, text, sizeof(text));
    for (int i = 0; i < n_have && !done[k]; i++)
      done[k] = !strcmp(have[i].selection, text);
    sum->existing += done[k];
  }
  for (int k = 0; k < plan->n && !rc; k++) {
    if (done[k])
      continue;
    const int *choice = plan->choice + (size_t)k * (size_t)plan->n_slots;
    hant_calib_sample_rec r;
    memset(&r, 0, sizeof(r));
    r.seed = o->seed;
    /* Its plan position, unless an earlier plan of this seed put another
     * network there: then the first position after all of them. */
    r.idx = k;
    for (int i = 0; i < n_have; i++)
      if (have[i].seed == o->seed && have[i].idx == k)
        r.idx = next_idx++;
    snprintf(r.origin, sizeof(r.origin), "%s", plan->origin[k]);
    snprintf(r.note, sizeof(r.note), "%s", plan->note[k]);
    selection_text(lib, choice, r.selection, sizeof(r.selection));
    if (strlen(r.selection) + 1 >= sizeof(r.selection)) {
      rc = hant__error(HANT_ERANGE, "%s: a selection of %d slots does not fit a calibration sample's %zu bytes",
                       lib->path, lib->n_slots, sizeof(r.selection));
      break;
    }
    r.macs = macs_of(lib, choice);
    r.val_images = val->n;
    double t0 = hant_now_s();
    if ((rc = hant_calibration_evaluate(st, lib, choice, val, &r.val_accuracy)))
      break;
    r.seconds = hant_now_s() - t0;
    if ((rc = hant_store_calib_sample_put(st, &r)))
      break;
    sum->measured++;
    sum->images += val->n;
    sum->seconds += r.seconds;
    if (o->progress) {
      char note[160];
      snprintf(note, sizeof(note), "%s %s: %.4f", r.origin, r.note, r.val_accuracy);
      if (o->progress(o->user, sum->existing + sum->measured, plan->n, note))
        rc = hant__error(HANT_ECANCELED, "calibration stopped after %d samples", sum->existing + sum->measured);
    }
  }
  free(done);
out:
  free(have);
  hant_calibration_plan_destroy(plan);
  return rc;
}

/* ---- the measured check of the fit as objective ---------------------------- */

/* At every budget of the plan, the solver's choice maximising the values
 * fit (per candidate: the fit's coefficients, or the slot-weighted
 * divergences') and its choice maximising add (what it maximises
 * otherwise), each measured on val where they differ. Ranking random samples well is not
 * choosing well at the budgets (docs/results.md measured a fit with the
 * better held-out Kendall tau choosing worse at 14 of 18 budgets), so the
 * fit becomes the objective only when its own choices, measured, lose
 * nowhere by more than two standard errors and gain on average. */
static int objective_check(hant_store *st, const hant_library *lib, const double *add, const double *fit,
                           const hant_dataset *val, hant_calibration_check *chk) {
  memset(chk, 0, sizeof(*chk));
  int ns = lib->n_slots, nc = lib->n_cands, rc = 0;
  int *teacher = malloc(sizeof(int) * (size_t)ns), *ca = malloc(sizeof(int) * (size_t)ns),
      *cf = malloc(sizeof(int) * (size_t)ns);
  budget_list bl = {0};
  if (!teacher || !ca || !cf) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int s = 0; s < ns; s++) {
    teacher[s] = -1;
    for (int j = 0; j < lib->slot_count[s]; j++)
      if (!strcmp(lib->cands[lib->slot_first[s] + j].family, "teacher"))
        teacher[s] = lib->slot_first[s] + j;
    if (teacher[s] < 0)
      goto out; /* no budgets relative to the teacher: nothing to check */
  }
  if ((rc = budget_list_make(lib, teacher, &bl)))
    goto out;
  double gain = 0;
  for (int k = 0; k < bl.n && !rc; k++) {
    const double *cost = bl.cost + (size_t)k * (size_t)nc;
    int fa, ff;
    if ((rc = solver_choice(lib, add, cost, bl.budget[k], ca, &fa)) ||
        (rc = solver_choice(lib, fit, cost, bl.budget[k], cf, &ff)))
      break;
    if (!fa || !ff)
      continue;
    chk->budgets++;
    if (!memcmp(ca, cf, sizeof(int) * (size_t)ns))
      continue;
    double acc_a, acc_f;
    if ((rc = hant_calibration_evaluate(st, lib, ca, val, &acc_a)) ||
        (rc = hant_calibration_evaluate(st, lib, cf, val, &acc_f)))
      break;
    chk->differ++;
    double two_se = 2 * sqrt(fmax(acc_a * (1 - acc_a), 1e-4) / val->n);
    chk->fit_better += acc_f > acc_a + two_se;
    chk->fit_worse += acc_f < acc_a - two_se;
    gain += acc_f - acc_a;
  }
  chk->mean_gain = chk->budgets ? gain / chk->budgets : 0;
  chk->use_fit = !rc && chk->differ > 0 && chk->fit_worse == 0 && chk->mean_gain > 0;
out:
  budget_list_free(&bl);
  free(teacher);
  free(ca);
  free(cf);
  return rc;
}

int hant_calibration_fit(hant_store *st, const hant_library *lib, const hant_calibration_opts *o,
                         const hant_dataset *val, hant_predictor *out, hant_calibration_check *check) {
  hant_calib_sample_rec *have = NULL;
  int n_have = 0, rc = hant_store_calib_samples(st, &have, &n_have);
  if (rc)
    return rc;
  int ns = lib->n_slots, n = 0;
  int *choice = malloc(sizeof(int) * (size_t)(n_have > 0 ? n_have : 1) * (size_t)(ns > 0 ? ns : 1));
  double *acc = malloc(sizeof(double) * (size_t)(n_have > 0 ? n_have : 1));
  double *score = malloc(sizeof(double) * (size_t)(lib->n_cands > 0 ? lib->n_cands : 1));
  hant_calib_coef_rec *coefs = calloc((size_t)(lib->n_cands > 0 ? lib->n_cands : 1), sizeof(*coefs));
  hant_predictor p = {0};
  if (!choice || !acc || !score || !coefs) {
    rc = HANT_ENOMEM;
    goto out;
  }
  int64_t images = 0;
  double seconds = 0;
  for (int i = 0; i < n_have; i++) {
    /* A sample of candidates since removed says nothing about this library. */
    if (hant_calibration_selection_parse(lib, have[i].selection, choice + (size_t)n * (size_t)ns)) {
      hant_errmsg_clear();
      continue;
    }
    acc[n++] = have[i].val_accuracy;
    images += have[i].val_images;
    seconds += have[i].seconds;
  }
  if (n == 0) {
    rc = hant__error(HANT_ENOENT, "%s: no calibration samples to fit: run hant-distill calibrate --db %s", lib->path,
                     lib->path);
    goto out;
  }
  size_t nk = (size_t)n * (size_t)(ns > 0 ? ns : 1), ncs = (size_t)(lib->n_cands > 0 ? lib->n_cands : 1);
  double *add = malloc(sizeof(double) * (size_t)n), *drops = malloc(sizeof(double) * (size_t)n),
         *kl = malloc(sizeof(double) * nk),
         *vals = malloc(sizeof(double) * ncs), *wvals = malloc(sizeof(double) * ncs),
         *w = malloc(sizeof(double) * (size_t)(ns > 0 ? ns : 1));
  char *wtext = malloc((size_t)(ns > 0 ? ns : 1) * 32 + 64);
  hant_calibration_check chk = {0};
  if (!add || !drops || !kl || !vals || !wvals || !w || !wtext) {
    rc = HANT_ENOMEM;
    goto out_fit;
  }
  double se = hant_transform_noise_se(lib);
  chk.div_median_abs_err = chk.div_p90_abs_err = chk.div_tau = NAN;
  chk.slot_median_abs_err = chk.slot_p90_abs_err = chk.slot_tau = chk.slot_mean_gain = NAN;
  snprintf(wtext, 8, "none");
  bool cv_better = false;
  if (lib->has_divergence) {
    /* the one slope's prediction of each sample: nothing of it is fitted
     * on the samples but the floor, whose scale each sample takes from the
     * other folds, so each sample is out of its sample */
    double chance = lib->teacher.classes > 0 ? 1.0 / lib->teacher.classes : 0;
    for (int i = 0; i < n; i++) { /* the drops, then each sample on the floor fitted without its fold */
      drops[i] = 0;
      for (int s = 0; s < ns; s++) {
        kl[(size_t)i * (size_t)ns + (size_t)s] = lib->cands[choice[(size_t)i * (size_t)ns + (size_t)s]].val_kl;
        drops[i] += lib->kl_slope * kl[(size_t)i * (size_t)ns + (size_t)s];
      }
    }
    int folds = o->folds > 1 ? o->folds : 5;
    if ((chk.div_floor_scale = hant_floor_heldout(n, drops, acc, lib->teacher.val_accuracy, chance, folds, add)) < 0) {
      rc = HANT_ENOMEM;
      goto out_fit;
    }
    hant_slot_weights_stats sws;
    if ((rc = hant_prediction_errors(add, acc, n, &chk.div_median_abs_err, &chk.div_p90_abs_err, &chk.div_tau)) ||
        (rc = hant_slot_weights_fit(ns, n, kl, acc, lib->teacher.val_accuracy, chance, lib->kl_slope, folds, w, &sws)))
      goto out_fit;
    chk.slot_samples = sws.fitted;
    chk.slot_floor_scale = sws.floor_scale;
    chk.slot_median_abs_err = sws.cv_median_abs_err;
    chk.slot_p90_abs_err = sws.cv_p90_abs_err;
    chk.slot_tau = sws.cv_tau;
    cv_better = sws.cv_median_abs_err < chk.div_median_abs_err;
    for (int s = 0; s < ns; s++)
      for (int j = 0; j < lib->slot_count[s]; j++) {
        int c = lib->slot_first[s] + j;
        vals[c] = -lib->kl_slope * lib->cands[c].val_kl;
        wvals[c] = -w[s] * lib->cands[c].val_kl;
      }
  }
  /* The prior of each coefficient: what the candidate alone costs, told by
   * its divergence when every candidate has one (the scores' noise is as
   * large as most candidates' real cost), weighed by its slot's weight
   * when those predict better, else by its score. */
  for (int c = 0; c < lib->n_cands; c++)
    score[c] = !lib->has_divergence ? lib->cands[c].score : cv_better ? wvals[c] : vals[c];
  hant_predictor_data d = {ns, lib->n_cands, score, lib->teacher.val_accuracy, lib->teacher.val_images, n, choice,
                           acc, lib->teacher.classes > 0 ? 1.0 / lib->teacher.classes : 0};
  hant_predictor_opts po;
  hant_predictor_opts_default(&po);
  po.folds = o->folds > 1 ? o->folds : 5;
  po.seed = o->seed;
  if ((rc = hant_predictor_fit(&d, &po, &p)))
    goto out_fit;
  hant_calib_fit_rec f;
  memset(&f, 0, sizeof(f));
  snprintf(f.scale, sizeof(f.scale), "%s", hant_calib_scale_name(p.scale));
  f.intercept = p.intercept;
  f.ridge = p.ridge;
  f.noise_se = p.noise_se;
  f.samples = n;
  f.folds = p.folds;
  f.heldout_median_abs_err = p.heldout_median_abs_err;
  f.heldout_p90_abs_err = p.heldout_p90_abs_err;
  f.heldout_kendall_tau = p.heldout_kendall_tau;
  f.heldout_samples = p.heldout_samples;
  f.images = images;
  f.seconds = seconds;
  f.seed = o->seed;
  for (int c = 0; c < lib->n_cands; c++)
    coefs[c] = (hant_calib_coef_rec){lib->cands[c].id, p.coef[c], p.prior[c], p.count[c]};
  /* The solver maximises the fit when asked (o->fit_objective), or when
   * the measured check finds its choices no worse anywhere and better on
   * average (objective_check): a fit that predicts accuracy far better can
   * still choose worse networks at the budgets that matter
   * (docs/results.md measured it), and the ranking over the whole sample
   * (the additive objective's Kendall tau is recorded beside the fit's)
   * did not tell. Answers show the fit's prediction either way. */
  if (lib->has_divergence) {
    hant_calibration_check sc = {0};
    if (cv_better && val && (rc = objective_check(st, lib, vals, wvals, val, &sc)))
      goto out_fit;
    chk.slot_budgets = sc.budgets;
    chk.slot_differ = sc.differ;
    chk.slot_better = sc.fit_better;
    chk.slot_worse = sc.fit_worse;
    chk.slot_mean_gain = sc.mean_gain;
    chk.slot_weighted = cv_better;
    chk.slot_objective = cv_better && val && sc.fit_worse == 0 && sc.mean_gain >= 0;
    if (chk.slot_objective)
      memcpy(vals, wvals, sizeof(double) * ncs);
    if (chk.slot_weighted) {
      chk.div_median_abs_err = chk.slot_median_abs_err;
      chk.div_p90_abs_err = chk.slot_p90_abs_err;
      chk.div_tau = chk.slot_tau;
      chk.div_floor_scale = chk.slot_floor_scale;
      size_t off = 0;
      for (int s = 0; s < ns; s++)
        off += (size_t)snprintf(wtext + off, 32, "%s%.9g", s ? "," : "", w[s]);
    }
    /* a fit without held-out figures (too few samples) gives way */
    chk.by_divergence = !(chk.div_median_abs_err >= p.heldout_median_abs_err);
  } else {
    for (int c = 0; c < lib->n_cands; c++)
      vals[c] = hant_transform_cand_value(lib, c, se);
  }
  /* the additive objective: what the solver maximises without the fit */
  for (int i = 0; i < n; i++) {
    add[i] = lib->teacher.val_accuracy;
    for (int s = 0; s < ns; s++)
      add[i] += vals[choice[(size_t)i * (size_t)ns + (size_t)s]];
  }
  double add_tau = hant_kendall_tau(add, acc, n);
  if (!o->fit_objective && val) {
    hant_calibration_check fc;
    if ((rc = objective_check(st, lib, vals, p.coef, val, &fc)))
      goto out_fit;
    chk.budgets = fc.budgets;
    chk.differ = fc.differ;
    chk.fit_better = fc.fit_better;
    chk.fit_worse = fc.fit_worse;
    chk.mean_gain = fc.mean_gain;
    chk.use_fit = fc.use_fit;
  }
  bool use_fit = o->fit_objective || chk.use_fit;
  if (check)
    *check = chk;
  char v[400];
  if (val && !o->fit_objective) {
    snprintf(v, sizeof(v),
             "{\"budgets\":%d,\"differ\":%d,\"fit_better\":%d,\"fit_worse\":%d,\"mean_gain\":%.6f,\"use_fit\":%s}",
             chk.budgets, chk.differ, chk.fit_better, chk.fit_worse, chk.mean_gain, chk.use_fit ? "true" : "false");
    if ((rc = hant_store_meta_put(st, "calibration_check", v)))
      goto out_fit;
  }
  snprintf(v, sizeof(v),
           "{\"median_abs_err\":%.6f,\"p90_abs_err\":%.6f,\"kendall_tau\":%.6f,\"floor_scale\":%.6f,\"samples\":%d}",
           chk.div_median_abs_err, chk.div_p90_abs_err, chk.div_tau, chk.div_floor_scale, n);
  if (lib->has_divergence && (rc = hant_store_meta_put(st, "calibration_divergence", v)))
    goto out_fit;
  snprintf(v, sizeof(v), "%.17g", chk.div_median_abs_err);
  if (lib->has_divergence && (rc = hant_store_meta_put(st, "calibration_divergence_median_abs_err", v)))
    goto out_fit;
  snprintf(v, sizeof(v), "%.17g", chk.div_floor_scale);
  if (lib->has_divergence && (rc = hant_store_meta_put(st, "calibration_floor_scale", v)))
    goto out_fit;
  snprintf(v, sizeof(v),
           "{\"samples_fitted\":%d,\"cv_median_abs_err\":%.6f,\"cv_p90_abs_err\":%.6f,\"cv_kendall_tau\":%.6f,"
           "\"floor_scale\":%.6f,\"budgets\":%d,\"differ\":%d,\"better\":%d,\"worse\":%d,\"mean_gain\":%.6f,"
           "\"prediction\":%s,\"objective\":%s}",
           chk.slot_samples, chk.slot_median_abs_err, chk.slot_p90_abs_err, chk.slot_tau, chk.slot_floor_scale,
           chk.slot_budgets,
           chk.slot_differ, chk.slot_better, chk.slot_worse, chk.slot_mean_gain, chk.slot_weighted ? "true" : "false",
           chk.slot_objective ? "true" : "false");
  if (lib->has_divergence && ((rc = hant_store_meta_put(st, "calibration_slot_weights", v)) ||
                              (rc = hant_store_meta_put(st, "calibration_slot_kl_weights", wtext)) ||
                              (rc = hant_store_meta_put(st, "calibration_slot_kl_objective",
                                                        chk.slot_objective ? "true" : "false"))))
    goto out_fit;
  if ((rc = hant_store_meta_put(st, "calibration_prediction", chk.by_divergence ? "divergence" : "fit")))
    goto out_fit;
  snprintf(v, sizeof(v), "%.6f", add_tau);
  if ((rc = hant_store_meta_put(st, "calibration_additive_tau", v)) ||
      (rc = hant_store_meta_put(st, "calibration_objective", use_fit ? "calibrated" : "additive")))
    goto out_fit;
  /* The fit last: storing it bumps the library version, which tells
   * daemons to reload fit and choice together. */
  if ((rc = hant_store_calib_fit_put(st, &f, coefs, lib->n_cands)))
    goto out_fit;
  if (out) {
    *out = p;
    memset(&p, 0, sizeof(p));
  }
out_fit:
  free(add);
  free(drops);
  free(kl);
  free(vals);
  free(wvals);
  free(w);
  free(wtext);
out:
  hant_predictor_free(&p);
  free(have);
  free(choice);
  free(acc);
  free(score);
  free(coefs);
  return rc;
}
