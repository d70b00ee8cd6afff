/* SPDX-License-Identifier: MIT */
/* calibrate.c: fits a device's model to measured candidates, and keeps the fit in the library, a residuals CSV and profile JSON. */
#include "calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "jsonw.h"

/* Folds of the held-out error. */
#define CALIB_FOLDS 5

int hant_calib_latencies_load(hant_store *st, const char *device, const hant_cand_rec *cands, int n,
                              double *latency_ms) {
  hant_cost_rec *stored = NULL;
  int nstored = 0;
  int rc = hant_store_costs(st, device, &stored, &nstored);
  if (rc)
    return rc;
  for (int i = 0; i < n; i++) {
    latency_ms[i] = 0;
    for (int j = 0; j < nstored; j++)
      if (stored[j].candidate_id == cands[i].id && stored[j].batch == 1 && !strcmp(stored[j].source, "measured"))
        latency_ms[i] = stored[j].latency_ms;
  }
  free(stored);
  return 0;
}

static int write_residuals(const char *path, const hant_device *d, const hant_device *f, const hant_cand_rec *cands,
                           hant_net *const *nets, const double *lat_ms, const double *kernel_ms, int n) {
  FILE *fr = fopen(path, "w");
  if (!fr)
    return hant__error(HANT_EIO, "%s: cannot write", path);
  fprintf(fr, "id,key,family,arch,macs,measured_ms,profile_ms,calibrated_ms%s\n", kernel_ms ? ",kernel_ms" : "");
  for (int i = 0; i < n; i++) {
    hant_cost_estimate e0, e1;
    if (!nets[i] || !(lat_ms[i] > 0) || hant_costmodel_net(d, -1, nets[i], 1, &e0) ||
        hant_costmodel_net(f, -1, nets[i], 1, &e1))
      continue;
    fprintf(fr, "%lld,%s,%s,\"%s\",%.0f,%.6g,%.6g,%.6g", (long long)cands[i].id, cands[i].key, cands[i].family,
            cands[i].arch, e0.macs, lat_ms[i], e0.latency_ms, e1.latency_ms);
    if (kernel_ms && kernel_ms[i] > 0)
      fprintf(fr, ",%.6g", kernel_ms[i]);
    else if (kernel_ms)
      fputc(',', fr);
    fputc('\n', fr);
  }
  if (fclose(fr))
    return hant__error(HANT_EIO, "%s: write error", path);
  return 0;
}

static void json_err(hant_jsonw *w, const char *key, int folds, const hant_calib_error *e) {
  hant_jsonw_key(w, key);
  hant_jsonw_obj_begin(w);
  if (folds)
    hant_jsonw_key(w, "folds"), hant_jsonw_int(w, folds);
  hant_jsonw_key(w, "median"), hant_jsonw_numf(w, "%.6g", e->median);
  hant_jsonw_key(w, "p90"), hant_jsonw_numf(w, "%.6g", e->p90);
  hant_jsonw_key(w, "within10"), hant_jsonw_numf(w, "%.6g", e->within10);
  hant_jsonw_obj_end(w);
}

/* The "calibration.NAME" meta: what was fitted and how well, in the
 * digits libraries already hold. */
static int store_meta(hant_store *st, const hant_device *d, const hant_calib_result *r) {
  const hant_calib_report *rep = &r->report;
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "device"), hant_jsonw_str(&w, d->name);
  hant_jsonw_key(&w, "samples"), hant_jsonw_int(&w, r->samples);
  hant_jsonw_key(&w, "efficiency");
  hant_jsonw_obj_begin(&w);
  for (int c = 0; c < HANT_EFF_COUNT; c++)
    hant_jsonw_key(&w, hant_eff_name((hant_eff)c)), hant_jsonw_numf(&w, "%.6g", rep->eff[c]);
  hant_jsonw_obj_end(&w);
  hant_jsonw_key(&w, "overhead_us"), hant_jsonw_numf(&w, "%.6g", rep->overhead_us);
  json_err(&w, "profile_error", 0, &r->before);
  json_err(&w, "fit_error", 0, &rep->fit);
  json_err(&w, "held_out_error", rep->folds, &rep->held);
  hant_jsonw_obj_end(&w);
  char *val = hant_jsonw_take(&w);
  if (!val)
    return HANT_ENOMEM;
  char key[96];
  snprintf(key, sizeof(key), "calibration.%s", d->name);
  int rc = hant_store_meta_put(st, key, val);
  free(val);
  return rc;
}

/* The fitted figures as profile fields ({"value", "unit", "source"}), to
 * paste into devices/NAME.json. */
static int write_profile(const char *path, hant_store *st, const hant_device *d, const hant_calib_result *r) {
  const hant_calib_report *rep = &r->report;
  FILE *fo = fopen(path, "w");
  if (!fo)
    return hant__error(HANT_EIO, "%s: cannot write", path);
  char now[32], src[256];
  hant_store_now(now);
  snprintf(src, sizeof(src),
           "calibrated: hant-distill profile --device %s, %d measured candidates of %s, %s; held-out median "
           "error %.1f%%",
           d->name, r->samples, hant_store_path(st), now, 100 * rep->held.median);
  hant_jsonw w;
  hant_jsonw_init(&w, fo);
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "efficiency");
  hant_jsonw_obj_begin(&w);
  for (int c = 0; c < HANT_EFF_COUNT; c++) {
    hant_jsonw_key(&w, hant_eff_name((hant_eff)c));
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "value"), hant_jsonw_num(&w, round(rep->eff[c] * 1e4) / 1e4);
    hant_jsonw_key(&w, "unit"), hant_jsonw_str(&w, "1");
    hant_jsonw_key(&w, "source"), hant_jsonw_str(&w, src);
    hant_jsonw_obj_end(&w);
  }
  hant_jsonw_obj_end(&w);
  hant_jsonw_key(&w, "overhead");
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "value"), hant_jsonw_num(&w, round(rep->overhead_us * 1e3) / 1e3);
  hant_jsonw_key(&w, "unit"), hant_jsonw_str(&w, "us");
  hant_jsonw_key(&w, "source"), hant_jsonw_str(&w, src);
  hant_jsonw_obj_end(&w);
  hant_jsonw_obj_end(&w);
  hant_jsonw_end(&w);
  if (fclose(fo))
    return hant__error(HANT_EIO, "%s: write error", path);
  return 0;
}

int hant_calib_fit(hant_store *st, const hant_device *d, const hant_cand_rec *cands, hant_net *const *nets,
                   const double *latency_ms, int n, const hant_calib_opts *o, hant_calib_result *r) {
  memset(r, 0, sizeof(*r));
  hant_calib_sample *s = malloc(sizeof(*s) * (size_t)(n > 0 ? n : 1));
  double *err = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  int k = 0, rc = 0;
  if (!s || !err) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* Networks the model charges nothing (identity blocks) cannot be fitted in
   * log space; they are left out of the fit and the error figures. */
  for (int i = 0; i < n; i++) {
    hant_cost_estimate e;
    if (!nets[i] || !(latency_ms[i] > 0) || hant_costmodel_net(d, -1, nets[i], 1, &e) || e.ops == 0)
      continue;
    s[k++] = (hant_calib_sample){.net = nets[i], .batch = 1, .measured_ms = latency_ms[i]};
  }
  if (k < 4) {
    rc = hant__error(HANT_EINVAL, "calibration needs at least 4 measured candidates that do work, got %d", k);
    goto out;
  }
  r->samples = k;
  if ((rc = hant_costmodel_errors(d, s, k, err, &r->before)))
    goto out;
  if ((rc = hant_device_parse(d->json, strlen(d->json), d->path, &r->fitted)))
    goto out;
  if ((rc = hant_costmodel_calibrate(r->fitted, s, k, CALIB_FOLDS, &r->report)))
    goto out;
  if (o && o->residuals && (rc = write_residuals(o->residuals, d, r->fitted, cands, nets, latency_ms, o->kernel_ms, n)))
    goto out;
  if ((rc = store_meta(st, d, r)))
    goto out;
  if (o && o->out)
    rc = write_profile(o->out, st, d, r);
out:
  free(s);
  free(err);
  if (rc)
    hant_calib_result_free(r);
  return rc;
}

void hant_calib_result_free(hant_calib_result *r) {
  hant_device_destroy(r->fitted);
  r->fitted = NULL;
}
