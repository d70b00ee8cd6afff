/* SPDX-License-Identifier: MIT */
/* additivity.h: how far a network's measured latency is from the sum of its operators', the experiment that measures it, and the correction selection applies. */
#ifndef HANT_ADDITIVITY_H
#define HANT_ADDITIVITY_H

#include <stdbool.h>
#include <stdint.h>

#include "costmodel.h"
#include "measure.h"
#include "net.h"
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

/* ---- the experiment ---------------------------------------------------------
 * Assembles networks from the library's teacher and one measured
 * candidate per slot, measures each end to end on this machine, and fits
 * the correction to (sum of the candidates' latencies, measured) pairs. */

/* One assembled network of the experiment. */
typedef struct hant_additivity_net {
  double sum_ms;      /* the chosen candidates' measured latencies, summed */
  double measured_ms; /* the assembled network, measured end to end (median) */
  double spread;      /* of that measurement, (p90 - p10) / median */
  double model_ms;    /* the model's latency for the assembled network */
  char choice[512];   /* the chosen candidates' ids, one per slot, comma-separated */
} hant_additivity_net;

/* Builds a network from a teacher and one candidate per slot: pass
 * hant_assemble (assemble.h). The deploy area that assembles networks is
 * built above the cost area, which therefore takes it as a function. */
typedef int (*hant_additivity_assemble_fn)(const hant_net *teacher, hant_net *const *cands, hant_net **out);

typedef struct hant_additivity_opts {
  int networks;                         /* networks to measure, >= 2: the teacher's own
                                           blocks first, then random choices */
  uint64_t seed;                        /* of the random choices */
  const char *teacher;                  /* the teacher file; NULL: the library's own
                                           (hant_library_teacher_load). Its sha256 must
                                           match the library's */
  hant_measure_opts measure;            /* how each network is measured */
  hant_additivity_assemble_fn assemble; /* required */
  /* Called after each network is measured when not NULL (k is 1-based). */
  void (*progress)(void *user, int k, int n, const hant_additivity_net *r);
  void *user;
} hant_additivity_opts;

/* Runs the experiment over the library's n candidates (cands[i], with
 * network nets[i] and measured batch-1 latency latency_ms[i]; only those
 * with a network and a positive latency are chosen). The model latencies
 * come from `model` (the calibrated host profile), which also names the
 * device of the correction. The fitted correction is stored with
 * hant_additivity_save and returned in *a.
 *
 * On success *out (malloc'd; the caller frees it) holds the o->networks
 * networks measured, and *model_error the model's relative error on them.
 * Returns 0; HANT_EINVAL when the library and the teacher disagree or a
 * slot has no measured candidate; the teacher's, the assembly's, the
 * measurement's or the store's error; or HANT_ENOMEM. */
int hant_additivity_measure(hant_store *st, const hant_device *model, const hant_cand_rec *cands,
                            hant_net *const *nets, const double *latency_ms, int n, const hant_additivity_opts *o,
                            hant_additivity *a, hant_additivity_net **out, hant_calib_error *model_error);

#endif
