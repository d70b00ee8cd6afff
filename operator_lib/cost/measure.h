/* SPDX-License-Identifier: MIT */
/* measure.h: robust latency (and, where a sensor exists, energy) measurement of networks on this machine. */
#ifndef HANT_MEASURE_H
#define HANT_MEASURE_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

/* How a measurement runs. A sample times `reps` back-to-back runs and
 * divides, so that each sample lasts about sample_ms; the result is the
 * median over samples. */
typedef struct hant_measure_opts {
  int batch;           /* samples per inference (default 1) */
  int warmup;          /* untimed runs first (default 5) ... */
  double warmup_ms;    /* ... lasting at least this long (default 20) */
  double sample_ms;    /* target length of one timed sample (default 1.0) */
  int min_samples;     /* accepted samples before the spread is checked (default 15) */
  int max_samples;     /* per attempt (default 100) */
  double max_spread;   /* bound on (p90 - p10) / median (default 0.10) */
  int attempts;        /* whole measurements tried before giving up on the bound (default 3) */
  double max_ms;       /* wall-time cap of one attempt, ms (default 3000) */
  bool reject_preempted; /* with one BLAS thread, drop samples during which this thread
                            was descheduled: wall time above thread CPU time by more than
                            2% + 20 us (default true) */
  double energy_s;     /* seconds of back-to-back runs read by a power sensor
                          (sensor.h); 0 (default) skips energy */
  unsigned long seed;  /* of the random input (default 1) */
} hant_measure_opts;

typedef struct hant_measure_result {
  double latency_ms;      /* median over accepted samples, per inference of `batch` */
  double p10_ms, p90_ms, min_ms;
  double spread;          /* (p90 - p10) / median of the attempt kept */
  int samples;            /* accepted samples of the attempt kept */
  int rejected;           /* samples dropped as preempted, all attempts */
  int reps;               /* runs per sample */
  int attempts;           /* attempts made */
  bool stable;            /* spread <= max_spread */
  int threads;            /* BLAS threads during the measurement */
  double energy_mj;       /* per inference from a sensor, or -1 */
  double power_w;         /* average power over the energy run, or -1 */
  char energy_source[96]; /* the sensor, or "" without energy */
} hant_measure_result;

void hant_measure_opts_default(hant_measure_opts *o);

/* A workload: one inference. Returns 0 or a negative HANT_E* code, which
 * ends the measurement with that code. */
typedef int (*hant_measure_fn)(void *user);

/* Measures any workload. With several attempts it keeps the one with the
 * smallest spread; r->stable says whether that met the bound. */
int hant_measure_run(hant_measure_fn fn, void *user, const hant_measure_opts *o, hant_measure_result *r);

/* Measures an eval-mode forward pass of net on a random input of
 * [batch, C, H, W]. The network is not modified. */
int hant_measure_net(hant_net *net, const hant_measure_opts *o, hant_measure_result *r);

/* The CPU's model name from /proc/cpuinfo ("model name", or "Hardware" /
 * "Model" on ARM), or "unknown". */
void hant_measure_cpu_model(char *buf, size_t n);

#endif
