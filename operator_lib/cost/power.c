/* SPDX-License-Identifier: MIT */
/* power.c: the energy, power and carbon arithmetic every answer reports. */
#include "power.h"

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
