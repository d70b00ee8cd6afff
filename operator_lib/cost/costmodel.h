/* SPDX-License-Identifier: MIT */
/* costmodel.h: modelled latency and energy of a network on a device (roofline plus tile padding; per-MAC, per-byte and static energy), and its calibration. */
#ifndef HANT_COSTMODEL_H
#define HANT_COSTMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "net.h"

/* The model, per operator node i of the network at batch B, in the device's
 * precision p and power mode m (docs/costs.md):
 *
 *   MACs_i   = multiply-accumulates of a conv or linear node
 *   padded_i = MACs_i with output channels rounded up to a multiple of the
 *              array's cols and the reduction (input channels per group x
 *              kernel taps) to a multiple of its rows; depthwise layers put
 *              channels on the cols. On a 16-wide array a 20-channel layer
 *              pays for 32.
 *   t_c,i    = 2 padded_i / (peak_p,m x eff_class(i))
 *   bytes_i,l = bytes of weights, inputs and outputs (and, on CPUs, the
 *              im2col buffer) charged at memory level l: each tensor at the
 *              innermost level large enough to hold it; weights not at all
 *              on weight-stationary (in-memory computing) devices while
 *              they fit the array's rows x cols cells
 *   t_m,i    = sum_l bytes_i,l / (bandwidth_l x bandwidth_scale_m x eff_memory)
 *   t_i      = max(t_c,i, t_m,i) + overhead            (identity, flatten: 0)
 *
 * on "pipelined" devices, which overlap compute and memory traffic. On
 * "sequential" ones (CPUs and MCUs running hant-style kernels) the two add
 * up, t_i = t_c,i + t_m,i + calls_i x overhead, a grouped convolution
 * launches one GEMM per group (calls_i = groups), and depthwise loops run
 * along the output row, padded to the SIMD width (cols) instead of the
 * channels.
 *   T        = sum_i t_i
 *   E        = energy_scale_m x (sum_i MACs_i x pJ/MAC_p + sum_i,l bytes_i,l x pJ/B_l)
 *              + P_idle,m x T, at most P_active,m x T
 *
 * Elementwise operators (batch norm, activations, add, pooling) have no
 * compute term. */
typedef struct hant_cost_estimate {
  double latency_ms;
  double energy_mj;
  double macs;        /* real multiply-accumulates, whole batch */
  double macs_padded; /* after rounding to the device's array */
  double compute_ms, memory_ms, overhead_ms; /* sums of the nodes' terms */
  double bytes[HANT_DEVICE_MAX_LEVELS];      /* moved per memory level */
  double energy_mac_mj, energy_mem_mj, energy_static_mj;
  bool energy_capped;   /* the sum exceeded active power x latency, so energy_mj is that */
  int64_t memory_bytes; /* weights + peak activations at the device's precision */
  int ops;              /* nodes that cost anything */
} hant_cost_estimate;

/* Models net at `batch` on device d in power mode `mode` (-1: nominal).
 * Returns 0 or HANT_EINVAL. */
int hant_costmodel_net(const hant_device *d, int mode, const hant_net *net, int batch, hant_cost_estimate *e);

/* Multiply-accumulates node `node` is charged on d's array at `batch` (0
 * for nodes other than conv and linear). */
double hant_costmodel_padded_macs(const hant_device *d, const hant_net *net, int node, int batch);

/* ---- calibration ------------------------------------------------------------
 * Fits d's efficiency factors (conv, depthwise, linear, memory) and its
 * per-operator overhead to measured latencies, minimising the sum of
 * squared log errors by Nelder-Mead over log-parameters (efficiencies kept
 * in (0, 1]). Efficiencies a sample set does not exercise keep their
 * profile values. */
typedef struct hant_calib_sample {
  const hant_net *net;
  int batch;
  double measured_ms;
} hant_calib_sample;

typedef struct hant_calib_error {
  int n;
  double median;   /* of |predicted - measured| / measured */
  double p90;
  double within10; /* fraction with relative error <= 0.10 */
  double bias;     /* median of predicted / measured - 1 */
} hant_calib_error;

typedef struct hant_calib_report {
  hant_calib_error fit;  /* on the samples fitted (in-sample) */
  hant_calib_error held; /* k-fold cross-validation: each sample predicted by a fit without it */
  int folds;
  double eff[HANT_EFF_COUNT];
  double overhead_us;
} hant_calib_report;

/* Calibrates d in place (mode -1 figures) and reports in-sample and
 * `folds`-fold held-out errors (folds < 2: none). */
int hant_costmodel_calibrate(hant_device *d, const hant_calib_sample *s, int n, int folds, hant_calib_report *r);

/* Relative errors (predicted - measured) / measured of d's model on the
 * samples, into err[n]; summary in *sum (may be NULL). */
int hant_costmodel_errors(const hant_device *d, const hant_calib_sample *s, int n, double *err, hant_calib_error *sum);

/* Summary statistics of relative errors (signed; the summary uses |err|). */
void hant_calib_error_summarise(const double *err, int n, hant_calib_error *sum);

#endif
