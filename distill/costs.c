/* SPDX-License-Identifier: MIT */
/* costs.c: modelled energy for measured latencies, and storing profiles. */
#include "costs.h"

#include <stdio.h>
#include <stdlib.h>

#include "hant.h"

int costs_model_energy(const hant_device *d, int mode, const hant_net *net, int batch, double latency_ms,
                       double *energy_mj, int64_t *memory_bytes, char *source, size_t n) {
  hant_cost_estimate e;
  int rc = hant_costmodel_net(d, mode, net, batch, &e);
  if (rc)
    return rc;
  hant_device_point pt;
  hant_device_point_get(d, mode, &pt);
  *energy_mj = e.energy_mac_mj + e.energy_mem_mj + pt.idle_w * latency_ms;
  if (pt.active_w > 0 && *energy_mj > pt.active_w * latency_ms) /* never above active power */
    *energy_mj = pt.active_w * latency_ms;
  *memory_bytes = e.memory_bytes;
  snprintf(source, n, "modelled: %s profile (%.3g pJ/MAC, pJ/B per memory level, %.3g W idle) over the latency",
           d->name, d->pj_per_mac[d->precision] * pt.energy_scale, pt.idle_w);
  return 0;
}

int costs_device_put(hant_store *st, const hant_device *d, int64_t *id) {
  return hant_store_device_put(st, d->name, d->json, id);
}
