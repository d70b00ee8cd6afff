/* SPDX-License-Identifier: MIT */
/* energy.c: reads RAPL package counters under /sys/class/powercap, or models energy from CPU time. */
#include "energy.h"

#include <stdio.h>
#include <string.h>

#include "base.h"

#define MAX_DOMAINS 8

static int read_u64(const char *path, double *out) {
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  unsigned long long v;
  int ok = fscanf(f, "%llu", &v) == 1;
  fclose(f);
  if (!ok)
    return -1;
  *out = (double)v;
  return 0;
}

/* Sum of the package domains' counters (intel-rapl:N, also used on AMD). */
static int rapl_read(double *joules, double *range) {
  double sum = 0.0, rng = 0.0;
  int n = 0;
  for (int i = 0; i < MAX_DOMAINS; i++) {
    char p[128];
    double uj, max;
    snprintf(p, sizeof(p), "/sys/class/powercap/intel-rapl:%d/energy_uj", i);
    if (read_u64(p, &uj))
      continue;
    snprintf(p, sizeof(p), "/sys/class/powercap/intel-rapl:%d/max_energy_range_uj", i);
    if (read_u64(p, &max))
      max = 0.0;
    sum += uj * 1e-6;
    rng = max * 1e-6;
    n++;
  }
  *joules = sum;
  *range = rng;
  return n;
}

void hant_energy_start(hant_energy_meter *m) {
  memset(m, 0, sizeof(*m));
  m->cpu_s0 = hant_cpu_s();
  m->rapl = rapl_read(&m->rapl_j0, &m->rapl_range);
  if (m->rapl)
    snprintf(m->source, sizeof(m->source), "rapl");
  else
    snprintf(m->source, sizeof(m->source), "modelled: %.1f W per busy core x CPU seconds (RAPL not readable)",
             HANT_CORE_WATTS_MODEL);
}

double hant_energy_joules(hant_energy_meter *m) {
  if (m->rapl) {
    double j, range;
    if (rapl_read(&j, &range) == m->rapl) {
      double d = j - m->rapl_j0;
      if (d < 0 && range > 0)
        d += range; /* one wrap-around */
      if (d >= 0)
        return d;
    }
  }
  return (hant_cpu_s() - m->cpu_s0) * HANT_CORE_WATTS_MODEL;
}
