/* SPDX-License-Identifier: MIT */
/* additivity.h: how far a network's measured latency is from the sum of its operators', and the correction selection applies. */
#ifndef HANT_ADDITIVITY_H
#define HANT_ADDITIVITY_H

#include <stdbool.h>

#include "store.h"

/* measured ~= overhead_ms + factor x sum of the candidates' latencies,
 * fitted by least squares over assembled networks measured end to end.
 * overhead_ms covers what no candidate carries (the teacher's non-slot
 * operators: pooling, flatten) and per-network effects; factor covers
 * effects that scale with the work (caches warmed by the previous block,
 * fused boundaries). */
typedef struct hant_additivity {
  char device[64];
  int batch;
  int networks;          /* networks measured */
  double overhead_ms;
  double factor;
  /* |sum - measured| / measured before and after the correction (the
   * corrected figures are leave-one-out: each network predicted by a fit
   * without it). */
  double raw_median, raw_p90, raw_within10;
  double corrected_median, corrected_p90, corrected_within10;
} hant_additivity;

/* Fits a correction to n (sum, measured) pairs (n >= 2) and fills the
 * error statistics. */
int hant_additivity_fit(const double *sum_ms, const double *measured_ms, int n, hant_additivity *a);

/* The corrected latency of a network whose candidates' latencies sum to
 * sum_ms. With a NULL correction it returns sum_ms. */
double hant_cost_correct_latency(const hant_additivity *a, double sum_ms);

/* Stores / loads the correction as meta "additivity.DEVICE" (JSON written
 * by hant). Load gives HANT_ENOENT when none was stored. */
int hant_additivity_save(hant_store *st, const hant_additivity *a);
int hant_additivity_load(hant_store *st, const char *device, hant_additivity *a);

#endif
