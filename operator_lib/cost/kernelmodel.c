/* SPDX-License-Identifier: MIT */
/* kernelmodel.c: per-class kernel latency predictors (a log-space line plus nearest-neighbour residuals), their sweep and their fit. */
#include "kernelmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "jsonw.h"
#include "rng.h"

static const char *const class_names[] = {"conv", "conv1x1", "depthwise", "grouped", "linear", "pool", "eltwise"};
_Static_assert(sizeof(class_names) / sizeof(class_names[0]) == HANT_KCLASS_COUNT, "a name per kernel class");

const char *hant_kclass_name(hant_kclass c) { return c < HANT_KCLASS_COUNT ? class_names[c] : "?"; }

hant_kclass hant_kclass_of(const hant_infer_kernel *k) {
  switch (k->op) {
  case HANT_OP_CONV:
    if (k->conv.groups > 1)
      return k->conv.groups == k->conv.c_in && k->conv.groups == k->conv.c_out ? HANT_KCLASS_DEPTHWISE
                                                                               : HANT_KCLASS_GROUPED;
    return k->conv.kh == 1 && k->conv.kw == 1 ? HANT_KCLASS_CONV1X1 : HANT_KCLASS_CONV;
  case HANT_OP_LINEAR:
    return HANT_KCLASS_LINEAR;
  case HANT_OP_MAXPOOL:
  case HANT_OP_AVGPOOL:
  case HANT_OP_GAP:
    return HANT_KCLASS_POOL;
  default:
    return HANT_KCLASS_ELTWISE;
  }
}

void hant_kernelmodel_cpu_key(char *buf, size_t n) {
  char model[128];
  hant_measure_cpu_model(model, sizeof(model));
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  snprintf(buf, n, "%s (%ld logical CPU%s)", model, cpus, cpus == 1 ? "" : "s");
}

static double lg(double x) { return log2(x > 1 ? x : 1); }

/* Channel blocks a class may be padded to: none, 8 or 16 floats (one
 * AVX2 or AVX-512 register). Vectorised kernels run whole blocks, so a
 * 3-channel depthwise layer costs what a 16-channel one does; the block
 * that fits a class best is chosen by leave-one-out error. A negative
 * block pads only the output channels (of each group): oneDNN's direct
 * kernel for few input channels per group keeps the output channels in
 * the vector lanes and loops over the input channels one at a time, so
 * its time follows cpg x pad(opg) (measured: with both padded, 20 % of the
 * grouped sweep's kernels fell within 10 % of the base alone; with the
 * outputs alone, 43 %). */
static const int blocks[] = {1, 8, 16, -8, -16};
enum { NB = (int)(sizeof(blocks) / sizeof(blocks[0])) };

static double pad(double c, int b) { return ceil(c / abs(b)) * abs(b); }

/* The base's regressors at channel block b (x: MACs, bytes moved, output
 * elements, with channels padded to b) and the neighbour features: what
 * those do not tell apart (two shapes of equal work can run different
 * kernels), log-scaled so that doubling a size is one step anywhere. */
static void features(const hant_infer_kernel *k, int b, double f[HANT_KFEAT], double x[3]) {
  double hw_in = (double)k->h_in * k->w_in, hw_out = (double)k->h_out * k->w_out;
  double in = (b < 0 ? k->c_in : pad(k->c_in, b)) * hw_in, out = pad(k->c_out, b) * hw_out;
  double macs = out, weights = 0;
  memset(f, 0, sizeof(double) * HANT_KFEAT);
  f[0] = lg(k->c_in), f[1] = lg(k->c_out), f[2] = lg(hw_out), f[6] = lg(hw_in);
  switch (k->op) {
  case HANT_OP_CONV: {
    const hant_conv_desc *c = &k->conv;
    int g = c->groups > 0 ? c->groups : 1;
    double taps = (double)c->kh * c->kw, ci = (double)c->c_in / g, co = (double)c->c_out / g;
    if (g > 1 && g == c->c_in && g == c->c_out) { /* depthwise: the channels are the groups */
      macs = out * taps, weights = pad(c->c_out, b) * taps;
    } else { /* dense or grouped: each group's channels padded */
      /* except a few input channels (an image's), which kernels read
       * unblocked */
      double pci = ci < 4 || b < 0 ? ci : pad(ci, b);
      in = g * pci * hw_in, out = g * pad(co, b) * hw_out;
      macs = out * pci * taps, weights = g * pad(co, b) * pci * taps;
    }
    /* Channels per group, not in total: a grouped convolution with a
     * few channels per group runs another kernel than one with many. */
    f[0] = lg(ci), f[1] = lg(co), f[3] = lg(taps), f[4] = c->sh + 0.5 * (c->kh != c->kw), f[5] = lg(g);
    f[8] = lg(pad(ci, 16) / ci) + lg(pad(co, 16) / co) + (g == c->c_in ? lg(pad(g, 16) / g) : 0);
    f[7] = (k->act != HANT_ACT_NONE) + 2.0 * k->sum + 2.0 * k->sum_copy + 0.5 * (k->act == HANT_ACT_HSWISH);
    if (k->sum)
      out *= 2; /* the residual is read too */
    break;
  }
  case HANT_OP_LINEAR:
    f[0] = lg((double)k->c_in * hw_in);
    in = (double)k->c_in * hw_in, out = pad(k->c_out, b);
    macs = in * out, weights = macs;
    break;
  case HANT_OP_MAXPOOL:
  case HANT_OP_AVGPOOL:
    macs = out * k->pool.k * k->pool.k;
    f[3] = lg((double)k->pool.k * k->pool.k), f[4] = k->pool.s, f[7] = k->op == HANT_OP_AVGPOOL ? 2 : 0;
    break;
  case HANT_OP_GAP:
    macs = in, f[7] = 4;
    break;
  default:
    macs = out * (k->op == HANT_OP_ADD ? 2 : 1);
    f[7] = 2.0 * k->op;
    break;
  }
  x[0] = macs > 1 ? macs : 1, x[1] = 4 * (in + out + weights), x[2] = out > 1 ? out : 1;
}

/* Solves the 4x4 normal equations of weighted, ridge-regularised least
 * squares (the intercept unpenalised) by Gaussian elimination with
 * pivoting. A class whose sweep varies fewer than four ways still gets a fit. */
static void solve4(double a[4][5], double beta[4]) {
  for (int r = 1; r < 4; r++)
    a[r][r] += 1e-6 * (1 + a[r][r]);
  if (a[0][0] == 0)
    a[0][0] = 1;
  for (int c = 0; c < 4; c++) {
    int p = c;
    for (int r = c + 1; r < 4; r++)
      if (fabs(a[r][c]) > fabs(a[p][c]))
        p = r;
    for (int j = 0; j < 5; j++) {
      double t = a[c][j];
      a[c][j] = a[p][j], a[p][j] = t;
    }
    if (fabs(a[c][c]) < 1e-300)
      a[c][c] = 1e-300;
    for (int r = 0; r < 4; r++) {
      if (r == c)
        continue;
      double m = a[r][c] / a[c][c];
      for (int j = c; j < 5; j++)
        a[r][j] -= m * a[c][j];
    }
  }
  for (int r = 0; r < 4; r++)
    beta[r] = a[r][4] / a[r][r];
}

/* The two base forms a class may take:
 *   HANT_KFORM_LOG:      log t = b0 + b1 log MACs + b2 log bytes + b3 log outputs  (a power law: one regime)
 *   HANT_KFORM_ADDITIVE: t = b0 + b1 MACs + b2 bytes + b3 outputs, fitted on relative errors
 *                        (a fixed call cost plus work at a rate: small kernels are all call cost)
 * Regressors in thousands keep the additive normal equations well scaled. */
static void design(int form, const double x[3], double d[4]) {
  d[0] = 1;
  for (int j = 0; j < 3; j++)
    d[j + 1] = form == HANT_KFORM_LOG ? log(x[j]) : x[j] * 1e-3;
}

static void fit_base(int form, const double (*x)[3], const double *t, int n, const int *use, double beta[4]) {
  double a[4][5] = {{0}}, d[4];
  for (int i = 0; i < n; i++) {
    if (use && !use[i])
      continue;
    design(form, x[i], d);
    double y = form == HANT_KFORM_LOG ? log(t[i]) : t[i], w = form == HANT_KFORM_LOG ? 1 : 1 / (t[i] * t[i]);
    for (int r = 0; r < 4; r++) {
      for (int c = 0; c < 4; c++)
        a[r][c] += w * d[r] * d[c];
      a[r][4] += w * d[r] * y;
    }
  }
  solve4(a, beta);
}

/* The base prediction, natural log of microseconds. An additive fit that
 * extrapolates below zero is held at a floor of 0.05 us. */
static double base_log(int form, const double beta[4], const double x[3]) {
  double d[4];
  design(form, x, d);
  double v = beta[0] * d[0] + beta[1] * d[1] + beta[2] * d[2] + beta[3] * d[3];
  return form == HANT_KFORM_LOG ? v : log(v > 0.05 ? v : 0.05);
}

/* Inverse-squared-distance mean of the residuals of the k nearest rows
 * (skip: a row to leave out, or -1; use: rows allowed, or NULL). */
static double knn(const double *feat, const double *resid, const double *scale, int n, const int *use, int skip,
                  const double *q, int k) {
  enum { KMAX = 16 };
  double bd[KMAX];
  int bi[KMAX], nb = 0;
  if (k > KMAX)
    k = KMAX;
  for (int i = 0; i < n; i++) {
    if (i == skip || (use && !use[i]))
      continue;
    double d = 0;
    for (int j = 0; j < HANT_KFEAT; j++) {
      double t = (feat[i * HANT_KFEAT + j] - q[j]) / scale[j];
      d += t * t;
    }
    int pos = nb < k ? nb++ : k;
    if (pos == k && d >= bd[k - 1])
      continue;
    if (pos == k)
      pos = k - 1;
    while (pos > 0 && bd[pos - 1] > d) {
      bd[pos] = bd[pos - 1], bi[pos] = bi[pos - 1];
      pos--;
    }
    bd[pos] = d, bi[pos] = i;
  }
  double sw = 0, s = 0;
  for (int j = 0; j < nb; j++) {
    double w = 1.0 / (bd[j] + 1e-3);
    sw += w, s += w * resid[bi[j]];
  }
  return sw > 0 ? s / sw : 0;
}

static const int k_choices[] = {0, 1, 2, 3, 4, 6, 8};
enum { NK = (int)(sizeof(k_choices) / sizeof(k_choices[0])) };

/* Fits one class from its n kernels ks[] of latencies t[] (us), choosing
 * the channel block, the base form and the neighbour count by
 * leave-one-out error (fraction within 10 %, then median). */
static int fit_class(hant_kclass_fit *cf, const hant_infer_kernel *const *ks, const double *t, int n) {
  cf->n = n;
  if (!n)
    return 0;
  enum { NC = NK * HANT_KFORM_COUNT * NB };
  cf->feat = malloc(sizeof(double) * HANT_KFEAT * (size_t)n);
  cf->resid = malloc(sizeof(double) * (size_t)n);
  int *use = malloc(sizeof(int) * (size_t)n);
  double *res = malloc(sizeof(double) * (size_t)n), *err = malloc(sizeof(double) * (size_t)n * NC);
  double(*xs)[3] = malloc(sizeof(*xs) * (size_t)n * NB), *feat = cf->feat;
  if (!cf->feat || !cf->resid || !use || !res || !err || !xs) {
    free(use), free(res), free(err), free(xs);
    return HANT_ENOMEM;
  }
  for (int bi = 0; bi < NB; bi++)
    for (int i = 0; i < n; i++)
      features(ks[i], blocks[bi], &feat[i * HANT_KFEAT], xs[bi * n + i]);
  for (int j = 0; j < HANT_KFEAT; j++) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++)
      m += feat[i * HANT_KFEAT + j];
    m /= n;
    for (int i = 0; i < n; i++)
      v += (feat[i * HANT_KFEAT + j] - m) * (feat[i * HANT_KFEAT + j] - m);
    v = sqrt(v / n);
    cf->scale[j] = v > 1e-9 ? v : 1;
  }
  /* Leave-one-out: the base refitted without row i, its residuals on the
   * others, and the neighbours among them. */
  for (int bi = 0; bi < NB; bi++)
  for (int form = 0; form < HANT_KFORM_COUNT; form++)
    for (int i = 0; i < n && n > 1; i++) {
      const double(*x)[3] = (const double(*)[3])xs + bi * n;
      double b[4];
      for (int j = 0; j < n; j++)
        use[j] = j != i;
      fit_base(form, x, t, n, use, b);
      for (int j = 0; j < n; j++)
        res[j] = log(t[j]) - base_log(form, b, x[j]);
      double base = base_log(form, b, x[i]);
      for (int c = 0; c < NK; c++) {
        double r = k_choices[c] ? knn(feat, res, cf->scale, n, use, i, &feat[i * HANT_KFEAT], k_choices[c]) : 0;
        err[((bi * HANT_KFORM_COUNT + form) * NK + c) * n + i] = exp(base + r) / t[i] - 1;
      }
    }
  int best = 0;
  hant_calib_error be = {0};
  for (int c = 0; c < NC && n > 1; c++) {
    hant_calib_error e;
    hant_calib_error_summarise(&err[c * n], n, &e);
    if (c == 0 || e.within10 > be.within10 + 1e-12 ||
        (fabs(e.within10 - be.within10) <= 1e-12 && e.median < be.median))
      best = c, be = e;
  }
  int bi = best / (NK * HANT_KFORM_COUNT);
  cf->block = blocks[bi];
  cf->form = (best / NK) % HANT_KFORM_COUNT;
  cf->k = k_choices[best % NK];
  cf->loo = be;
  const double(*x)[3] = (const double(*)[3])xs + bi * n;
  fit_base(cf->form, x, t, n, NULL, cf->beta);
  for (int i = 0; i < n; i++)
    cf->resid[i] = log(t[i]) - base_log(cf->form, cf->beta, x[i]);
  free(use), free(res), free(err), free(xs);
  return 0;
}

void hant_kernelmodel_free(hant_kernelmodel *m) {
  if (!m)
    return;
  free(m->rows);
  m->rows = NULL;
  m->n_rows = 0;
  for (int c = 0; c < HANT_KCLASS_COUNT; c++) {
    free(m->cls[c].feat);
    free(m->cls[c].resid);
    m->cls[c].feat = m->cls[c].resid = NULL;
    m->cls[c].n = 0;
  }
}

bool hant_infer_kernel_same(const hant_infer_kernel *a, const hant_infer_kernel *b) {
  if (a->op != b->op || a->c_in != b->c_in || a->h_in != b->h_in || a->w_in != b->w_in || a->c_out != b->c_out ||
      a->h_out != b->h_out || a->w_out != b->w_out || a->act != b->act)
    return false;
  /* only what the op uses: the library's table keeps no more (a pool's
   * ceil mode shows in its output size) */
  const hant_conv_desc *p = &a->conv, *q = &b->conv;
  switch (a->op) {
  case HANT_OP_CONV:
    return p->kh == q->kh && p->kw == q->kw && p->sh == q->sh && p->sw == q->sw && p->ph == q->ph &&
           p->pw == q->pw && p->groups == q->groups && a->bn == b->bn && a->sum == b->sum &&
           a->sum_copy == b->sum_copy;
  case HANT_OP_AVGPOOL:
    if (a->pool.count_include_pad != b->pool.count_include_pad)
      return false;
    /* fall through */
  case HANT_OP_MAXPOOL:
    return a->pool.k == b->pool.k && a->pool.s == b->pool.s && a->pool.p == b->pool.p;
  default:
    return true;
  }
}

/* k as hant_kernel_net can build it alone: hant_kernel_net sums the
 * kernel's own input into its output, so a residual whose operand has
 * another shape (it would need a second input) comes without the sum
 * (hant_kernelmodel_kernel_us adds what the predictor says it costs). */
static hant_infer_kernel measurable(const hant_infer_kernel *k) {
  hant_infer_kernel q = *k;
  if (q.sum && (q.c_in != q.c_out || q.h_in != q.h_out || q.w_in != q.w_out))
    q.sum = q.sum_copy = false;
  q.node = 0;
  return q;
}

/* The plan kernels of one network, copied: *out malloc'd. */
static int net_kernels(hant_net *net, hant_infer_kernel **out, int *n) {
  *out = NULL, *n = 0;
  hant_infer *inf = NULL;
  int rc = hant_infer_new(net, &inf);
  if (rc)
    return rc;
  const hant_infer_kernel *k;
  int nk;
  hant_infer_kernels(inf, &k, &nk);
  if (nk && !(*out = malloc(sizeof(*k) * (size_t)nk)))
    rc = HANT_ENOMEM;
  else if (nk)
    memcpy(*out, k, sizeof(*k) * (size_t)nk), *n = nk;
  hant_infer_free(inf);
  return rc;
}

int hant_kernels_of_nets(hant_net *const *nets, int n, hant_infer_kernel **out, int *nout) {
  *out = NULL, *nout = 0;
  hant_infer_kernel *all = NULL;
  int na = 0, cap = 0, rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    hant_infer_kernel *k = NULL;
    int nk = 0;
    if (!nets[i] || (rc = net_kernels(nets[i], &k, &nk)))
      continue;
    for (int j = 0; j < nk && !rc; j++) {
      hant_infer_kernel q = measurable(&k[j]);
      bool seen = false;
      for (int a = 0; a < na && !seen; a++)
        seen = hant_infer_kernel_same(&all[a], &q);
      if (seen)
        continue;
      if (na == cap) {
        cap = cap ? 2 * cap : 64;
        hant_infer_kernel *t = realloc(all, sizeof(*all) * (size_t)cap);
        if (!t) {
          rc = HANT_ENOMEM;
          break;
        }
        all = t;
      }
      all[na++] = q;
    }
    free(k);
  }
  if (rc) {
    free(all);
    return rc;
  }
  *out = all, *nout = na;
  return 0;
}

int hant_kernelmodel_fit(const hant_kernel_rec *recs, int n, hant_kernelmodel *m) {
  memset(m, 0, sizeof(*m));
  if (n < 1)
    return hant__error(HANT_EINVAL, "kernel model: no measured kernels to fit");
  snprintf(m->cpu, sizeof(m->cpu), "%s", recs[0].cpu);
  m->threads = recs[0].threads, m->batch = recs[0].batch;
  for (int c = 0; c < HANT_KCLASS_COUNT; c++)
    m->compose[c] = 1;
  const hant_infer_kernel **ks = malloc(sizeof(*ks) * (size_t)n);
  double *t = malloc(sizeof(double) * (size_t)n);
  int rc = 0;
  if (!ks || !t || !(m->rows = malloc(sizeof(*m->rows) * (size_t)n))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  memcpy(m->rows, recs, sizeof(*recs) * (size_t)n);
  m->n_rows = n;
  for (int c = 0; c < HANT_KCLASS_COUNT && !rc; c++) {
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (hant_kclass_of(&recs[i].k) != (hant_kclass)c)
        continue;
      if (!(recs[i].latency_us > 0)) {
        rc = hant__error(HANT_EINVAL, "kernel model: row %d (%s): latency_us must be positive, got %g", i,
                         class_names[c], recs[i].latency_us);
        goto out;
      }
      ks[k] = &recs[i].k;
      t[k++] = recs[i].latency_us;
    }
    rc = fit_class(&m->cls[c], ks, t, k);
  }
out:
  free(ks), free(t);
  if (rc)
    hant_kernelmodel_free(m);
  return rc;
}

/* The mean measured latency of the table's rows that run k, or 0. */
static double measured_us(const hant_kernelmodel *m, const hant_infer_kernel *k) {
  double same = 0;
  int nsame = 0;
  for (int i = 0; i < m->n_rows; i++)
    if (hant_infer_kernel_same(&m->rows[i].k, k))
      same += m->rows[i].latency_us, nsame++;
  return nsame ? same / nsame : 0;
}

static double predicted_us(const hant_kclass_fit *cf, const hant_infer_kernel *k) {
  double f[HANT_KFEAT], x[3];
  features(k, cf->block, f, x);
  double r = cf->k ? knn(cf->feat, cf->resid, cf->scale, cf->n, NULL, -1, f, cf->k) : 0;
  return exp(base_log(cf->form, cf->beta, x) + r);
}

int hant_kernelmodel_kernel_us(const hant_kernelmodel *m, const hant_infer_kernel *k, double *us) {
  hant_kclass c = hant_kclass_of(k);
  const hant_kclass_fit *cf = &m->cls[c];
  *us = 0;
  if (!cf->n)
    return hant__error(HANT_ENOENT, "kernel model of %s: no measured %s kernels (node %d, %s)", m->cpu,
                       class_names[c], k->node, hant_op_name(k->op));
  /* A kernel the table measured is looked up: no predictor knows its
   * shape better than its own measurement (the mean when measured twice). */
  if ((*us = measured_us(m, k)) > 0)
    return 0;
  *us = predicted_us(cf, k);
  /* A residual sum whose operand has another shape than the input cannot
   * be measured alone (hant_kernels_of_nets measures the convolution
   * without it): its measured convolution, times what the predictor says
   * the sum adds. */
  if (k->sum) {
    hant_infer_kernel plain = *k;
    plain.sum = plain.sum_copy = false;
    double base = measured_us(m, &plain);
    if (base > 0)
      *us = base * *us / predicted_us(cf, &plain);
  }
  return 0;
}

/* Per class, the sum of the predictions of kernels k[0..nk). */
static int kernels_classes(const hant_kernelmodel *m, const hant_infer_kernel *k, int nk,
                           double class_us[HANT_KCLASS_COUNT]) {
  memset(class_us, 0, sizeof(double) * HANT_KCLASS_COUNT);
  for (int i = 0; i < nk; i++) {
    double us;
    int rc = hant_kernelmodel_kernel_us(m, &k[i], &us);
    if (rc)
      return rc;
    class_us[hant_kclass_of(&k[i])] += us;
  }
  return 0;
}

int hant_kernelmodel_net_classes(const hant_kernelmodel *m, hant_net *net, double class_us[HANT_KCLASS_COUNT],
                                 int *kernels) {
  memset(class_us, 0, sizeof(double) * HANT_KCLASS_COUNT);
  hant_infer_kernel *k = NULL;
  int nk = 0, rc = net_kernels(net, &k, &nk);
  if (!rc)
    rc = kernels_classes(m, k, nk, class_us);
  if (kernels)
    *kernels = nk;
  free(k);
  return rc;
}

int hant_kernelmodel_net_us(const hant_kernelmodel *m, hant_net *net, double *sum_us, int *kernels) {
  double cu[HANT_KCLASS_COUNT];
  int rc = hant_kernelmodel_net_classes(m, net, cu, kernels);
  *sum_us = 0;
  for (int c = 0; c < HANT_KCLASS_COUNT && !rc; c++)
    *sum_us += m->compose[c] * cu[c];
  return rc;
}

void hant_kernelmodel_fixed_fit(const double *sum_us, const int *kernels, const double *measured_us, const bool *use,
                                int n, double *fixed_us, double *per_kernel_us) {
  /* Weighted least squares, weights 1 / m^2, of r = m - s on [1, K]:
   *   [sw  swk ] [f]   [swr ]
   *   [swk swkk] [p] = [swkr] */
  double sw = 0, swk = 0, swkk = 0, swr = 0, swkr = 0;
  for (int i = 0; i < n; i++) {
    if ((use && !use[i]) || !(measured_us[i] > 0))
      continue;
    double w = 1.0 / (measured_us[i] * measured_us[i]), k = kernels[i], r = measured_us[i] - sum_us[i];
    sw += w, swk += w * k, swkk += w * k * k, swr += w * r, swkr += w * k * r;
  }
  *fixed_us = *per_kernel_us = 0;
  if (!(sw > 0))
    return;
  double det = sw * swkk - swk * swk;
  if (det > 1e-9 * sw * swkk) {
    *fixed_us = (swr * swkk - swk * swkr) / det;
    *per_kernel_us = (sw * swkr - swk * swr) / det;
  } else {
    *fixed_us = swr / sw;
  }
}

void hant_kernelmodel_compose_fit(const double (*class_us)[HANT_KCLASS_COUNT], const int *kernels,
                                  const double *measured_us, const bool *use, int n, double *fixed_us,
                                  double *per_kernel_us, double compose[HANT_KCLASS_COUNT]) {
  /* Unknowns v = [fixed, per_kernel, compose[0..C)]; rows [1, K, S_0..S_C)
   * weighted 1 / m^2; a ridge of strength 1 (about one network's worth)
   * pulls each factor towards 1, so a class the networks hardly use keeps
   * its kernels' own figures. */
  enum { C = HANT_KCLASS_COUNT, P = 2 + HANT_KCLASS_COUNT };
  double a[P][P + 1] = {{0}};
  for (int i = 0; i < n; i++) {
    if ((use && !use[i]) || !(measured_us[i] > 0))
      continue;
    double row[P], w = 1.0 / (measured_us[i] * measured_us[i]);
    row[0] = 1, row[1] = kernels[i];
    for (int c = 0; c < C; c++)
      row[2 + c] = class_us[i][c];
    for (int r = 0; r < P; r++) {
      for (int c = 0; c < P; c++)
        a[r][c] += w * row[r] * row[c];
      a[r][P] += w * row[r] * measured_us[i];
    }
  }
  for (int c = 0; c < C; c++)
    a[2 + c][2 + c] += 1.0, a[2 + c][P] += 1.0;
  for (int r = 0; r < 2; r++)
    a[r][r] += 1e-9 * (1 + a[r][r]);
  for (int c = 0; c < P; c++) {
    int p = c;
    for (int r = c + 1; r < P; r++)
      if (fabs(a[r][c]) > fabs(a[p][c]))
        p = r;
    for (int j = 0; j <= P; j++) {
      double t = a[c][j];
      a[c][j] = a[p][j], a[p][j] = t;
    }
    if (fabs(a[c][c]) < 1e-300)
      a[c][c] = 1e-300;
    for (int r = 0; r < P; r++) {
      if (r == c)
        continue;
      double f = a[r][c] / a[c][c];
      for (int j = c; j <= P; j++)
        a[r][j] -= f * a[c][j];
    }
  }
  *fixed_us = a[0][P] / a[0][0], *per_kernel_us = a[1][P] / a[1][1];
  for (int c = 0; c < C; c++)
    compose[c] = a[2 + c][P] / a[2 + c][2 + c];
}

int hant_kernelmodel_evaluate(hant_kernelmodel *m, hant_net *const *nets, const double *measured_ms, int n, int folds,
                              double *pred_ms, hant_kernelmodel_report *r) {
  memset(r, 0, sizeof(*r));
  size_t nn = (size_t)(n > 0 ? n : 1), nr = (size_t)(m->n_rows > 0 ? m->n_rows : 1);
  double(*cu)[HANT_KCLASS_COUNT] = calloc(nn, sizeof(*cu));
  double *meas = calloc(nn, sizeof(double));
  double *err = malloc(sizeof(double) * nn);
  bool *ok = calloc(nn, sizeof(bool)), *use = calloc(nn, sizeof(bool));
  int *nk = calloc(nn, sizeof(int)), *fold = calloc(nn, sizeof(int));
  hant_infer_kernel **ks = calloc(nn, sizeof(*ks));
  /* per table row: the fold of the networks that run its shape, -1 when
   * none does, -2 when networks of several folds (or unmeasured ones) do */
  int *row_fold = malloc(sizeof(int) * nr);
  hant_kernel_rec *kept = malloc(sizeof(*kept) * nr);
  hant_kernelmodel fm = {0};
  int rc = 0, k = 0;
  if (!cu || !meas || !err || !ok || !use || !nk || !fold || !ks || !row_fold || !kept) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 0; i < n; i++) {
    if (pred_ms)
      pred_ms[i] = 0;
    fold[i] = -2;
    if (!nets[i])
      continue;
    if ((rc = net_kernels(nets[i], &ks[i], &nk[i])))
      goto out;
    if (!(measured_ms[i] > 0))
      continue;
    ok[i] = nk[i] > 0, meas[i] = measured_ms[i] * 1e3;
    k += ok[i];
  }
  if (k < 2) {
    rc = hant__error(HANT_EINVAL, "kernel model: need at least 2 measured networks that run kernels, got %d", k);
    goto out;
  }
  if (folds < 2)
    folds = 2;
  if (folds > k)
    folds = k;
  /* Fold j holds the j-th, (j + folds)-th, ... usable network. */
  for (int i = 0, pos = 0; i < n; i++)
    if (ok[i])
      fold[i] = pos++ % folds;
  for (int t = 0; t < m->n_rows; t++) {
    row_fold[t] = -1;
    for (int i = 0; i < n && row_fold[t] != -2; i++)
      for (int j = 0; j < nk[i]; j++) {
        hant_infer_kernel q = measurable(&ks[i][j]);
        if (hant_infer_kernel_same(&m->rows[t].k, &q)) {
          row_fold[t] = row_fold[t] == -1 || row_fold[t] == fold[i] ? fold[i] : -2;
          break;
        }
      }
    r->shared_rows += row_fold[t] != -1;
  }
  int ne = 0, held = 0;
  for (int j = 0; j < folds; j++) {
    int nkept = 0;
    for (int t = 0; t < m->n_rows; t++)
      if (row_fold[t] != j)
        kept[nkept++] = m->rows[t];
    held += m->n_rows - nkept;
    const hant_kernelmodel *jm = m;
    if (nkept < m->n_rows) {
      if ((rc = hant_kernelmodel_fit(kept, nkept, &fm)))
        goto out;
      jm = &fm;
    }
    for (int i = 0; i < n && !rc; i++)
      if (ok[i])
        rc = kernels_classes(jm, ks[i], nk[i], cu[i]);
    if (rc)
      goto out;
    for (int i = 0; i < n; i++)
      use[i] = ok[i] && fold[i] != j;
    double f, pk, a[HANT_KCLASS_COUNT];
    hant_kernelmodel_compose_fit((const double(*)[HANT_KCLASS_COUNT])cu, nk, meas, use, n, &f, &pk, a);
    for (int i = 0; i < n; i++) {
      if (!ok[i] || fold[i] != j)
        continue;
      double p = f + pk * nk[i];
      for (int c = 0; c < HANT_KCLASS_COUNT; c++)
        p += a[c] * cu[i][c];
      if (pred_ms)
        pred_ms[i] = p * 1e-3;
      err[ne++] = (p - meas[i]) / meas[i];
    }
    hant_kernelmodel_free(&fm);
  }
  hant_calib_error_summarise(err, ne, &r->held);
  for (int i = 0; i < n && !rc; i++)
    if (ok[i])
      rc = kernels_classes(m, ks[i], nk[i], cu[i]);
  if (rc)
    goto out;
  hant_kernelmodel_compose_fit((const double(*)[HANT_KCLASS_COUNT])cu, nk, meas, ok, n, &m->fixed_us,
                               &m->per_kernel_us, m->compose);
  r->fixed_us = m->fixed_us, r->per_kernel_us = m->per_kernel_us, r->folds = folds, r->samples = k;
  r->held_rows = (double)held / folds;
out:
  hant_kernelmodel_free(&fm);
  for (int i = 0; ks && i < n; i++)
    free(ks[i]);
  free(cu), free(meas), free(err), free(ok), free(use), free(nk), free(fold), free(ks), free(row_fold), free(kept);
  return rc;
}

/* ---- the sweep ---------------------------------------------------------- */

void hant_kernel_sweep_opts_default(hant_kernel_sweep_opts *o) {
  *o = (hant_kernel_sweep_opts){.seed = 1, .scale = 1, .c_max = 384, .hw_max = 32};
}

/* Configurations per class at scale 1: most where shapes vary most. */
static const int class_counts[] = {200, 100, 100, 150, 50, 40, 20};
_Static_assert(sizeof(class_counts) / sizeof(class_counts[0]) == HANT_KCLASS_COUNT, "a count per kernel class");

static double unif(hant_rng *r) { return hant_rng_uniform(r); }

/* Channels log-uniform in [lo, hi], half of them rounded to a multiple of
 * 8 (the widths blocked layouts favour), half left odd-sized (pruned and
 * low-rank widths are). */
static int channels(hant_rng *r, int lo, int hi) {
  int c = (int)lround(exp(log(lo) + unif(r) * (log(hi) - log(lo))));
  if (unif(r) < 0.5 && c >= 8)
    c = (c + 4) / 8 * 8;
  return c < lo ? lo : c > hi ? hi : c;
}

/* Input sides: mostly the sides a 28x28 network's stages run at, the rest
 * anywhere up to hw_max. */
static int side(hant_rng *r, int hw_max) {
  static const int common[] = {7, 14, 28};
  if (unif(r) < 0.6) {
    int h = common[hant_rng_below(r, 3)];
    return h <= hw_max ? h : hw_max;
  }
  return 3 + (int)hant_rng_below(r, (uint32_t)(hw_max - 2));
}

static hant_act any_act(hant_rng *r) {
  static const hant_act acts[] = {HANT_ACT_NONE, HANT_ACT_RELU, HANT_ACT_RELU, HANT_ACT_RELU6, HANT_ACT_HSWISH};
  return acts[hant_rng_below(r, 5)];
}

static void conv_kernel(hant_infer_kernel *k, int c_in, int c_out, int h, int kh, int kw, int s, int g, hant_rng *r,
                        bool allow_sum) {
  hant_conv_desc d = {.c_in = c_in, .c_out = c_out, .kh = kh, .kw = kw, .sh = s, .sw = s, .ph = kh / 2, .pw = kw / 2,
                      .groups = g};
  *k = (hant_infer_kernel){.op = HANT_OP_CONV, .c_in = c_in, .h_in = h, .w_in = h, .c_out = c_out,
                           .h_out = hant_conv_out_h(&d, h), .w_out = hant_conv_out_w(&d, h), .conv = d,
                           .bn = unif(r) < 0.5, .act = any_act(r)};
  if (allow_sum && s == 1 && c_in == c_out && unif(r) < 0.5)
    k->sum = k->sum_copy = true;
}

int hant_kernel_sweep(const hant_kernel_sweep_opts *o, hant_infer_kernel **out, int *n) {
  *out = NULL;
  *n = 0;
  if (!(o->scale > 0) || o->c_max < 8 || o->hw_max < 7)
    return hant__error(HANT_EINVAL, "kernel sweep: need scale > 0, c_max >= 8 and hw_max >= 7");
  int total = 0, counts[HANT_KCLASS_COUNT];
  for (int c = 0; c < HANT_KCLASS_COUNT; c++)
    total += counts[c] = (int)ceil(class_counts[c] * o->scale - 1e-9);
  hant_infer_kernel *ks = calloc((size_t)total, sizeof(*ks));
  if (!ks)
    return HANT_ENOMEM;
  hant_rng r;
  hant_rng_seed(&r, o->seed);
  int m = 0, cm = o->c_max;
  static const int taps[][2] = {{3, 3}, {3, 3}, {3, 3}, {5, 5}, {7, 7}, {1, 3}, {3, 1}, {1, 5}, {5, 1}, {1, 7}, {7, 1}};
  for (int i = 0; i < counts[HANT_KCLASS_CONV]; i++) {
    int t = (int)hant_rng_below(&r, 11), s = unif(&r) < 0.6 ? 1 : 2, h = side(&r, o->hw_max);
    /* a fifth with an image's few input channels, as a first layer has */
    int ci = unif(&r) < 0.2 ? 1 + (int)hant_rng_below(&r, 3) : channels(&r, 2, cm / 2);
    int co = unif(&r) < 0.3 ? ci : channels(&r, 2, cm / 2);
    conv_kernel(&ks[m++], ci, co, h, taps[t][0], taps[t][1], s, 1, &r, true);
  }
  for (int i = 0; i < counts[HANT_KCLASS_CONV1X1]; i++) {
    int s = unif(&r) < 0.75 ? 1 : 2, h = side(&r, o->hw_max), ci = channels(&r, 2, cm);
    int co = unif(&r) < 0.2 ? ci : channels(&r, 2, cm);
    conv_kernel(&ks[m++], ci, co, h, 1, 1, s, 1, &r, true);
  }
  for (int i = 0; i < counts[HANT_KCLASS_DEPTHWISE]; i++) {
    int kk = 3 + 2 * (int)hant_rng_below(&r, 3), s = unif(&r) < 0.6 ? 1 : 2, h = side(&r, o->hw_max);
    int c = channels(&r, 2, cm);
    conv_kernel(&ks[m++], c, c, h, kk, kk, s, c, &r, false);
  }
  for (int i = 0; i < counts[HANT_KCLASS_GROUPED]; i++) {
    int g = 2 << hant_rng_below(&r, 3), s = unif(&r) < 0.6 ? 1 : 2, h = side(&r, o->hw_max);
    int kk = unif(&r) < 0.7 ? 3 : unif(&r) < 0.5 ? 1 : 5;
    int ci = g * channels(&r, 1, cm / 2 / g > 1 ? cm / 2 / g : 1);
    int co = unif(&r) < 0.4 ? ci : g * channels(&r, 1, cm / 2 / g > 1 ? cm / 2 / g : 1);
    if (ci == g && co == g)
      co = 2 * g; /* keep it grouped, not depthwise */
    conv_kernel(&ks[m++], ci, co, h, kk, kk, s, g, &r, true);
  }
  for (int i = 0; i < counts[HANT_KCLASS_LINEAR]; i++) {
    int in = channels(&r, 4, 1024), outc = channels(&r, 1, 256);
    ks[m++] = (hant_infer_kernel){.op = HANT_OP_LINEAR, .c_in = in, .h_in = 1, .w_in = 1, .c_out = outc,
                                  .h_out = 1, .w_out = 1};
  }
  for (int i = 0; i < counts[HANT_KCLASS_POOL]; i++) {
    int c = channels(&r, 1, cm), h = side(&r, o->hw_max), kind = (int)hant_rng_below(&r, 3);
    hant_infer_kernel *k = &ks[m++];
    *k = (hant_infer_kernel){.c_in = c, .h_in = h, .w_in = h, .c_out = c, .h_out = 1, .w_out = 1};
    if (kind == 2) {
      k->op = HANT_OP_GAP;
    } else {
      k->op = kind ? HANT_OP_AVGPOOL : HANT_OP_MAXPOOL;
      k->pool = (hant_pool_desc){.k = 2 + (int)hant_rng_below(&r, 2), .s = 2, .p = 0, .count_include_pad = true};
      k->h_out = k->w_out = hant_pool_out(&k->pool, h);
    }
  }
  for (int i = 0; i < counts[HANT_KCLASS_ELTWISE]; i++) {
    static const hant_op ops[] = {HANT_OP_ACT, HANT_OP_ADD, HANT_OP_BN, HANT_OP_FLATTEN};
    int c = channels(&r, 2, cm), h = side(&r, o->hw_max);
    hant_infer_kernel *k = &ks[m++];
    *k = (hant_infer_kernel){.op = ops[hant_rng_below(&r, 4)], .c_in = c, .h_in = h, .w_in = h, .c_out = c,
                             .h_out = h, .w_out = h};
    if (k->op == HANT_OP_ACT)
      k->act = HANT_ACT_RELU + (int)hant_rng_below(&r, 3);
    if (k->op == HANT_OP_FLATTEN)
      k->c_out = c * h * h, k->h_out = k->w_out = 1;
  }
  *out = ks;
  *n = m;
  return 0;
}

int hant_kernel_net(const hant_infer_kernel *k, hant_net **out) {
  *out = NULL;
  hant_net *net = hant_net_new(k->c_in, k->h_in, k->w_in);
  if (!net)
    return HANT_ENOMEM;
  int x = 0;
  switch (k->op) {
  case HANT_OP_CONV:
    x = hant_net_conv(net, 0, &k->conv, !k->bn);
    if (x >= 0 && k->bn)
      x = hant_net_bn(net, x);
    if (x >= 0 && k->sum)
      x = hant_net_add(net, x, 0);
    if (x >= 0 && k->act != HANT_ACT_NONE)
      x = hant_net_act(net, x, k->act);
    break;
  case HANT_OP_LINEAR:
    x = hant_net_linear(net, 0, k->c_out, true);
    break;
  case HANT_OP_MAXPOOL:
    x = hant_net_maxpool(net, 0, &k->pool);
    break;
  case HANT_OP_AVGPOOL:
    x = hant_net_avgpool(net, 0, &k->pool);
    break;
  case HANT_OP_GAP:
    x = hant_net_gap(net, 0);
    break;
  case HANT_OP_ACT:
    x = hant_net_act(net, 0, k->act);
    break;
  case HANT_OP_ADD:
    x = hant_net_add(net, 0, 0);
    break;
  case HANT_OP_BN:
    x = hant_net_bn(net, 0);
    break;
  case HANT_OP_FLATTEN:
    x = hant_net_flatten(net, 0);
    break;
  default:
    x = hant__error(HANT_EINVAL, "kernel sweep: op %s is not a kernel", hant_op_name(k->op));
  }
  if (x < 0) {
    hant_net_destroy(net);
    return x;
  }
  hant_rng r;
  hant_rng_seed(&r, 7);
  hant_net_init_params(net, &r);
  *out = net;
  return 0;
}

int hant_kernel_measure(const hant_infer_kernel *k, const hant_measure_opts *mo, hant_measure_result *r) {
  hant_net *net = NULL;
  int rc = hant_kernel_net(k, &net);
  if (rc)
    return rc;
  rc = hant_measure_net(net, mo, r);
  hant_net_destroy(net);
  return rc;
}

static int cmp_pass(const void *a, const void *b) {
  const hant_kernel_rec *x = a, *y = b;
  return (x->latency_us > y->latency_us) - (x->latency_us < y->latency_us);
}

int hant_kernel_sweep_measure(const hant_kernel_sweep_opts *so, const hant_measure_opts *mo, int passes,
                              const char *cpu, hant_kernel_progress_fn progress, void *user, hant_kernel_rec **out,
                              int *n) {
  *out = NULL;
  *n = 0;
  if (passes < 1)
    passes = 1;
  hant_infer_kernel *ks = NULL;
  int nk = 0, rc = hant_kernel_sweep(so, &ks, &nk);
  if (rc)
    return rc;
  if (so->n_extra > 0) {
    hant_infer_kernel *t = realloc(ks, sizeof(*ks) * (size_t)(nk + so->n_extra));
    if (!t) {
      free(ks);
      return HANT_ENOMEM;
    }
    ks = t;
    memcpy(ks + nk, so->extra, sizeof(*ks) * (size_t)so->n_extra);
    nk += so->n_extra;
  }
  hant_kernel_rec *recs = calloc((size_t)nk, sizeof(*recs)), *all = calloc((size_t)nk * passes, sizeof(*all));
  if (!recs || !all) {
    free(ks), free(recs), free(all);
    return HANT_ENOMEM;
  }
  char now[32];
  hant_store_now(now);
  /* Passes go over all kernels in turn, as the candidates' do, so a burst
   * of load hits one pass of a kernel rather than all its samples. */
  for (int p = 0; p < passes && !rc; p++)
    for (int i = 0; i < nk; i++) {
      hant_measure_result mr;
      if ((rc = hant_kernel_measure(&ks[i], mo, &mr)))
        break;
      hant_kernel_rec *r = &all[(size_t)i * passes + p];
      snprintf(r->cpu, sizeof(r->cpu), "%s", cpu);
      snprintf(r->created, sizeof(r->created), "%s", now);
      r->threads = mr.threads, r->batch = mo->batch, r->k = ks[i];
      r->latency_us = mr.latency_ms * 1e3, r->spread = mr.spread, r->samples = mr.samples;
      if (progress)
        progress(user, p * nk + i + 1, nk * passes, r);
    }
  for (int i = 0; i < nk && !rc; i++) {
    qsort(&all[(size_t)i * passes], (size_t)passes, sizeof(*all), cmp_pass);
    recs[i] = all[(size_t)i * passes + (passes - 1) / 2];
  }
  free(ks);
  free(all);
  if (rc) {
    free(recs);
    return rc;
  }
  *out = recs;
  *n = nk;
  return 0;
}

int hant_kernelmodel_load(hant_store *st, const char *cpu, int threads, int batch, hant_kernelmodel *m, char *foreign,
                          size_t foreign_len) {
  memset(m, 0, sizeof(*m));
  if (foreign && foreign_len)
    foreign[0] = '\0';
  hant_kernel_rec *recs = NULL;
  int n = 0, rc = hant_store_kernels(st, cpu, threads, batch, &recs, &n);
  if (rc)
    return rc;
  if (n) {
    rc = hant_kernelmodel_fit(recs, n, m);
    free(recs);
    return rc;
  }
  hant_kernel_key *keys = NULL;
  int nkeys = 0;
  if ((rc = hant_store_kernel_keys(st, &keys, &nkeys)))
    return rc;
  bool same_cpu = false;
  for (int i = 0; i < nkeys; i++)
    same_cpu |= !strcmp(keys[i].cpu, cpu);
  if (nkeys && same_cpu && foreign && foreign_len)
    snprintf(foreign, foreign_len,
             "%s: its host kernel tables of this CPU ('%s') are for other thread counts or batch sizes than %d "
             "thread%s, batch %d",
             hant_store_path(st), cpu, threads, threads == 1 ? "" : "s", batch);
  else if (nkeys && foreign && foreign_len)
    snprintf(foreign, foreign_len,
             "%s: its host kernel table was measured on '%s' (%d thread%s, batch %d, %d kernels, %s)%s; this is '%s' "
             "(%d thread%s, batch %d): that table is foreign here and is not used",
             hant_store_path(st), keys[0].cpu, keys[0].threads, keys[0].threads == 1 ? "" : "s", keys[0].batch,
             keys[0].rows, keys[0].created, nkeys > 1 ? " among others" : "", cpu, threads, threads == 1 ? "" : "s",
             batch);
  free(keys);
  return hant__error(HANT_ENOENT, "%s: no host kernel table for '%s' at %d thread%s, batch %d", hant_store_path(st),
                     cpu, threads, threads == 1 ? "" : "s", batch);
}

static void json_err(hant_jsonw *w, const char *key, const hant_calib_error *e) {
  hant_jsonw_key(w, key);
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "n"), hant_jsonw_int(w, e->n);
  hant_jsonw_key(w, "median"), hant_jsonw_numf(w, "%.6g", e->median);
  hant_jsonw_key(w, "p90"), hant_jsonw_numf(w, "%.6g", e->p90);
  hant_jsonw_key(w, "within10"), hant_jsonw_numf(w, "%.6g", e->within10);
  hant_jsonw_obj_end(w);
}

int hant_kernelmodel_store_meta(hant_store *st, const char *device, const hant_kernelmodel *m,
                                const hant_kernelmodel_report *r) {
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, m->cpu);
  hant_jsonw_key(&w, "threads"), hant_jsonw_int(&w, m->threads);
  hant_jsonw_key(&w, "batch"), hant_jsonw_int(&w, m->batch);
  hant_jsonw_key(&w, "fixed_us"), hant_jsonw_numf(&w, "%.6g", m->fixed_us);
  hant_jsonw_key(&w, "per_kernel_us"), hant_jsonw_numf(&w, "%.6g", m->per_kernel_us);
  hant_jsonw_key(&w, "folds"), hant_jsonw_int(&w, r->folds);
  json_err(&w, "held_out_error", &r->held);
  hant_jsonw_key(&w, "classes");
  hant_jsonw_obj_begin(&w);
  for (int c = 0; c < HANT_KCLASS_COUNT; c++) {
    const hant_kclass_fit *cf = &m->cls[c];
    hant_jsonw_key(&w, class_names[c]);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "kernels"), hant_jsonw_int(&w, cf->n);
    hant_jsonw_key(&w, "form"), hant_jsonw_str(&w, cf->form == HANT_KFORM_LOG ? "log" : "additive");
    hant_jsonw_key(&w, "channel_block"), hant_jsonw_int(&w, cf->block);
    hant_jsonw_key(&w, "compose"), hant_jsonw_numf(&w, "%.6g", m->compose[c]);
    hant_jsonw_key(&w, "neighbours"), hant_jsonw_int(&w, cf->k);
    json_err(&w, "leave_one_out_error", &cf->loo);
    hant_jsonw_obj_end(&w);
  }
  hant_jsonw_obj_end(&w);
  hant_jsonw_obj_end(&w);
  char *val = hant_jsonw_take(&w);
  if (!val)
    return HANT_ENOMEM;
  char key[96];
  snprintf(key, sizeof(key), "kernelmodel.%s", device);
  int rc = hant_store_meta_put(st, key, val);
  free(val);
  return rc;
}
