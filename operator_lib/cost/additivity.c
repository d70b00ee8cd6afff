/* SPDX-License-Identifier: MIT */
/* additivity.c: measures, fits and applies the sum-of-operators latency correction, and keeps it in the library's meta table. */
#include "additivity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "costmodel.h"
#include "jsonw.h"
#include "library.h"
#include "onnx.h"
#include "rng.h"
#include "sha256.h"
#include "slots.h"

/* Least squares of y = a + b x on relative residuals (weights 1/y^2), so
 * small and large networks count alike. Falls back to the weighted ratio
 * b = sum(w x y) / sum(w x^2), a = 0 when x does not vary or the slope is
 * not positive. */
static void fit_line(const double *x, const double *y, int n, int skip, double *a, double *b) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; i++) {
    if (i == skip)
      continue;
    double w = 1.0 / (y[i] * y[i]);
    sw += w, sx += w * x[i], sy += w * y[i], sxx += w * x[i] * x[i], sxy += w * x[i] * y[i];
  }
  double det = sw * sxx - sx * sx;
  if (fabs(det) > 1e-12 * sw * sxx) {
    *b = (sw * sxy - sx * sy) / det;
    *a = (sy - *b * sx) / sw;
    if (*b > 0)
      return;
    /* Timing noise over a few small networks can tilt the line until
     * latency falls as work grows: no model of latency. Keep the ratio. */
  }
  *a = 0;
  *b = sx > 0 ? sxy / sxx : 1.0;
}

int hant_additivity_fit(const double *sum_ms, const double *measured_ms, int n, hant_additivity *a) {
  if (n < 2)
    return hant__error(HANT_EINVAL, "additivity: need at least 2 networks, got %d", n);
  for (int i = 0; i < n; i++)
    if (!(sum_ms[i] > 0) || !(measured_ms[i] > 0))
      return hant__error(HANT_EINVAL, "additivity: network %d: latencies must be positive", i);
  double *err = malloc(sizeof(double) * (size_t)n);
  if (!err)
    return HANT_ENOMEM;
  hant_calib_error s;
  for (int i = 0; i < n; i++)
    err[i] = (sum_ms[i] - measured_ms[i]) / measured_ms[i];
  hant_calib_error_summarise(err, n, &s);
  a->raw_median = s.median, a->raw_p90 = s.p90, a->raw_within10 = s.within10;
  if (n >= 3) {
    for (int i = 0; i < n; i++) {
      double oa, ob;
      fit_line(sum_ms, measured_ms, n, i, &oa, &ob);
      err[i] = (oa + ob * sum_ms[i] - measured_ms[i]) / measured_ms[i];
    }
    hant_calib_error_summarise(err, n, &s);
    a->corrected_median = s.median, a->corrected_p90 = s.p90, a->corrected_within10 = s.within10;
  }
  fit_line(sum_ms, measured_ms, n, -1, &a->overhead_ms, &a->factor);
  if (n < 3) {
    for (int i = 0; i < n; i++)
      err[i] = (a->overhead_ms + a->factor * sum_ms[i] - measured_ms[i]) / measured_ms[i];
    hant_calib_error_summarise(err, n, &s);
    a->corrected_median = s.median, a->corrected_p90 = s.p90, a->corrected_within10 = s.within10;
  }
  a->networks = n;
  free(err);
  return 0;
}

double hant_cost_correct_latency(const hant_additivity *a, double sum_ms) {
  if (!a)
    return sum_ms;
  double v = a->overhead_ms + a->factor * sum_ms;
  return v > 0 ? v : sum_ms;
}

int hant_additivity_save(hant_store *st, const hant_additivity *a) {
  /* The digits are fixed: hant_additivity_load reads them back and
   * libraries already hold texts written this way. */
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "device"), hant_jsonw_str(&w, a->device);
  hant_jsonw_key(&w, "batch"), hant_jsonw_int(&w, a->batch);
  hant_jsonw_key(&w, "networks"), hant_jsonw_int(&w, a->networks);
  hant_jsonw_key(&w, "overhead_ms"), hant_jsonw_numf(&w, "%.9g", a->overhead_ms);
  hant_jsonw_key(&w, "factor"), hant_jsonw_numf(&w, "%.9g", a->factor);
  hant_jsonw_key(&w, "raw_median"), hant_jsonw_numf(&w, "%.6g", a->raw_median);
  hant_jsonw_key(&w, "raw_p90"), hant_jsonw_numf(&w, "%.6g", a->raw_p90);
  hant_jsonw_key(&w, "raw_within10"), hant_jsonw_numf(&w, "%.6g", a->raw_within10);
  hant_jsonw_key(&w, "corrected_median"), hant_jsonw_numf(&w, "%.6g", a->corrected_median);
  hant_jsonw_key(&w, "corrected_p90"), hant_jsonw_numf(&w, "%.6g", a->corrected_p90);
  hant_jsonw_key(&w, "corrected_within10"), hant_jsonw_numf(&w, "%.6g", a->corrected_within10);
  hant_jsonw_obj_end(&w);
  char *val = hant_jsonw_take(&w);
  if (!val)
    return HANT_ENOMEM;
  char key[96];
  snprintf(key, sizeof(key), "additivity.%s", a->device);
  int rc = hant_store_meta_put(st, key, val);
  free(val);
  return rc;
}

/* Finds "key": and reads the number after it. The text is hant's own. */
static int num_field(const char *json, const char *key, double *v) {
  char pat[64];
  snprintf(pat, sizeof(pat), "\"%s\":", key);
  const char *p = strstr(json, pat);
  if (!p)
    return -1;
  char *end;
  *v = strtod(p + strlen(pat), &end);
  return end == p + strlen(pat) ? -1 : 0;
}

int hant_additivity_load(hant_store *st, const char *device, hant_additivity *a) {
  memset(a, 0, sizeof(*a));
  char key[96], *val;
  snprintf(key, sizeof(key), "additivity.%s", device);
  int rc = hant_store_meta_get(st, key, &val);
  if (rc)
    return rc;
  double batch = 0, nets = 0;
  snprintf(a->device, sizeof(a->device), "%s", device);
  if (num_field(val, "batch", &batch) || num_field(val, "networks", &nets) ||
      num_field(val, "overhead_ms", &a->overhead_ms) || num_field(val, "factor", &a->factor) ||
      num_field(val, "raw_median", &a->raw_median) || num_field(val, "raw_p90", &a->raw_p90) ||
      num_field(val, "raw_within10", &a->raw_within10) || num_field(val, "corrected_median", &a->corrected_median) ||
      num_field(val, "corrected_p90", &a->corrected_p90) ||
      num_field(val, "corrected_within10", &a->corrected_within10))
    rc = hant__error(HANT_EFORMAT, "%s: meta %s: not a correction written by hant: %.80s", hant_store_path(st), key,
                     val);
  a->batch = (int)batch;
  a->networks = (int)nets;
  free(val);
  return rc;
}

/* ---- the experiment ----------------------------------------------------- */

/* Networks of the experiment: the candidates of each slot that have a
 * measured latency, by index into the library's candidates. */
typedef struct slot_choices {
  int *v;
  int n;
} slot_choices;

/* Picks network k's candidates (the teacher's own blocks for k = 0), sums
 * their latencies and names them. */
static void choose(int k, const slot_choices *per, int ns, const hant_cand_rec *cands, hant_net *const *nets,
                   const double *lat_ms, hant_rng *rng, hant_net **pick, hant_additivity_net *r) {
  size_t cl = 0;
  for (int s = 0; s < ns; s++) {
    int i = -1;
    if (k == 0) /* the teacher itself: each slot's teacher-family candidate */
      for (int j = 0; j < per[s].n; j++)
        if (!strcmp(cands[per[s].v[j]].family, "teacher"))
          i = per[s].v[j];
    if (i < 0)
      i = per[s].v[hant_rng_below(rng, (uint32_t)per[s].n)];
    pick[s] = nets[i];
    r->sum_ms += lat_ms[i];
    if (cl + 24 < sizeof(r->choice))
      cl += (size_t)snprintf(r->choice + cl, sizeof(r->choice) - cl, "%s%lld", s ? "," : "", (long long)cands[i].id);
  }
}

int hant_additivity_measure(hant_store *st, const hant_device *model, const hant_cand_rec *cands,
                            hant_net *const *nets, const double *latency_ms, int n, const hant_additivity_opts *o,
                            hant_additivity *a, hant_additivity_net **out, hant_calib_error *model_error) {
  *out = NULL;
  if (o->networks < 2)
    return hant__error(HANT_EINVAL, "additivity: need at least 2 networks, got %d", o->networks);
  HANT_ASSERT(o->assemble);
  hant_teacher_rec t;
  int rc = hant_store_teacher_get(st, &t);
  if (rc)
    return rc;
  char path[1024], sha[65];
  snprintf(path, sizeof(path), "%s", o->teacher ? o->teacher : t.path);
  if (o->teacher && (rc = hant_sha256_file_checked(o->teacher, t.sha256, sha)))
    return hant__error(rc, "additivity: %s (pass --teacher with the library's teacher)", hant_errmsg());
  int nn = o->networks, ns = 0;
  hant_net *teacher = NULL;
  hant_slot_rec *slots = NULL;
  slot_choices *per = NULL;
  hant_additivity_net *res = NULL;
  hant_net **pick = NULL;
  double *sums = NULL, *meas = NULL, *err = NULL;
  /* The library's own copy unless a file was named (library.h). */
  if (o->teacher)
    rc = hant_onnx_load_any(path, &teacher, NULL);
  if (!rc)
    rc = o->teacher ? hant_teacher_prepare(teacher, path)
                    : hant_library_teacher_load(st, &t, &teacher, path, sizeof(path));
  if (rc || (rc = hant_store_slots(st, &slots, &ns)))
    goto out;
  if (ns != teacher->n_slots) {
    rc = hant__error(HANT_EINVAL, "additivity: the library has %d slots but %s has %d", ns, path, teacher->n_slots);
    goto out;
  }
  per = calloc((size_t)(ns > 0 ? ns : 1), sizeof(*per));
  pick = calloc((size_t)(ns > 0 ? ns : 1), sizeof(*pick));
  res = calloc((size_t)nn, sizeof(*res));
  sums = calloc((size_t)nn, sizeof(double));
  meas = calloc((size_t)nn, sizeof(double));
  err = calloc((size_t)nn, sizeof(double));
  if (!per || !pick || !res || !sums || !meas || !err) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int s = 0; s < ns; s++) {
    if (!(per[s].v = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1)))) {
      rc = HANT_ENOMEM;
      goto out;
    }
    for (int i = 0; i < n; i++)
      if (cands[i].slot_id == slots[s].id && nets[i] && latency_ms[i] > 0)
        per[s].v[per[s].n++] = i;
    if (!per[s].n) {
      rc = hant__error(HANT_EINVAL, "additivity: slot %s has no candidate with a measured host latency; run "
                                    "'hant-distill profile --device host' first",
                       slots[s].name);
      goto out;
    }
  }
  hant_rng rng;
  hant_rng_seed(&rng, o->seed * 7919u + 17u);
  for (int k = 0; k < nn; k++) {
    hant_additivity_net *r = &res[k];
    choose(k, per, ns, cands, nets, latency_ms, &rng, pick, r);
    hant_net *net;
    if ((rc = o->assemble(teacher, pick, &net)))
      goto out;
    hant_measure_result mr;
    hant_cost_estimate e;
    rc = hant_measure_net(net, &o->measure, &mr);
    if (!rc)
      rc = hant_costmodel_net(model, -1, net, 1, &e);
    hant_net_destroy(net);
    if (rc)
      goto out;
    r->measured_ms = mr.latency_ms;
    r->spread = mr.spread;
    r->model_ms = e.latency_ms;
    sums[k] = r->sum_ms;
    meas[k] = r->measured_ms;
    err[k] = (r->model_ms - r->measured_ms) / r->measured_ms;
    if (o->progress)
      o->progress(o->user, k + 1, nn, r);
  }
  memset(a, 0, sizeof(*a));
  snprintf(a->device, sizeof(a->device), "%s", model->name);
  a->batch = 1;
  if ((rc = hant_additivity_fit(sums, meas, nn, a)) || (rc = hant_additivity_save(st, a)))
    goto out;
  hant_calib_error_summarise(err, nn, model_error);
  *out = res;
  res = NULL;
out:
  if (per)
    for (int s = 0; s < ns; s++)
      free(per[s].v);
  free(per);
  free(pick);
  free(res);
  free(sums);
  free(meas);
  free(err);
  free(slots);
  hant_net_destroy(teacher);
  return rc;
}
