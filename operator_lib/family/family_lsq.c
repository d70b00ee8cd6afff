/* SPDX-License-Identifier: MIT */
/* family_lsq.c: least-squares initialisation of a candidate's last 1x1 convolution from the teacher's features. */
#include "family_lsq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "gemm.h"
#include "svd.h"

struct hant_lsq {
  hant_net *net;
  int conv, bn;  /* the last 1x1 conv, and the BN after it or -1 */
  int hidden;    /* the node feeding the conv: H */
  hant_act act;  /* the activation that ends the candidate, or none */
  bool skip;     /* the candidate adds its input after the conv (and BN) */
  int d, cout;   /* hidden and output channels */
  long batches;  /* batches added */
  double rows;   /* feature rows (pixels) accumulated */
  /* Sums over rows, in double: a float sum of a million products would
   * lose the digits the centring below subtracts. */
  double *hh;    /* [d, d]: sum h h^T */
  double *ht;    /* [d, cout]: sum h t^T */
  double *sh;    /* [d]: sum h */
  double *st;    /* [cout]: sum t */
};

int hant_lsq_new(hant_net *cand, hant_lsq **out) {
  *out = NULL;
  int o = hant_net_output(cand);
  hant_act act = HANT_ACT_NONE;
  bool skip = false;
  /* The ending, outermost first: an activation (only as the very last
   * node, so that the target can be taken before it), an add of the
   * input, a BN, the conv. */
  if (cand->nodes[o].op == HANT_OP_ACT) {
    act = cand->nodes[o].act;
    o = cand->nodes[o].in[0];
  }
  if (cand->nodes[o].op == HANT_OP_ADD && (cand->nodes[o].in[0] == 0 || cand->nodes[o].in[1] == 0)) {
    skip = true;
    o = cand->nodes[o].in[0] == 0 ? cand->nodes[o].in[1] : cand->nodes[o].in[0];
  }
  int bn = -1;
  if (cand->nodes[o].op == HANT_OP_BN) {
    bn = o;
    o = cand->nodes[o].in[0];
  }
  const hant_node *c = &cand->nodes[o];
  if (c->op != HANT_OP_CONV || c->conv.kh != 1 || c->conv.kw != 1 || c->conv.groups != 1 || c->conv.sh != 1 ||
      c->conv.sw != 1)
    return hant__error(HANT_ENOTSUP,
                       "least-squares init: candidate '%s' does not end in a 1x1 convolution of one group "
                       "(then BN, activation or an add of its input)",
                       cand->arch ? cand->arch : "?");
  if (bn < 0 && c->param[1] < 0)
    return hant__error(HANT_ENOTSUP, "least-squares init: candidate '%s' ends in a conv with neither BN nor bias",
                       cand->arch ? cand->arch : "?");
  hant_lsq *q = calloc(1, sizeof(*q));
  if (!q)
    return HANT_ENOMEM;
  q->net = cand, q->conv = o, q->bn = bn, q->hidden = c->in[0], q->act = act, q->skip = skip;
  q->d = cand->nodes[q->hidden].c, q->cout = c->c;
  size_t d = (size_t)q->d, k = (size_t)q->cout;
  q->hh = calloc(d * d, sizeof(double));
  q->ht = calloc(d * k, sizeof(double));
  q->sh = calloc(d, sizeof(double));
  q->st = calloc(k, sizeof(double));
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
  const hant_node *cn = &net->nodes[q->conv];
  int d = q->d, k = q->cout, m = n * cn->h * cn->w;
  const float *h = p->out[q->hidden];
  float *t = malloc(sizeof(float) * (size_t)m * (size_t)k);
  float *hh = malloc(sizeof(float) * (size_t)d * (size_t)d), *ht = malloc(sizeof(float) * (size_t)d * (size_t)k);
  if (!t || !hh || !ht) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* Channels last: a node's output is a [pixels, channels] matrix. */
  const float *tgt = q->act != HANT_ACT_NONE && z ? z : y;
  for (size_t i = 0; i < (size_t)m * k; i++)
    t[i] = tgt[i] - (q->skip ? x[i] : 0.0f);
  hant_gemm(true, false, d, d, m, 1.0f, h, d, h, d, 0.0f, hh, d);
  hant_gemm(true, false, d, k, m, 1.0f, h, d, t, k, 0.0f, ht, k);
  for (size_t i = 0; i < (size_t)d * d; i++)
    q->hh[i] += hh[i];
  for (size_t i = 0; i < (size_t)d * k; i++)
    q->ht[i] += ht[i];
  for (int r = 0; r < m; r++) {
    for (int j = 0; j < d; j++)
      q->sh[j] += h[(size_t)r * d + j];
    for (int j = 0; j < k; j++)
      q->st[j] += t[(size_t)r * k + j];
  }
  q->rows += m;
  q->batches++;
out:
  free(t);
  free(hh);
  free(ht);
  return rc;
}

int hant_lsq_solve(hant_lsq *q, double ridge) {
  if (q->batches == 0 || q->rows < 1)
    return hant__error(HANT_EINVAL, "least-squares init: no features were added");
  int d = q->d, k = q->cout, rc;
  double rows = q->rows;
  /* Centred when an offset can be carried (always: BN or bias), so the
   * map fits the features' variation and the offset their means. */
  float *cov = malloc(sizeof(float) * (size_t)d * d), *u = malloc(sizeof(float) * (size_t)d * d),
        *s = malloc(sizeof(float) * (size_t)d), *vt = malloc(sizeof(float) * (size_t)d * d),
        *r = malloc(sizeof(float) * (size_t)d * k), *a = malloc(sizeof(float) * (size_t)d * k),
        *w = malloc(sizeof(float) * (size_t)d * k);
  double *mh = malloc(sizeof(double) * (size_t)d), *mt = malloc(sizeof(double) * (size_t)k);
  if (!cov || !u || !s || !vt || !r || !a || !w || !mh || !mt) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 0; i < d; i++)
    mh[i] = q->sh[i] / rows;
  for (int j = 0; j < k; j++)
    mt[j] = q->st[j] / rows;
  double trace = 0;
  for (int i = 0; i < d; i++) {
    for (int j = 0; j < d; j++)
      cov[(size_t)i * d + j] = (float)(q->hh[(size_t)i * d + j] / rows - mh[i] * mh[j]);
    for (int j = 0; j < k; j++)
      r[(size_t)i * k + j] = (float)(q->ht[(size_t)i * k + j] / rows - mh[i] * mt[j]);
    trace += cov[(size_t)i * d + i];
  }
  /* cov = U S V^T is symmetric, so (cov + lambda I)^-1 = V (S + lambda)^-1 U^T;
   * the ridge keeps directions of dead hidden channels (ReLU) at zero. */
  if ((rc = hant_svd(d, d, cov, u, s, vt)))
    goto out;
  double lambda = ridge * trace / d;
  if (!(lambda > 0))
    lambda = 1e-12;
  /* a = U^T r, scaled row by row, then A = V a: [d, k]. */
  hant_gemm(true, false, d, k, d, 1.0f, u, d, r, k, 0.0f, a, k);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < k; j++)
      a[(size_t)i * k + j] = (float)(a[(size_t)i * k + j] / ((double)s[i] + lambda));
  hant_gemm(true, false, d, k, d, 1.0f, vt, d, a, k, 0.0f, w, k);
  /* w is [d, k] = W^T; the conv's weight is [k, d, 1, 1]. */
  hant_net *net = q->net;
  const hant_node *cn = &net->nodes[q->conv];
  float *cw = net->params[cn->param[0]].w;
  for (int o = 0; o < k; o++)
    for (int i = 0; i < d; i++)
      cw[(size_t)o * d + i] = w[(size_t)i * k + o];
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
      net->params[bn->param[0]].w[o] = (float)sqrt(zv + bn->bn_eps);
      net->params[bn->param[1]].w[o] = (float)mt[o];
      net->params[bn->param[2]].w[o] = (float)zm;
      net->params[bn->param[3]].w[o] = (float)zv;
      if (cn->param[1] >= 0)
        net->params[cn->param[1]].w[o] = 0.0f;
    } else {
      net->params[cn->param[1]].w[o] = (float)(mt[o] - zm);
    }
  }
out:
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
