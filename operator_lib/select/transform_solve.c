/* SPDX-License-Identifier: MIT */
/* transform_solve.c: builds the multiple-choice knapsack of a library snapshot for a device and budgets, and solves it per power mode. */
#include "transform_solve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "energy.h"
#include "base.h"
#include "power.h"

void hant_transform_req_init(hant_transform_req *r) {
  memset(r, 0, sizeof(*r));
  r->grid_g_per_kwh = HANT_GRID_G_PER_KWH_DEFAULT;
}

const hant_budget *hant_transform_req_budget(const hant_transform_req *r, hant_budget_kind k) {
  for (int i = 0; i < r->n_budgets; i++)
    if (r->budgets[i].kind == k)
      return &r->budgets[i];
  return NULL;
}

void hant_transform_req_add_budget(hant_transform_req *r, const hant_budget *b) {
  for (int i = 0; i < r->n_budgets; i++)
    if (r->budgets[i].kind == b->kind) {
      if (b->value < r->budgets[i].value)
        r->budgets[i].value = b->value;
      return;
    }
  if (r->n_budgets < HANT_BUDGET_KIND_COUNT)
    r->budgets[r->n_budgets++] = *b;
}

void hant_transform_result_init(hant_transform_result *r) { memset(r, 0, sizeof(*r)); }

void hant_transform_result_free(hant_transform_result *r) {
  if (!r)
    return;
  free(r->choice);
  r->choice = NULL;
}

/* ---- the problem ---------------------------------------------------------- */

#define MAX_DIMS (HANT_BUDGET_KIND_COUNT + 1)

struct build {
  const hant_library *lib;
  const hant_library_device *dev;
  int n_slots;
  size_t *gsize;  /* [n_slots] */
  size_t n_items;
  int *item;      /* [n_items] candidate index into lib->cands */
  double *value;  /* [n_items] */
  size_t n_dims;
  hant_budget_kind dim_kind[MAX_DIMS];
  int n_modes;
  int *mode;          /* [n_modes] index into dev->modes */
  double **cost;      /* [n_modes][n_items * n_dims] */
  double **budget;    /* [n_modes][n_dims] */
  double factor, overhead_ms; /* latency correction */
  int skipped;
};

static void build_free(struct build *b) {
  if (b->cost)
    for (int m = 0; m < b->n_modes; m++)
      free(b->cost[m]);
  if (b->budget)
    for (int m = 0; m < b->n_modes; m++)
      free(b->budget[m]);
  free(b->cost);
  free(b->budget);
  free(b->gsize);
  free(b->item);
  free(b->value);
  free(b->mode);
}

static double corrected(const struct build *b, double t_ms) {
  return b->factor * t_ms + b->overhead_ms / (b->n_slots > 0 ? b->n_slots : 1);
}

/* Item cost of kind k in mode m (not power_w). */
static double item_cost(const struct build *b, int m, size_t i, hant_budget_kind k) {
  const hant_library_mode *md = &b->dev->modes[b->mode[m]];
  int c = b->item[i];
  switch (k) {
  case HANT_BUDGET_LATENCY: return corrected(b, md->latency_ms[c]);
  case HANT_BUDGET_ENERGY: return md->energy_mj[c];
  case HANT_BUDGET_MEMORY: return md->memory_bytes[c];
  case HANT_BUDGET_MACS: return b->lib->cands[c].macs;
  default: return 0;
  }
}

static int mode_list(const hant_library_device *dev, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = '\0';
  for (int m = 0; m < dev->n_modes && o < n; m++)
    o += (size_t)snprintf(buf + o, n - o, "%s'%s'", m ? ", " : "", dev->modes[m].name);
  return 0;
}

/* Sets up groups, items, dimensions and per-mode matrices. extra_axis:
 * a kind that must be a dimension even without a budget (Pareto), or
 * HANT_BUDGET_KIND_COUNT. calibrated: values are the library's calibrated
 * coefficients (lib->calibrated must hold), else the scores. */
static int build_problem(const hant_library *lib, const hant_transform_req *req, hant_budget_kind extra_axis,
                         bool calibrated, struct build *b) {
  memset(b, 0, sizeof(*b));
  b->lib = lib;
  b->factor = 1;
  if (!lib->has_teacher || lib->n_slots == 0 || lib->n_cands == 0)
    return hant__error(HANT_ENOENT, "the library is empty: build one with 'hant-distill build --teacher T --db %s', "
                                    "then send SIGHUP to hantd",
                       lib->path);
  const hant_library_device *dev = hant_library_device_find(lib, req->device);
  if (!dev || dev->n_modes == 0)
    return hant__error(HANT_ENOENT,
                       "no costs for device %s: run hant-distill profile --db %s --device %s, then send SIGHUP to "
                       "hantd",
                       req->device, lib->path, req->device);
  b->dev = dev;
  if (dev->has_additivity) {
    b->factor = dev->additivity.factor;
    b->overhead_ms = dev->additivity.overhead_ms;
  }
  b->n_slots = lib->n_slots;
  if (req->power_mode[0]) {
    int m = hant_library_mode_find(dev, req->power_mode);
    if (m < 0) {
      char modes[256];
      mode_list(dev, modes, sizeof(modes));
      return hant__error(HANT_EINVAL, "options.power_mode: device %s has no power mode '%s'; its modes: %s",
                         dev->name, req->power_mode, modes);
    }
    b->n_modes = 1;
    if (!(b->mode = malloc(sizeof(int))))
      return HANT_ENOMEM;
    b->mode[0] = m;
  } else {
    b->n_modes = dev->n_modes;
    if (!(b->mode = malloc(sizeof(int) * (size_t)dev->n_modes)))
      return HANT_ENOMEM;
    for (int m = 0; m < dev->n_modes; m++)
      b->mode[m] = m;
  }
  /* Items: candidates costed in every mode considered. */
  b->gsize = calloc((size_t)lib->n_slots, sizeof(size_t));
  b->item = malloc(sizeof(int) * (size_t)lib->n_cands);
  b->value = malloc(sizeof(double) * (size_t)lib->n_cands);
  if (!b->gsize || !b->item || !b->value)
    return HANT_ENOMEM;
  for (int s = 0; s < lib->n_slots; s++) {
    for (int j = 0; j < lib->slot_count[s]; j++) {
      int c = lib->slot_first[s] + j;
      bool ok = true;
      for (int m = 0; m < b->n_modes && ok; m++)
        ok = dev->modes[b->mode[m]].has[c];
      if (!ok) {
        b->skipped++;
        continue;
      }
      /* A stored cost that is not finite is the library's fault, not the
       * request's: say so (HANT_EDB) rather than blame the budgets. */
      for (int m = 0; m < b->n_modes; m++) {
        const hant_library_mode *md = &dev->modes[b->mode[m]];
        const char *bad = !isfinite(md->latency_ms[c]) || md->latency_ms[c] < 0 ? "latency"
                          : !isfinite(md->energy_mj[c]) || md->energy_mj[c] < 0 ? "energy"
                          : !isfinite(md->memory_bytes[c]) || md->memory_bytes[c] < 0 ? "memory"
                                                                                       : NULL;
        if (bad)
          return hant__error(HANT_EDB,
                             "library %s: candidate %lld (%s) has a %s cost on device %s%s%s that is not a finite "
                             "non-negative number; profile the device again (hant-distill profile --device %s)",
                             lib->path, (long long)lib->cands[c].id, lib->cands[c].key, bad, dev->name,
                             md->name[0] ? ", power mode " : "", md->name, dev->name);
      }
      b->item[b->n_items] = c;
      b->value[b->n_items] = calibrated ? lib->calib_coef[c] : lib->cands[c].score;
      b->n_items++;
      b->gsize[s]++;
    }
    if (!b->gsize[s])
      return hant__error(HANT_ENOENT,
                         "no costs for device %s in slot %s%s%s: run hant-distill profile --db %s --device %s, "
                         "then send SIGHUP to hantd",
                         dev->name, lib->slots[s].name, req->power_mode[0] ? ", power mode " : "",
                         req->power_mode, lib->path, dev->name);
  }
  /* Dimensions. */
  const hant_budget *lat = hant_transform_req_budget(req, HANT_BUDGET_LATENCY);
  const hant_budget *pow = hant_transform_req_budget(req, HANT_BUDGET_POWER);
  /* Several modes without budgets still need one (never binding) dimension
   * for the per-mode solver. */
  bool any = req->n_budgets > 0 || req->fps > 0 || extra_axis != HANT_BUDGET_KIND_COUNT;
  if (lat || req->fps > 0 || extra_axis == HANT_BUDGET_LATENCY || (!any && b->n_modes > 1))
    b->dim_kind[b->n_dims++] = HANT_BUDGET_LATENCY;
  static const hant_budget_kind plain[] = {HANT_BUDGET_ENERGY, HANT_BUDGET_MEMORY, HANT_BUDGET_MACS};
  for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++)
    if (hant_transform_req_budget(req, plain[k]) || extra_axis == plain[k])
      b->dim_kind[b->n_dims++] = plain[k];
  if (pow)
    b->dim_kind[b->n_dims++] = HANT_BUDGET_POWER;
  if (pow && req->fps > 0)
    for (int m = 0; m < b->n_modes; m++)
      if (!(dev->modes[b->mode[m]].idle_w >= 0))
        return hant__error(HANT_EINVAL,
                           "fps: sustained power needs the idle power of device %s%s%s, and its stored profile "
                           "has none%s%s",
                           dev->name, dev->modes[b->mode[m]].name[0] ? " in mode " : "",
                           dev->modes[b->mode[m]].name, dev->profile ? "" : ": ",
                           dev->profile ? "" : dev->profile_error);
  b->cost = calloc((size_t)b->n_modes, sizeof(double *));
  b->budget = calloc((size_t)b->n_modes, sizeof(double *));
  if (!b->cost || !b->budget)
    return HANT_ENOMEM;
  size_t nd = b->n_dims ? b->n_dims : 1;
  double *tl = malloc(sizeof(double) * b->n_items), *te = malloc(sizeof(double) * b->n_items),
         *row = malloc(sizeof(double) * b->n_items);
  int rc = 0;
  if (!tl || !te || !row) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int m = 0; m < b->n_modes; m++) {
    b->cost[m] = malloc(sizeof(double) * b->n_items * nd);
    b->budget[m] = malloc(sizeof(double) * nd);
    if (!b->cost[m] || !b->budget[m]) {
      rc = HANT_ENOMEM;
      goto out;
    }
    const hant_library_mode *md = &dev->modes[b->mode[m]];
    double lat_budget = INFINITY;
    if (lat)
      lat_budget = lat->value;
    for (size_t d = 0; d < b->n_dims; d++) {
      hant_budget_kind k = b->dim_kind[d];
      if (k == HANT_BUDGET_POWER) {
        for (size_t i = 0; i < b->n_items; i++) {
          tl[i] = corrected(b, md->latency_ms[b->item[i]]);
          te[i] = md->energy_mj[b->item[i]];
        }
        double rb, lb = INFINITY;
        if (req->fps > 0)
          rc = hant_power_sustained_row(b->n_items, te, 1, tl, 1, req->fps, md->idle_w, pow->value, row, &rb, &lb);
        else
          rc = hant_power_cap_row(b->n_items, te, 1, tl, 1, pow->value, row, &rb);
        if (rc)
          goto out;
        for (size_t i = 0; i < b->n_items; i++)
          b->cost[m][i * b->n_dims + d] = row[i];
        b->budget[m][d] = rb;
        continue;
      }
      for (size_t i = 0; i < b->n_items; i++)
        b->cost[m][i * b->n_dims + d] = item_cost(b, m, i, k);
      const hant_budget *bk = hant_transform_req_budget(req, k);
      b->budget[m][d] = bk ? bk->value : INFINITY;
    }
    /* Frame-rate deadline, and budgets that never bind (Pareto axis). */
    for (size_t d = 0; d < b->n_dims; d++) {
      if (b->dim_kind[d] == HANT_BUDGET_LATENCY) {
        double fb = req->fps > 0 ? 1000.0 / req->fps : INFINITY;
        b->budget[m][d] = fmin(lat_budget, fb);
      }
      if (!isfinite(b->budget[m][d])) {
        double sum = 0;
        size_t o = 0;
        for (int s = 0; s < b->n_slots; s++) {
          double mx = 0;
          for (size_t j = 0; j < b->gsize[s]; j++)
            mx = fmax(mx, b->cost[m][(o + j) * b->n_dims + d]);
          sum += mx;
          o += b->gsize[s];
        }
        b->budget[m][d] = sum * (1 + 1e-9) + 1;
      }
    }
  }
out:
  free(tl);
  free(te);
  free(row);
  return rc;
}

static void problem_view(const struct build *b, int m, double time_limit_ms, struct hant_select_problem *p) {
  memset(p, 0, sizeof(*p));
  p->n_groups = (size_t)b->n_slots;
  p->group_size = b->gsize;
  p->n_dims = b->n_dims;
  p->value = b->value;
  p->cost = b->n_dims ? b->cost[m] : NULL;
  p->budget = b->n_dims ? b->budget[m] : NULL;
  p->time_limit_ms = time_limit_ms > 0 ? time_limit_ms : 0;
}

/* Totals of a choice (candidate indices) in device mode dm. */
static void totals_of(const struct build *b, const hant_transform_req *req, int dm, const int *choice,
                      hant_transform_totals *t) {
  const hant_library_mode *md = &b->dev->modes[dm];
  memset(t, 0, sizeof(*t));
  for (int s = 0; s < b->n_slots; s++) {
    int c = choice[s];
    t->score += b->lib->cands[c].score;
    t->latency_sum_ms += md->latency_ms[c];
    t->energy_mj += md->energy_mj[c];
    t->memory_bytes += md->memory_bytes[c];
    t->macs += b->lib->cands[c].macs;
  }
  t->latency_ms = b->factor * t->latency_sum_ms + b->overhead_ms;
  t->power_w = hant_power_avg_w(t->energy_mj, t->latency_ms);
  t->sustained_power_w =
      req->fps > 0 && md->idle_w >= 0 ? hant_power_sustained_w(t->energy_mj, t->latency_ms, req->fps, md->idle_w) : -1;
}

/* The predicted validation accuracy of a choice: the fitted predictor's
 * when the library is calibrated, else the teacher's plus the summed scores. */
static double predicted(const hant_library *lib, const int *choice, int n_slots, double score_sum) {
  if (!lib->calibrated)
    return lib->teacher.val_accuracy + score_sum;
  double z = lib->calib.intercept;
  for (int s = 0; s < n_slots; s++)
    z += lib->calib_coef[choice[s]];
  return hant_calib_unlink(hant_calib_scale_from_name(lib->calib.scale), z);
}

/* Adapts the solver's per-group item indices to library candidates. */
struct measure_ctx {
  const struct build *b;
  const hant_transform_req *req;
  int *choice;
};

static int measure_choice(void *user, const size_t *items, size_t n_groups, double *measured) {
  struct measure_ctx *m = user;
  size_t o = 0;
  for (size_t s = 0; s < n_groups; s++) {
    m->choice[s] = m->b->item[o + items[s]];
    o += m->b->gsize[s];
  }
  return m->req->measure(m->req->measure_user, m->choice, (int)n_groups, measured);
}

int hant_transform_solve(const hant_library *lib, const hant_transform_req *req, hant_transform_result *res) {
  double t0 = hant_now_s();
  hant_transform_result_free(res);
  hant_transform_result_init(res);
  res->library_version = lib->version;
  res->grid_g_per_kwh = req->grid_g_per_kwh > 0 ? req->grid_g_per_kwh : HANT_GRID_G_PER_KWH_DEFAULT;
  res->teacher_accuracy = lib->teacher.val_accuracy;
  res->prediction_calibrated = lib->calibrated;
  res->predicted_accuracy_error = lib->calibrated ? lib->calib.heldout_median_abs_err : NAN;
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    res->min_totals[k] = NAN;
  struct build b;
  struct hant_select_result best, *per = NULL;
  hant_select_result_init(&best);
  int rc = build_problem(lib, req, HANT_BUDGET_KIND_COUNT, lib->calibrated, &b);
  if (rc)
    goto out;
  res->n_slots = b.n_slots;
  res->skipped = b.skipped;
  res->latency_corrected = b.dev->has_additivity;
  res->correction_factor = b.factor;
  res->correction_overhead_ms = b.overhead_ms;
  struct hant_select_problem p;
  problem_view(&b, 0, req->time_limit_ms, &p);
  size_t best_m = 0;
  size_t lat_dim = SIZE_MAX;
  for (size_t d = 0; d < b.n_dims; d++)
    if (b.dim_kind[d] == HANT_BUDGET_LATENCY)
      lat_dim = d;
  if (b.n_modes == 1 && req->measure && lat_dim != SIZE_MAX) {
    struct measure_ctx mc = {&b, req, malloc(sizeof(int) * (size_t)(b.n_slots > 0 ? b.n_slots : 1))};
    struct hant_select_correction info = {0};
    if (!mc.choice) {
      rc = HANT_ENOMEM;
      goto out;
    }
    rc = hant_select_solve_corrected(&p, lat_dim, measure_choice, &mc,
                                     req->measure_max_rounds > 0 ? req->measure_max_rounds : 8, &best, &info);
    free(mc.choice);
    res->measure_rounds = info.rounds;
    res->measured_latency_ms = info.measured;
    res->measured_fits = info.fits;
  } else if (b.n_modes == 1) {
    rc = hant_select_solve(&p, &best);
  } else {
    if (!(per = calloc((size_t)b.n_modes, sizeof(*per)))) {
      rc = HANT_ENOMEM;
      goto out;
    }
    for (int m = 0; m < b.n_modes; m++)
      hant_select_result_init(&per[m]);
    size_t energy_dim = SIZE_MAX;
    for (size_t d = 0; d < b.n_dims; d++)
      if (b.dim_kind[d] == HANT_BUDGET_ENERGY)
        energy_dim = d;
    struct hant_select_modes modes = {(size_t)b.n_modes, (const double *const *)b.cost,
                                      (const double *const *)b.budget, energy_dim};
    rc = hant_select_solve_modes(&p, &modes, &best, &best_m, per);
  }
  if (rc)
    goto out;
  res->mode = b.mode[best_m];
  snprintf(res->power_mode, sizeof(res->power_mode), "%s", b.dev->modes[res->mode].name);
  res->status = best.status;
  res->has_choice = best.has_choice;
  res->gap = best.gap;
  res->bound = best.bound;
  res->nodes = best.nodes;
  res->n_modes_tried = b.n_modes;
  if (per)
    for (int m = 0; m < b.n_modes; m++)
      if (m != (int)best_m)
        res->nodes += per[m].nodes;
  if (best.has_choice) {
    if (!(res->choice = malloc(sizeof(int) * (size_t)b.n_slots))) {
      rc = HANT_ENOMEM;
      goto out;
    }
    size_t o = 0;
    for (int s = 0; s < b.n_slots; s++) {
      res->choice[s] = b.item[o + best.choice[s]];
      o += b.gsize[s];
    }
    totals_of(&b, req, res->mode, res->choice, &res->totals);
    res->predicted_accuracy = predicted(lib, res->choice, b.n_slots, res->totals.score);
    res->co2e_g_per_million = hant_power_co2_g_per_million(res->totals.energy_mj, res->grid_g_per_kwh);
  }
  if (best.status == HANT_SELECT_INFEASIBLE) {
    /* Per budget kind: reachable alone in some mode? and its smallest total. */
    for (size_t d = 0; d < b.n_dims; d++) {
      hant_budget_kind k = b.dim_kind[d];
      int over_all = 1;
      double mn = INFINITY;
      for (int m = 0; m < b.n_modes; m++) {
        const struct hant_select_result *r = per ? &per[m] : &best;
        over_all &= r->over_budget ? r->over_budget[d] : 0;
        if (k != HANT_BUDGET_POWER) {
          double sum = 0;
          size_t o = 0;
          for (int s = 0; s < b.n_slots; s++) {
            double smin = INFINITY;
            for (size_t j = 0; j < b.gsize[s]; j++)
              smin = fmin(smin, item_cost(&b, m, o + j, k));
            sum += smin;
            o += b.gsize[s];
          }
          mn = fmin(mn, sum);
        }
      }
      res->over_budget[k] = over_all;
      res->min_totals[k] = k == HANT_BUDGET_POWER ? NAN : mn;
    }
    int any = 0;
    for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
      any |= res->over_budget[k];
    res->jointly_infeasible = !any;
  }
out:
  if (per)
    for (int m = 0; m < b.n_modes; m++)
      hant_select_result_free(&per[m]);
  free(per);
  hant_select_result_free(&best);
  build_free(&b);
  res->solve_ms = (hant_now_s() - t0) * 1e3;
  return rc;
}

/* ---- fronts --------------------------------------------------------------- */

void hant_transform_front_destroy(hant_transform_front *f) {
  if (!f)
    return;
  for (int m = 0; m < f->n_modes; m++) {
    free(f->modes[m].cost);
    free(f->modes[m].score);
    free(f->modes[m].choice);
  }
  free(f->modes);
  free(f);
}

int hant_transform_front_new(const hant_library *lib, const hant_transform_req *req, hant_budget_kind axis,
                             int points, bool respect_budgets, hant_transform_front **out) {
  *out = NULL;
  if (axis != HANT_BUDGET_LATENCY && axis != HANT_BUDGET_ENERGY && axis != HANT_BUDGET_MEMORY &&
      axis != HANT_BUDGET_MACS)
    return hant__error(HANT_EINVAL, "axis: expected latency_ms, energy_mj, memory_bytes or macs (power is not "
                                    "additive over slots)");
  if (points < 0)
    return hant__error(HANT_EINVAL, "points: expected a whole number >= 0");
  double t0 = hant_now_s();
  struct build b;
  size_t *pt = NULL, *ch = NULL;
  hant_transform_front *f = calloc(1, sizeof(*f));
  if (!f)
    return HANT_ENOMEM;
  f->axis = axis;
  f->library_version = lib->version;
  f->teacher_accuracy = lib->teacher.val_accuracy;
  /* Fronts stay on the summed scores for now: their points carry a summed
   * score that answers turn into an accuracy by adding the teacher's. */
  int rc = build_problem(lib, req, axis, false, &b);
  if (rc)
    goto out;
  f->n_slots = b.n_slots;
  size_t axis_dim = 0;
  for (size_t d = 0; d < b.n_dims; d++)
    if (b.dim_kind[d] == axis)
      axis_dim = d;
  if (!(f->modes = calloc((size_t)b.n_modes, sizeof(*f->modes))) ||
      !(ch = malloc(sizeof(size_t) * (size_t)b.n_slots))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  f->n_modes = b.n_modes;
  for (int m = 0; m < b.n_modes; m++) {
    hant_transform_front_mode *fm = &f->modes[m];
    snprintf(fm->power_mode, sizeof(fm->power_mode), "%s", b.dev->modes[b.mode[m]].name);
    struct hant_select_problem p;
    problem_view(&b, m, 0, &p);
    struct hant_select_front_options opt = {axis_dim, respect_budgets ? 1 : 0, 0};
    struct hant_select_front *sf = NULL;
    rc = hant_select_front_new(&p, &opt, &sf);
    if (rc == HANT_EINFEASIBLE) {
      fm->infeasible = 1;
      hant_errmsg_clear();
      rc = 0;
      continue;
    }
    if (rc)
      goto out;
    fm->approximate = hant_select_front_approximate(sf);
    fm->cost_error = hant_select_front_cost_error(sf);
    size_t n = hant_select_front_size(sf), keep = n;
    free(pt);
    pt = NULL;
    if (points > 0 && (size_t)points < n) {
      if (!(pt = malloc(sizeof(size_t) * (size_t)points))) {
        hant_select_front_destroy(sf);
        rc = HANT_ENOMEM;
        goto out;
      }
      hant_select_front_sample(sf, (size_t)points, NULL, NULL, pt);
      keep = (size_t)points;
    }
    fm->cost = malloc(sizeof(double) * (keep ? keep : 1));
    fm->score = malloc(sizeof(double) * (keep ? keep : 1));
    fm->choice = malloc(sizeof(int) * (keep ? keep : 1) * (size_t)b.n_slots);
    if (!fm->cost || !fm->score || !fm->choice) {
      hant_select_front_destroy(sf);
      rc = HANT_ENOMEM;
      goto out;
    }
    size_t last = SIZE_MAX;
    for (size_t l = 0; l < keep; l++) {
      size_t i = pt ? pt[l] : l;
      if (i == last)
        continue; /* sampled levels between two points repeat the lower one */
      last = i;
      double c, v;
      hant_select_front_point(sf, i, &c, &v, ch);
      /* The axis's latency must still meet the frame rate. */
      if (axis == HANT_BUDGET_LATENCY && req->fps > 0 && c > 1000.0 / req->fps * (1 + 1e-9))
        continue;
      int k = fm->n_points++;
      fm->cost[k] = c;
      fm->score[k] = v;
      size_t o = 0;
      for (int s = 0; s < b.n_slots; s++) {
        fm->choice[(size_t)k * (size_t)b.n_slots + (size_t)s] = b.item[o + ch[s]];
        o += b.gsize[s];
      }
    }
    hant_select_front_destroy(sf);
  }
out:
  free(pt);
  free(ch);
  build_free(&b);
  if (rc) {
    hant_transform_front_destroy(f);
    return rc;
  }
  f->solve_ms = (hant_now_s() - t0) * 1e3;
  *out = f;
  return 0;
}
