/* SPDX-License-Identifier: MIT */
/* onnx_write.c: writes hant networks as ONNX models (opset 13) with batch norms folded into convolutions. */
#include "atomicfile.h"
#include "onnx.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "onnx.pb-c.h"

#define OPSET 13
#define IR_VERSION 7 /* the IR that goes with opset 13 */

/* Every allocation of one serialisation, released together. */
typedef struct wr {
  void **blocks;
  size_t n_blocks, cap_blocks;
  Onnx__NodeProto **nodes;
  size_t n_nodes, cap_nodes;
  Onnx__TensorProto **inits;
  size_t n_inits, cap_inits;
  size_t bytes; /* parameter bytes so far, for the size limit */
  int err;
} wr;

static int push(void ***arr, size_t *n, size_t *cap, void *p) {
  if (*n == *cap) {
    size_t nc = *cap ? 2 * *cap : 64;
    void **a = realloc(*arr, nc * sizeof(void *));
    if (!a)
      return HANT_ENOMEM;
    *arr = a;
    *cap = nc;
  }
  (*arr)[(*n)++] = p;
  return 0;
}

static void *wa(wr *w, size_t bytes) {
  if (w->err)
    return NULL;
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p || push(&w->blocks, &w->n_blocks, &w->cap_blocks, p)) {
    free(p);
    w->err = HANT_ENOMEM;
    return NULL;
  }
  return p;
}

static char *wstr(wr *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *wstr(wr *w, const char *fmt, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  char *s = wa(w, strlen(buf) + 1);
  if (s)
    memcpy(s, buf, strlen(buf) + 1);
  return s;
}

static bool little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

/* A float32 initializer. data must outlive the serialisation: it is
 * referenced, not copied, on little-endian hosts. */
static const char *init_f32(wr *w, const char *name, int ndims, const int64_t *dims, const float *data, size_t n) {
  Onnx__TensorProto *t = wa(w, sizeof(*t));
  int64_t *d = wa(w, sizeof(int64_t) * (size_t)(ndims ? ndims : 1));
  if (!t || !d)
    return NULL;
  onnx__tensor_proto__init(t);
  if (ndims)
    memcpy(d, dims, sizeof(int64_t) * (size_t)ndims);
  t->n_dims = (size_t)ndims;
  t->dims = d;
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->name = wstr(w, "%s", name);
  t->has_raw_data = 1;
  t->raw_data.len = n * 4;
  if (little_endian()) {
    t->raw_data.data = (uint8_t *)data;
  } else {
    uint8_t *b = wa(w, n * 4);
    if (!b)
      return NULL;
    for (size_t i = 0; i < n; i++) {
      uint32_t u;
      memcpy(&u, &data[i], 4);
      b[4 * i] = (uint8_t)u, b[4 * i + 1] = (uint8_t)(u >> 8), b[4 * i + 2] = (uint8_t)(u >> 16),
      b[4 * i + 3] = (uint8_t)(u >> 24);
    }
    t->raw_data.data = b;
  }
  w->bytes += n * 4;
  if (w->bytes > HANT_ONNX_MAX_BYTES && !w->err)
    w->err = hant__error(HANT_ELIMIT, "ONNX export: parameters exceed %zu bytes", HANT_ONNX_MAX_BYTES);
  if (!t->name || w->err || push((void ***)&w->inits, &w->n_inits, &w->cap_inits, t)) {
    if (!w->err)
      w->err = HANT_ENOMEM;
    return NULL;
  }
  return t->name;
}

/* A 1-D int64 initializer of n values (shapes, slice bounds), copied. */
static const char *init_i64(wr *w, const char *name, const int64_t *vals, size_t n) {
  Onnx__TensorProto *t = wa(w, sizeof(*t));
  int64_t *d = wa(w, sizeof(int64_t)), *v = wa(w, sizeof(int64_t) * n);
  if (!t || !d || !v) {
    w->err = w->err ? w->err : HANT_ENOMEM;
    return NULL;
  }
  onnx__tensor_proto__init(t);
  d[0] = (int64_t)n;
  memcpy(v, vals, sizeof(int64_t) * n);
  t->n_dims = 1;
  t->dims = d;
  t->has_data_type = 1;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  t->name = wstr(w, "%s", name);
  t->n_int64_data = n;
  t->int64_data = v;
  if (!t->name || w->err || push((void ***)&w->inits, &w->n_inits, &w->cap_inits, t)) {
    if (!w->err)
      w->err = HANT_ENOMEM;
    return NULL;
  }
  return t->name;
}

/* A node with up to 3 inputs (NULL ends the list) and one output. */
static Onnx__NodeProto *wnode(wr *w, const char *op, const char *name, const char *out, const char *in0,
                              const char *in1, const char *in2) {
  Onnx__NodeProto *n = wa(w, sizeof(*n));
  char **ins = wa(w, 3 * sizeof(char *));
  char **outs = wa(w, sizeof(char *));
  if (!n || !ins || !outs || !in0 || !out || !name)
    goto fail;
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->name = (char *)name;
  ins[0] = (char *)in0;
  n->n_input = 1;
  if (in1)
    ins[n->n_input++] = (char *)in1;
  if (in1 && in2)
    ins[n->n_input++] = (char *)in2;
  n->input = ins;
  outs[0] = (char *)out;
  n->output = outs;
  n->n_output = 1;
  if (push((void ***)&w->nodes, &w->n_nodes, &w->cap_nodes, n))
    goto fail;
  return n;
fail:
  if (!w->err)
    w->err = HANT_ENOMEM;
  return NULL;
}

static Onnx__AttributeProto *wattr(wr *w, Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType type) {
  if (!n)
    return NULL;
  Onnx__AttributeProto *a = wa(w, sizeof(*a));
  Onnx__AttributeProto **arr = wa(w, (n->n_attribute + 1) * sizeof(*arr));
  if (!a || !arr)
    return NULL;
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = 1;
  a->type = type;
  if (n->n_attribute)
    memcpy(arr, n->attribute, n->n_attribute * sizeof(*arr));
  arr[n->n_attribute++] = a;
  n->attribute = arr; /* the old array stays in the pool */
  return a;
}

static void attr_int(wr *w, Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = wattr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  if (a)
    a->has_i = 1, a->i = v;
}

static void attr_float(wr *w, Onnx__NodeProto *n, const char *name, float v) {
  Onnx__AttributeProto *a = wattr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  if (a)
    a->has_f = 1, a->f = v;
}

static void attr_ints(wr *w, Onnx__NodeProto *n, const char *name, int count, int64_t a0, int64_t a1, int64_t a2,
                      int64_t a3) {
  Onnx__AttributeProto *a = wattr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  int64_t *v = wa(w, 4 * sizeof(int64_t));
  if (!a || !v)
    return;
  v[0] = a0, v[1] = a1, v[2] = a2, v[3] = a3;
  a->n_ints = (size_t)count;
  a->ints = v;
}

/* perm = (0, 2, 1, 3, 4): the transpose of a channel shuffle. */
static void attr_shuffle_perm(wr *w, Onnx__NodeProto *n) {
  Onnx__AttributeProto *a = wattr(w, n, "perm", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  int64_t *v = wa(w, 5 * sizeof(int64_t));
  if (!a || !v)
    return;
  v[0] = 0, v[1] = 2, v[2] = 1, v[3] = 3, v[4] = 4;
  a->n_ints = 5;
  a->ints = v;
}

/* [N, C, H, W] or [N, F] with the batch dimension named "N". */
static Onnx__ValueInfoProto *wvalue(wr *w, const char *name, int rank, int c, int h, int wd) {
  Onnx__ValueInfoProto *v = wa(w, sizeof(*v));
  Onnx__TypeProto *t = wa(w, sizeof(*t));
  Onnx__TypeProto__Tensor *tt = wa(w, sizeof(*tt));
  Onnx__TensorShapeProto *s = wa(w, sizeof(*s));
  Onnx__TensorShapeProto__Dimension **dims = wa(w, 4 * sizeof(*dims));
  if (!v || !t || !tt || !s || !dims)
    return NULL;
  onnx__value_info_proto__init(v);
  onnx__type_proto__init(t);
  onnx__type_proto__tensor__init(tt);
  onnx__tensor_shape_proto__init(s);
  int64_t vals[4] = {0, rank == 4 ? c : (int64_t)c * h * wd, h, wd};
  for (int i = 0; i < rank; i++) {
    Onnx__TensorShapeProto__Dimension *d = wa(w, sizeof(*d));
    if (!d)
      return NULL;
    onnx__tensor_shape_proto__dimension__init(d);
    if (i == 0) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = (char *)"N";
    } else {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = vals[i];
    }
    dims[i] = d;
  }
  s->n_dim = (size_t)rank;
  s->dim = dims;
  tt->has_elem_type = 1;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = s;
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  v->name = (char *)name;
  v->type = t;
  return v;
}

/* Fills the graph of net into w. names[i] is node i's ONNX value name and
 * rank[i] its rank (4 for [N, C, H, W], 2 for [N, F]); ncons[i] counts the
 * readers of node i and reader[i] is one of them. */
static int build_graph(wr *w, const hant_net *net, const char **names, int *rank, const int *ncons,
                       const int *reader) {
  static const float clip_lo = 0.0f, clip_hi = 6.0f;
  const char *clip_min = NULL, *clip_max = NULL;
  int last = hant_net_output(net);
  names[0] = "input";
  rank[0] = 4;
  if (last == 0)
    return hant__error(HANT_EINVAL, "ONNX export: the network has no operators");
  for (int i = 1; i <= last && !w->err; i++) {
    const hant_node *nd = &net->nodes[i];
    int x = nd->in[0];
    const char *in = names[x];
    const char *out = i == last ? "logits" : wstr(w, "n%d", i);
    const char *nm = wstr(w, "n%d_%s", i, hant_op_name(nd->op));
    Onnx__NodeProto *n = NULL;
    rank[i] = rank[x];
    names[i] = out;
    switch (nd->op) {
    case HANT_OP_CONV: {
      const hant_conv_desc *d = &nd->conv;
      const hant_param *pw = &net->params[nd->param[0]];
      const float *wt = pw->w, *bias = nd->param[1] >= 0 ? net->params[nd->param[1]].w : NULL;
      int bn_node = -1;
      if (ncons[i] == 1 && net->nodes[reader[i]].op == HANT_OP_BN)
        bn_node = reader[i];
      if (bn_node >= 0) { /* fold: weights and bias rescaled per output channel */
        const hant_node *bn = &net->nodes[bn_node];
        float *fw = wa(w, pw->n * sizeof(float)), *fb = wa(w, (size_t)d->c_out * sizeof(float));
        if (!fw || !fb)
          break;
        memcpy(fw, wt, pw->n * sizeof(float));
        if (bias)
          memcpy(fb, bias, (size_t)d->c_out * sizeof(float));
        hant_bn_fold(d->c_out, (int)(pw->n / (size_t)d->c_out), fw, fb, net->params[bn->param[0]].w,
                     net->params[bn->param[1]].w, net->params[bn->param[2]].w, net->params[bn->param[3]].w,
                     bn->bn_eps);
        wt = fw, bias = fb;
      }
      int64_t wd[4] = {d->c_out, d->c_in / d->groups, d->kh, d->kw}, bd[1] = {d->c_out};
      const char *wn = init_f32(w, wstr(w, "n%d.weight", i), 4, wd, wt, pw->n);
      const char *bname = bias ? init_f32(w, wstr(w, "n%d.bias", i), 1, bd, bias, (size_t)d->c_out) : NULL;
      n = wnode(w, "Conv", nm, out, in, wn, bname);
      attr_int(w, n, "group", d->groups);
      attr_ints(w, n, "kernel_shape", 2, d->kh, d->kw, 0, 0);
      attr_ints(w, n, "pads", 4, d->ph, d->pw, d->ph, d->pw);
      attr_ints(w, n, "strides", 2, d->sh, d->sw, 0, 0);
      break;
    }
    case HANT_OP_BN: {
      if (net->nodes[x].op == HANT_OP_CONV) {
        if (ncons[x] == 1) { /* folded into the conv */
          names[i] = names[x];
          if (i == last)
            n = wnode(w, "Identity", nm, out, in, NULL, NULL);
          break;
        }
      }
      int64_t cd[1] = {nd->c};
      const char *p[4];
      static const char *const roles[4] = {"scale", "bias", "mean", "var"};
      for (int k = 0; k < 4; k++)
        p[k] = init_f32(w, wstr(w, "n%d.%s", i, roles[k]), 1, cd, net->params[nd->param[k]].w, (size_t)nd->c);
      n = wnode(w, "BatchNormalization", nm, out, in, p[0], p[1]);
      if (!n)
        break;
      char **ins = wa(w, 5 * sizeof(char *));
      if (!ins)
        break;
      memcpy(ins, n->input, 3 * sizeof(char *));
      ins[3] = (char *)p[2], ins[4] = (char *)p[3];
      n->input = ins;
      n->n_input = 5;
      attr_float(w, n, "epsilon", nd->bn_eps);
      break;
    }
    case HANT_OP_ACT:
      if (nd->act == HANT_ACT_RELU) {
        n = wnode(w, "Relu", nm, out, in, NULL, NULL);
      } else if (nd->act == HANT_ACT_RELU6) {
        if (!clip_min) {
          clip_min = init_f32(w, "clip_min", 0, NULL, &clip_lo, 1);
          clip_max = init_f32(w, "clip_max", 0, NULL, &clip_hi, 1);
        }
        n = wnode(w, "Clip", nm, out, in, clip_min, clip_max);
      } else if (nd->act == HANT_ACT_HSWISH) { /* opset 13 has no HardSwish */
        const char *hs = wstr(w, "n%d_hsig", i);
        n = wnode(w, "HardSigmoid", hs, hs, in, NULL, NULL);
        attr_float(w, n, "alpha", 1.0f / 6.0f);
        attr_float(w, n, "beta", 0.5f);
        n = wnode(w, "Mul", nm, out, in, hs, NULL);
      } else if (nd->act == HANT_ACT_SIGMOID) {
        n = wnode(w, "Sigmoid", nm, out, in, NULL, NULL);
      } else if (nd->act == HANT_ACT_SILU) { /* as PyTorch exports SiLU: no SiLU op before opset 24 */
        const char *sg = wstr(w, "n%d_sig", i);
        wnode(w, "Sigmoid", sg, sg, in, NULL, NULL);
        n = wnode(w, "Mul", nm, out, in, sg, NULL);
      } else if (nd->act == HANT_ACT_HSIGMOID) {
        n = wnode(w, "HardSigmoid", nm, out, in, NULL, NULL);
        attr_float(w, n, "alpha", 1.0f / 6.0f);
        attr_float(w, n, "beta", 0.5f);
      } else {
        n = wnode(w, "Identity", nm, out, in, NULL, NULL);
      }
      break;
    case HANT_OP_ADD:
      n = wnode(w, "Add", nm, out, in, names[nd->in[1]], NULL);
      break;
    case HANT_OP_MUL: /* a [N, C, H, W] times a gate [N, C, 1, 1] or a same-shaped tensor: ONNX broadcasts */
      n = wnode(w, "Mul", nm, out, in, names[nd->in[1]], NULL);
      break;
    case HANT_OP_MAXPOOL:
    case HANT_OP_AVGPOOL: {
      const hant_pool_desc *d = &nd->pool;
      n = wnode(w, nd->op == HANT_OP_MAXPOOL ? "MaxPool" : "AveragePool", nm, out, in, NULL, NULL);
      attr_ints(w, n, "kernel_shape", 2, d->k, d->k, 0, 0);
      attr_ints(w, n, "pads", 4, d->p, d->p, d->p, d->p);
      attr_ints(w, n, "strides", 2, d->s, d->s, 0, 0);
      if (nd->op == HANT_OP_AVGPOOL)
        attr_int(w, n, "count_include_pad", d->count_include_pad);
      if (d->ceil_mode)
        attr_int(w, n, "ceil_mode", 1);
      break;
    }
    case HANT_OP_GAP:
      n = wnode(w, "GlobalAveragePool", nm, out, in, NULL, NULL);
      break;
    case HANT_OP_FLATTEN:
      n = wnode(w, "Flatten", nm, out, in, NULL, NULL);
      attr_int(w, n, "axis", 1);
      rank[i] = 2;
      break;
    case HANT_OP_LINEAR: {
      const hant_node *src = &net->nodes[x];
      int features = src->c * src->h * src->w;
      if (rank[x] == 4) {
        const char *flat = wstr(w, "n%d_flat", i);
        Onnx__NodeProto *f = wnode(w, "Flatten", flat, flat, in, NULL, NULL);
        attr_int(w, f, "axis", 1);
        in = flat;
      }
      int64_t wd[2] = {nd->c, features}, bd[1] = {nd->c};
      const char *wn = init_f32(w, wstr(w, "n%d.weight", i), 2, wd, net->params[nd->param[0]].w,
                                (size_t)nd->c * (size_t)features);
      const char *bname = nd->param[1] >= 0
                              ? init_f32(w, wstr(w, "n%d.bias", i), 1, bd, net->params[nd->param[1]].w, (size_t)nd->c)
                              : NULL;
      n = wnode(w, "Gemm", nm, out, in, wn, bname);
      attr_int(w, n, "transB", 1);
      rank[i] = 2;
      break;
    }
    case HANT_OP_IDENTITY:
      names[i] = names[x];
      if (i == last)
        n = wnode(w, "Identity", nm, out, in, NULL, NULL);
      break;
    case HANT_OP_CONCAT:
      n = wnode(w, "Concat", nm, out, in, names[nd->in[1]], NULL);
      attr_int(w, n, "axis", 1);
      break;
    case HANT_OP_CHSLICE: {
      int64_t b[3] = {nd->ch_first, nd->ch_first + nd->c, 1};
      const char *st = init_i64(w, wstr(w, "n%d.starts", i), &b[0], 1);
      const char *en = init_i64(w, wstr(w, "n%d.ends", i), &b[1], 1);
      const char *ax = init_i64(w, wstr(w, "n%d.axes", i), &b[2], 1);
      n = wnode(w, "Slice", nm, out, in, st, en);
      char **ins = n ? wa(w, 4 * sizeof(char *)) : NULL;
      if (!ins)
        break;
      memcpy(ins, n->input, 3 * sizeof(char *));
      ins[3] = (char *)ax;
      n->input = ins;
      n->n_input = 4;
      break;
    }
    case HANT_OP_SHUFFLE: {
      /* PyTorch's form, which the reader recognises as one shuffle:
       * Reshape [N, g, C/g, H, W], Transpose (0, 2, 1, 3, 4), Reshape back. */
      int g = nd->ch_groups;
      int64_t s5[5] = {0, g, nd->c / g, nd->h, nd->w}, s4[4] = {0, nd->c, nd->h, nd->w};
      const char *r5 = wstr(w, "n%d_split", i), *tr = wstr(w, "n%d_swap", i);
      Onnx__NodeProto *a = wnode(w, "Reshape", r5, r5, in, init_i64(w, wstr(w, "n%d.shape5", i), s5, 5), NULL);
      Onnx__NodeProto *t = a ? wnode(w, "Transpose", tr, tr, r5, NULL, NULL) : NULL;
      if (t)
        attr_shuffle_perm(w, t);
      n = t ? wnode(w, "Reshape", nm, out, tr, init_i64(w, wstr(w, "n%d.shape4", i), s4, 4), NULL) : NULL;
      break;
    }
    default:
      return hant__error(HANT_ENOTSUP, "ONNX export: node %d has op %s, which has no ONNX form", i,
                         hant_op_name(nd->op));
    }
    if (i == last && !n && !w->err)
      w->err = HANT_ENOMEM;
  }
  return w->err;
}

int hant_onnx_serialize(const hant_net *net, const hant_onnx_save_opts *opts, uint8_t **data, size_t *len) {
  if (!net || !data || !len)
    return hant__error(HANT_EINVAL, "ONNX export: no network or output buffer");
  *data = NULL;
  *len = 0;
  wr w = {0};
  int rc;
  const char **names = calloc((size_t)net->n_nodes, sizeof(char *));
  int *rank = calloc((size_t)net->n_nodes, sizeof(int));
  int *ncons = calloc((size_t)net->n_nodes, sizeof(int)), *reader = calloc((size_t)net->n_nodes, sizeof(int));
  if (!names || !rank || !ncons || !reader) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 1; i < net->n_nodes; i++)
    for (int j = 0; j < 2; j++)
      if (net->nodes[i].in[j] >= 0)
        ncons[net->nodes[i].in[j]]++, reader[net->nodes[i].in[j]] = i;
  if ((rc = build_graph(&w, net, names, rank, ncons, reader)))
    goto out;
  const hant_node *in = &net->nodes[0], *o = &net->nodes[hant_net_output(net)];
  Onnx__ModelProto *m = wa(&w, sizeof(*m));
  Onnx__GraphProto *g = wa(&w, sizeof(*g));
  Onnx__OperatorSetIdProto *os = wa(&w, sizeof(*os));
  Onnx__OperatorSetIdProto **osv = wa(&w, sizeof(*osv));
  Onnx__ValueInfoProto **gin = wa(&w, sizeof(*gin)), **gout = wa(&w, sizeof(*gout));
  if (!m || !g || !os || !osv || !gin || !gout) {
    rc = HANT_ENOMEM;
    goto out;
  }
  gin[0] = wvalue(&w, "input", 4, in->c, in->h, in->w);
  gout[0] = wvalue(&w, "logits", rank[hant_net_output(net)], o->c, o->h, o->w);
  if (w.err || !gin[0] || !gout[0]) {
    rc = w.err ? w.err : HANT_ENOMEM;
    goto out;
  }
  onnx__operator_set_id_proto__init(os);
  os->domain = (char *)"";
  os->has_version = 1;
  os->version = OPSET;
  osv[0] = os;
  onnx__graph_proto__init(g);
  g->name = (char *)"hant";
  g->n_node = w.n_nodes;
  g->node = w.nodes;
  g->n_initializer = w.n_inits;
  g->initializer = w.inits;
  g->n_input = 1;
  g->input = gin;
  g->n_output = 1;
  g->output = gout;
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = IR_VERSION;
  m->n_opset_import = 1;
  m->opset_import = osv;
  m->producer_name = (char *)"hant";
  m->producer_version = (char *)hant_version();
  if (opts && opts->doc)
    m->doc_string = (char *)opts->doc;
  m->graph = g;
  size_t n = onnx__model_proto__get_packed_size(m);
  if (n > HANT_ONNX_MAX_BYTES) {
    rc = hant__error(HANT_ELIMIT, "ONNX export: the model would take %zu bytes, more than %zu", n,
                     HANT_ONNX_MAX_BYTES);
    goto out;
  }
  *data = malloc(n ? n : 1);
  if (!*data) {
    rc = HANT_ENOMEM;
    goto out;
  }
  *len = onnx__model_proto__pack(m, *data);
  HANT_ASSERT(*len == n);
out:
  for (size_t i = 0; i < w.n_blocks; i++)
    free(w.blocks[i]);
  free(w.blocks);
  free(w.nodes);
  free(w.inits);
  free(names);
  free(rank);
  free(ncons);
  free(reader);
  return rc;
}

int hant_onnx_save(const hant_net *net, const char *path, const hant_onnx_save_opts *opts) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = hant_onnx_serialize(net, opts, &buf, &len);
  if (rc)
    return rc;
  rc = hant_file_write_atomic(path, buf, len);
  free(buf);
  return rc;
}
