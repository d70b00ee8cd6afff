/* SPDX-License-Identifier: MIT */
/* calibrate.h: fits a device's cost model to the candidates measured on it and records the fit in the library. */
#ifndef HANT_CALIBRATE_H
#define HANT_CALIBRATE_H

#include "costmodel.h"
#include "device.h"
#include "net.h"
#include "store.h"

/* Reads the measured batch-1 latency, in ms, of each of the n candidates
 * on `device` from the library into latency_ms[i] (0 for a candidate
 * without one). Returns 0 or the store's error. */
int hant_calib_latencies_load(hant_store *st, const char *device, const hant_cand_rec *cands, int n,
                              double *latency_ms);

/* Files hant_calib_fit writes besides the library; NULL writes none. */
typedef struct hant_calib_opts {
  const char *residuals; /* CSV: per candidate its MACs and measured, profile and calibrated latency */
  const char *out;       /* JSON: the fitted efficiencies and overhead as profile fields, with their source */
  const double *kernel_ms; /* when not NULL: per candidate the kernel model's held-out prediction
                              (kernelmodel.h), 0 where it has none, written as the residuals' kernel_ms */
} hant_calib_opts;

typedef struct hant_calib_result {
  hant_device *fitted;      /* d with the fitted figures; owned, released by hant_calib_result_free */
  int samples;              /* candidates fitted */
  hant_calib_error before;  /* the profile as shipped, on those candidates */
  hant_calib_report report; /* the fit: in-sample and 5-fold held-out errors, efficiencies, overhead */
} hant_calib_result;

/* Calibrates d's model (mode -1) against measured latencies: candidate i
 * (cands[i], network nets[i]) took latency_ms[i] at batch 1. Candidates
 * without a network or a positive latency, and those the model charges
 * nothing (identity blocks, which cannot be fitted in log space), are
 * left out; at least 4 must remain. The fit is stored in the library as
 * meta "calibration.NAME" (JSON) and written to the files o names (o may
 * be NULL).
 *
 * On success r owns a fitted copy of d; release it with
 * hant_calib_result_free. Returns 0, HANT_EINVAL when fewer than 4
 * candidates can be fitted, HANT_EIO naming a file that cannot be
 * written, HANT_ENOMEM, or the model's or the store's error. */
int hant_calib_fit(hant_store *st, const hant_device *d, const hant_cand_rec *cands, hant_net *const *nets,
                   const double *latency_ms, int n, const hant_calib_opts *o, hant_calib_result *r);

/* Releases what hant_calib_fit gave r; r may be zero-initialised. */
void hant_calib_result_free(hant_calib_result *r);

#endif
