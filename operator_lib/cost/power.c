/* SPDX-License-Identifier: MIT */
/* power.c: the energy, power and carbon arithmetic every answer reports, and the power rows a selection is constrained by. */
#include "power.h"

#include <math.h>

#include "base.h"
#include "energy.h"

double hant_power_avg_w(double energy_mj, double latency_ms) {
  return latency_ms > 0 && energy_mj >= 0 ? energy_mj / latency_ms : 0.0;
}

double hant_power_sustained_w(double energy_mj, double latency_ms, double fps, double idle_w) {
  if (energy_mj < 0 || latency_ms < 0 || fps < 0 || idle_w < 0)
    return -1.0;
  double busy = fps * latency_ms * 1e-3; /* fraction of each second spent inferring */
  if (busy > 1.0 + 1e-12)
    return -1.0;
  return fps * energy_mj * 1e-3 + idle_w * (1.0 - busy);
}

double hant_power_co2_g_per_million(double energy_mj, double g_per_kwh) {
  return hant_co2_grams(energy_mj * 1e-3 * 1e6, g_per_kwh);
}

/* The messages still start with "select:": users see them, and moving the
 * rows here from the solver changed nothing they can observe. */
static int check_power_args(const double *e, const double *t, const double *row, const double *rb) {
  if (!e || !t || !row || !rb)
    return hant__error(HANT_EINVAL, "select: power row: NULL array");
  return 0;
}

int hant_power_cap_row(size_t n_items, const double *energy_mj, size_t energy_stride,
                       const double *latency_ms, size_t latency_stride, double cap_w, double *row,
                       double *row_budget) {
  int rc = check_power_args(energy_mj, latency_ms, row, row_budget);
  if (rc < 0)
    return rc;
  if (!isfinite(cap_w) || cap_w < 0)
    return hant__error(HANT_EINVAL, "select: power cap %g W is not a finite non-negative number",
                       cap_w);
  for (size_t i = 0; i < n_items; i++) {
    double e = energy_mj[i * energy_stride], t = latency_ms[i * latency_stride];
    if (!isfinite(e) || !isfinite(t))
      return hant__error(HANT_EINVAL, "select: power row: item %zu has a non-finite cost", i);
    row[i] = e - cap_w * t; /* mJ - W * ms = mJ */
  }
  *row_budget = 0;
  return 0;
}

int hant_power_sustained_row(size_t n_items, const double *energy_mj, size_t energy_stride,
                             const double *latency_ms, size_t latency_stride, double fps_hz,
                             double idle_w, double cap_w, double *row, double *row_budget,
                             double *latency_budget_ms) {
  int rc = check_power_args(energy_mj, latency_ms, row, row_budget);
  if (rc < 0)
    return rc;
  if (!latency_budget_ms)
    return hant__error(HANT_EINVAL, "select: sustained power: latency_budget_ms is NULL");
  if (!isfinite(fps_hz) || fps_hz <= 0)
    return hant__error(HANT_EINVAL, "select: sustained power: fps %g must be > 0", fps_hz);
  if (!isfinite(idle_w) || !isfinite(cap_w) || idle_w < 0 || cap_w < 0)
    return hant__error(HANT_EINVAL,
                       "select: sustained power: idle %g W and cap %g W must be finite and >= 0",
                       idle_w, cap_w);
  for (size_t i = 0; i < n_items; i++) {
    double e = energy_mj[i * energy_stride], t = latency_ms[i * latency_stride];
    if (!isfinite(e) || !isfinite(t))
      return hant__error(HANT_EINVAL, "select: power row: item %zu has a non-finite cost", i);
    /* F [1/s] * e [mJ] * 1e-3 = W;  P_idle [W] * F [1/s] * t [ms] * 1e-3 = W */
    row[i] = (fps_hz * e - idle_w * fps_hz * t) * 1e-3;
  }
  *row_budget = cap_w - idle_w;
  *latency_budget_ms = 1e3 / fps_hz;
  return 0;
}
