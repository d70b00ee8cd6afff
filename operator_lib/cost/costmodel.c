/* SPDX-License-Identifier: MIT */
/* costmodel.c: roofline-plus-tile latency and per-MAC/per-byte/static energy of networks on device profiles, and its least-squares calibration. */
#include "costmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/* Node classes beyond the efficiency classes of device.h. */
#define CLS_ELTWISE (-1) /* memory-bound: batch norm, activation, add, pooling */
#define CLS_FREE (-2)    /* identity, flatten, input: no work */

typedef struct node_feat {
  int cls;
  double calls; /* kernel launches: groups of a GEMM convolution on sequential devices, else 1 */
  double macs, padded;
  double bytes[HANT_DEVICE_MAX_LEVELS];
} node_feat;

static double round_up(double x, int m) { return m <= 1 ? x : ceil(x / m) * m; }

static bool is_depthwise(const hant_conv_desc *c) { return c->groups > 1 && c->c_in == c->groups; }

double hant_costmodel_padded_macs(const hant_device *d, const hant_net *net, int node, int batch) {
  const hant_node *n = &net->nodes[node];
  if (n->op == HANT_OP_CONV) {
    const hant_conv_desc *c = &n->conv;
    double pos = (double)batch * n->h * n->w, taps = (double)c->kh * c->kw;
    int cin_g = c->c_in / c->groups, kout_g = c->c_out / c->groups;
    if (d->sequential && is_depthwise(c)) /* SIMD along the input row the outputs span */
      return (double)batch * c->c_out * n->h * round_up((double)n->w * c->sw, d->array_cols) * taps;
    if (d->sequential) /* GEMM: microkernel rows over output channels, SIMD lanes over pixels */
      return (double)c->groups * round_up(kout_g, d->array_rows) * cin_g * taps * round_up(pos, d->array_cols);
    if (is_depthwise(c)) /* channels across the array's columns */
      return pos * round_up(c->c_out, d->array_cols) * round_up(taps * cin_g, d->array_rows);
    return pos * c->groups * round_up(kout_g, d->array_cols) * round_up((double)cin_g * taps, d->array_rows);
  }
  if (n->op == HANT_OP_LINEAR) {
    const hant_node *in = &net->nodes[n->in[0]];
    double features = (double)in->c * in->h * in->w;
    if (d->sequential) /* matrix-vector products: no tile to fill */
      return (double)batch * n->c * features;
    return (double)batch * round_up(n->c, d->array_cols) * round_up(features, d->array_rows);
  }
  return 0.0;
}

/* The memory level a tensor of `bytes` is charged at: the innermost one
 * that holds it, else the outermost. */
static int level_for(const hant_device *d, double bytes) {
  for (int l = d->n_levels - 1; l > 0; l--)
    if (bytes <= d->levels[l].capacity_bytes)
      return l;
  return 0;
}

static double node_bytes(const hant_node *n, int batch, int pb) { return (double)batch * n->c * n->h * n->w * pb; }

static double weight_elems(const hant_net *net, const hant_node *n) {
  double e = 0;
  for (int k = 0; k < 2; k++)
    if (n->param[k] >= 0)
      e += (double)net->params[n->param[k]].n;
  return e;
}

static int features(const hant_device *d, const hant_net *net, int batch, node_feat *f) {
  int pb = hant_prec_bytes(d->precision);
  bool cpu_like = !strcmp(d->kind, "cpu") || !strcmp(d->kind, "mcu");
  double welems = 0;
  for (int i = 1; i < net->n_nodes; i++)
    if (net->nodes[i].op == HANT_OP_CONV || net->nodes[i].op == HANT_OP_LINEAR)
      welems += weight_elems(net, &net->nodes[i]);
  int wl = level_for(d, welems * pb);
  /* In-memory computing keeps weights in the array's cells while they fit. */
  bool weights_free = d->weights_stationary && welems <= (double)d->array_rows * d->array_cols;
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *n = &net->nodes[i];
    node_feat *nf = &f[i];
    memset(nf, 0, sizeof(*nf));
    switch (n->op) {
    case HANT_OP_INPUT:
    case HANT_OP_IDENTITY:
    case HANT_OP_FLATTEN:
      nf->cls = CLS_FREE;
      continue;
    case HANT_OP_CONV:
      nf->cls = is_depthwise(&n->conv) ? HANT_EFF_DEPTHWISE : HANT_EFF_CONV;
      break;
    case HANT_OP_LINEAR:
      nf->cls = HANT_EFF_LINEAR;
      break;
    case HANT_OP_BN:
    case HANT_OP_ACT:
    case HANT_OP_ADD:
    case HANT_OP_MUL:
    case HANT_OP_MAXPOOL:
    case HANT_OP_AVGPOOL:
    case HANT_OP_GAP:
    case HANT_OP_CONCAT: /* channel moves: memory traffic, no arithmetic */
    case HANT_OP_CHSLICE:
    case HANT_OP_SHUFFLE:
      nf->cls = CLS_ELTWISE;
      break;
    default:
      return hant__error(HANT_EINVAL, "cost model: node %d: unknown op %s", i, hant_op_name(n->op));
    }
    /* Elementwise operators are fused into their producer's launch, or on a
     * CPU are a loop too short to carry the call overhead. */
    nf->calls = n->op == HANT_OP_CONV && d->sequential && !is_depthwise(&n->conv) ? n->conv.groups
                : nf->cls == CLS_ELTWISE                                            ? 0
                                                                                    : 1;
    nf->macs = hant_node_macs(net, i) * batch;
    nf->padded = hant_costmodel_padded_macs(d, net, i, batch);
    for (int k = 0; k < 2; k++)
      if (n->in[k] >= 0) {
        double b = node_bytes(&net->nodes[n->in[k]], batch, pb);
        nf->bytes[level_for(d, b)] += b;
      }
    double out = node_bytes(n, batch, pb);
    nf->bytes[level_for(d, out)] += out;
    if ((n->op == HANT_OP_CONV || n->op == HANT_OP_LINEAR) && !weights_free)
      nf->bytes[wl] += weight_elems(net, n) * pb;
    if (n->op == HANT_OP_CONV && cpu_like && !is_depthwise(&n->conv)) {
      const hant_conv_desc *c = &n->conv;
      bool pointwise = c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 && c->pw == 0;
      if (!pointwise) { /* the im2col buffer: written, then read by the GEMM */
        double col = (double)batch * c->c_in * c->kh * c->kw * n->h * n->w * pb;
        nf->bytes[level_for(d, col / c->groups)] += 2 * col;
      }
    }
  }
  return 0;
}

typedef struct params {
  double eff[HANT_EFF_COUNT];
  double overhead_us;
} params;

/* Seconds of one node under p. */
static double node_time(const hant_device *d, const hant_device_point *pt, const params *p, const node_feat *nf,
                        double *tc, double *tm) {
  *tc = *tm = 0;
  if (nf->cls == CLS_FREE)
    return 0.0;
  if (nf->cls >= 0)
    *tc = 2.0 * nf->padded / (pt->peak_gops[d->precision] * 1e9 * p->eff[nf->cls]);
  for (int l = 0; l < d->n_levels; l++)
    if (nf->bytes[l] > 0)
      *tm += nf->bytes[l] / (d->levels[l].bandwidth_gbps * 1e9 * pt->bandwidth_scale * p->eff[HANT_EFF_MEMORY]);
  return (d->sequential ? *tc + *tm : (*tc > *tm ? *tc : *tm)) + nf->calls * p->overhead_us * 1e-6;
}

int hant_costmodel_net(const hant_device *d, int mode, const hant_net *net, int batch, hant_cost_estimate *e) {
  memset(e, 0, sizeof(*e));
  if (!d || !net || batch < 1 || mode >= d->n_modes)
    return hant__error(HANT_EINVAL, "cost model: need a device, a network, batch >= 1 and a valid mode");
  hant_device_point pt;
  hant_device_point_get(d, mode, &pt);
  if (pt.peak_gops[d->precision] <= 0)
    return hant__error(HANT_EINVAL, "%s: power mode %s has no %s peak", d->path, pt.mode,
                       hant_prec_name(d->precision));
  node_feat *f = malloc(sizeof(*f) * (size_t)net->n_nodes);
  if (!f)
    return HANT_ENOMEM;
  int rc = features(d, net, batch, f);
  if (rc) {
    free(f);
    return rc;
  }
  params p;
  memcpy(p.eff, d->eff, sizeof(p.eff));
  p.overhead_us = d->overhead_us;
  double t = 0, emac = 0, emem = 0;
  for (int i = 0; i < net->n_nodes; i++) {
    double tc, tm;
    double ti = node_time(d, &pt, &p, &f[i], &tc, &tm);
    t += ti;
    if (f[i].cls == CLS_FREE)
      continue;
    e->ops++;
    e->compute_ms += tc * 1e3;
    e->memory_ms += tm * 1e3;
    e->overhead_ms += f[i].calls * d->overhead_us * 1e-3;
    e->macs += f[i].macs;
    e->macs_padded += f[i].padded;
    emac += f[i].macs * d->pj_per_mac[d->precision];
    for (int l = 0; l < d->n_levels; l++) {
      e->bytes[l] += f[i].bytes[l];
      emem += f[i].bytes[l] * d->levels[l].pj_per_byte;
    }
  }
  free(f);
  e->latency_ms = t * 1e3;
  e->energy_mac_mj = emac * pt.energy_scale * 1e-9;
  e->energy_mem_mj = emem * pt.energy_scale * 1e-9;
  e->energy_static_mj = pt.idle_w * t * 1e3;
  e->energy_mj = e->energy_mac_mj + e->energy_mem_mj + e->energy_static_mj;
  /* A device never draws more than its active power. */
  if (pt.active_w > 0 && e->energy_mj > pt.active_w * e->latency_ms) {
    e->energy_mj = pt.active_w * e->latency_ms;
    e->energy_capped = true;
  }
  int pb = hant_prec_bytes(d->precision);
  double w = 0;
  for (int i = 0; i < net->n_params; i++)
    if (net->params[i].trainable)
      w += (double)net->params[i].n;
  e->memory_bytes = (int64_t)(w * pb + (double)hant_net_peak_act_bytes(net) / 4.0 * pb * batch);
  return 0;
}

/* ---- calibration ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void hant_calib_error_summarise(const double *err, int n, hant_calib_error *sum) {
  memset(sum, 0, sizeof(*sum));
  sum->n = n;
  if (n <= 0)
    return;
  double *a = malloc(sizeof(double) * (size_t)n * 2);
  if (!a)
    return;
  double *ratio = a + n;
  int within = 0;
  for (int i = 0; i < n; i++) {
    a[i] = fabs(err[i]);
    ratio[i] = err[i];
    within += a[i] <= 0.10 + 1e-12;
  }
  qsort(a, (size_t)n, sizeof(double), cmp_double);
  qsort(ratio, (size_t)n, sizeof(double), cmp_double);
  sum->median = n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
  double pos = 0.9 * (n - 1);
  int i = (int)pos;
  sum->p90 = i + 1 < n ? a[i] + (pos - i) * (a[i + 1] - a[i]) : a[n - 1];
  sum->within10 = (double)within / n;
  sum->bias = n % 2 ? ratio[n / 2] : 0.5 * (ratio[n / 2 - 1] + ratio[n / 2]);
  free(a);
}

typedef struct fitset {
  const hant_device *d;
  hant_device_point pt;
  node_feat **f; /* per sample */
  int *nn;       /* nodes per sample */
  const hant_calib_sample *s;
  const int *idx; /* samples in the fit */
  int n;
  bool free_eff[HANT_EFF_COUNT]; /* exercised by the samples, so fitted */
} fitset;

static double predict(const fitset *fs, const params *p, int k) {
  double t = 0, tc, tm;
  for (int i = 0; i < fs->nn[k]; i++)
    t += node_time(fs->d, &fs->pt, p, &fs->f[k][i], &tc, &tm);
  return t * 1e3;
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }
static double logit(double p) { return log(p / (1.0 - p)); }

#define NPAR (HANT_EFF_COUNT + 1)

static void unpack(const fitset *fs, const params *base, const double *z, params *p) {
  *p = *base;
  for (int c = 0; c < HANT_EFF_COUNT; c++)
    if (fs->free_eff[c])
      p->eff[c] = fmax(1e-6, fmin(1.0, sigmoid(z[c])));
  p->overhead_us = exp(z[HANT_EFF_COUNT]);
}

static double objective(const fitset *fs, const params *base, const double *z) {
  params p;
  unpack(fs, base, z, &p);
  double sse = 0;
  for (int j = 0; j < fs->n; j++) {
    int k = fs->idx[j];
    double r = log(predict(fs, &p, k)) - log(fs->s[k].measured_ms);
    sse += r * r;
  }
  return sse;
}

/* Nelder-Mead (Lagarias et al. 1998 coefficients) from z0, in place. */
static void nelder_mead(const fitset *fs, const params *base, double *z0, int iters) {
  double x[NPAR + 1][NPAR], fx[NPAR + 1];
  for (int i = 0; i <= NPAR; i++) {
    memcpy(x[i], z0, sizeof(x[i]));
    if (i > 0)
      x[i][i - 1] += 0.7;
    fx[i] = objective(fs, base, x[i]);
  }
  for (int it = 0; it < iters; it++) {
    /* order: best first */
    for (int i = 1; i <= NPAR; i++)
      for (int j = i; j > 0 && fx[j] < fx[j - 1]; j--) {
        double tf = fx[j];
        fx[j] = fx[j - 1], fx[j - 1] = tf;
        double tx[NPAR];
        memcpy(tx, x[j], sizeof(tx));
        memcpy(x[j], x[j - 1], sizeof(tx));
        memcpy(x[j - 1], tx, sizeof(tx));
      }
    if (fx[NPAR] - fx[0] < 1e-10 * (1 + fx[0]))
      break;
    double c[NPAR] = {0}, xr[NPAR], xe[NPAR], xc[NPAR];
    for (int i = 0; i < NPAR; i++)
      for (int k = 0; k < NPAR; k++)
        c[k] += x[i][k] / NPAR;
    for (int k = 0; k < NPAR; k++)
      xr[k] = c[k] + (c[k] - x[NPAR][k]);
    double fr = objective(fs, base, xr);
    if (fr < fx[0]) {
      for (int k = 0; k < NPAR; k++)
        xe[k] = c[k] + 2 * (c[k] - x[NPAR][k]);
      double fe = objective(fs, base, xe);
      if (fe < fr)
        memcpy(x[NPAR], xe, sizeof(xe)), fx[NPAR] = fe;
      else
        memcpy(x[NPAR], xr, sizeof(xr)), fx[NPAR] = fr;
      continue;
    }
    if (fr < fx[NPAR - 1]) {
      memcpy(x[NPAR], xr, sizeof(xr)), fx[NPAR] = fr;
      continue;
    }
    bool outside = fr < fx[NPAR];
    for (int k = 0; k < NPAR; k++)
      xc[k] = outside ? c[k] + 0.5 * (xr[k] - c[k]) : c[k] + 0.5 * (x[NPAR][k] - c[k]);
    double fc = objective(fs, base, xc);
    if (fc < (outside ? fr : fx[NPAR])) {
      memcpy(x[NPAR], xc, sizeof(xc)), fx[NPAR] = fc;
      continue;
    }
    for (int i = 1; i <= NPAR; i++) { /* shrink towards the best */
      for (int k = 0; k < NPAR; k++)
        x[i][k] = x[0][k] + 0.5 * (x[i][k] - x[0][k]);
      fx[i] = objective(fs, base, x[i]);
    }
  }
  int best = 0;
  for (int i = 1; i <= NPAR; i++)
    if (fx[i] < fx[best])
      best = i;
  memcpy(z0, x[best], sizeof(double) * NPAR);
}

static void fit(const fitset *fs, const params *start, params *out) {
  double z[NPAR];
  for (int c = 0; c < HANT_EFF_COUNT; c++)
    z[c] = logit(fmin(0.999, fmax(1e-5, start->eff[c])));
  z[HANT_EFF_COUNT] = log(fmax(start->overhead_us, 0.01));
  /* Restarts escape the simplex collapsing early on a flat direction. */
  for (int r = 0; r < 4; r++)
    nelder_mead(fs, start, z, 3000);
  unpack(fs, start, z, out);
}

int hant_costmodel_errors(const hant_device *d, const hant_calib_sample *s, int n, double *err, hant_calib_error *sum) {
  for (int k = 0; k < n; k++) {
    hant_cost_estimate e;
    int rc = hant_costmodel_net(d, -1, s[k].net, s[k].batch, &e);
    if (rc)
      return rc;
    err[k] = (e.latency_ms - s[k].measured_ms) / s[k].measured_ms;
  }
  if (sum)
    hant_calib_error_summarise(err, n, sum);
  return 0;
}

int hant_costmodel_calibrate(hant_device *d, const hant_calib_sample *s, int n, int folds, hant_calib_report *r) {
  memset(r, 0, sizeof(*r));
  if (!d || !s || n < 2)
    return hant__error(HANT_EINVAL, "calibration needs a device and at least 2 measured samples");
  for (int k = 0; k < n; k++)
    if (!s[k].net || s[k].batch < 1 || !(s[k].measured_ms > 0))
      return hant__error(HANT_EINVAL, "calibration sample %d: need a network, batch >= 1, a positive latency", k);
  fitset fs = {.d = d, .s = s, .n = n};
  hant_device_point_get(d, -1, &fs.pt);
  fs.f = calloc((size_t)n, sizeof(*fs.f));
  fs.nn = calloc((size_t)n, sizeof(int));
  int *idx = malloc(sizeof(int) * (size_t)n);
  double *err = malloc(sizeof(double) * (size_t)n);
  int rc = 0;
  if (!fs.f || !fs.nn || !idx || !err) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int k = 0; k < n; k++) {
    fs.nn[k] = s[k].net->n_nodes;
    if (!(fs.f[k] = malloc(sizeof(node_feat) * (size_t)fs.nn[k]))) {
      rc = HANT_ENOMEM;
      goto out;
    }
    if ((rc = features(d, s[k].net, s[k].batch, fs.f[k])))
      goto out;
    for (int i = 0; i < fs.nn[k]; i++)
      if (fs.f[k][i].cls >= 0)
        fs.free_eff[fs.f[k][i].cls] = true;
  }
  fs.free_eff[HANT_EFF_MEMORY] = true;
  params start, best;
  memcpy(start.eff, d->eff, sizeof(start.eff));
  start.overhead_us = d->overhead_us;

  /* Held-out errors: fold j holds samples k with k % folds == j. */
  if (folds >= 2 && n >= folds) {
    r->folds = folds;
    for (int j = 0; j < folds; j++) {
      fs.n = 0;
      for (int k = 0; k < n; k++)
        if (k % folds != j)
          idx[fs.n++] = k;
      fs.idx = idx;
      params pf;
      fit(&fs, &start, &pf);
      for (int k = j; k < n; k += folds)
        err[k] = (predict(&fs, &pf, k) - s[k].measured_ms) / s[k].measured_ms;
    }
    hant_calib_error_summarise(err, n, &r->held);
  }
  for (int k = 0; k < n; k++)
    idx[k] = k;
  fs.idx = idx;
  fs.n = n;
  fit(&fs, &start, &best);
  for (int k = 0; k < n; k++)
    err[k] = (predict(&fs, &best, k) - s[k].measured_ms) / s[k].measured_ms;
  hant_calib_error_summarise(err, n, &r->fit);
  memcpy(d->eff, best.eff, sizeof(d->eff));
  d->overhead_us = best.overhead_us;
  memcpy(r->eff, best.eff, sizeof(r->eff));
  r->overhead_us = best.overhead_us;
out:
  if (fs.f)
    for (int k = 0; k < n; k++)
      free(fs.f[k]);
  free(fs.f);
  free(fs.nn);
  free(idx);
  free(err);
  return rc;
}
