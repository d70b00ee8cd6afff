/* SPDX-License-Identifier: MIT */
/* costing.h: the costs of a library's candidates on one device, measured on this machine or modelled from the device's profile. */
#ifndef HANT_COSTING_H
#define HANT_COSTING_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "measure.h"
#include "net.h"
#include "store.h"

/* Energy of one inference of net at `batch` that took latency_ms (measured
 * or imported) on d in power mode `mode` (-1: nominal), modelled from the
 * profile: its per-MAC and per-byte energy plus its idle power over that
 * latency, and never more than its active power over it. Also gives the
 * network's memory bytes at d's precision, and writes the source to
 * record with the energy into source[n], naming the profile and the
 * figures used. Returns 0 or the cost model's HANT_EINVAL. */
int hant_cost_model_energy(const hant_device *d, int mode, const hant_net *net, int batch, double latency_ms,
                           double *energy_mj, int64_t *memory_bytes, char *source, size_t n);

/* Passes hant_costing_measure can make over the candidates. */
#define HANT_COSTING_MAX_PASSES 9

/* One finished measurement, reported while hant_costing_measure runs. */
typedef struct hant_costing_event {
  int pass, passes;                  /* 1-based pass of all passes */
  int index, n;                      /* 1-based candidate of n */
  const hant_cand_rec *cand;
  int batch;
  const hant_measure_result *result; /* this pass's measurement */
} hant_costing_event;

typedef struct hant_costing_opts {
  int batch;                 /* also cost every candidate at this batch when > 1 */
  int passes;                /* 1 to HANT_COSTING_MAX_PASSES */
  hant_measure_opts measure; /* how one candidate is measured; batch is set per record,
                                and energy_s applies in the last pass only */
  const char *cpu;           /* the CPU model written in each record's detail */
  /* Called after every measurement when not NULL, e.g. to show progress. */
  void (*progress)(void *user, const hant_costing_event *e);
  void *user;
} hant_costing_opts;

/* Measures every candidate i (cands[i], whose network is nets[i]) on this
 * machine at batch 1 and, when o->batch > 1, at o->batch. It makes
 * o->passes passes over all candidates, so that a burst of load on the
 * machine hits one pass of a candidate rather than all of its samples,
 * and keeps each record's median pass; the detail (JSON) records the
 * measurement's statistics, the pass count and the spread between passes.
 * Energy comes from a power sensor read in the last pass where one is
 * readable (o->measure.energy_s > 0), else from hant_cost_model_energy
 * over the median latency, and the record's energy_source says which.
 *
 * On success *out (malloc'd; the caller frees it) holds *nout records of
 * device d->name with source "measured", candidate by candidate with
 * batch 1 first, and *unstable counts the measurements, over all passes,
 * whose spread stayed above o->measure.max_spread. Returns 0, HANT_EINVAL
 * for a pass count out of range, HANT_ENOMEM, or the measurement's error. */
int hant_costing_measure(const hant_device *d, const hant_cand_rec *cands, hant_net *const *nets, int n,
                         const hant_costing_opts *o, hant_cost_rec **out, int *nout, int *unstable);

/* Models every candidate on d from its profile, at batch 1 and, when
 * batch > 1, at batch, once per power mode of d (once when it has none).
 * *out (malloc'd; the caller frees it) receives *nout records with source
 * "modelled" whose detail (JSON) breaks the estimate down. Returns 0,
 * HANT_ENOMEM or the cost model's HANT_EINVAL. */
int hant_costing_model(const hant_device *d, const hant_cand_rec *cands, hant_net *const *nets, int n, int batch,
                       hant_cost_rec **out, int *nout);

/* Stores d's profile and the n records in the library in one transaction,
 * then bumps the library version once, so a reader sees all of a
 * device's new costs or none. Rolls back and returns the store's error on
 * failure. */
int hant_costing_store(hant_store *st, const hant_device *d, const hant_cost_rec *recs, int n);

#endif
