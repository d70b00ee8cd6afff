/* SPDX-License-Identifier: MIT */
/* onnx_ops.c: one importer per ONNX operator, each checking its node and emitting the matching hant node. */
#include "onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base.h"

/* ---- node inputs ------------------------------------------------------------ */

static int n_in(const onnx_reader *r, int ni) { return (int)r->nodes[ni].p->n_input; }

/* The value of input k, or -1 for an absent optional input. */
int hant__onnx_in_val(const onnx_reader *r, int ni, int k) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (k >= (int)p->n_input || !p->input[k] || !p->input[k][0])
    return -1;
  return hant__onnx_lookup(r, p->input[k]);
}

static int need_inputs(const onnx_reader *r, int ni, int lo, int hi) {
  int n = n_in(r, ni);
  if (n < lo || n > hi)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "%d inputs (expected %d to %d)", n, lo, hi);
  for (int k = 0; k < lo; k++)
    if (hant__onnx_in_val(r, ni, k) < 0)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "required input %d is missing", k);
  return 0;
}

/* The hant node for a data input of the expected rank (0: any). */
static int dyn_in(const onnx_reader *r, int ni, int k, int rank, int *hnode) {
  int v = hant__onnx_in_val(r, ni, k);
  if (v < 0)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "input %d is missing", k);
  const onnx_value *x = &r->vals[v];
  if (x->kind == V_CONST)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "input %d ('%.80s') is a constant; hant computes only on the data input", k, x->name);
  if (x->hnode < 0)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "input %d ('%.80s') is not computed before the node", k, x->name);
  if (rank && x->rank != rank)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "input %d ('%.80s') has rank %d (expected %d)", k, x->name, x->rank,
                               rank);
  *hnode = x->hnode;
  return 0;
}

/* A constant float input with the given number of dims (-1: any). */
static int const_in(const onnx_reader *r, int ni, int k, int ndim, const onnx_value **out) {
  int v = hant__onnx_in_val(r, ni, k);
  if (v < 0)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "input %d is missing", k);
  const onnx_value *c = &r->vals[v];
  if (c->kind != V_CONST)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "input %d ('%.80s') must be a constant (an initializer or Constant)", k, c->name);
  if (c->dtype != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "input %d ('%.80s') has data type %d (expected float32)", k,
                               c->name, c->dtype);
  if (ndim >= 0 && c->ndim != ndim)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "input %d ('%.80s') has %d dimensions (expected %d)", k, c->name,
                               c->ndim, ndim);
  *out = c;
  return 0;
}

/* Scalar float constant (0-d or one element). */
static int scalar_in(const onnx_reader *r, int ni, int k, float *out, bool *present) {
  *present = hant__onnx_in_val(r, ni, k) >= 0;
  if (!*present)
    return 0;
  const onnx_value *c;
  int rc = const_in(r, ni, k, -1, &c);
  if (rc)
    return rc;
  if (c->numel != 1)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "input %d ('%.80s') must be a scalar", k, c->name);
  *out = c->f[0];
  return 0;
}

/* Wraps a builder's shape message with the node's name. */
static int built(const onnx_reader *r, int ni, int h) {
  if (h >= 0) {
    /* Later nodes compute C*H*W in int: keep every activation small enough. */
    const hant_node *nd = &r->net->nodes[h];
    if ((size_t)nd->c * (size_t)nd->h * (size_t)nd->w > ONNX_MAX_NUMEL)
      return hant__onnx_node_err(r, ni, HANT_ELIMIT, "output of %dx%dx%d values per sample is larger than %zu", nd->c,
                                 nd->h, nd->w, ONNX_MAX_NUMEL);
    return h;
  }
  char msg[1024];
  snprintf(msg, sizeof(msg), "%s", hant_errmsg());
  return hant__onnx_node_err(r, ni, h, "%s", msg);
}

static onnx_value *out_val(onnx_reader *r, int ni) { return &r->vals[hant__onnx_lookup(r, r->nodes[ni].p->output[0])]; }

/* ---- ops -------------------------------------------------------------------- */

/* pads [top, left, bottom, right] to symmetric (ph, pw), honouring auto_pad. */
static int resolve_pads(const onnx_reader *r, int ni, const int64_t *k, const int64_t *s, int h, int w, int *ph,
                        int *pw) {
  char ap[32];
  int64_t pads[4] = {0, 0, 0, 0};
  bool has_pads;
  int rc = hant__onnx_attr_string(r, ni, "auto_pad", "NOTSET", ap, sizeof(ap));
  if (!rc)
    rc = hant__onnx_attr_ints(r, ni, "pads", 4, 0, ONNX_MAX_KERNEL, pads, &has_pads);
  if (rc)
    return rc;
  if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
    int in[2] = {h, w};
    for (int d = 0; d < 2; d++) {
      int64_t out = (in[d] + s[d] - 1) / s[d];
      int64_t total = (out - 1) * s[d] + k[d] - in[d];
      if (total < 0)
        total = 0;
      if (total % 2)
        return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                   "auto_pad=%s pads %lld pixels along %s: asymmetric padding is not supported", ap,
                                   (long long)total, d ? "width" : "height");
      pads[d] = pads[d + 2] = total / 2;
    }
  } else if (!strcmp(ap, "VALID")) {
    memset(pads, 0, sizeof(pads));
  } else if (strcmp(ap, "NOTSET")) {
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "auto_pad='%s' is not supported", ap);
  }
  if (pads[0] != pads[2] || pads[1] != pads[3])
    return hant__onnx_node_err(
        r, ni, HANT_ENOTSUP,
        "asymmetric pads [%lld, %lld, %lld, %lld] are not supported (expected top = bottom, left = right)",
        (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3]);
  *ph = (int)pads[0];
  *pw = (int)pads[1];
  return 0;
}

static int op_conv(onnx_reader *r, int ni) {
  static const char *const known[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
  int x, rc;
  const onnx_value *wv, *bv = NULL;
  if ((rc = need_inputs(r, ni, 2, 3)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = dyn_in(r, ni, 0, 4, &x)) || (rc = const_in(r, ni, 1, 4, &wv)))
    return rc;
  if (hant__onnx_in_val(r, ni, 2) >= 0 && (rc = const_in(r, ni, 2, 1, &bv)))
    return rc;
  const hant_node *in = &r->net->nodes[x];
  int64_t group, k[2] = {wv->dims[2], wv->dims[3]}, s[2] = {1, 1}, dil[2], ks[2] = {0, 0};
  bool has;
  if ((rc = hant__onnx_attr_int(r, ni, "group", 1, 1, ONNX_MAX_CHANNELS, &group)) ||
      (rc = hant__onnx_attr_ints(r, ni, "dilations", 2, 1, 1, dil, &has)) ||
      (rc = hant__onnx_attr_ints(r, ni, "strides", 2, 1, ONNX_MAX_KERNEL, s, &has)) ||
      (rc = hant__onnx_attr_ints(r, ni, "kernel_shape", 2, 1, ONNX_MAX_KERNEL, ks, &has)))
    return rc;
  if (has && (ks[0] != k[0] || ks[1] != k[1]))
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "kernel_shape %lldx%lld does not match the weight's %lldx%lld",
                               (long long)ks[0], (long long)ks[1], (long long)k[0], (long long)k[1]);
  if (wv->dims[0] < 1 || wv->dims[0] > ONNX_MAX_CHANNELS || k[0] < 1 || k[0] > ONNX_MAX_KERNEL || k[1] < 1 ||
      k[1] > ONNX_MAX_KERNEL)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "weight shape [%lld, %lld, %lld, %lld] is out of range",
                               (long long)wv->dims[0], (long long)wv->dims[1], (long long)k[0], (long long)k[1]);
  if (wv->dims[1] * group != in->c || wv->dims[0] % group)
    return hant__onnx_node_err(
        r, ni, HANT_ESHAPE, "weight [%lld, %lld, %lld, %lld] with group %lld does not fit an input of %d channels",
        (long long)wv->dims[0], (long long)wv->dims[1], (long long)k[0], (long long)k[1], (long long)group, in->c);
  if (bv && bv->dims[0] != wv->dims[0])
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "bias has %lld values for %lld output channels",
                               (long long)bv->dims[0], (long long)wv->dims[0]);
  hant_conv_desc d = {.c_in = in->c, .c_out = (int)wv->dims[0], .kh = (int)k[0], .kw = (int)k[1], .sh = (int)s[0],
                      .sw = (int)s[1], .groups = (int)group};
  if ((rc = resolve_pads(r, ni, k, s, in->h, in->w, &d.ph, &d.pw)))
    return rc;
  if (2 * d.ph > d.kh || 2 * d.pw > d.kw)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "padding %dx%d is more than half the %dx%d kernel", d.ph, d.pw,
                               d.kh, d.kw);
  int h = built(r, ni, hant_net_conv(r->net, x, &d, bv != NULL));
  if (h < 0)
    return h;
  hant_node *nd = &r->net->nodes[h];
  memcpy(r->net->params[nd->param[0]].w, wv->f, wv->numel * sizeof(float));
  if (bv)
    memcpy(r->net->params[nd->param[1]].w, bv->f, bv->numel * sizeof(float));
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int op_bn(onnx_reader *r, int ni) {
  static const char *const known[] = {"epsilon", "momentum", "training_mode", "spatial", "is_test", NULL};
  int x, rc;
  const onnx_value *p[4];
  int64_t training, spatial;
  float eps, mom;
  if ((rc = need_inputs(r, ni, 5, 5)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = dyn_in(r, ni, 0, 0, &x)) || (rc = hant__onnx_attr_float(r, ni, "epsilon", 1e-5f, &eps)) ||
      (rc = hant__onnx_attr_float(r, ni, "momentum", 0.9f, &mom)) ||
      (rc = hant__onnx_attr_int(r, ni, "training_mode", 0, 0, 0, &training)) ||
      (rc = hant__onnx_attr_int(r, ni, "spatial", 1, 1, 1, &spatial)))
    return rc;
  if (!(eps > 0 && eps < 1))
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "epsilon %g is not supported (expected 0 < epsilon < 1)",
                               (double)eps);
  const Onnx__NodeProto *pn = r->nodes[ni].p;
  for (size_t k = 1; k < pn->n_output; k++)
    if (pn->output[k] && pn->output[k][0] && r->vals[hant__onnx_lookup(r, pn->output[k])].cons)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "training outputs (running statistics) are used; export in eval mode");
  int c = r->net->nodes[x].c;
  for (int k = 0; k < 4; k++) {
    if ((rc = const_in(r, ni, k + 1, 1, &p[k])))
      return rc;
    if (p[k]->dims[0] != c)
      return hant__onnx_node_err(r, ni, HANT_ESHAPE, "input %d has %lld values for %d channels", k + 1,
                                 (long long)p[k]->dims[0], c);
  }
  for (int j = 0; j < c; j++)
    if (p[3]->f[j] < 0)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "running variance of channel %d is negative", j);
  int h = built(r, ni, hant_net_bn(r->net, x));
  if (h < 0)
    return h;
  hant_node *nd = &r->net->nodes[h];
  nd->bn_eps = eps;
  for (int k = 0; k < 4; k++)
    memcpy(r->net->params[nd->param[k]].w, p[k]->f, (size_t)c * sizeof(float));
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[hant__onnx_in_val(r, ni, 0)].rank;
  return 0;
}

static int emit_act(onnx_reader *r, int ni, int x, hant_act a) {
  int h = built(r, ni, hant_net_act(r->net, x, a));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[hant__onnx_in_val(r, ni, 0)].rank;
  return 0;
}

static int op_relu(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  return emit_act(r, ni, x, HANT_ACT_RELU);
}

/* A QuantizeLinear that clamps at 0 (onnx_qdq_read.c decides which). */
static int op_quantize_relu(onnx_reader *r, int ni) {
  int x = -1, rc;
  if ((rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  return emit_act(r, ni, x, HANT_ACT_RELU);
}

static int op_clip(onnx_reader *r, int ni) {
  static const char *const known_old[] = {"min", "max", NULL}, *const known_new[] = {NULL};
  int x, rc;
  float lo = -INFINITY, hi = INFINITY;
  bool has_lo = false, has_hi = false;
  if (r->opset < 11) {
    if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known_old)) ||
        (rc = hant__onnx_attr_float(r, ni, "min", -INFINITY, &lo)) ||
        (rc = hant__onnx_attr_float(r, ni, "max", INFINITY, &hi)))
      return rc;
  } else if ((rc = need_inputs(r, ni, 1, 3)) || (rc = hant__onnx_attrs_known(r, ni, known_new)) ||
             (rc = scalar_in(r, ni, 1, &lo, &has_lo)) || (rc = scalar_in(r, ni, 2, &hi, &has_hi))) {
    return rc;
  }
  if ((rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  if (lo == 0.0f && hi == 6.0f)
    return emit_act(r, ni, x, HANT_ACT_RELU6);
  if (lo == 0.0f && hi == INFINITY)
    return emit_act(r, ni, x, HANT_ACT_RELU);
  return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "Clip to [%g, %g] is not supported (expected [0, 6], ReLU6)",
                             (double)lo, (double)hi);
}

static int op_hardswish(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  return emit_act(r, ni, x, HANT_ACT_HSWISH);
}

static int op_mul_gate(onnx_reader *r, int ni);

static int op_mul(onnx_reader *r, int ni) {
  for (int k = 0; k < 2; k++) {
    int v = hant__onnx_in_val(r, ni, k);
    if (v >= 0 && r->vals[v].kind == V_DYN && r->nodes[r->vals[v].producer].absorbed_by == ni) {
      int x;
      bool silu = !strcmp(r->nodes[r->vals[v].producer].p->op_type, "Sigmoid");
      int rc = dyn_in(r, ni, 1 - k, 0, &x);
      return rc ? rc : emit_act(r, ni, x, silu ? HANT_ACT_SILU : HANT_ACT_HSWISH);
    }
  }
  return op_mul_gate(r, ni);
}

/* ---- squeeze-and-excitation: sigmoid, hard-sigmoid, the gating Mul ------------
 * (MobileNetV3, EfficientNet, RegNetY; SiLU is the Sigmoid-Mul pattern above) */

static int op_sigmoid(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if (r->nodes[ni].absorbed_by >= 0)
    return 0; /* SiLU: the Mul after it emits the activation */
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  return emit_act(r, ni, x, HANT_ACT_SIGMOID);
}

/* PyTorch's Hardsigmoid, relu6(x + 3) / 6: alpha 1/6 and beta 1/2 only. */
static int op_hardsigmoid(onnx_reader *r, int ni) {
  static const char *const known[] = {"alpha", "beta", NULL};
  int x, rc;
  float alpha, beta;
  if (r->nodes[ni].absorbed_by >= 0)
    return 0; /* hard-swish: the Mul after it emits the activation */
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = dyn_in(r, ni, 0, 0, &x)) || (rc = hant__onnx_attr_float(r, ni, "alpha", 0.2f, &alpha)) ||
      (rc = hant__onnx_attr_float(r, ni, "beta", 0.5f, &beta)))
    return rc;
  if (fabsf(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "HardSigmoid with alpha=%g, beta=%g is not supported (expected alpha=1/6, beta=0.5, "
                               "PyTorch's Hardsigmoid)",
                               (double)alpha, (double)beta);
  return emit_act(r, ni, x, HANT_ACT_HSIGMOID);
}

/* Mul of two computed [N, C, H, W] values: the same shape, or one of them
 * [N, C, 1, 1] (the squeeze-and-excitation gate, either operand). */
static int op_mul_gate(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int a, b, rc;
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = hant__onnx_attrs_known(r, ni, known)))
    return rc;
  for (int k = 0; k < 2; k++)
    if (r->vals[hant__onnx_in_val(r, ni, k)].kind == V_CONST)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "Mul by a constant is not supported (expected two computed values: x * HardSigmoid(x), "
                                 "x * Sigmoid(x), or a [N, C, H, W] value times a [N, C, 1, 1] gate)");
  if ((rc = dyn_in(r, ni, 0, 4, &a)) || (rc = dyn_in(r, ni, 1, 4, &b)))
    return rc;
  const hant_node *na = &r->net->nodes[a], *nb = &r->net->nodes[b];
  if (na->h * na->w < nb->h * nb->w) { /* PyTorch's SE writes gate * x */
    int t = a;
    a = b, b = t;
  }
  int h = built(r, ni, hant_net_mul(r->net, a, b));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int emit_linear(onnx_reader *r, int ni, int x, const onnx_value *wv, bool trans, const onnx_value *bv) {
  const hant_node *in = &r->net->nodes[x];
  int64_t features = (int64_t)in->c * in->h * in->w;
  int64_t fin = trans ? wv->dims[1] : wv->dims[0], fout = trans ? wv->dims[0] : wv->dims[1];
  if (fin != features)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE,
                               "weight [%lld, %lld] expects %lld input features, the input has %lld",
                               (long long)wv->dims[0], (long long)wv->dims[1], (long long)fin, (long long)features);
  if (fout < 1 || fout > ONNX_MAX_CHANNELS)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "%lld output features is out of range", (long long)fout);
  if (bv && !(bv->numel == (size_t)fout && (bv->ndim == 1 || (bv->ndim == 2 && bv->dims[0] == 1))))
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "bias must have shape [%lld] or [1, %lld]", (long long)fout,
                               (long long)fout);
  int h = built(r, ni, hant_net_linear(r->net, x, (int)fout, bv != NULL));
  if (h < 0)
    return h;
  hant_node *nd = &r->net->nodes[h];
  float *w = r->net->params[nd->param[0]].w;
  if (trans) {
    memcpy(w, wv->f, wv->numel * sizeof(float));
  } else {
    for (int64_t i = 0; i < fin; i++)
      for (int64_t o = 0; o < fout; o++)
        w[o * fin + i] = wv->f[i * fout + o];
  }
  if (bv)
    memcpy(r->net->params[nd->param[1]].w, bv->f, (size_t)fout * sizeof(float));
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = 2;
  return 0;
}

static int op_gemm(onnx_reader *r, int ni) {
  static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
  int x, rc;
  float alpha, beta;
  int64_t ta, tb;
  const onnx_value *wv, *bv = NULL;
  if ((rc = need_inputs(r, ni, 2, 3)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = hant__onnx_attr_float(r, ni, "alpha", 1, &alpha)) ||
      (rc = hant__onnx_attr_float(r, ni, "beta", 1, &beta)) ||
      (rc = hant__onnx_attr_int(r, ni, "transA", 0, 0, 0, &ta)) ||
      (rc = hant__onnx_attr_int(r, ni, "transB", 0, 0, 1, &tb)) || (rc = dyn_in(r, ni, 0, 2, &x)) ||
      (rc = const_in(r, ni, 1, 2, &wv)))
    return rc;
  if (alpha != 1.0f || beta != 1.0f)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "alpha=%g, beta=%g is not supported (expected 1, 1)", (double)alpha,
                               (double)beta);
  if (hant__onnx_in_val(r, ni, 2) >= 0 && (rc = const_in(r, ni, 2, -1, &bv)))
    return rc;
  return emit_linear(r, ni, x, wv, tb == 1, bv);
}

static int op_matmul(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  const onnx_value *wv;
  if (r->nodes[ni].absorbed_by >= 0)
    return 0; /* the Add after it emits the linear layer */
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = dyn_in(r, ni, 0, 2, &x)) || (rc = const_in(r, ni, 1, 2, &wv)))
    return rc;
  return emit_linear(r, ni, x, wv, false, NULL);
}

static int op_add(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int rc;
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = hant__onnx_attrs_known(r, ni, known)))
    return rc;
  for (int k = 0; k < 2; k++) { /* MatMul + constant bias */
    int v = hant__onnx_in_val(r, ni, k);
    if (r->vals[v].kind == V_DYN && r->nodes[r->vals[v].producer].absorbed_by == ni) {
      int mm = r->vals[v].producer, x;
      const onnx_value *wv, *bv;
      /* the MatMul's own checks, reported under its name */
      static const char *const none[] = {NULL};
      if ((rc = need_inputs(r, mm, 2, 2)) || (rc = hant__onnx_attrs_known(r, mm, none)) ||
          (rc = dyn_in(r, mm, 0, 2, &x)) || (rc = const_in(r, mm, 1, 2, &wv)) || (rc = const_in(r, ni, 1 - k, -1, &bv)))
        return rc;
      return emit_linear(r, ni, x, wv, false, bv);
    }
  }
  int a, b;
  for (int k = 0; k < 2; k++)
    if (r->vals[hant__onnx_in_val(r, ni, k)].kind == V_CONST)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "Add of a constant is supported only as the bias after MatMul");
  if ((rc = dyn_in(r, ni, 0, 0, &a)) || (rc = dyn_in(r, ni, 1, 0, &b)))
    return rc;
  if (r->vals[hant__onnx_in_val(r, ni, 0)].rank != r->vals[hant__onnx_in_val(r, ni, 1)].rank)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "inputs have ranks %d and %d (broadcasting is not supported)",
                               r->vals[hant__onnx_in_val(r, ni, 0)].rank, r->vals[hant__onnx_in_val(r, ni, 1)].rank);
  int h = built(r, ni, hant_net_add(r->net, a, b));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[hant__onnx_in_val(r, ni, 0)].rank;
  return 0;
}

static int op_pool(onnx_reader *r, int ni, bool avg) {
  static const char *const known_max[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                                          "storage_order", "strides", NULL};
  static const char *const known_avg[] = {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                                          "strides", NULL};
  int x, rc;
  int64_t k[2], s[2] = {1, 1}, dil[2], ceil_mode, cip = 0, order;
  bool has;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, avg ? known_avg : known_max)))
    return rc;
  int pv = hant__onnx_in_val(r, ni, 0), padded = -1;
  if (avg && r->vals[pv].kind == V_DYN && r->nodes[r->vals[pv].producer].absorbed_by == ni) {
    const Onnx__NodeProto *pn = r->nodes[r->vals[pv].producer].p; /* the Pad's input */
    pv = pn->input[0][0] ? hant__onnx_lookup(r, pn->input[0]) : -1;
    hant__onnx_pad_pool(r, r->vals[hant__onnx_in_val(r, ni, 0)].producer, &padded);
  }
  if (pv < 0 || r->vals[pv].kind == V_CONST || r->vals[pv].hnode < 0 || r->vals[pv].rank != 4)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "input 0 must be an [N, C, H, W] value computed before the node");
  x = r->vals[pv].hnode;
  if ((rc = hant__onnx_attr_ints(r, ni, "kernel_shape", 2, 1, ONNX_MAX_KERNEL, k, &has)))
    return rc;
  if (!has)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute 'kernel_shape' is required");
  if ((rc = hant__onnx_attr_ints(r, ni, "strides", 2, 1, ONNX_MAX_KERNEL, s, &has)) ||
      (rc = hant__onnx_attr_ints(r, ni, "dilations", 2, 1, 1, dil, &has)) ||
      (rc = hant__onnx_attr_int(r, ni, "ceil_mode", 0, 0, 1, &ceil_mode)) ||
      (rc = hant__onnx_attr_int(r, ni, "count_include_pad", 0, 0, 1, &cip)) ||
      (rc = hant__onnx_attr_int(r, ni, "storage_order", 0, 0, 0, &order)))
    return rc;
  const Onnx__NodeProto *pn = r->nodes[ni].p;
  if (pn->n_output > 1 && pn->output[1] && pn->output[1][0] && r->vals[hant__onnx_lookup(r, pn->output[1])].cons)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "the Indices output is not supported");
  const hant_node *in = &r->net->nodes[x];
  int ph, pw;
  if ((rc = resolve_pads(r, ni, k, s, in->h, in->w, &ph, &pw)))
    return rc;
  if (k[0] != k[1] || s[0] != s[1] || ph != pw)
    return hant__onnx_node_err(
        r, ni, HANT_ENOTSUP,
        "kernel %lldx%lld, stride %lldx%lld, padding %dx%d: only square kernels, strides and padding are "
        "supported",
        (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1], ph, pw);
  hant_pool_desc d = {.k = (int)k[0], .s = (int)s[0], .p = ph, .count_include_pad = cip != 0};
  if (padded >= 0) /* zeros padded by the Pad count, as count_include_pad=1 */
    d.p = padded, d.count_include_pad = true;
  if (2 * d.p > d.k)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "padding %d is more than half the kernel %d", d.p, d.k);
  d.ceil_mode = ceil_mode && !avg; /* max pools round up as asked (GoogLeNet, SqueezeNet) */
  if (ceil_mode && avg) { /* fine only when rounding up gives the same size */
    for (int dim = 0; dim < 2; dim++) {
      int n = dim ? in->w : in->h, span = n + 2 * d.p - d.k;
      if (span >= 0 && span % d.s)
        return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                   "ceil_mode=1 changes the output size here (hant's average pools round down)");
    }
  }
  int h = built(r, ni, avg ? hant_net_avgpool(r->net, x, &d) : hant_net_maxpool(r->net, x, &d));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int op_gap(onnx_reader *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 4, &x)))
    return rc;
  int h = built(r, ni, hant_net_gap(r->net, x));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int emit_flatten(onnx_reader *r, int ni, int x) {
  int h = built(r, ni, hant_net_flatten(r->net, x));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = 2;
  return 0;
}

/* ReduceMean over H and W, as x.mean((2, 3)) exports: global average
 * pooling, then a flatten when keepdims=0. Axes come from the attribute
 * (opset < 18) or the second input (opset 18). */
static int op_reducemean(onnx_reader *r, int ni) {
  static const char *const known[] = {"axes", "keepdims", "noop_with_empty_axes", NULL};
  int x, rc;
  int64_t keep, noop, axes[2];
  if ((rc = need_inputs(r, ni, 1, 2)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = dyn_in(r, ni, 0, 4, &x)) || (rc = hant__onnx_attr_int(r, ni, "keepdims", 1, 0, 1, &keep)) ||
      (rc = hant__onnx_attr_int(r, ni, "noop_with_empty_axes", 0, 0, 0, &noop)))
    return rc;
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, "axes");
  int av = hant__onnx_in_val(r, ni, 1);
  size_t n = 0;
  if (a && av >= 0)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "axes given both as an attribute and as an input");
  if (a) {
    if (!hant__onnx_attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) && !(!a->has_type && a->n_ints))
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute 'axes' must be a list of integers");
    for (n = 0; n < a->n_ints && n < 2; n++)
      axes[n] = a->ints[n];
    n = a->n_ints;
  } else if (av >= 0) {
    const onnx_value *v = &r->vals[av];
    if (v->kind != V_CONST || !v->i64 || v->ndim != 1)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "axes must be a constant 1-D int64 tensor");
    for (n = 0; n < v->numel && n < 2; n++)
      axes[n] = v->i64[n];
    n = v->numel;
  }
  for (size_t i = 0; i < n && i < 2; i++)
    axes[i] = axes[i] < 0 ? axes[i] + 4 : axes[i];
  if (n != 2 || !((axes[0] == 2 && axes[1] == 3) || (axes[0] == 3 && axes[1] == 2)))
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "ReduceMean is supported only over H and W (axes [2, 3] or [-2, -1])");
  int h = built(r, ni, hant_net_gap(r->net, x));
  if (h < 0)
    return h;
  if (!keep && (h = built(r, ni, hant_net_flatten(r->net, h))) < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = keep ? 4 : 2;
  return 0;
}

/* Dropout in an inference graph: the identity. A training-mode input
 * that is not a constant false, or a requested mask, is refused. */
static int op_dropout(onnx_reader *r, int ni) {
  static const char *const known[] = {"ratio", "seed", "is_test", NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 3)) || (rc = hant__onnx_attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (p->n_output > 1 && p->output[1] && p->output[1][0])
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "Dropout's mask output is not supported (inference graphs only)");
  int tv = hant__onnx_in_val(r, ni, 2);
  if (tv >= 0) {
    const onnx_value *t = &r->vals[tv];
    bool off = t->kind == V_CONST && t->numel == 1 &&
               ((t->i64 && t->i64[0] == 0) || (t->f && t->f[0] == 0));
    if (!off)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "Dropout in training mode (a training_mode input that is not a constant false) is not "
                                 "supported; export the model in eval mode");
  }
  int h = built(r, ni, hant_net_identity(r->net, x));
  if (h < 0)
    return h;
  onnx_value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[hant__onnx_in_val(r, ni, 0)].rank;
  return 0;
}

static int op_flatten(onnx_reader *r, int ni) {
  static const char *const known[] = {"axis", NULL};
  int x, rc;
  int64_t axis;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = dyn_in(r, ni, 0, 0, &x)) || (rc = hant__onnx_attr_int(r, ni, "axis", 1, -4, 4, &axis)))
    return rc;
  int rank = r->vals[hant__onnx_in_val(r, ni, 0)].rank;
  if (axis != 1 && axis != 1 - rank)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "axis=%lld is not supported (expected 1: keep the batch)",
                               (long long)axis);
  return emit_flatten(r, ni, x);
}

static int op_reshape(onnx_reader *r, int ni) {
  static const char *const known[] = {"allowzero", NULL};
  int x, rc;
  int64_t allowzero;
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = hant__onnx_attrs_known(r, ni, known)) ||
      (rc = hant__onnx_attr_int(r, ni, "allowzero", 0, 0, 1, &allowzero)))
    return rc;
  if ((rc = hant__onnx_shuffle_reshape(r, ni)))
    return rc < 0 ? rc : 0;
  if ((rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  const onnx_value *sv = &r->vals[hant__onnx_in_val(r, ni, 1)];
  const hant_node *in = &r->net->nodes[x];
  int64_t f = (int64_t)in->c * in->h * in->w, tail;
  if (sv->kind == V_DYN && r->nodes[sv->producer].absorbed_by == ni &&
      hant__onnx_batch_shape(r, ni, &tail, false) == ni) {
    if (tail != -1 && tail != f)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "reshape to [N, %lld] is not supported (expected [N, -1] or [N, %lld])",
                                 (long long)tail, (long long)f);
    return emit_flatten(r, ni, x);
  }
  if (sv->kind != V_CONST || sv->dtype != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || sv->ndim != 1)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "the shape must be a constant 1-D int64 tensor, or x.size(0) and a "
                               "constant (other computed shapes are not supported)");
  const int64_t *d = sv->i64;
  /* the first dimension keeps the batch: 0 (copy), -1, or the input's fixed batch size */
  bool ok = sv->numel == 2 &&
            ((d[0] == 0 && !allowzero) || d[0] == -1 || d[0] == HANT__ONNX_BATCH || (r->batch > 0 && d[0] == r->batch)) &&
            (d[1] == f || (d[1] == -1 && d[0] != -1));
  if (!ok) {
    char shape[128] = "";
    for (size_t i = 0, n = 0; i < sv->numel && i < 6 && n < sizeof(shape) - 24; i++)
      n += (size_t)snprintf(shape + n, sizeof(shape) - n, "%s%lld", i ? ", " : "", (long long)d[i]);
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "reshape to [%s] is not supported (expected [N, -1] or [N, %lld], N as 0, "
                               "-1 or the input's fixed batch size)",
                               shape, (long long)f);
  }
  return emit_flatten(r, ni, x);
}

/* ---- importers by op name ----------------------------------------------------- */

static int op_maxpool(onnx_reader *r, int ni) { return op_pool(r, ni, false); }
static int op_avgpool(onnx_reader *r, int ni) { return op_pool(r, ni, true); }

/* Ops hant reads only inside a pattern of onnx_fuse.c: the node that
 * emits the pattern covers them, and anywhere else they are refused. */
static int op_absorbed(onnx_reader *r, int ni) {
  if (r->nodes[ni].absorbed_by >= 0)
    return 0;
  const char *op = r->nodes[ni].p->op_type;
  if (!strcmp(op, "Shape") || !strcmp(op, "Gather") || !strcmp(op, "Unsqueeze"))
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "%s is supported only on integer shape values hant can evaluate at import (computed "
                               "from Shape of an activation and constants)",
                               op);
  if (!strcmp(op, "Pad"))
    return hant__onnx_node_err(
        r, ni, HANT_ENOTSUP,
        "Pad is supported only as equal zero padding of H and W before an AveragePool without pads");
  return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                             "HardSigmoid is supported only as x * HardSigmoid(x; alpha=1/6, beta=0.5) (hard-swish)");
}

static const struct {
  const char *name;
  hant__onnx_op_fn fn;
  int since; /* first opset with this op */
} ops[] = {
    {"Conv", op_conv, 1},          {"BatchNormalization", op_bn, 1},   {"Relu", op_relu, 1},
    {"Clip", op_clip, 1},          {"HardSwish", op_hardswish, 14},    {"HardSigmoid", op_hardsigmoid, 1},
    {"Mul", op_mul, 1},            {"Add", op_add, 1},                 {"MaxPool", op_maxpool, 1},
    {"AveragePool", op_avgpool, 1}, {"GlobalAveragePool", op_gap, 1},  {"Flatten", op_flatten, 1},
    {"Reshape", op_reshape, 5},    {"Gemm", op_gemm, 1},               {"MatMul", op_matmul, 1},
    {"Pad", op_absorbed, 2},       {"Identity", NULL, 1},              {"Constant", NULL, 1},
    {"Shape", op_absorbed, 1},     {"Gather", op_absorbed, 1},         {"Unsqueeze", op_absorbed, 1},
    {"Concat", hant__onnx_op_concat, 4},    {"ReduceMean", op_reducemean, 1},   {"Dropout", op_dropout, 1},
    /* squeeze-and-excitation */
    {"Sigmoid", op_sigmoid, 1},
    {"QuantizeLinear", op_quantize_relu, 10},  {"DequantizeLinear", NULL, 10}, /* onnx_qdq_read.c */
};

hant__onnx_op_fn hant__onnx_find_op(const char *name, int opset, bool *known) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (!strcmp(ops[i].name, name)) {
      *known = opset >= ops[i].since;
      return ops[i].fn;
    }
  return hant__onnx_find_channel_op(name, opset, known);
}
