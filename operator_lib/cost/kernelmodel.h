/* SPDX-License-Identifier: MIT */
/* kernelmodel.h: the kernel-level host latency model: per-class predictors fitted from single kernels measured on this machine. */
#ifndef HANT_KERNELMODEL_H
#define HANT_KERNELMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "costmodel.h"
#include "infer.h"
#include "measure.h"
#include "store.h"
#include "store_kernels.h"

/*
 * A roofline with a handful of efficiencies cannot follow what decides a
 * 2-40 us operator on this machine: the fixed cost of a call and the
 * kernel oneDNN picks for a shape (direct, 1x1, depthwise, GEMM). Following
 * nn-Meter (Zhang et al., "nn-Meter: Towards Accurate Latency Prediction of
 * Deep-Learning Model Inference on Diverse Edge Devices", MobiSys 2021),
 * this model predicts a network as the sum of its inference plan's kernels
 * (infer.h: each fused convolution group, pooling, linear layer, ...),
 * each kernel by a predictor of its class fitted from kernels measured
 * alone at sampled configurations (a sweep over channels, spatial size,
 * stride, kernel and groups) on this machine, plus the plan's fixed cost
 * per run (a constant and a term per kernel) and with a per-class factor
 * for running inside a plan rather than alone; those nine numbers are
 * fitted to measured networks. Batch 1 only, the size selection costs.
 *
 * A class's predictor is a least-squares base in MACs, bytes moved and
 * output elements, either a power law (a line in log space) or additive (a
 * call cost plus work at fitted rates, on relative errors), times the
 * inverse-distance-weighted mean of the base's log residuals at the k
 * nearest measured kernels in a standardised log feature space (channels
 * per group, spatial size, kernel taps, stride, groups, channel padding,
 * post-ops): the base carries
 * the trend, the neighbours the shape effects it misses. Channels in the
 * base are padded to a block of 1, 8 or 16 (vectorised kernels run whole
 * blocks, or only their output channels). The block, the form and k (0: the base alone) are chosen per
 * class by leave-one-out error over its measured kernels.
 *
 * Measured tables are stored in the library keyed by a CPU identifier and
 * thread count (store_kernels.h): they are valid only on the machine that
 * measured them.
 */

typedef enum hant_kclass {
  HANT_KCLASS_CONV,      /* dense convolution with a kernel larger than 1x1 (kxk, kx1, 1xk) */
  HANT_KCLASS_CONV1X1,   /* dense 1x1 convolution, any stride */
  HANT_KCLASS_DEPTHWISE, /* groups == input channels == output channels */
  HANT_KCLASS_GROUPED,   /* any other grouped convolution */
  HANT_KCLASS_LINEAR,
  HANT_KCLASS_POOL,      /* max and average pooling, global average pooling */
  HANT_KCLASS_ELTWISE,   /* an unfused batch norm, activation or add; a reordering flatten */
  HANT_KCLASS_COUNT
} hant_kclass;

const char *hant_kclass_name(hant_kclass c);
hant_kclass hant_kclass_of(const hant_infer_kernel *k);

/* Features per kernel: HANT_KFEAT log-scaled shape figures (see
 * kernelmodel.c) for the neighbours, and the base's three regressors. */
#define HANT_KFEAT 9

typedef enum hant_kform { HANT_KFORM_LOG, HANT_KFORM_ADDITIVE, HANT_KFORM_COUNT } hant_kform;

/* One class's fitted predictor. */
typedef struct hant_kclass_fit {
  int n;                  /* measured kernels fitted; 0: the class has no data */
  int form;               /* hant_kform of the base */
  int block;              /* channels padded to a multiple of this (1, 8 or 16) in the base; negative (-8,
                             -16): only the output channels of each group, by its magnitude */
  double beta[4];         /* the base: [1, MACs, bytes, outputs] (their logs for HANT_KFORM_LOG; in thousands
                             for HANT_KFORM_ADDITIVE), microseconds or their natural log */
  int k;                  /* neighbours of the residual correction; 0 for the line alone */
  double scale[HANT_KFEAT]; /* feature standardisation (standard deviation, or 1) */
  double *feat;           /* [n][HANT_KFEAT] */
  double *resid;          /* [n] log residuals of the line */
  hant_calib_error loo;   /* leave-one-out error over the class's measured kernels */
} hant_kclass_fit;

typedef struct hant_kernelmodel {
  char cpu[160];
  int threads, batch;
  hant_kclass_fit cls[HANT_KCLASS_COUNT];
  /* The plan's fixed cost per run: fixed_us + per_kernel_us x kernels,
   * fitted to measured networks (hant_kernelmodel_fixed_fit), 0 until then.
   * Each kernel was measured in a plan of its own, so its figure carries a
   * run's cost once; per_kernel_us (usually negative) takes back what a
   * plan of several kernels pays only once. */
  double fixed_us, per_kernel_us;
  /* Per class, the factor on the sum of its kernels' predictions when they
   * run inside a plan rather than alone (what runs before a kernel changes
   * what is in cache), fitted with the fixed cost; 1 until then. */
  double compose[HANT_KCLASS_COUNT];
  /* The measured table the classes were fitted from (a copy the model
   * owns), kept so that hant_kernelmodel_evaluate can refit without the
   * rows a held-out network alone brought in. */
  hant_kernel_rec *rows;
  int n_rows;
} hant_kernelmodel;

/* The CPU identifier tables are keyed by: the CPU model name and the number
 * of logical CPUs, e.g. "AMD EPYC 9R45 (2 logical CPUs)". */
void hant_kernelmodel_cpu_key(char *buf, size_t n);

/* True when a and b run the same kernel: every field but the node. */
bool hant_infer_kernel_same(const hant_infer_kernel *a, const hant_infer_kernel *b);

/* The distinct kernels of the networks' inference plans at batch 1, in
 * first-seen order (NULL networks are skipped), each as hant_kernel_net
 * can build it alone: a residual sum whose operand's shape differs from
 * the kernel's input comes without the sum; *out malloc'd (the caller
 * frees it), NULL with *n = 0 when there are none. Measuring these beside
 * the sweep gives the table the exact shapes a library runs, as nn-Meter
 * samples its kernels where its model zoo's configurations lie. */
int hant_kernels_of_nets(hant_net *const *nets, int n, hant_infer_kernel **out, int *nout);

/* Fits a model from n measured kernels (of one key: their cpu, threads and
 * batch are copied from recs[0]). m is overwritten; free it with
 * hant_kernelmodel_free. HANT_EINVAL when n < 1 or a row is unusable. */
int hant_kernelmodel_fit(const hant_kernel_rec *recs, int n, hant_kernelmodel *m);
void hant_kernelmodel_free(hant_kernelmodel *m);

/* Predicted latency of one kernel in microseconds at the model's batch:
 * its measured latency when the table holds the same kernel
 * (hant_infer_kernel_same); for a residual sum the table holds only
 * without the sum, that latency times the class predictor's ratio of
 * the two; else its class's predictor;
 * HANT_ENOENT (with a message) when its class has no measured kernels. */
int hant_kernelmodel_kernel_us(const hant_kernelmodel *m, const hant_infer_kernel *k, double *us);
/* Per class, the sum of the predictions of net's plan kernels in
 * microseconds; *kernels (may be NULL) gets their count (0 for a network
 * of identities, which costs nothing to predict). */
int hant_kernelmodel_net_classes(const hant_kernelmodel *m, hant_net *net, double class_us[HANT_KCLASS_COUNT],
                                 int *kernels);
/* The sum over classes of m->compose[c] x that class's sum, without the
 * fixed cost. The whole prediction is *sum_us + m->fixed_us +
 * m->per_kernel_us x *kernels. */
int hant_kernelmodel_net_us(const hant_kernelmodel *m, hant_net *net, double *sum_us, int *kernels);

/* The fixed cost (*fixed_us, *per_kernel_us) minimising sum_i ((sum_us[i] +
 * fixed + per_kernel x kernels[i] - measured_us[i]) / measured_us[i])^2
 * (relative errors, so small and large networks count alike), over the
 * entries with use[i] (use may be NULL: all). When the kernel counts do
 * not vary, per_kernel is 0 and fixed alone is fitted. */
void hant_kernelmodel_fixed_fit(const double *sum_us, const int *kernels, const double *measured_us, const bool *use,
                                int n, double *fixed_us, double *per_kernel_us);

/* The composition fit: fixed, per_kernel and compose[c] minimising
 * sum_i ((fixed + per_kernel x kernels[i] + sum_c compose[c] x
 * class_us[i][c] - measured_us[i]) / measured_us[i])^2 + sum_c (compose[c]
 * - 1)^2 over the entries with use[i] (use may be NULL: all): relative
 * errors, and a ridge that keeps a class the networks hardly use at its
 * kernels' own figures. */
void hant_kernelmodel_compose_fit(const double (*class_us)[HANT_KCLASS_COUNT], const int *kernels,
                                  const double *measured_us, const bool *use, int n, double *fixed_us,
                                  double *per_kernel_us, double compose[HANT_KCLASS_COUNT]);

/* How the model does on measured networks, `folds`-fold: each network is
 * predicted by a model fitted without the networks of its fold. The kernel
 * table rows whose shape only networks of that fold run (a library kernel
 * measured because of them, or a sweep configuration that happens to
 * match) are left out and the classes refitted from the rest, so a
 * held-out network is predicted from kernels measured for others only;
 * the fixed cost and the per-class composition factors are fitted on the
 * other folds' networks (hant_kernelmodel_compose_fit). Networks without kernels or without a measurement (measured_ms <= 0)
 * are left out. pred_ms[n] (may be NULL) gets each network's held-out
 * prediction, or 0 when left out. Sets m's fixed cost to the fit on all. */
typedef struct hant_kernelmodel_report {
  hant_calib_error held; /* held-out, as above */
  int shared_rows;       /* table rows whose shape some network runs exactly */
  double held_rows;      /* of those, left out per fold on average */
  int folds;
  int samples;
  double fixed_us, per_kernel_us;
} hant_kernelmodel_report;
int hant_kernelmodel_evaluate(hant_kernelmodel *m, hant_net *const *nets, const double *measured_ms, int n, int folds,
                              double *pred_ms, hant_kernelmodel_report *r);

/* ---- the sweep ---------------------------------------------------------- */

typedef struct hant_kernel_sweep_opts {
  unsigned long seed; /* of the sampled configurations (default 1) */
  double scale;       /* configurations per class, times the default counts (default 1: 660 kernels) */
  int c_max;          /* largest channel count sampled (default 384: the widest inverted-residual expansion
                         of the shipped presets) */
  int hw_max;         /* largest input side sampled (default 32, around Fashion-MNIST's 28) */
  /* Kernels measured after the sampled configurations (the library's own
   * shapes, hant_kernels_of_nets), not owned; NULL for none. */
  const hant_infer_kernel *extra;
  int n_extra;
} hant_kernel_sweep_opts;

void hant_kernel_sweep_opts_default(hant_kernel_sweep_opts *o);

/* The sampled configurations, *out malloc'd (the caller frees it). They
 * depend on the options only, never on a library's candidates. */
int hant_kernel_sweep(const hant_kernel_sweep_opts *o, hant_infer_kernel **out, int *n);

/* The network whose inference plan is exactly kernel k (its input node and
 * the nodes that fuse into k), parameters random; *out is the caller's
 * (hant_net_destroy). */
int hant_kernel_net(const hant_infer_kernel *k, hant_net **out);

/* Measures one kernel alone: a network of the kernel's input and the nodes
 * whose plan is exactly that kernel, random weights, run through an
 * inference plan by hant_measure_net at mo->batch. */
int hant_kernel_measure(const hant_infer_kernel *k, const hant_measure_opts *mo, hant_measure_result *r);

/* Progress of a sweep: kernel i of n just measured. */
typedef void (*hant_kernel_progress_fn)(void *user, int i, int n, const hant_kernel_rec *r);

/* Measures every configuration of the sweep on this machine at the calling
 * thread's thread count and mo->batch, `passes` times over all of them in
 * turn, keeping each kernel's median pass, into *out (malloc'd, the caller
 * frees it), keyed by cpu. progress counts kernel measurements (i of n x
 * passes). */
int hant_kernel_sweep_measure(const hant_kernel_sweep_opts *so, const hant_measure_opts *mo, int passes,
                              const char *cpu, hant_kernel_progress_fn progress, void *user, hant_kernel_rec **out,
                              int *n);

/* Loads the table of (cpu, threads, batch) from the library and fits it.
 * HANT_ENOENT when the library holds no such table; then, if it holds
 * tables of other keys, `foreign` (may be NULL) gets a sentence saying
 * whose they are (another CPU's, or this CPU's at other thread counts) and
 * that they do not apply here, for the caller to show as a warning (""
 * otherwise). */
int hant_kernelmodel_load(hant_store *st, const char *cpu, int threads, int batch, hant_kernelmodel *m, char *foreign,
                          size_t foreign_len);

/* Stores the fit and its report as the library's "kernelmodel.NAME" meta
 * (JSON: cpu, threads, batch, fixed_us, held-out error, per class its
 * kernels, neighbours and leave-one-out error), for reports. */
int hant_kernelmodel_store_meta(hant_store *st, const char *device, const hant_kernelmodel *m,
                                const hant_kernelmodel_report *r);

#endif
