/* SPDX-License-Identifier: MIT */
/* family_lsq.c: least-squares initialisation of a candidate's last convolution from the teacher's features. */
#include "family_lsq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "gemm.h"
#include "svd.h"

struct hant_lsq {
  hant_net *net;
  int conv, bn;  /* the last conv, and the BN after it or -1 */
  int hidden;    /* the node feeding the conv: H */
  hant_act act;  /* the activation that ends the candidate, or none */
  int skip;      /* the node added after the conv (and BN): the block's input (0) or its shortcut; -1 for none */
  hant_conv_desc cd;
  bool direct;   /* a 1x1 conv of stride 1 in one group: H itself is the feature matrix */
  int groups;    /* the conv's groups: one regression each */
  int d, kg;     /* features (input channels of a group x kernel taps) and outputs of a group */
  int cout;
  long batches;  /* batches added */
  double rows;   /* feature rows (output pixels) accumulated */
  /* Sums over rows, in double: a float sum of a million products would
   * lose the digits the centring below subtracts. One block per group. */
  double *hh;    /* [groups, d, d]: sum h h^T */
  double *ht;    /* [groups, d, kg]: sum h t^T */
  double *sh;    /* [groups, d]: sum h */
  double *st;    /* [cout]: sum t */
};

/* Whether node i takes the block's input as it is or through a
 * convolution (and BN) of its own: a shortcut, not the main path. */
static bool reads_block_input(const hant_net *net, int i) {
  if (i == 0)
    return true;
  if (net->nodes[i].op == HANT_OP_BN)
    i = net->nodes[i].in[0];
  return net->nodes[i].op == HANT_OP_CONV && net->nodes[i].in[0] == 0;
}

int hant_lsq_new(hant_net *cand, hant_lsq **out) {
  *out = NULL;
  int o = hant_net_output(cand);
  hant_act act = HANT_ACT_NONE;
  int skip = -1;
  /* The ending, outermost first: an activation (only as the very last
   * node, so that the target can be taken before it), an add of the
   * block's input or of a shortcut that reads it, a BN, the conv. */
  if (cand->nodes[o].op == HANT_OP_ACT) {
    act = cand->nodes[o].act;
    o = cand->nodes[o].in[0];
  }
  if (cand->nodes[o].op == HANT_OP_ADD) {
    int a = cand->nodes[o].in[0], b = cand->nodes[o].in[1];
    bool ra = reads_block_input(cand, a), rb = reads_block_input(cand, b);
    if (b == 0 || (a != 0 && rb && !ra))
      skip = b, o = a;
    else if (a == 0 || (ra && !rb))
      skip = a, o = b;
  }
  int bn = -1;
  if (cand->nodes[o].op == HANT_OP_BN) {
    bn = o;
    o = cand->nodes[o].in[0];
  }
  const hant_node *c = &cand->nodes[o];
  if (c->op != HANT_OP_CONV || c->conv.kh * c->conv.kw * (c->conv.c_in / c->conv.groups) > HANT_LSQ_MAX_FEATURES)
    return hant__error(HANT_ENOTSUP,
                       "least-squares init: candidate '%s' does not end in a convolution of at most %d inputs per "
                       "output (then BN, activation, or an add of its input or of a shortcut)",
                       cand->arch ? cand->arch : "?", HANT_LSQ_MAX_FEATURES);
  if (bn < 0 && c->param[1] < 0)
    return hant__error(HANT_ENOTSUP, "least-squares init: candidate '%s' ends in a conv with neither BN nor bias",
                       cand->arch ? cand->arch : "?");
  hant_lsq *q = calloc(1, sizeof(*q));
  if (!q)
    return HANT_ENOMEM;
  q->net = cand, q->conv = o, q->bn = bn, q->hidden = c->in[0], q->act = act, q->skip = skip, q->cd = c->conv;
  q->groups = c->conv.groups;
  q->direct = c->conv.kh == 1 && c->conv.kw == 1 && c->conv.sh == 1 && c->conv.sw == 1 && c->conv.ph == 0 &&
              c->conv.pw == 0 && q->groups == 1;
  q->d = c->conv.c_in / q->groups * c->conv.kh * c->conv.kw;
  q->cout = c->c, q->kg = c->c / q->groups;
  size_t g = (size_t)q->groups, d = (size_t)q->d, k = (size_t)q->kg;
  q->hh = calloc(g * d * d, sizeof(double));
  q->ht = calloc(g * d * k, sizeof(double));
  q->sh = calloc(g * d, sizeof(double));
  q->st = calloc((size_t)q->cout, sizeof(double));
  if (!q->hh || !q->ht || !q->sh || !q->st) {
    hant_lsq_destroy(q);
    return HANT_ENOMEM;
  }
  *out = q;
  return 0;
}

void hant_lsq_destroy(hant_lsq *q) {
  if (!q)
    return;
  free(q->hh);
  free(q->ht);
  free(q->sh);
  free(q->st);
  free(q);
}

/* The receptive fields of group gi's outputs as rows of `f` [m, d]: for
 * output pixel (n, y, x), input channel c of the group and tap (dy, dx),
 * column c * kh * kw + dy * kw + dx, the order of the weight [K, C/g, kh,
 * kw]; taps in the padding are 0. h is channels last. */
static void patches(const hant_lsq *q, const float *h, int n, int hin, int win, int ho, int wo, int gi, float *f) {
  const hant_conv_desc *cd = &q->cd;
  int cin = cd->c_in, cg = cin / q->groups, kk = cd->kh * cd->kw;
  size_t r = 0;
  for (int b = 0; b < n; b++)
    for (int y = 0; y < ho; y++)
      for (int x = 0; x < wo; x++, r++) {
        float *row = f + r * (size_t)q->d;
        for (int dy = 0; dy < cd->kh; dy++)
          for (int dx = 0; dx < cd->kw; dx++) {
            int iy = y * cd->sh - cd->ph + dy, ix = x * cd->sw - cd->pw + dx, tap = dy * cd->kw + dx;
            bool in = iy >= 0 && iy < hin && ix >= 0 && ix < win;
            const float *src = in ? h + (((size_t)b * hin + iy) * win + ix) * cin + (size_t)gi * cg : NULL;
            for (int c = 0; c < cg; c++)
              row[c * kk + tap] = in ? src[c] : 0.0f;
          }
      }
}

int hant_lsq_add(hant_lsq *q, hant_pass *p, const float *x, const float *y, const float *z, int n) {
  hant_net *net = q->net;
  for (int i = 0; i < net->n_nodes; i++)
    if (net->nodes[i].op == HANT_OP_BN)
      net->nodes[i].bn_momentum = 1.0f / (float)(q->batches + 1);
  int rc = hant_net_forward(net, p, x, n, true);
  for (int i = 0; i < net->n_nodes; i++)
    if (net->nodes[i].op == HANT_OP_BN)
      net->nodes[i].bn_momentum = 0.1f;
  if (rc)
    return rc;
  const hant_node *cn = &net->nodes[q->conv], *hn = &net->nodes[q->hidden];
  int d = q->d, kg = q->kg, k = q->cout, m = n * cn->h * cn->w;
  const float *h = p->out[q->hidden];
  float *t = malloc(sizeof(float) * (size_t)m * (size_t)k);
  float *hh = malloc(sizeof(float) * (size_t)d * (size_t)d), *ht = malloc(sizeof(float) * (size_t)d * (size_t)kg);
  float *f = q->direct ? NULL : malloc(sizeof(float) * (size_t)m * (size_t)d);
  if (!t || !hh || !ht || (!q->direct && !f)) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* Channels last: a node's output is a [pixels, channels] matrix. */
  const float *tgt = q->act != HANT_ACT_NONE && z ? z : y;
  const float *sk = q->skip < 0 ? NULL : q->skip == 0 ? x : p->out[q->skip];
  for (size_t i = 0; i < (size_t)m * k; i++)
    t[i] = tgt[i] - (sk ? sk[i] : 0.0f);
  for (int g = 0; g < q->groups; g++) {
    const float *fg = h;
    if (!q->direct) {
      patches(q, h, n, hn->h, hn->w, cn->h, cn->w, g, f);
      fg = f;
    }
    hant_gemm(true, false, d, d, m, 1.0f, fg, d, fg, d, 0.0f, hh, d);
    hant_gemm(true, false, d, kg, m, 1.0f, fg, d, t + (size_t)g * kg, k, 0.0f, ht, kg);
    double *ghh = q->hh + (size_t)g * d * d, *ght = q->ht + (size_t)g * d * kg, *gsh = q->sh + (size_t)g * d;
    for (size_t i = 0; i < (size_t)d * d; i++)
      ghh[i] += hh[i];
    for (size_t i = 0; i < (size_t)d * kg; i++)
      ght[i] += ht[i];
    for (int r = 0; r < m; r++)
      for (int j = 0; j < d; j++)
        gsh[j] += fg[(size_t)r * d + j];
  }
  for (int r = 0; r < m; r++)
    for (int j = 0; j < k; j++)
      q->st[j] += t[(size_t)r * k + j];
  q->rows += m;
  q->batches++;
out:
  free(t);
  free(hh);
  free(ht);
  free(f);
  return rc;
}

/* One group's regression: its weights [kg outputs, d features] into the
 * conv's weight rows g*kg.. and the BN or bias that carries the offset. */
static int solve_group(hant_lsq *q, int g, double ridge, float *cov, float *u, float *s, float *vt, float *r, float *a,
                       float *w, double *mh, double *mt) {
  int d = q->d, k = q->kg, k0 = g * q->kg;
  double rows = q->rows;
  const double *hh = q->hh + (size_t)g * d * d, *ht = q->ht + (size_t)g * d * k, *sh = q->sh + (size_t)g * d;
  /* Centred when an offset can be carried (always: BN or bias), so the
   * map fits the features' variation and the offset their means. */
  for (int i = 0; i < d; i++)
    mh[i] = sh[i] / rows;
  for (int j = 0; j < k; j++)
    mt[j] = q->st[k0 + j] / rows;
  double trace = 0;
  for (int i = 0; i < d; i++) {
    for (int j = 0; j < d; j++)
      cov[(size_t)i * d + j] = (float)(hh[(size_t)i * d + j] / rows - mh[i] * mh[j]);
    for (int j = 0; j < k; j++)
      r[(size_t)i * k + j] = (float)(ht[(size_t)i * k + j] / rows - mh[i] * mt[j]);
    trace += cov[(size_t)i * d + i];
  }
  /* cov = U S V^T is symmetric, so (cov + lambda I)^-1 = V (S + lambda)^-1 U^T;
   * the ridge keeps directions of dead hidden channels (ReLU) at zero. */
  int rc = hant_svd(d, d, cov, u, s, vt);
  if (rc)
    return rc;
  double lambda = ridge * trace / d;
  if (!(lambda > 0))
    lambda = 1e-12;
  /* a = U^T r, scaled row by row, then A = V a: [d, k]. */
  hant_gemm(true, false, d, k, d, 1.0f, u, d, r, k, 0.0f, a, k);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < k; j++)
      a[(size_t)i * k + j] = (float)(a[(size_t)i * k + j] / ((double)s[i] + lambda));
  hant_gemm(true, false, d, k, d, 1.0f, vt, d, a, k, 0.0f, w, k);
  /* w is [d, k] = W^T; the conv's weight is [K, C/g, kh, kw], whose rows
   * of group g are its outputs k0.. over the columns patches() lays out. */
  hant_net *net = q->net;
  const hant_node *cn = &net->nodes[q->conv];
  float *cw = net->params[cn->param[0]].w;
  for (int o = 0; o < k; o++)
    for (int i = 0; i < d; i++)
      cw[(size_t)(k0 + o) * d + i] = w[(size_t)i * k + o];
  for (int o = 0; o < k; o++) {
    /* The map's output z = W h: its mean and variance over the rows. */
    double zm = 0, zv = 0;
    for (int i = 0; i < d; i++)
      zm += (double)w[(size_t)i * k + o] * mh[i];
    for (int i = 0; i < d; i++) {
      double acc = 0;
      for (int j = 0; j < d; j++)
        acc += (double)cov[(size_t)i * d + j] * w[(size_t)j * k + o];
      zv += (double)w[(size_t)i * k + o] * acc;
    }
    zv = zv > 0 ? zv : 0;
    if (q->bn >= 0) {
      /* BN(z) = (z - zm) / sqrt(zv + eps) * gamma + beta with gamma =
       * sqrt(zv + eps) and beta = mt is W (h - mean h) + mean t: the
       * fitted map, in train mode (batch statistics near zm, zv) and in
       * eval mode alike. A conv bias before BN would cancel: zero it. */
      const hant_node *bn = &net->nodes[q->bn];
      net->params[bn->param[0]].w[k0 + o] = (float)sqrt(zv + bn->bn_eps);
      net->params[bn->param[1]].w[k0 + o] = (float)mt[o];
      net->params[bn->param[2]].w[k0 + o] = (float)zm;
      net->params[bn->param[3]].w[k0 + o] = (float)zv;
      if (cn->param[1] >= 0)
        net->params[cn->param[1]].w[k0 + o] = 0.0f;
    } else {
      net->params[cn->param[1]].w[k0 + o] = (float)(mt[o] - zm);
    }
  }
  return 0;
}

int hant_lsq_solve(hant_lsq *q, double ridge) {
  if (q->batches == 0 || q->rows < 1)
    return hant__error(HANT_EINVAL, "least-squares init: no features were added");
  int d = q->d, k = q->kg, rc = 0;
  float *cov = malloc(sizeof(float) * (size_t)d * d), *u = malloc(sizeof(float) * (size_t)d * d),
        *s = malloc(sizeof(float) * (size_t)d), *vt = malloc(sizeof(float) * (size_t)d * d),
        *r = malloc(sizeof(float) * (size_t)d * k), *a = malloc(sizeof(float) * (size_t)d * k),
        *w = malloc(sizeof(float) * (size_t)d * k);
  double *mh = malloc(sizeof(double) * (size_t)d), *mt = malloc(sizeof(double) * (size_t)k);
  if (!cov || !u || !s || !vt || !r || !a || !w || !mh || !mt)
    rc = HANT_ENOMEM;
  for (int g = 0; g < q->groups && !rc; g++)
    rc = solve_group(q, g, ridge, cov, u, s, vt, r, a, w, mh, mt);
  free(cov);
  free(u);
  free(s);
  free(vt);
  free(r);
  free(a);
  free(w);
  free(mh);
  free(mt);
  return rc;
}
