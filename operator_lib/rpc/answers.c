/* SPDX-License-Identifier: MIT */
/* answers.c: the JSON of hantd's results: a transform's choice, Pareto fronts, devices, the library, status, version and jobs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "rpc_internal.h"
#include "sha256.h"

static json_t *num(double v) { return hant__rpc_num(v); }

static json_t *budgets_json(const hant_transform_req *t) {
  json_t *o = json_object();
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
    const hant_budget *b = hant_transform_req_budget(t, (hant_budget_kind)k);
    if (b)
      json_object_set_new(o, hant_budget_kind_key((hant_budget_kind)k), num(b->value));
  }
  return o;
}

/* Relative budgets as asked and what each resolved to:
 * {"energy_mj": {"percent": 50, "value": 0.45}}. */
static json_t *relative_json(const hant_transform_req *t) {
  json_t *o = json_object();
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
    if (t->relative_percent[k] > 0) {
      json_t *r = json_object();
      char text[48];
      snprintf(text, sizeof(text), "%g%%%s", t->relative_percent[k], hant_budget_kind_name((hant_budget_kind)k));
      json_object_set_new(r, "budget", json_string(text));
      json_object_set_new(r, "percent", num(t->relative_percent[k]));
      json_object_set_new(r, "value", num(t->relative_value[k]));
      json_object_set_new(o, hant_budget_kind_key((hant_budget_kind)k), r);
    }
  return o;
}

static json_t *totals_json(const hant_transform_totals *x, bool fps) {
  json_t *t = json_object();
  json_object_set_new(t, "latency_ms", num(x->latency_ms));
  json_object_set_new(t, "latency_sum_ms", num(x->latency_sum_ms));
  json_object_set_new(t, "energy_mj", num(x->energy_mj));
  json_object_set_new(t, "power_w", num(x->power_w));
  json_object_set_new(t, "sustained_power_w", fps ? num(x->sustained_power_w) : json_null());
  json_object_set_new(t, "memory_bytes", num(x->memory_bytes));
  json_object_set_new(t, "macs", num(x->macs));
  return t;
}

/* (chosen - teacher) / teacher in percent; null where the teacher's is 0. */
static json_t *cut(double chosen, double teacher) {
  return teacher != 0 && isfinite(chosen) && isfinite(teacher) ? num(100 * (chosen - teacher) / teacher)
                                                                : json_null();
}

/* Hyper-parameters are stored as JSON text; shown as a string if they do not parse. */
static json_t *hparams_json(const char *text) {
  json_t *h = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  return h ? h : json_string(text);
}

/* ---- transform and pareto ------------------------------------------------------ */

/* Measured re-ranking: every choice measured, best predicted first, with
 * its predicted and measured validation accuracy and its main costs. */
static json_t *rerank_json(const hant_library *lib, const hant_transform_req *tr, const hant_transform_result *res) {
  if (!res->chosen_by_measurement)
    return json_null();
  json_t *o = json_object(), *a = json_array();
  json_object_set_new(o, "k", json_integer(tr->rerank_k));
  json_object_set_new(o, "images", json_integer(res->rerank_images));
  json_object_set_new(o, "split", json_string("val"));
  json_object_set_new(o, "precision", json_string(!strcmp(res->scores_precision, "int8") ? "int8" : "fp32"));
  json_object_set_new(o, "chosen_rank", json_integer(res->chosen_rank));
  for (int i = 0; i < res->n_ranked; i++) {
    const hant_transform_ranked *k = &res->ranked[i];
    json_t *e = json_object(), *ids = json_array(), *t = json_object();
    json_object_set_new(e, "rank", json_integer(i));
    json_object_set_new(e, "chosen", json_boolean(i == res->chosen_rank));
    json_object_set_new(e, "power_mode", k->power_mode[0] ? json_string(k->power_mode) : json_null());
    json_object_set_new(e, "predicted_accuracy", num(k->predicted_accuracy));
    json_object_set_new(e, "measured_accuracy", num(k->measured_accuracy));
    json_object_set_new(e, "score", num(k->totals.score));
    json_object_set_new(t, "latency_ms", num(k->totals.latency_ms));
    json_object_set_new(t, "energy_mj", num(k->totals.energy_mj));
    json_object_set_new(t, "power_w", num(k->totals.power_w));
    json_object_set_new(t, "memory_bytes", num(k->totals.memory_bytes));
    json_object_set_new(t, "macs", num(k->totals.macs));
    json_object_set_new(e, "totals", t);
    for (int s = 0; s < res->n_slots; s++)
      json_array_append_new(ids, json_integer(lib->cands[k->choice[s]].id));
    json_object_set_new(e, "candidates", ids);
    json_array_append_new(a, e);
  }
  json_object_set_new(o, "candidates", a);
  return o;
}

/* The preset the library was built with ("quick" says its scores come from
 * few images), or null when none was named or none was recorded. */
static json_t *build_preset_json(const hant_library *lib) {
  return lib->has_build && lib->build.preset[0] ? json_string(lib->build.preset) : json_null();
}

/* The device's precision, or null when its profile does not parse. */
static json_t *precision_json(const char *p) { return p[0] ? json_string(p) : json_null(); }

json_t *hant__rpc_transform_json(const hant_library *lib, const hant_transform_req *tr,
                                 const hant_transform_result *res, bool measured) {
  const hant_library_device *dev = hant_library_device_find(lib, tr->device);
  const hant_library_mode *md = &dev->modes[res->mode];
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "status", json_string(hant_select_status_name(res->status)));
  json_object_set_new(o, "device", json_string(tr->device));
  json_object_set_new(o, "power_mode",
                      res->power_mode[0] && res->has_choice ? json_string(res->power_mode) : json_null());
  json_object_set_new(o, "budgets", budgets_json(tr));
  json_object_set_new(o, "fps", tr->fps > 0 ? num(tr->fps) : json_null());
  json_object_set_new(o, "grid_g_per_kwh", num(res->grid_g_per_kwh));
  if (measured) {
    /* The measured-latency correction: how many solves it took, and the
     * assembled network's latency measured on this machine. */
    json_t *m = json_object();
    json_object_set_new(m, "rounds", json_integer(res->measure_rounds));
    json_object_set_new(m, "latency_ms", res->measure_rounds ? num(res->measured_latency_ms) : json_null());
    json_object_set_new(m, "fits", json_boolean(res->measured_fits));
    json_object_set_new(o, "measured_latency", m);
  }
  if (res->has_choice) {
    json_t *slots = json_array();
    for (int s = 0; s < res->n_slots; s++) {
      const hant_cand_rec *c = &lib->cands[res->choice[s]];
      json_t *e = json_object();
      json_object_set_new(e, "slot", json_string(lib->slots[s].name));
      json_object_set_new(e, "candidate", json_integer(c->id));
      json_object_set_new(e, "key", json_string(c->key));
      json_object_set_new(e, "family", json_string(c->family));
      json_object_set_new(e, "hparams", hparams_json(c->hparams));
      /* the score the solver used: int8 when the answer's scores are */
      bool int8 = !strcmp(res->scores_precision, "int8");
      json_object_set_new(e, "score", num(int8 ? lib->int8_score[res->choice[s]] : c->score));
      json_object_set_new(e, "divergence", c->kl_images > 0 ? num(c->val_kl) : json_null());
      json_object_set_new(e, "precision", precision_json(res->precision));
      json_object_set_new(e, "latency_ms", num(md->latency_ms[res->choice[s]]));
      json_object_set_new(e, "energy_mj", num(md->energy_mj[res->choice[s]]));
      json_object_set_new(e, "memory_bytes", num(md->memory_bytes[res->choice[s]]));
      json_object_set_new(e, "macs", num(c->macs));
      json_array_append_new(slots, e);
    }
    json_object_set_new(o, "slots", slots);
    json_object_set_new(o, "teacher_accuracy", num(res->teacher_accuracy));
    json_object_set_new(o, "predicted_accuracy", num(res->predicted_accuracy));
    json_object_set_new(o, "predicted_accuracy_error", num(res->predicted_accuracy_error));
    json_object_set_new(o, "score", num(res->totals.score));
    json_object_set_new(o, "totals", totals_json(&res->totals, tr->fps > 0));
    json_object_set_new(o, "co2e_g_per_million", num(res->co2e_g_per_million));
  } else {
    json_object_set_new(o, "slots", json_null());
    json_object_set_new(o, "teacher_accuracy", num(res->teacher_accuracy));
    json_object_set_new(o, "predicted_accuracy", json_null());
    json_object_set_new(o, "predicted_accuracy_error", json_null());
    json_object_set_new(o, "totals", json_null());
  }
  json_object_set_new(o, "relative_budgets", relative_json(tr));
  json_object_set_new(o, "objective", res->has_choice ? num(res->objective) : json_null());
  json_object_set_new(o, "noise_se", num(res->noise_se));
  json_object_set_new(o, "teacher_chosen", json_boolean(res->teacher_chosen));
  /* The teacher in the answer's mode, and the cut against it. */
  if (res->has_teacher) {
    const hant_transform_totals *tt = &res->teacher_totals;
    json_t *t = json_object();
    json_object_set_new(t, "power_mode", res->power_mode[0] ? json_string(res->power_mode) : json_null());
    json_object_set_new(t, "predicted_accuracy", num(res->teacher_accuracy + tt->score));
    json_object_set_new(t, "score", num(tt->score));
    json_object_set_new(t, "totals", totals_json(tt, tr->fps > 0));
    json_object_set_new(t, "co2e_g_per_million", num(res->teacher_co2e_g_per_million));
    json_object_set_new(t, "feasible", json_boolean(res->teacher_feasible));
    json_object_set_new(o, "teacher", t);
  } else {
    json_object_set_new(o, "teacher", json_null());
  }
  if (res->has_teacher && res->has_choice) {
    const hant_transform_totals *tt = &res->teacher_totals, *ct = &res->totals;
    json_t *c = json_object();
    json_object_set_new(c, "latency_ms", cut(ct->latency_ms, tt->latency_ms));
    json_object_set_new(c, "energy_mj", cut(ct->energy_mj, tt->energy_mj));
    json_object_set_new(c, "power_w", cut(ct->power_w, tt->power_w));
    json_object_set_new(c, "sustained_power_w",
                        tr->fps > 0 ? cut(ct->sustained_power_w, tt->sustained_power_w) : json_null());
    json_object_set_new(c, "memory_bytes", cut(ct->memory_bytes, tt->memory_bytes));
    json_object_set_new(c, "macs", cut(ct->macs, tt->macs));
    json_object_set_new(c, "co2e_g_per_million", cut(res->co2e_g_per_million, res->teacher_co2e_g_per_million));
    json_object_set_new(c, "predicted_accuracy",
                        cut(res->predicted_accuracy, res->teacher_accuracy + tt->score));
    json_object_set_new(o, "cut_percent", c);
  } else {
    json_object_set_new(o, "cut_percent", json_null());
  }
  /* Floors: what no choice can go below, per kind, and per mode the idle
   * power and the power floor (the answer to "why is 2 W infeasible"). */
  if (res->n_mode_floors) {
    json_t *fl = json_object(), *pm = json_array();
    for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++)
      json_object_set_new(fl, hant_budget_kind_key((hant_budget_kind)k), num(res->floor[k]));
    for (int m = 0; m < res->n_mode_floors; m++) {
      json_t *e = json_object();
      const struct hant_transform_mode_floor *mf = &res->mode_floors[m];
      json_object_set_new(e, "power_mode", mf->power_mode[0] ? json_string(mf->power_mode) : json_null());
      json_object_set_new(e, "idle_w", mf->idle_w >= 0 ? num(mf->idle_w) : json_null());
      json_object_set_new(e, "power_floor_w", num(mf->power_floor_w));
      json_array_append_new(pm, e);
    }
    json_object_set_new(o, "floors", fl);
    json_object_set_new(o, "mode_floors", pm);
  } else {
    json_object_set_new(o, "floors", json_null());
    json_object_set_new(o, "mode_floors", json_null());
  }
  json_object_set_new(o, "prediction", json_string(res->prediction_calibrated ? "calibrated" : "uncalibrated"));
  json_object_set_new(o, "objective_values", json_string(res->objective_values));
  json_object_set_new(o, "precision", precision_json(res->precision));
  json_object_set_new(o, "scores_precision", json_string(res->scores_precision));
  json_object_set_new(o, "int8_scores_missing", json_integer(res->int8_missing));
  json_object_set_new(o, "chosen_by", json_string(res->chosen_by_measurement ? "measured" : "predicted"));
  json_object_set_new(o, "rerank", rerank_json(lib, tr, res));
  if (res->status == HANT_SELECT_INFEASIBLE) {
    json_t *mt = json_object(), *ob = json_array();
    for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
      if (!hant_transform_req_budget(tr, (hant_budget_kind)k) && !(k == HANT_BUDGET_LATENCY && tr->fps > 0))
        continue;
      json_object_set_new(mt, hant_budget_kind_key((hant_budget_kind)k), num(res->min_totals[k]));
      if (res->over_budget[k])
        json_array_append_new(ob, json_string(hant_budget_kind_key((hant_budget_kind)k)));
    }
    json_object_set_new(o, "min_totals", mt);
    json_object_set_new(o, "over_budget", ob);
    json_object_set_new(o, "jointly_infeasible", json_boolean(res->jointly_infeasible));
  }
  json_object_set_new(o, "gap", num(res->gap));
  json_object_set_new(o, "nodes", json_integer((json_int_t)res->nodes));
  json_object_set_new(o, "modes_tried", json_integer(res->n_modes_tried));
  json_object_set_new(o, "idle_w", md->idle_w >= 0 && res->has_choice ? num(md->idle_w) : json_null());
  json_object_set_new(o, "skipped_candidates", json_integer(res->skipped));
  if (res->latency_corrected) {
    json_t *lc = json_object();
    json_object_set_new(lc, "factor", num(res->correction_factor));
    json_object_set_new(lc, "overhead_ms", num(res->correction_overhead_ms));
    json_object_set_new(o, "latency_correction", lc);
  } else {
    json_object_set_new(o, "latency_correction", json_null());
  }
  json_object_set_new(o, "solve_ms", num(res->solve_ms));
  json_object_set_new(o, "library_version", json_integer(res->library_version));
  json_object_set_new(o, "library_preset", build_preset_json(lib));
  return o;
}

json_t *hant__rpc_front_json(const hant_library *lib, const rpc_pareto *q, const hant_transform_front *f) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "device", json_string(q->tr.device));
  json_object_set_new(o, "axis", json_string(hant_budget_kind_key(q->axis)));
  json_object_set_new(o, "respect_budgets", json_boolean(q->respect));
  json_object_set_new(o, "budgets", budgets_json(&q->tr));
  json_object_set_new(o, "relative_budgets", relative_json(&q->tr));
  json_object_set_new(o, "teacher_accuracy", num(f->teacher_accuracy));
  json_t *fronts = json_array();
  for (int m = 0; m < f->n_modes; m++) {
    const hant_transform_front_mode *fm = &f->modes[m];
    json_t *fo = json_object(), *pts = json_array();
    json_object_set_new(fo, "power_mode", fm->power_mode[0] ? json_string(fm->power_mode) : json_null());
    json_object_set_new(fo, "exact", json_boolean(!fm->approximate));
    json_object_set_new(fo, "cost_error", num(fm->cost_error));
    json_object_set_new(fo, "infeasible", json_boolean(fm->infeasible));
    if (fm->has_teacher) {
      /* The teacher in this mode: its cost on the axis and its totals. */
      json_t *t = json_object();
      json_object_set_new(t, "cost", num(fm->teacher_cost));
      json_object_set_new(t, "score", num(fm->teacher_totals.score));
      json_object_set_new(t, "predicted_accuracy", num(f->teacher_accuracy + fm->teacher_totals.score));
      json_object_set_new(t, "totals", totals_json(&fm->teacher_totals, q->tr.fps > 0));
      json_object_set_new(fo, "teacher", t);
    } else {
      json_object_set_new(fo, "teacher", json_null());
    }
    for (int i = 0; i < fm->n_points; i++) {
      json_t *p = json_object(), *ids = json_array();
      json_object_set_new(p, "cost", num(fm->cost[i]));
      json_object_set_new(p, "score", num(fm->score[i]));
      json_object_set_new(p, "predicted_accuracy", num(f->teacher_accuracy + fm->score[i]));
      json_object_set_new(p, "cut_percent", fm->has_teacher ? cut(fm->cost[i], fm->teacher_cost) : json_null());
      for (int s = 0; s < f->n_slots; s++)
        json_array_append_new(ids,
                              json_integer(lib->cands[fm->choice[(size_t)i * (size_t)f->n_slots + (size_t)s]].id));
      json_object_set_new(p, "candidates", ids);
      json_array_append_new(pts, p);
    }
    json_object_set_new(fo, "points", pts);
    json_array_append_new(fronts, fo);
  }
  json_object_set_new(o, "fronts", fronts);
  json_object_set_new(o, "solve_ms", num(f->solve_ms));
  json_object_set_new(o, "library_version", json_integer(f->library_version));
  return o;
}

/* ---- devices ---------------------------------------------------------------- */

/* A digest of a device's batch-1 costs (every mode, every costed candidate
 * by id), so that a client can tell when one device's costs changed
 * without the library version, which any device's profiling bumps. */
static void costs_digest(const hant_library *lib, const hant_library_device *dev, char out[65]) {
  hant_sha256 h;
  hant_sha256_init(&h);
  char buf[160];
  for (int m = 0; m < dev->n_modes; m++) {
    const hant_library_mode *md = &dev->modes[m];
    int k = snprintf(buf, sizeof(buf), "mode %s\n", md->name);
    hant_sha256_update(&h, buf, (size_t)k);
    for (int j = 0; j < lib->n_cands; j++) {
      int i = lib->by_id[j];
      if (!md->has[i])
        continue;
      k = snprintf(buf, sizeof(buf), "%lld %.17g %.17g %.17g\n", (long long)lib->cands[i].id, md->latency_ms[i],
                   md->energy_mj[i], md->memory_bytes[i]);
      hant_sha256_update(&h, buf, (size_t)k);
    }
  }
  if (dev->has_additivity) {
    int k = snprintf(buf, sizeof(buf), "additivity %.17g %.17g\n", dev->additivity.factor,
                     dev->additivity.overhead_ms);
    hant_sha256_update(&h, buf, (size_t)k);
  }
  hant_sha256_hex(&h, out);
}

/* The teacher's own predicted cost on a device, per mode: the sum of its
 * teacher-copy candidates (family "teacher", key "teacher") with the
 * additivity correction; null for a mode where a slot has none costed. */
static json_t *teacher_costs_json(const hant_library *lib, const hant_library_device *dev) {
  json_t *a = json_array();
  for (int m = 0; m < dev->n_modes; m++) {
    const hant_library_mode *md = &dev->modes[m];
    double lat = 0, en = 0;
    int found = 0;
    for (int s = 0; s < lib->n_slots; s++)
      for (int j = 0; j < lib->slot_count[s]; j++) {
        int i = lib->slot_first[s] + j;
        if (!strcmp(lib->cands[i].family, "teacher") && !strcmp(lib->cands[i].key, "teacher") && md->has[i]) {
          lat += md->latency_ms[i];
          en += md->energy_mj[i];
          found++;
          break;
        }
      }
    if (found != lib->n_slots)
      continue;
    if (dev->has_additivity)
      lat = dev->additivity.factor * lat + dev->additivity.overhead_ms;
    json_t *t = json_object();
    json_object_set_new(t, "power_mode", json_string(md->name));
    json_object_set_new(t, "latency_ms", num(lat));
    json_object_set_new(t, "energy_mj", num(en));
    json_array_append_new(a, t);
  }
  return a;
}

static json_t *device_json(const hant_library *lib, const hant_library_device *dev) {
  json_t *o = json_object();
  json_object_set_new(o, "teacher_costs", teacher_costs_json(lib, dev));
  char digest[65];
  costs_digest(lib, dev, digest);
  json_object_set_new(o, "profile_sha256", json_string(dev->profile_sha256));
  json_object_set_new(o, "costs_sha256", json_string(digest));
  json_object_set_new(o, "name", json_string(dev->name));
  json_object_set_new(o, "in_library", json_true());
  json_object_set_new(o, "costed", json_boolean(dev->n_modes > 0));
  json_object_set_new(o, "cost_sources", json_string(dev->sources));
  if (dev->profile) {
    json_object_set_new(o, "kind", json_string(dev->profile->kind));
    json_object_set_new(o, "description", json_string(dev->profile->description));
    json_object_set_new(o, "idle_w", num(dev->profile->idle_w));
    json_object_set_new(o, "active_w", num(dev->profile->active_w));
    json_object_set_new(o, "profile_error", json_null());
  } else {
    json_object_set_new(o, "profile_error", json_string(dev->profile_error));
  }
  json_t *modes = json_array();
  for (int m = 0; m < dev->n_modes; m++) {
    json_t *mo = json_object();
    json_object_set_new(mo, "name", json_string(dev->modes[m].name));
    json_object_set_new(mo, "idle_w", dev->modes[m].idle_w >= 0 ? num(dev->modes[m].idle_w) : json_null());
    json_object_set_new(mo, "candidates_costed", json_integer(dev->modes[m].n_costed));
    json_array_append_new(modes, mo);
  }
  json_object_set_new(o, "power_modes", modes);
  json_object_set_new(o, "candidates", json_integer(lib->n_cands));
  if (dev->has_additivity) {
    json_t *a = json_object();
    json_object_set_new(a, "factor", num(dev->additivity.factor));
    json_object_set_new(a, "overhead_ms", num(dev->additivity.overhead_ms));
    json_object_set_new(a, "networks", json_integer(dev->additivity.networks));
    json_object_set_new(a, "corrected_median", num(dev->additivity.corrected_median));
    json_object_set_new(o, "latency_correction", a);
  } else {
    json_object_set_new(o, "latency_correction", json_null());
  }
  return o;
}

json_t *hant__rpc_devices_json(const hant_library *lib) {
  json_t *o = json_object(), *devs = json_array(), *profiles = json_array();
  for (int d = 0; d < lib->n_devices; d++)
    json_array_append_new(devs, device_json(lib, &lib->devices[d]));
  for (int i = 0; i < lib->n_profiles; i++) {
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(lib->profiles[i]));
    json_object_set_new(p, "in_library", json_boolean(hant_library_device_find(lib, lib->profiles[i]) != NULL));
    json_array_append_new(profiles, p);
  }
  json_object_set_new(o, "devices", devs);
  json_object_set_new(o, "profiles", profiles);
  json_object_set_new(o, "library_version", json_integer(lib->version));
  return o;
}

/* ---- the library -------------------------------------------------------------- */

json_t *hant__rpc_library_json(const hant_library *lib, bool list_candidates) {
  json_t *o = json_object();
  json_object_set_new(o, "path", json_string(lib->path));
  json_object_set_new(o, "version", json_integer(lib->version));
  json_object_set_new(o, "empty", json_boolean(!lib->has_teacher || !lib->n_cands));
  if (lib->has_teacher) {
    const hant_teacher_rec *t = &lib->teacher;
    json_t *to = json_object();
    json_object_set_new(to, "path", json_string(t->path));
    json_object_set_new(to, "sha256", json_string(t->sha256));
    json_object_set_new(to, "format", json_string(t->format));
    char shape[64];
    snprintf(shape, sizeof(shape), "%dx%dx%d", t->input_c, t->input_h, t->input_w);
    json_object_set_new(to, "input", json_string(shape));
    json_object_set_new(to, "classes", json_integer(t->classes));
    json_object_set_new(to, "macs", num(t->macs));
    json_object_set_new(to, "params", json_integer(t->params));
    json_object_set_new(to, "val_accuracy", num(t->val_accuracy));
    json_object_set_new(to, "val_split", json_string(t->val_split));
    json_object_set_new(o, "teacher", to);
  } else {
    json_object_set_new(o, "teacher", json_null());
  }
  json_object_set_new(o, "build_preset", build_preset_json(lib));
  json_t *slots = json_array();
  for (int s = 0; s < lib->n_slots; s++) {
    json_t *so = json_object(), *fam = json_object();
    json_object_set_new(so, "name", json_string(lib->slots[s].name));
    json_object_set_new(so, "kind", json_string(lib->slots[s].kind));
    json_object_set_new(so, "arch", json_string(lib->slots[s].arch));
    json_object_set_new(so, "candidates", json_integer(lib->slot_count[s]));
    json_t *list = list_candidates ? json_array() : NULL;
    for (int j = 0; j < lib->slot_count[s]; j++) {
      const hant_cand_rec *c = &lib->cands[lib->slot_first[s] + j];
      json_t *n = json_object_get(fam, c->family);
      json_object_set_new(fam, c->family, json_integer(n ? json_integer_value(n) + 1 : 1));
      if (list) {
        json_t *co = json_object();
        json_object_set_new(co, "id", json_integer(c->id));
        json_object_set_new(co, "key", json_string(c->key));
        json_object_set_new(co, "family", json_string(c->family));
        json_object_set_new(co, "hparams", hparams_json(c->hparams));
        json_object_set_new(co, "score", num(c->score));
        json_object_set_new(co, "macs", num(c->macs));
        json_object_set_new(co, "params", json_integer(c->params));
        json_array_append_new(list, co);
      }
    }
    json_object_set_new(so, "families", fam);
    if (list)
      json_object_set_new(so, "list", list);
    json_array_append_new(slots, so);
  }
  json_object_set_new(o, "slots", slots);
  json_object_set_new(o, "candidates", json_integer(lib->n_cands));
  json_t *devs = json_array();
  for (int d = 0; d < lib->n_devices; d++)
    json_array_append_new(devs, json_string(lib->devices[d].name));
  json_object_set_new(o, "devices", devs);
  json_object_set_new(o, "load_ms", num(lib->load_ms));
  return o;
}

/* ---- status and version ---------------------------------------------------------- */

char *hant_rpc_status_json(const hant_rpc_status *s) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "version", json_string(hant_version()));
  json_object_set_new(o, "uptime_s", num(s->uptime_s));
  json_object_set_new(o, "requests", json_integer((json_int_t)s->requests));
  json_object_set_new(o, "errors", json_integer((json_int_t)s->errors));
  json_object_set_new(o, "cache_hits", json_integer((json_int_t)s->cache_hits));
  json_object_set_new(o, "cache_misses", json_integer((json_int_t)s->cache_misses));
  json_object_set_new(o, "cache_entries", json_integer((json_int_t)s->cache_entries));
  json_object_set_new(o, "cache_capacity", json_integer((json_int_t)s->cache_capacity));
  json_object_set_new(o, "queue_depth", json_integer((json_int_t)s->queue_depth));
  json_object_set_new(o, "queue_capacity", json_integer((json_int_t)s->queue_capacity));
  json_object_set_new(o, "workers", json_integer(s->workers));
  json_object_set_new(o, "workers_busy", json_integer(s->workers_busy));
  json_object_set_new(o, "busy_rejections", json_integer((json_int_t)s->busy_rejections));
  json_object_set_new(o, "connections", json_integer(s->connections));
  json_object_set_new(o, "jobs_queued", json_integer(s->jobs_queued));
  json_object_set_new(o, "jobs_running", json_integer(s->jobs_running));
  json_object_set_new(o, "job_workers", json_integer(s->job_workers));
  json_object_set_new(o, "library_version", json_integer(s->library_version));
  json_object_set_new(o, "library_load_ms", num(s->library_load_ms));
  json_object_set_new(o, "reloads", json_integer((json_int_t)s->reloads));
  json_object_set_new(o, "db", s->db ? json_string(s->db) : json_null());
  json_object_set_new(o, "socket", s->socket ? json_string(s->socket) : json_null());
  json_object_set_new(o, "stopping", json_boolean(s->stopping));
  char *t = hant__rpc_dump(o);
  json_decref(o);
  return t;
}

char *hant_rpc_version_json(int64_t library_version, int schema_version) {
  return hant__rpc_dupf("{\"hantd\":\"%s\",\"protocol\":%d,\"library_version\":%lld,\"schema_version\":%d}",
                        hant_version(), HANT_RPC_PROTOCOL_VERSION, (long long)library_version, schema_version);
}

/* ---- jobs ------------------------------------------------------------------------ */

json_t *hant__rpc_job_object(const hant_job_rec *j) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(j->id));
  json_object_set_new(o, "kind", json_string(j->kind));
  json_object_set_new(o, "state", json_string(hant_job_state_name(j->state)));
  json_object_set_new(o, "progress", num(j->progress));
  json_object_set_new(o, "note", json_string(j->note));
  json_t *p = j->params ? json_loads(j->params, 0, NULL) : NULL;
  json_object_set_new(o, "params", p ? p : json_null());
  json_t *res = j->result ? json_loads(j->result, 0, NULL) : NULL;
  json_object_set_new(o, "result", res ? res : json_null());
  json_object_set_new(o, "error", j->error ? json_string(j->error) : json_null());
  json_object_set_new(o, "attempts", json_integer(j->attempts));
  json_object_set_new(o, "created", json_string(j->created));
  json_object_set_new(o, "started", j->started[0] ? json_string(j->started) : json_null());
  json_object_set_new(o, "finished", j->finished[0] ? json_string(j->finished) : json_null());
  return o;
}

char *hant_rpc_job_json(const hant_job_rec *j) {
  json_t *o = hant__rpc_job_object(j);
  char *s = hant__rpc_dump(o);
  json_decref(o);
  return s;
}

char *hant_rpc_progress_line(const hant_job_rec *j) {
  json_t *o = json_object(), *p = json_object();
  json_object_set_new(o, "jsonrpc", json_string("2.0"));
  json_object_set_new(o, "method", json_string("jobs.progress"));
  json_object_set_new(p, "id", json_integer(j->id));
  json_object_set_new(p, "state", json_string(hant_job_state_name(j->state)));
  json_object_set_new(p, "progress", num(j->progress));
  json_object_set_new(p, "note", json_string(j->note));
  json_object_set_new(o, "params", p);
  char *s = hant__rpc_dump(o);
  json_decref(o);
  return s;
}
