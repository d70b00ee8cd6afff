/* SPDX-License-Identifier: MIT */
/* quant.c: post-training int8 quantisation: which node runs how, activation ranges calibrated on training images, weights per channel. */
#include "quant.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "net_internal.h"
#include "quant_internal.h"

static const char *const calib_names[] = {"minmax", "percentile"};
static_assert(sizeof(calib_names) / sizeof(calib_names[0]) == HANT_QCALIB_COUNT, "one name per calibration");

static const char *const kind_names[] = {"input", "int", "add", "gap", "maxpool", "flatten", "alias", "float"};
static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == HANT_QK_COUNT, "one name per kind");

const char *hant_qcalib_name(hant_qcalib c) { return c >= 0 && c < HANT_QCALIB_COUNT ? calib_names[c] : "?"; }

hant_qcalib hant_qcalib_from_name(const char *s) {
  for (int i = 0; s && i < HANT_QCALIB_COUNT; i++)
    if (!strcmp(s, calib_names[i]))
      return (hant_qcalib)i;
  return HANT_QCALIB_COUNT;
}

const char *hant_qkind_name(hant_qkind k) { return k >= 0 && k < HANT_QK_COUNT ? kind_names[k] : "?"; }

/* The one node reading x, or -1 when none or several do. */
static int sole_reader(const hant_net *net, int x) {
  if (hant__net_consumers(net, x) != 1)
    return -1;
  for (int i = x + 1; i < net->n_nodes; i++)
    if (net->nodes[i].in[0] == x || net->nodes[i].in[1] == x)
      return i;
  return -1;
}

/* Decides each node's kind and aliases. A ReLU joins the conv, linear or
 * add before it when that producer (through identities) feeds only it:
 * ONNX Runtime fuses DequantizeLinear -> Conv -> QuantizeLinear into one
 * QLinearConv, and the uint8 output with zero point 0 saturates at 0 as the
 * ReLU would, so the exported graph has no Relu there at all. */
static int plan_kinds(hant_qnet *q) {
  const hant_net *net = q->net;
  int last = hant_net_output(net);
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    hant_qnode *qn = &q->nodes[i];
    qn->src = i;
    qn->relu = -1;
    switch (nd->op) {
    case HANT_OP_INPUT:
      qn->kind = HANT_QK_INPUT;
      break;
    case HANT_OP_CONV:
    case HANT_OP_LINEAR:
      qn->kind = HANT_QK_INT;
      break;
    case HANT_OP_ADD:
      qn->kind = HANT_QK_ADD;
      break;
    case HANT_OP_GAP:
      qn->kind = HANT_QK_GAP;
      break;
    case HANT_OP_MAXPOOL:
      qn->kind = HANT_QK_MAXPOOL;
      break;
    case HANT_OP_FLATTEN:
      qn->kind = HANT_QK_FLATTEN;
      break;
    case HANT_OP_IDENTITY:
      qn->kind = HANT_QK_ALIAS;
      qn->src = q->nodes[nd->in[0]].src;
      break;
    case HANT_OP_BN:
    case HANT_OP_AVGPOOL:
      qn->kind = HANT_QK_FLOAT;
      break;
    case HANT_OP_ACT: {
      qn->kind = HANT_QK_FLOAT;
      if (nd->act != HANT_ACT_RELU || i == last)
        break;
      /* walk back through identities that only forward the value */
      int p = nd->in[0];
      bool ok = true;
      while (ok && net->nodes[p].op == HANT_OP_IDENTITY) {
        ok = sole_reader(net, p) >= 0;
        p = net->nodes[p].in[0];
      }
      hant_qkind pk = q->nodes[p].kind;
      if (ok && p != 0 && (pk == HANT_QK_INT || pk == HANT_QK_ADD) && q->nodes[p].relu < 0 &&
          sole_reader(net, p) >= 0) {
        q->nodes[p].relu = i;
        qn->kind = HANT_QK_ALIAS;
        qn->src = p;
      }
      break;
    }
    default:
      return hant__error(HANT_ENOTSUP, "int8 quantisation: node %d is a %s, which has no int8 form yet", i,
                         hant_op_name(nd->op));
    }
  }
  int s = q->nodes[last].src;
  if (q->nodes[s].kind == HANT_QK_INT && q->nodes[s].relu < 0)
    q->nodes[s].out_float = true;
  return 0;
}

/* Whether node i holds a uint8 tensor of its own with calibrated
 * parameters: pass-through nodes copy their input's, aliases share. */
static bool is_point(const hant_qnode *qn, int i) {
  return qn->src == i && !qn->out_float && qn->kind != HANT_QK_MAXPOOL && qn->kind != HANT_QK_FLATTEN;
}

/* The node whose float32 output gives node i's range: its absorbed ReLU's. */
static int stat_node(const hant_qnode *qn, int i) { return qn->relu >= 0 ? qn->relu : i; }

#define HIST_BINS 4096

typedef struct stats {
  double lo, hi;
  uint64_t *hist; /* [HIST_BINS] over [lo, hi], second pass only */
  uint64_t count;
} stats;

/* uint8 parameters for the range [lo, hi], widened to hold 0 exactly
 * (ONNX Runtime's quantiser does the same). */
static void range_params(double lo, double hi, float *scale, int32_t *zp) {
  lo = fmin(lo, 0), hi = fmax(hi, 0);
  if (!(hi - lo > 1e-12)) {
    *scale = 1.0f, *zp = 0;
    return;
  }
  float s = (float)((hi - lo) / 255.0);
  double z = nearbyint(-lo / s);
  *scale = s;
  *zp = (int32_t)fmin(fmax(z, 0), 255);
}

/* The value below which a fraction `tail` of the histogram lies, or above
 * which when `upper`. */
static double hist_cut(const stats *st, double tail, bool upper) {
  uint64_t want = (uint64_t)(tail * (double)st->count), seen = 0;
  double w = (st->hi - st->lo) / HIST_BINS;
  for (int b = 0; b < HIST_BINS; b++) {
    int k = upper ? HIST_BINS - 1 - b : b;
    seen += st->hist[k];
    if (seen > want)
      return upper ? st->lo + (k + 1) * w : st->lo + k * w;
  }
  return upper ? st->lo : st->hi;
}

/* Runs the float network over x in batches and feeds every point's output
 * to the statistics: min and max on the first pass, histograms on the
 * second. */
static int collect(hant_qnet *q, const float *x, int n, stats *st, bool hist) {
  hant_net *net = q->net;
  const hant_node *in = &net->nodes[0];
  size_t per = (size_t)in->c * in->h * in->w;
  const int batch = 128;
  hant_pass p;
  hant_pass_init(&p);
  int rc = 0;
  for (int b0 = 0; b0 < n && !rc; b0 += batch) {
    int bn = n - b0 < batch ? n - b0 : batch;
    if ((rc = hant_net_forward(net, &p, x + per * (size_t)b0, bn, false)))
      break;
    for (int i = 0; i < net->n_nodes; i++) {
      if (!is_point(&q->nodes[i], i))
        continue;
      int sn = stat_node(&q->nodes[i], i);
      const hant_node *nd = &net->nodes[sn];
      size_t cnt = (size_t)bn * nd->c * nd->h * nd->w;
      const float *v = p.out[sn];
      stats *s = &st[i];
      if (!hist) {
        for (size_t k = 0; k < cnt; k++) {
          if (v[k] < s->lo)
            s->lo = v[k];
          if (v[k] > s->hi)
            s->hi = v[k];
        }
        continue;
      }
      if (!s->hist)
        continue;
      double w = (s->hi - s->lo) / HIST_BINS;
      for (size_t k = 0; k < cnt; k++) {
        int bin = w > 0 ? (int)((v[k] - s->lo) / w) : 0;
        bin = bin < 0 ? 0 : bin >= HIST_BINS ? HIST_BINS - 1 : bin;
        s->hist[bin]++;
      }
      s->count += cnt;
    }
  }
  hant_pass_free(&p);
  return rc;
}

/* Symmetric per-channel int8 weights, the int32 bias and the
 * requantisation multipliers of integer node i. */
static int quantise_weights(hant_qnet *q, int i) {
  const hant_net *net = q->net;
  const hant_node *nd = &net->nodes[i];
  hant_qnode *qn = &q->nodes[i];
  const hant_param *pw = &net->params[nd->param[0]];
  const float *bias = nd->param[1] >= 0 ? net->params[nd->param[1]].w : NULL;
  int k = nd->op == HANT_OP_CONV ? nd->conv.c_out : nd->c;
  qn->per_k = (int)(pw->n / (size_t)k);
  qn->wq = malloc(pw->n);
  qn->wscale = malloc(sizeof(float) * (size_t)k);
  qn->bq = malloc(sizeof(int32_t) * (size_t)k);
  qn->mult = malloc(sizeof(float) * (size_t)k);
  if (!qn->wq || !qn->wscale || !qn->bq || !qn->mult)
    return hant__error(HANT_ENOMEM, "int8 quantisation: no memory for the weights of node %d", i);
  float sx = q->nodes[q->nodes[nd->in[0]].src].scale;
  for (int o = 0; o < k; o++) {
    const float *w = pw->w + (size_t)o * qn->per_k;
    float m = 0;
    for (int j = 0; j < qn->per_k; j++)
      m = fmaxf(m, fabsf(w[j]));
    float s = m > 0 ? m / 127.0f : 1.0f;
    qn->wscale[o] = s;
    for (int j = 0; j < qn->per_k; j++) {
      float r = nearbyintf(w[j] / s);
      qn->wq[(size_t)o * qn->per_k + j] = (int8_t)fminf(fmaxf(r, -127.0f), 127.0f);
    }
    float bs = sx * s; /* the bias scale the exported DequantizeLinear states */
    double b = bias ? nearbyint((double)bias[o] / bs) : 0;
    qn->bq[o] = (int32_t)fmin(fmax(b, -2147483647.0), 2147483647.0);
    /* the order of ONNX Runtime's QLinearConv: x_scale * w_scale / y_scale */
    qn->mult[o] = qn->out_float ? sx * s : sx * s / qn->scale;
  }
  return 0;
}

static void qnode_free(hant_qnode *qn) {
  free(qn->wq);
  free(qn->wscale);
  free(qn->bq);
  free(qn->mult);
}

int hant_qnet_calibrate(hant_net *net, const float *x, int n, hant_qcalib calib, double percentile,
                        hant_qnet **out) {
  *out = NULL;
  if (!net || !x || n <= 0)
    return hant__error(HANT_EINVAL, "int8 quantisation: no network or no calibration images");
  if (calib < 0 || calib >= HANT_QCALIB_COUNT)
    return hant__error(HANT_EINVAL, "int8 quantisation: calibration method %d is unknown", (int)calib);
  if (calib == HANT_QCALIB_PERCENTILE && !(percentile > 50 && percentile <= 100))
    return hant__error(HANT_EINVAL, "int8 quantisation: percentile %g is not in (50, 100]", percentile);
  hant_qnet *q = calloc(1, sizeof(*q));
  stats *st = calloc((size_t)net->n_nodes, sizeof(*st));
  int rc = 0;
  if (!q || !st || !(q->nodes = calloc((size_t)net->n_nodes, sizeof(*q->nodes)))) {
    rc = hant__error(HANT_ENOMEM, "int8 quantisation: no memory for %d nodes", net->n_nodes);
    goto out;
  }
  q->net = net;
  q->calib = calib;
  q->percentile = calib == HANT_QCALIB_PERCENTILE ? percentile : 0;
  q->val_accuracy = -1;
  for (int c = 0; c < HANT_QCALIB_COUNT; c++)
    q->val_accuracy_by[c] = -1;
  q->calib_images = n;
  if ((rc = plan_kinds(q)))
    goto out;
  for (int i = 0; i < net->n_nodes; i++)
    st[i].lo = DBL_MAX, st[i].hi = -DBL_MAX;
  if ((rc = collect(q, x, n, st, false)))
    goto out;
  if (calib == HANT_QCALIB_PERCENTILE) {
    for (int i = 1; i < net->n_nodes && !rc; i++)
      if (is_point(&q->nodes[i], i) && !(st[i].hist = calloc(HIST_BINS, sizeof(uint64_t))))
        rc = hant__error(HANT_ENOMEM, "int8 quantisation: no memory for histograms");
    if (rc || (rc = collect(q, x, n, st, true)))
      goto out;
  }
  for (int i = 0; i < net->n_nodes; i++) {
    hant_qnode *qn = &q->nodes[i];
    if (!is_point(qn, i))
      continue;
    double lo = st[i].lo, hi = st[i].hi;
    /* The image keeps its whole range: pixels are exact in uint8. */
    if (st[i].hist && i != 0 && st[i].count) {
      double tail = (100.0 - percentile) / 100.0;
      double l = hist_cut(&st[i], tail, false), h = hist_cut(&st[i], tail, true);
      if (lo < 0)
        lo = l;
      if (hi > 0)
        hi = h;
    }
    range_params(lo, hi, &qn->scale, &qn->zp);
  }
  /* pass-through nodes and aliases take their source's parameters, in
   * topological order so chains resolve */
  for (int i = 0; i < net->n_nodes; i++) {
    hant_qnode *qn = &q->nodes[i];
    if (qn->kind == HANT_QK_MAXPOOL || qn->kind == HANT_QK_FLATTEN) {
      const hant_qnode *s = &q->nodes[q->nodes[net->nodes[i].in[0]].src];
      qn->scale = s->scale, qn->zp = s->zp;
    } else if (qn->src != i) {
      qn->scale = q->nodes[qn->src].scale, qn->zp = q->nodes[qn->src].zp;
    }
  }
  for (int i = 0; i < net->n_nodes && !rc; i++)
    if (q->nodes[i].kind == HANT_QK_INT)
      rc = quantise_weights(q, i);
out:
  for (int i = 0; st && i < net->n_nodes; i++)
    free(st[i].hist);
  free(st);
  if (rc) {
    hant_qnet_destroy(q);
    return rc;
  }
  *out = q;
  return 0;
}

void hant_qnet_destroy(hant_qnet *q) {
  if (!q)
    return;
  for (int i = 0; q->nodes && i < q->net->n_nodes; i++)
    qnode_free(&q->nodes[i]);
  hant__qrun_free(q->run);
  free(q->nodes);
  free(q);
}

int hant_quantise(hant_net *net, const hant_dataset *train, const hant_dataset *val, const hant_quant_opts *opts,
                  hant_qnet **out) {
  *out = NULL;
  hant_quant_opts o = opts ? *opts : (hant_quant_opts){0};
  if (!o.calib_images)
    o.calib_images = 1000;
  if (o.percentile == 0)
    o.percentile = 99.99;
  if (!net || !train || train->n <= 0)
    return hant__error(HANT_EINVAL, "int8 quantisation: no network or no training images to calibrate on");
  if (o.choose && (!val || val->n <= 0))
    return hant__error(HANT_EINVAL, "int8 quantisation: choosing a calibration method needs validation images");
  if (o.calib_images > train->n)
    o.calib_images = train->n;
  int rc = hant_net_fold_bn(net);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[0];
  size_t per = (size_t)in->c * in->h * in->w;
  if (train->c != in->c || train->h != in->h || train->w != in->w)
    return hant__error(HANT_ESHAPE, "int8 quantisation: images are %dx%dx%d, the network takes %dx%dx%d", train->c,
                       train->h, train->w, in->c, in->h, in->w);
  float *x = hant_alloc(per * (size_t)o.calib_images * sizeof(float));
  int *idx = malloc(sizeof(int) * (size_t)o.calib_images), *lab = malloc(sizeof(int) * (size_t)o.calib_images);
  if (!x || !idx || !lab) {
    rc = hant__error(HANT_ENOMEM, "int8 quantisation: no memory for %d calibration images", o.calib_images);
    goto done;
  }
  /* spread over the split so that every class is seen */
  for (int i = 0; i < o.calib_images; i++)
    idx[i] = (int)((int64_t)i * train->n / o.calib_images);
  hant_dataset_batch(train, idx, o.calib_images, false, 0, NULL, x, lab);
  hant_qnet *best = NULL;
  double by[HANT_QCALIB_COUNT];
  for (int c = 0; c < HANT_QCALIB_COUNT; c++)
    by[c] = -1;
  for (int c = 0; c < HANT_QCALIB_COUNT && !rc; c++) {
    if (!o.choose && c != (int)o.calib)
      continue;
    hant_qnet *q = NULL;
    if ((rc = hant_qnet_calibrate(net, x, o.calib_images, (hant_qcalib)c, o.percentile, &q)))
      break;
    if (o.choose && (rc = hant_qnet_accuracy(q, val, o.batch ? o.batch : 128, &q->val_accuracy))) {
      hant_qnet_destroy(q);
      break;
    }
    by[c] = q->val_accuracy;
    if (!best || q->val_accuracy > best->val_accuracy) {
      hant_qnet_destroy(best);
      best = q;
    } else {
      hant_qnet_destroy(q);
    }
  }
  if (rc) {
    hant_qnet_destroy(best);
  } else {
    memcpy(best->val_accuracy_by, by, sizeof(by));
    *out = best;
  }
done:
  hant_free(x);
  free(idx);
  free(lab);
  return rc;
}
