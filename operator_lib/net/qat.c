/* SPDX-License-Identifier: MIT */
/* qat.c: fake quantisation for quantisation-aware training: quantised-dequantised weights and activations, straight-through gradients. */
#include "qat.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

typedef struct qat_point {
  bool on;         /* the int8 network stores this node's output in uint8 */
  float scale;
  int32_t zp;
  uint8_t *inside; /* [n * numel] of the last forward: 1 where the value was not clipped (in p->act) */
} qat_point;

typedef struct qat_int {
  int node;
  int k, per_k;   /* output channels, weights per channel */
  float in_scale; /* of the node's uint8 input */
} qat_int;

struct hant_qat {
  hant_net *net;
  qat_point *pt; /* [net->n_nodes] */
  qat_int *ints;
  int n_ints;
  float *master; /* the integer nodes' weights then biases, in node order */
  size_t n_master;
  bool fake; /* net holds the quantised weights */
};

/* Half to even, as the int8 evaluation and ONNX Runtime round. */
static inline float rne(float v) { return nearbyintf(v); }

static size_t numel(const hant_node *nd, int n) { return (size_t)n * nd->c * nd->h * nd->w; }

int hant_qat_new(hant_net *net, const hant_qnet *q, hant_qat **out) {
  *out = NULL;
  if (!net || !q || q->net != net)
    return hant__error(HANT_EINVAL, "fake quantisation: the quantised network is not of this network");
  hant_qat *a = calloc(1, sizeof(*a));
  if (!a || !(a->pt = calloc((size_t)net->n_nodes, sizeof(*a->pt))) ||
      !(a->ints = calloc((size_t)net->n_nodes, sizeof(*a->ints)))) {
    hant_qat_destroy(a);
    return hant__error(HANT_ENOMEM, "fake quantisation: no memory for %d nodes", net->n_nodes);
  }
  a->net = net;
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_qnode *qn = &q->nodes[i];
    /* Max-pool and flatten move uint8 values without changing them, and
     * aliases share their source's tensor: quantising those again would
     * change nothing. */
    a->pt[i].on = qn->src == i && !qn->out_float && qn->kind != HANT_QK_MAXPOOL && qn->kind != HANT_QK_FLATTEN;
    a->pt[i].scale = qn->scale;
    a->pt[i].zp = qn->zp;
    if (qn->kind != HANT_QK_INT)
      continue;
    const hant_node *nd = &net->nodes[i];
    qat_int *t = &a->ints[a->n_ints++];
    t->node = i;
    t->k = nd->op == HANT_OP_CONV ? nd->conv.c_out : nd->c;
    t->per_k = (int)(net->params[nd->param[0]].n / (size_t)t->k);
    t->in_scale = q->nodes[q->nodes[nd->in[0]].src].scale;
    a->n_master += net->params[nd->param[0]].n + (nd->param[1] >= 0 ? (size_t)t->k : 0);
  }
  if (!(a->master = malloc(sizeof(float) * (a->n_master ? a->n_master : 1)))) {
    hant_qat_destroy(a);
    return hant__error(HANT_ENOMEM, "fake quantisation: no memory for %zu master weights", a->n_master);
  }
  *out = a;
  return 0;
}

void hant_qat_destroy(hant_qat *a) {
  if (!a)
    return;
  hant_qat_weights_master(a);
  free(a->pt);
  free(a->ints);
  free(a->master);
  free(a);
}

int hant_qat_weights_fake(hant_qat *a) {
  hant_net *net = a->net;
  size_t o = 0;
  for (int t = 0; t < a->n_ints; t++) {
    const qat_int *in = &a->ints[t];
    const hant_node *nd = &net->nodes[in->node];
    float *w = net->params[nd->param[0]].w, *b = nd->param[1] >= 0 ? net->params[nd->param[1]].w : NULL;
    size_t nw = (size_t)in->k * in->per_k;
    float *mw = a->master + o, *mb = mw + nw;
    o += nw + (b ? (size_t)in->k : 0);
    if (!a->fake) {
      memcpy(mw, w, sizeof(float) * nw);
      if (b)
        memcpy(mb, b, sizeof(float) * (size_t)in->k);
    }
    /* as quant.c's quantise_weights computes them */
    for (int k = 0; k < in->k; k++) {
      const float *src = mw + (size_t)k * in->per_k;
      float m = 0;
      for (int j = 0; j < in->per_k; j++)
        m = fmaxf(m, fabsf(src[j]));
      float s = m > 0 ? m / 127.0f : 1.0f;
      for (int j = 0; j < in->per_k; j++)
        w[(size_t)k * in->per_k + j] = fminf(fmaxf(rne(src[j] / s), -127.0f), 127.0f) * s;
      if (b) {
        double bs = (double)in->in_scale * s;
        b[k] = (float)(nearbyint((double)mb[k] / bs) * bs);
      }
    }
  }
  a->fake = true;
  return 0;
}

void hant_qat_weights_master(hant_qat *a) {
  if (!a || !a->fake)
    return;
  hant_net *net = a->net;
  size_t o = 0;
  for (int t = 0; t < a->n_ints; t++) {
    const qat_int *in = &a->ints[t];
    const hant_node *nd = &net->nodes[in->node];
    size_t nw = (size_t)in->k * in->per_k;
    memcpy(net->params[nd->param[0]].w, a->master + o, sizeof(float) * nw);
    o += nw;
    if (nd->param[1] >= 0) {
      memcpy(net->params[nd->param[1]].w, a->master + o, sizeof(float) * (size_t)in->k);
      o += (size_t)in->k;
    }
  }
  a->fake = false;
}

/* Quantises and dequantises y in place as QuantizeLinear then
 * DequantizeLinear would, marking which values lay inside the range. */
static void fake(float *y, size_t n, float s, int32_t zp, uint8_t *inside) {
  float lo = (float)(0 - zp), hi = (float)(255 - zp);
  for (size_t e = 0; e < n; e++) {
    float v = y[e] / s;
    bool in = v >= lo && v <= hi;
    inside[e] = in;
    y[e] = rne(in ? v : v < lo ? lo : hi) * s;
  }
}

int hant_qat_hook(void *user, hant_pass *p, int node, hant_pass_event ev) {
  hant_qat *a = user;
  qat_point *pt = &a->pt[node];
  if (!pt->on)
    return 0;
  size_t n = numel(&a->net->nodes[node], p->n);
  if (ev == HANT_PASS_FORWARD_DONE) {
    /* The mask lives in the pass's arena, as long as the activations. */
    pt->inside = (uint8_t *)hant_arena_floats(&p->act, (n + 3) / 4);
    float *y = p->out[node];
    if (node == 0) {
      /* the caller's images: quantised into a copy */
      if (!(y = hant_arena_floats(&p->act, n)))
        return HANT_ENOMEM;
      memcpy(y, p->out[0], sizeof(float) * n);
      p->out[0] = y;
    }
    if (!pt->inside)
      return HANT_ENOMEM;
    fake(y, n, pt->scale, pt->zp, pt->inside);
    return 0;
  }
  /* Straight through inside the range, nothing where the value was clipped. */
  float *g = p->grad[node];
  for (size_t e = 0; g && pt->inside && e < n; e++)
    if (!pt->inside[e])
      g[e] = 0;
  return 0;
}
