/* SPDX-License-Identifier: MIT */
/* additivity.c: fits and applies the sum-of-operators latency correction, and keeps it in the library's meta table. */
#include "additivity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel.h"
#include "base.h"

/* Least squares of y = a + b x on relative residuals (weights 1/y^2), so
 * small and large networks count alike. Falls back to b = mean(y/x), a = 0
 * when x does not vary. */
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
  } else {
    *a = 0;
    *b = sx > 0 ? sxy / sxx : 1.0;
  }
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
  char key[96], val[768];
  snprintf(key, sizeof(key), "additivity.%s", a->device);
  snprintf(val, sizeof(val),
           "{\"device\":\"%s\",\"batch\":%d,\"networks\":%d,\"overhead_ms\":%.9g,\"factor\":%.9g,"
           "\"raw_median\":%.6g,\"raw_p90\":%.6g,\"raw_within10\":%.6g,"
           "\"corrected_median\":%.6g,\"corrected_p90\":%.6g,\"corrected_within10\":%.6g}",
           a->device, a->batch, a->networks, a->overhead_ms, a->factor, a->raw_median, a->raw_p90, a->raw_within10,
           a->corrected_median, a->corrected_p90, a->corrected_within10);
  return hant_store_meta_put(st, key, val);
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
