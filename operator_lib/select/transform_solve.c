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
#include "select_internal.h"
#include "transform_internal.h"

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
  if ((unsigned)b->kind >= HANT_BUDGET_KIND_COUNT)
    return;
  if (b->percent > 0) {
    double *p = &r->relative_percent[b->kind];
    if (!(*p > 0) || b->percent < *p)
      *p = b->percent;
    return;
  }
  for (int i = 0; i < r->n_budgets; i++)
    if (r->budgets[i].kind == b->kind) {
      if (b->value < r->budgets[i].value)
        r->budgets[i].value = b->value;
      return;
    }
  if (r->n_budgets < HANT_BUDGET_KIND_COUNT)
    r->budgets[r->n_budgets++] = *b;
}

void hant_transform_result_init(hant_transform_result *r) {
  memset(r, 0, sizeof(*r));
  r->predicted_accuracy_error = NAN;
}

void hant_transform_result_free(hant_transform_result *r) {
  if (!r)
    return;
  free(r->choice);
  r->choice = NULL;
  free(r->mode_floors);
  r->mode_floors = NULL;
  r->n_mode_floors = 0;
  for (int i = 0; i < r->n_ranked; i++)
    free(r->ranked[i].choice);
  free(r->ranked);
  r->ranked = NULL;
  r->n_ranked = 0;
}

double hant_transform_noise_se(const hant_library *lib) {
  double p = lib->teacher.val_accuracy, n = lib->teacher.val_images;
  if (!lib->has_teacher || !(n > 0) || !(p > 0 && p < 1))
    return 0;
  return sqrt(p * (1 - p) / n);
}

double hant_transform_value(double score, double noise_se) {
  /* A gain no larger than the measurement's standard error is as likely
   * noise as a real improvement; counting it would let noise beat the
   * teacher's own (score 0) block at any cost. Losses count in full. */
  return score > 0 && score <= noise_se ? 0 : score;
}

static int mode_list(const hant_library_device *dev, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = '\0';
  for (int m = 0; m < dev->n_modes && o < n; m++)
    o += (size_t)snprintf(buf + o, n - o, "%s'%s'", m ? ", " : "", dev->modes[m].name);
  return 0;
}

/* ---- devices, the teacher, totals ---------------------------------------------- */

/* Edit distance of two names (case-sensitive), capped at 99. */
static int name_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 99;
  int prev[64], cur[64];
  for (size_t j = 0; j <= lb; j++)
    prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int sub = prev[j - 1] + (a[i - 1] != b[j - 1]), del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, sizeof(int) * (lb + 1));
  }
  return prev[lb] > 99 ? 99 : prev[lb];
}

static bool is_profile(const hant_library *lib, const char *name) {
  for (int i = 0; i < lib->n_profiles; i++)
    if (!strcmp(lib->profiles[i], name))
      return true;
  return false;
}

/* The costed device of that name. A name that is neither costed nor a
 * profile is a typo far more often than a new device: suggest the
 * nearest names rather than profiling a device that does not exist. */
static int find_device(const hant_library *lib, const char *name, const hant_library_device **out) {
  const hant_library_device *dev = hant_library_device_find(lib, name);
  *out = dev;
  if (dev && dev->n_modes > 0)
    return 0;
  if (dev || is_profile(lib, name))
    return hant__error(HANT_ENOENT,
                       "no costs for device %s: run hant-distill profile --db %s --device %s, then send SIGHUP to "
                       "hantd",
                       name, lib->path, name);
  /* Candidates: costed devices, then profiles; the closest within a
   * third of the name's length (at least 2 edits) are suggested. */
  char near[256] = "", costed[256] = "";
  size_t on = 0, oc = 0;
  int best = 99, limit = (int)strlen(name) / 3 > 2 ? (int)strlen(name) / 3 : 2;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < lib->n_devices + lib->n_profiles; i++) {
      const char *cand = i < lib->n_devices ? lib->devices[i].name : lib->profiles[i - lib->n_devices];
      int d = name_distance(name, cand);
      if (pass == 0) {
        if (d < best)
          best = d;
        if (i < lib->n_devices && lib->devices[i].n_modes > 0 && oc < sizeof(costed))
          oc += (size_t)snprintf(costed + oc, sizeof(costed) - oc, "%s%s", oc ? ", " : "", cand);
        continue;
      }
      if (d != best || d > limit || strstr(near, cand))
        continue;
      if (on < sizeof(near))
        on += (size_t)snprintf(near + on, sizeof(near) - on, "%s%s", on ? " or " : "", cand);
    }
  if (near[0])
    return hant__error(HANT_ENOENT, "unknown device '%s': did you mean %s? (devices with costs: %s; see "
                                    "'hant-client devices')",
                       name, near, costed[0] ? costed : "none");
  return hant__error(HANT_ENOENT,
                     "unknown device '%s': no device profile and no costs of that name (devices with costs: %s; "
                     "see 'hant-client devices')",
                     name, costed[0] ? costed : "none");
}

/* The teacher's own selection costed in device mode dm: for every slot its
 * candidate of family "teacher". Returns false when some slot has none. */
static bool teacher_choice(const hant_library *lib, const hant_library_mode *md, int *choice) {
  for (int s = 0; s < lib->n_slots; s++) {
    choice[s] = -1;
    for (int j = 0; j < lib->slot_count[s] && choice[s] < 0; j++) {
      int c = lib->slot_first[s] + j;
      if (!strcmp(lib->cands[c].family, "teacher") && (!md || md->has[c]))
        choice[s] = c;
    }
    if (choice[s] < 0)
      return false;
  }
  return true;
}

/* Totals of a choice (candidate indices) in mode md of dev. */
static void choice_totals(const hant_library *lib, const hant_library_device *dev, const hant_library_mode *md,
                          double fps, const int *choice, hant_transform_totals *t) {
  double factor = dev->has_additivity ? dev->additivity.factor : 1;
  double overhead = dev->has_additivity ? dev->additivity.overhead_ms : 0;
  memset(t, 0, sizeof(*t));
  for (int s = 0; s < lib->n_slots; s++) {
    int c = choice[s];
    t->score += lib->cands[c].score;
    t->kl += lib->cands[c].val_kl; /* NaN when unmeasured, as documented */
    t->latency_sum_ms += md->latency_ms[c];
    t->energy_mj += md->energy_mj[c];
    t->memory_bytes += md->memory_bytes[c];
    t->macs += lib->cands[c].macs;
  }
  t->latency_ms = factor * t->latency_sum_ms + overhead;
  t->power_w = hant_power_avg_w(t->energy_mj, t->latency_ms);
  t->sustained_power_w =
      fps > 0 && md->idle_w >= 0 ? hant_power_sustained_w(t->energy_mj, t->latency_ms, fps, md->idle_w) : -1;
}

/* The total of kind k, as a budget of that kind bounds it. */
static double totals_kind(const hant_transform_totals *t, hant_budget_kind k, double fps) {
  switch (k) {
  case HANT_BUDGET_LATENCY: return t->latency_ms;
  case HANT_BUDGET_ENERGY: return t->energy_mj;
  case HANT_BUDGET_POWER: return fps > 0 && t->sustained_power_w >= 0 ? t->sustained_power_w : t->power_w;
  case HANT_BUDGET_MEMORY: return t->memory_bytes;
  case HANT_BUDGET_MACS: return t->macs;
  default: return NAN;
  }
}

int hant_transform_req_resolve(const hant_library *lib, hant_transform_req *r) {
  bool any = false;
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    any |= r->relative_percent[k] > 0;
  if (!any)
    return 0;
  if (!lib->has_teacher || lib->n_slots == 0)
    return hant__error(HANT_ENOENT, "the library is empty: relative budgets need the teacher's costs");
  const hant_library_device *dev;
  int rc = find_device(lib, r->device, &dev);
  if (rc)
    return rc;
  int m0 = 0, m1 = dev->n_modes;
  if (r->power_mode[0]) {
    if ((m0 = hant_library_mode_find(dev, r->power_mode)) < 0) {
      char modes[256];
      mode_list(dev, modes, sizeof(modes));
      return hant__error(HANT_EINVAL, "options.power_mode: device %s has no power mode '%s'; its modes: %s",
                         dev->name, r->power_mode, modes);
    }
    m1 = m0 + 1;
  }
  int *choice = malloc(sizeof(int) * (size_t)lib->n_slots);
  if (!choice)
    return HANT_ENOMEM;
  double best[HANT_BUDGET_KIND_COUNT];
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    best[k] = INFINITY;
  for (int m = m0; m < m1; m++) {
    const hant_library_mode *md = &dev->modes[m];
    if (!teacher_choice(lib, md, choice)) {
      for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
        if (r->relative_percent[k] > 0) {
          free(choice);
          return hant__error(HANT_EINVAL,
                             "relative budget %g%%%s: the teacher's own blocks have no costs on device %s%s%s, so "
                             "there is nothing to be relative to; profile it again (hant-distill profile "
                             "--device %s) or give an absolute budget",
                             r->relative_percent[k], hant_budget_kind_name((hant_budget_kind)k), dev->name,
                             md->name[0] ? ", power mode " : "", md->name, dev->name);
        }
    }
    hant_transform_totals t;
    choice_totals(lib, dev, md, r->fps, choice, &t);
    for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
      best[k] = fmin(best[k], totals_kind(&t, (hant_budget_kind)k, r->fps));
  }
  free(choice);
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
    if (!(r->relative_percent[k] > 0))
      continue;
    hant_budget b = {(hant_budget_kind)k, r->relative_percent[k] / 100 * best[k], 0};
    r->relative_value[k] = b.value;
    hant_transform_req_add_budget(r, &b);
  }
  return 0;
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
  double noise_se;            /* see hant_transform_value */
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

double hant_transform_cand_value(const hant_library *lib, int c, double noise_se) {
  if (lib->has_divergence)
    return -lib->kl_weight[c] * lib->cands[c].val_kl + (lib->int8_cost ? lib->int8_cost[c] : 0);
  return hant_transform_value(lib->cands[c].score, noise_se);
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

/* Sets up groups, items, dimensions and per-mode matrices. extra_axis:
 * a kind that must be a dimension even without a budget (Pareto), or
 * HANT_BUDGET_KIND_COUNT. calibrated: values are the library's calibrated
 * coefficients (lib->calibrated must hold), else the scores. */
static int build_problem(const hant_library *lib, const hant_transform_req *req, hant_budget_kind extra_axis,
                         bool calibrated, struct build *b) {
  memset(b, 0, sizeof(*b));
  b->lib = lib;
  b->factor = 1;
  b->noise_se = hant_transform_noise_se(lib);
  if (!lib->has_teacher || lib->n_slots == 0 || lib->n_cands == 0)
    return hant__error(HANT_ENOENT, "the library is empty: build one with 'hant-distill build --teacher T --db %s', "
                                    "then send SIGHUP to hantd",
                       lib->path);
  const hant_library_device *dev;
  int frc = find_device(lib, req->device, &dev);
  if (frc)
    return frc;
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
      b->value[b->n_items] = calibrated ? lib->calib_coef[c] : hant_transform_cand_value(lib, c, b->noise_se);
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
  choice_totals(b->lib, b->dev, &b->dev->modes[dm], req->fps, choice, t);
}

/* The solver's value tolerance for b's values (select.h): objectives
 * closer than this are equally good. */
static double value_tol(const struct build *b) {
  double vscale = 0;
  size_t o = 0;
  for (int s = 0; s < b->n_slots; s++) {
    double mx = 0;
    for (size_t j = 0; j < b->gsize[s]; j++)
      mx = fmax(mx, fabs(b->value[o + j]));
    vscale += mx;
    o += b->gsize[s];
  }
  return VALUE_RTOL * (1 + vscale);
}

/* The lowest-energy choice of mode m (index into b->mode) whose objective
 * is at least target and which meets every budget: the same knapsack with
 * the objective as one more budget row (-value <= -target) and minus the
 * energy as the value. items receives the group indices; *found is false
 * when the solve proves nothing (time limit) so the caller keeps its own. */
static int min_energy_at(const struct build *b, int m, double target, double time_limit_ms, size_t *items,
                         double *energy, bool *found) {
  *found = false;
  size_t nd = b->n_dims + 1;
  const hant_library_mode *md = &b->dev->modes[b->mode[m]];
  double *cost = malloc(sizeof(double) * b->n_items * nd), *val = malloc(sizeof(double) * b->n_items),
         *bud = malloc(sizeof(double) * nd);
  struct hant_select_result r;
  hant_select_result_init(&r);
  int rc = 0;
  if (!cost || !val || !bud) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < b->n_items; i++) {
    for (size_t d = 0; d < b->n_dims; d++)
      cost[i * nd + d] = b->cost[m][i * b->n_dims + d];
    cost[i * nd + b->n_dims] = -b->value[i];
    val[i] = -md->energy_mj[b->item[i]];
  }
  for (size_t d = 0; d < b->n_dims; d++)
    bud[d] = b->budget[m][d];
  bud[b->n_dims] = -target;
  struct hant_select_problem p = {(size_t)b->n_slots, b->gsize, nd, val, cost, bud,
                                  time_limit_ms > 0 ? time_limit_ms : 0};
  if ((rc = hant_select_solve(&p, &r)))
    goto out;
  if (r.has_choice && r.status == HANT_SELECT_OPTIMAL) {
    memcpy(items, r.choice, sizeof(size_t) * (size_t)b->n_slots);
    *energy = -r.objective;
    *found = true;
  }
out:
  hant_select_result_free(&r);
  free(cost);
  free(val);
  free(bud);
  return rc;
}

/* Whether group choice items meets every budget of mode m, within the
 * solver's tolerance. */
static bool meets_budgets(const struct build *b, int m, const size_t *items) {
  struct hant_select_problem p;
  problem_view(b, m, 0, &p);
  for (size_t d = 0; d < b->n_dims; d++) {
    double sum = 0;
    size_t o = 0;
    for (int s = 0; s < b->n_slots; s++) {
      sum += b->cost[m][(o + items[s]) * b->n_dims + d];
      o += b->gsize[s];
    }
    if (sum > b->budget[m][d] + hant_select_cost_tol(&p, d))
      return false;
  }
  return true;
}

static void items_to_choice(const struct build *b, const size_t *items, int *choice) {
  size_t o = 0;
  for (int s = 0; s < b->n_slots; s++) {
    choice[s] = b->item[o + items[s]];
    o += b->gsize[s];
  }
}

/* The smallest power while inferring, min over choices of E / T in mode m,
 * by Dinkelbach's parametric search: for a ratio lambda the choice
 * minimising sum (e - lambda t) is found slot by slot, and lambda moves to
 * that choice's ratio until it stops falling; each step is exact and the
 * choices are finite, so it ends at the minimum. */
static double power_floor_ratio(const struct build *b, int m) {
  const hant_library_mode *md = &b->dev->modes[b->mode[m]];
  double lam = INFINITY;
  for (int it = 0; it < 200; it++) {
    double e = 0, t = 0;
    size_t o = 0;
    for (int s = 0; s < b->n_slots; s++) {
      double bv = INFINITY, be = 0, bt = 0;
      for (size_t j = 0; j < b->gsize[s]; j++) {
        int c = b->item[o + j];
        double ej = md->energy_mj[c], tj = corrected(b, md->latency_ms[c]);
        double v = isfinite(lam) ? ej - lam * tj : ej;
        if (v < bv)
          bv = v, be = ej, bt = tj;
      }
      e += be;
      t += bt;
      o += b->gsize[s];
    }
    double r = hant_power_avg_w(e, t);
    if (isfinite(lam) && r >= lam * (1 - 1e-12))
      break;
    lam = r;
  }
  return lam;
}

/* Floors of every kind per mode considered (see hant_transform_result). */
static int compute_floors(const struct build *b, const hant_transform_req *req, hant_transform_result *res) {
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    res->floor[k] = INFINITY;
  if (!(res->mode_floors = calloc((size_t)b->n_modes, sizeof(*res->mode_floors))))
    return HANT_ENOMEM;
  res->n_mode_floors = b->n_modes;
  for (int m = 0; m < b->n_modes; m++) {
    const hant_library_mode *md = &b->dev->modes[b->mode[m]];
    static const hant_budget_kind plain[] = {HANT_BUDGET_LATENCY, HANT_BUDGET_ENERGY, HANT_BUDGET_MEMORY,
                                             HANT_BUDGET_MACS};
    for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
      double sum = 0;
      size_t o = 0;
      for (int s = 0; s < b->n_slots; s++) {
        double smin = INFINITY;
        for (size_t j = 0; j < b->gsize[s]; j++)
          smin = fmin(smin, item_cost(b, m, o + j, plain[k]));
        sum += smin;
        o += b->gsize[s];
      }
      res->floor[plain[k]] = fmin(res->floor[plain[k]], sum);
    }
    double pf;
    if (req->fps > 0 && md->idle_w >= 0) {
      /* Sustained power is linear in the choice: P_idle plus, per slot,
       * F (e - P_idle t) (mJ per second, hence 1e-3 for W). */
      double sum = 0;
      size_t o = 0;
      for (int s = 0; s < b->n_slots; s++) {
        double smin = INFINITY;
        for (size_t j = 0; j < b->gsize[s]; j++) {
          int c = b->item[o + j];
          smin = fmin(smin, md->energy_mj[c] - md->idle_w * corrected(b, md->latency_ms[c]));
        }
        sum += smin;
        o += b->gsize[s];
      }
      pf = md->idle_w + 1e-3 * req->fps * sum;
    } else {
      pf = power_floor_ratio(b, m);
    }
    snprintf(res->mode_floors[m].power_mode, sizeof(res->mode_floors[m].power_mode), "%s", md->name);
    res->mode_floors[m].idle_w = md->idle_w;
    res->mode_floors[m].power_floor_w = pf;
    res->floor[HANT_BUDGET_POWER] = fmin(res->floor[HANT_BUDGET_POWER], pf);
  }
  return 0;
}

/* The predicted validation accuracy of a choice: the fitted predictor's
 * when the library is calibrated, else the divergences' (see
 * hant_transform_result), else the teacher's plus the summed scores. */
double hant_transform_predicted_divergence(const hant_library *lib, const int *choice) {
  double chance = lib->teacher.classes > 0 ? 1.0 / lib->teacher.classes : 0, drop = 0, q = 0;
  for (int s = 0; s < lib->n_slots; s++) {
    drop += lib->kl_pred_weight[choice[s]] * lib->cands[choice[s]].val_kl;
    q += lib->int8_cost ? lib->int8_cost[choice[s]] : 0;
  }
  return hant_floor_predict(lib->teacher.val_accuracy, drop - q, chance, lib->kl_floor_scale);
}

double hant_transform_predicted(const hant_library *lib, const int *choice) {
  if (lib->has_divergence && (!lib->calibrated || lib->calib_by_divergence))
    return hant_transform_predicted_divergence(lib, choice);
  int n_slots = lib->n_slots;
  double score_sum = 0;
  for (int s = 0; s < n_slots; s++)
    score_sum += lib->cands[choice[s]].score;
  double chance = lib->teacher.classes > 0 ? 1.0 / lib->teacher.classes : 0;
  if (!lib->calibrated) {
    /* the additive sum is not an accuracy once many slots change (scores
     * compound; a deep cut sums to below zero): keep the figure a user reads
     * inside what an accuracy can be, the answer saying it is uncalibrated */
    double a = lib->teacher.val_accuracy + score_sum;
    return a < 0 ? 0 : a > 1 ? 1 : a;
  }
  double z = lib->calib.intercept;
  for (int s = 0; s < n_slots; s++)
    z += lib->calib_coef[choice[s]];
  return hant_calib_unlink(hant_calib_scale_from_name(lib->calib.scale), z, chance);
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

/* Measured re-ranking (transform_rerank.c) sees the problems through this. */
struct rerank_ctx {
  const struct build *b;
  const hant_transform_req *req;
};

static void rerank_totals(const void *ctx, int dm, const int *choice, hant_transform_totals *t) {
  const struct rerank_ctx *c = ctx;
  totals_of(c->b, c->req, dm, choice, t);
}

static int rerank(const struct build *b, const hant_transform_req *req, hant_transform_result *res) {
  struct hant_select_problem *pm = malloc(sizeof(*pm) * (size_t)b->n_modes);
  if (!pm)
    return HANT_ENOMEM;
  for (int m = 0; m < b->n_modes; m++)
    problem_view(b, m, req->time_limit_ms, &pm[m]);
  struct rerank_ctx c = {b, req};
  struct hant__transform_space sp = {b->lib, b->dev,   b->n_slots, b->gsize,     b->item,
                                     b->n_modes, b->mode, pm,      rerank_totals, &c};
  int rc = hant__transform_rerank(&sp, req, res);
  free(pm);
  return rc;
}

/* The library as an int8 device sees it (issue 19): when the device
 * computes in int8 and every candidate costed on it has an int8 score, a
 * view of lib whose candidates carry their int8 scores and accuracies and
 * whose teacher accuracy is the int8 teacher's, so that everything
 * downstream (values, noise threshold, totals, the teacher's dominance,
 * the prediction) works on int8 measurements. The fit of the accuracy
 * predictor was made on fp32 networks, so the view is uncalibrated. Sets
 * res's precisions; *view is NULL when the scores stay fp32, else
 * hant_library_int8_view's (hant_library_view_free). */
static int int8_view(const hant_library *lib, const char *device, hant_library **view, hant_transform_result *res) {
  *view = NULL;
  snprintf(res->scores_precision, sizeof(res->scores_precision), "fp32");
  const hant_library_device *dev = hant_library_device_find(lib, device);
  if (!dev || !dev->profile)
    return 0;
  snprintf(res->precision, sizeof(res->precision), "%s", hant_prec_name(dev->profile->precision));
  if (dev->profile->precision != HANT_PREC_INT8)
    return 0;
  int rc = hant_library_int8_view(lib, dev, view, &res->int8_missing);
  if (!rc && *view)
    snprintf(res->scores_precision, sizeof(res->scores_precision), "int8");
  return rc;
}

int hant_transform_solve(const hant_library *lib, const hant_transform_req *req, hant_transform_result *res) {
  double t0 = hant_now_s();
  hant_transform_result_free(res);
  hant_transform_result_init(res);
  hant_library *view = NULL;
  int vrc = int8_view(lib, req->device, &view, res);
  if (vrc)
    return vrc;
  if (view)
    lib = view;
  res->library_version = lib->version;
  res->grid_g_per_kwh = req->grid_g_per_kwh > 0 ? req->grid_g_per_kwh : HANT_GRID_G_PER_KWH_DEFAULT;
  res->teacher_accuracy = lib->teacher.val_accuracy;
  res->prediction_calibrated = lib->calibrated;
  res->predicted_accuracy_error = !lib->calibrated      ? NAN
                                  : lib->calib_by_divergence ? lib->calib_div_median_abs_err
                                                             : lib->calib.heldout_median_abs_err;
  snprintf(res->objective_values, sizeof(res->objective_values), "%s",
           lib->calib_objective ? "calibrated" : lib->has_divergence ? "divergence" : "scores");
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    res->min_totals[k] = NAN;
  struct build b;
  struct hant_select_result best, *per = NULL;
  size_t *sel = NULL, *tmp = NULL;
  int *tchoice = NULL;
  hant_select_result_init(&best);
  hant_transform_req rq = *req;
  int rc = hant_transform_req_resolve(lib, &rq);
  req = &rq;
  memset(&b, 0, sizeof(b));
  if (rc)
    goto out;
  rc = build_problem(lib, req, HANT_BUDGET_KIND_COUNT, lib->calib_objective, &b);
  if (!rc && req->rerank_k > 1 && req->measure)
    rc = hant__error(HANT_EINVAL, "rerank_k: measured re-ranking and the measured-latency correction cannot be "
                                  "combined; ask for one of them");
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
  /* Ties in the objective go to the lowest energy, in any mode (ties
   * among modes and among choices alike). The measured-latency loop keeps
   * its own answer: its budget was tightened by measurement. */
  bool measured = b.n_modes == 1 && req->measure && lat_dim != SIZE_MAX;
  size_t ns = (size_t)(b.n_slots > 0 ? b.n_slots : 1);
  if (!(sel = malloc(sizeof(size_t) * ns)) || !(tmp = malloc(sizeof(size_t) * ns)) ||
      !(tchoice = malloc(sizeof(int) * ns))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  int sel_m = (int)best_m;
  double vtol = value_tol(&b);
  if (best.has_choice)
    memcpy(sel, best.choice, sizeof(size_t) * (size_t)b.n_slots);
  if (best.has_choice && best.status == HANT_SELECT_OPTIMAL && !measured) {
    double best_e = INFINITY;
    for (int m = 0; m < b.n_modes; m++) {
      const struct hant_select_result *r = per ? &per[m] : &best;
      if (!r->has_choice || r->objective < best.objective - vtol)
        continue;
      double e;
      bool found;
      if ((rc = min_energy_at(&b, m, best.objective - vtol, req->time_limit_ms, tmp, &e, &found)))
        goto out;
      if (found && e < best_e) {
        memcpy(sel, tmp, sizeof(size_t) * (size_t)b.n_slots);
        sel_m = m;
        best_e = e;
      }
    }
  }
  /* The teacher's own blocks, as items of the problem. */
  bool have_t = true;
  {
    size_t o = 0;
    for (int s = 0; s < b.n_slots; s++) {
      tmp[s] = SIZE_MAX;
      for (size_t j = 0; j < b.gsize[s] && tmp[s] == SIZE_MAX; j++)
        if (!strcmp(lib->cands[b.item[o + j]].family, "teacher"))
          tmp[s] = j;
      have_t &= tmp[s] != SIZE_MAX;
      o += b.gsize[s];
    }
  }
  /* Never answer with a network the teacher dominates: as good in the
   * objective and no worse on every budgeted kind. */
  if (best.has_choice && have_t) {
    hant_transform_totals ct, tt;
    int *cc = tchoice;
    items_to_choice(&b, sel, cc);
    totals_of(&b, req, b.mode[sel_m], cc, &ct);
    double obj = 0, tval = 0;
    size_t o = 0;
    for (int s = 0; s < b.n_slots; s++) {
      obj += b.value[o + sel[s]];
      tval += b.value[o + tmp[s]];
      o += b.gsize[s];
    }
    int tm = -1;
    double te = INFINITY;
    items_to_choice(&b, tmp, cc);
    for (int m = 0; m < b.n_modes && tval >= obj - vtol; m++) {
      if (!meets_budgets(&b, m, tmp))
        continue;
      totals_of(&b, req, b.mode[m], cc, &tt);
      bool no_worse = true;
      for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
        bool budgeted = hant_transform_req_budget(req, (hant_budget_kind)k) ||
                        (k == HANT_BUDGET_LATENCY && req->fps > 0);
        double tk = totals_kind(&tt, (hant_budget_kind)k, req->fps), ck = totals_kind(&ct, (hant_budget_kind)k, req->fps);
        if (budgeted && tk > ck + 1e-9 * fmax(1, fabs(ck)))
          no_worse = false;
      }
      if (no_worse && tt.energy_mj < te)
        tm = m, te = tt.energy_mj;
    }
    if (tm >= 0) {
      memcpy(sel, tmp, sizeof(size_t) * (size_t)b.n_slots);
      sel_m = tm;
      res->teacher_chosen = true;
    }
  }
  res->mode = b.mode[sel_m];
  snprintf(res->power_mode, sizeof(res->power_mode), "%s", b.dev->modes[res->mode].name);
  res->status = best.status;
  res->has_choice = best.has_choice;
  res->gap = best.gap;
  res->bound = best.bound;
  res->nodes = best.nodes;
  res->n_modes_tried = b.n_modes;
  res->noise_se = b.noise_se;
  if (per)
    for (int m = 0; m < b.n_modes; m++)
      if (m != (int)best_m)
        res->nodes += per[m].nodes;
  if (best.has_choice) {
    if (!(res->choice = malloc(sizeof(int) * (size_t)b.n_slots))) {
      rc = HANT_ENOMEM;
      goto out;
    }
    items_to_choice(&b, sel, res->choice);
    size_t o = 0;
    for (int s = 0; s < b.n_slots; s++) {
      res->objective += b.value[o + sel[s]];
      o += b.gsize[s];
    }
    totals_of(&b, req, res->mode, res->choice, &res->totals);
    res->predicted_accuracy = hant_transform_predicted(lib, res->choice);
    res->co2e_g_per_million = hant_power_co2_g_per_million(res->totals.energy_mj, res->grid_g_per_kwh);
    if ((rc = rerank(&b, req, res)))
      goto out;
  }
  /* The teacher beside the answer, in the answer's mode. */
  if (teacher_choice(lib, &b.dev->modes[res->mode], tchoice)) {
    res->has_teacher = 1;
    totals_of(&b, req, res->mode, tchoice, &res->teacher_totals);
    res->teacher_co2e_g_per_million =
        hant_power_co2_g_per_million(res->teacher_totals.energy_mj, res->grid_g_per_kwh);
    int m = sel_m;
    if (!best.has_choice)
      m = 0;
    res->teacher_feasible = have_t && meets_budgets(&b, m, tmp);
  }
  if ((rc = compute_floors(&b, req, res)))
    goto out;
  if (best.status == HANT_SELECT_INFEASIBLE) {
    /* Per budget kind: reachable alone in some mode? and its smallest total. */
    for (size_t d = 0; d < b.n_dims; d++) {
      hant_budget_kind k = b.dim_kind[d];
      int over_all = 1;
      for (int m = 0; m < b.n_modes; m++) {
        const struct hant_select_result *r = per ? &per[m] : &best;
        over_all &= r->over_budget ? r->over_budget[d] : 0;
      }
      res->over_budget[k] = over_all;
      res->min_totals[k] = res->floor[k];
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
  free(sel);
  free(tmp);
  free(tchoice);
  hant_select_result_free(&best);
  build_free(&b);
  hant_library_view_free(view);
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
  hant_transform_req rq = *req;
  memset(&b, 0, sizeof(b));
  int rc = hant_transform_req_resolve(lib, &rq);
  req = &rq;
  /* Fronts stay on the summed scores for now: their points carry a summed
   * score that answers turn into an accuracy by adding the teacher's. */
  if (!rc)
    rc = build_problem(lib, req, axis, false, &b);
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
    {
      int *tc = malloc(sizeof(int) * (size_t)b.n_slots);
      if (!tc) {
        rc = HANT_ENOMEM;
        goto out;
      }
      if (teacher_choice(lib, &b.dev->modes[b.mode[m]], tc)) {
        fm->has_teacher = 1;
        totals_of(&b, req, b.mode[m], tc, &fm->teacher_totals);
        fm->teacher_cost = totals_kind(&fm->teacher_totals, axis, 0);
      }
      free(tc);
    }
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
