/* SPDX-License-Identifier: MIT */
/* onnx_qdq.c: writes a quantised network as a QDQ ONNX model: QuantizeLinear and DequantizeLinear around each quantised operator, int8 weights with per-channel scales. */
#include "onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "base.h"
#include "onnx.pb-c.h"

/*
 * The float32 model of the same network (onnx_write.c, BN folded) is the
 * skeleton: its values are named "input", "n<i>" after hant node i (or the
 * node it forwards), "logits", and its conv and linear parameters
 * "n<i>.weight", "n<i>.bias". This file unpacks that model and rebuilds its
 * graph with
 *
 *   - Q -> DQ after every tensor the int8 evaluation holds in uint8 (the
 *     input, each conv, add, pooling, flatten and float-only node), so that
 *     ONNX Runtime fuses DQ -> Conv -> Q into QLinearConv, DQ -> Add -> Q
 *     into QLinearAdd, DQ -> GlobalAveragePool -> Q into its QLinear form,
 *     and drops the pairs around MaxPool and Flatten;
 *   - the Relu that a producer's saturation absorbs (quant.h) left out;
 *   - conv and linear weights as int8 initialisers with one scale per output
 *     channel (DequantizeLinear axis 0) and biases as int32 in units of
 *     input scale x weight scale, so they join the int32 sums.
 *
 * Nodes of the skeleton are copied shallowly (their inputs rewritten);
 * everything this file adds lives in one pool freed after packing.
 */

typedef struct pool {
  void **blocks;
  size_t n, cap;
  int err;
} pool;

static void *pa(pool *p, size_t bytes) {
  if (p->err)
    return NULL;
  if (p->n == p->cap) {
    size_t nc = p->cap ? 2 * p->cap : 256;
    void **b = realloc(p->blocks, nc * sizeof(void *));
    if (!b) {
      p->err = HANT_ENOMEM;
      return NULL;
    }
    p->blocks = b, p->cap = nc;
  }
  void *m = calloc(1, bytes ? bytes : 1);
  if (!m) {
    p->err = HANT_ENOMEM;
    return NULL;
  }
  return p->blocks[p->n++] = m;
}

static char *pstr(pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *pstr(pool *p, const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  char *s = pa(p, strlen(buf) + 1);
  if (s)
    strcpy(s, buf);
  return s;
}

/* The graph being built: node and initializer lists, and the renaming of
 * the skeleton's values (a value read after its Q -> DQ is the DQ's). */
typedef struct qb {
  pool p;
  const hant_qnet *q;
  Onnx__NodeProto **nodes;
  size_t n_nodes, cap_nodes;
  Onnx__TensorProto **inits;
  size_t n_inits, cap_inits;
  const char **from, **to; /* renames */
  size_t n_ren, cap_ren;
} qb;

static void push(qb *b, void ***arr, size_t *n, size_t *cap, void *x) {
  if (b->p.err || !x) {
    if (!b->p.err)
      b->p.err = HANT_ENOMEM;
    return;
  }
  if (*n == *cap) {
    size_t nc = *cap ? 2 * *cap : 64;
    void **a = realloc(*arr, nc * sizeof(void *));
    if (!a) {
      b->p.err = HANT_ENOMEM;
      return;
    }
    *arr = a, *cap = nc;
  }
  (*arr)[(*n)++] = x;
}

static void rename_add(qb *b, const char *from, const char *to) {
  if (b->p.err || !from || !to) {
    if (!b->p.err)
      b->p.err = HANT_ENOMEM;
    return;
  }
  if (b->n_ren == b->cap_ren) {
    size_t nc = b->cap_ren ? 2 * b->cap_ren : 64;
    const char **f = realloc(b->from, nc * sizeof(char *));
    if (f)
      b->from = f;
    const char **t = f ? realloc(b->to, nc * sizeof(char *)) : NULL;
    if (!t) {
      b->p.err = HANT_ENOMEM;
      return;
    }
    b->to = t, b->cap_ren = nc;
  }
  b->from[b->n_ren] = from;
  b->to[b->n_ren++] = to;
}

static const char *renamed(const qb *b, const char *name) {
  for (size_t i = b->n_ren; i-- > 0;)
    if (!strcmp(b->from[i], name))
      return b->to[i];
  return name;
}

/* An initializer of `count` elements of ONNX type dtype and element size
 * esize, copied from data (little-endian hosts; hant builds on x86 and
 * arm64, both little-endian). */
static const char *init_raw(qb *b, const char *name, int dtype, size_t esize, int ndims, const int64_t *dims,
                            const void *data, size_t count) {
  Onnx__TensorProto *t = pa(&b->p, sizeof(*t));
  int64_t *d = pa(&b->p, sizeof(int64_t) * (size_t)(ndims ? ndims : 1));
  uint8_t *raw = pa(&b->p, count * esize);
  if (!t || !d || !raw || !name)
    return NULL;
  onnx__tensor_proto__init(t);
  if (ndims > 0) /* a scalar has no dims, and memcpy must not see its NULL */
    memcpy(d, dims, sizeof(int64_t) * (size_t)ndims);
  memcpy(raw, data, count * esize);
  t->n_dims = (size_t)ndims;
  t->dims = d;
  t->has_data_type = 1;
  t->data_type = dtype;
  t->name = (char *)name;
  t->has_raw_data = 1;
  t->raw_data.len = count * esize;
  t->raw_data.data = raw;
  push(b, (void ***)&b->inits, &b->n_inits, &b->cap_inits, t);
  return name;
}

static Onnx__NodeProto *node(qb *b, const char *op, const char *name, const char *out, const char *in0,
                             const char *in1, const char *in2) {
  Onnx__NodeProto *n = pa(&b->p, sizeof(*n));
  char **ins = pa(&b->p, 3 * sizeof(char *)), **outs = pa(&b->p, sizeof(char *));
  if (!n || !ins || !outs || !name || !out || !in0 || !in1)
    return NULL;
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->name = (char *)name;
  ins[0] = (char *)in0, ins[1] = (char *)in1, ins[2] = (char *)in2;
  n->n_input = in2 ? 3 : 2;
  n->input = ins;
  outs[0] = (char *)out;
  n->n_output = 1;
  n->output = outs;
  push(b, (void ***)&b->nodes, &b->n_nodes, &b->cap_nodes, n);
  return n;
}

static void attr_axis(qb *b, Onnx__NodeProto *n, int64_t axis) {
  Onnx__AttributeProto *a = pa(&b->p, sizeof(*a));
  Onnx__AttributeProto **arr = pa(&b->p, sizeof(*arr));
  if (!n || !a || !arr)
    return;
  onnx__attribute_proto__init(a);
  a->name = (char *)"axis";
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->has_i = 1;
  a->i = axis;
  arr[0] = a;
  n->n_attribute = 1;
  n->attribute = arr;
}

/* Q -> DQ of value `v` (uint8, scale, zero point); the value's readers
 * read `out` (the DQ's output). */
static void qdq(qb *b, const char *tag, const char *v, const char *out, float scale, int32_t zp) {
  uint8_t z = (uint8_t)zp;
  const char *sn = init_raw(b, pstr(&b->p, "%s_scale", tag), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, 0, NULL,
                            &scale, 1);
  const char *zn = init_raw(b, pstr(&b->p, "%s_zp", tag), ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 1, 0, NULL, &z, 1);
  const char *qv = pstr(&b->p, "%s_q", tag);
  node(b, "QuantizeLinear", pstr(&b->p, "%s_Q", tag), qv, v, sn, zn);
  node(b, "DequantizeLinear", pstr(&b->p, "%s_DQ", tag), out, qv, sn, zn);
}

/* The hant node a value of the skeleton stands for, or -1. */
static int value_node(const hant_qnet *q, const char *v) {
  if (!strcmp(v, "input"))
    return 0;
  if (!strcmp(v, "logits"))
    return hant_net_output(q->net);
  int i, len = 0;
  if (sscanf(v, "n%d%n", &i, &len) == 1 && v[len] == 0 && i > 0 && i < q->net->n_nodes)
    return i;
  return -1;
}

/* DequantizeLinear nodes for the weights and bias of integer node i,
 * whose float32 initializers they replace under the same names. */
static void weights(qb *b, int i, const Onnx__TensorProto *wt) {
  const hant_qnode *qn = &b->q->nodes[i];
  const hant_node *nd = &b->q->net->nodes[i];
  const hant_qnode *qi = &b->q->nodes[b->q->nodes[nd->in[0]].src];
  int64_t k = nd->c;
  size_t n = (size_t)k * (size_t)qn->per_k;
  int64_t kd[1] = {k};
  int8_t *wz = pa(&b->p, (size_t)k);
  int32_t *bz = pa(&b->p, sizeof(int32_t) * (size_t)k);
  float *bs = pa(&b->p, sizeof(float) * (size_t)k);
  if (!wz || !bz || !bs)
    return;
  for (int64_t o = 0; o < k; o++)
    bs[o] = qi->scale * qn->wscale[o]; /* as quant.c computed the bias */
  const char *wq = init_raw(b, pstr(&b->p, "n%d.weight_quantized", i), ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 1,
                            (int)wt->n_dims, wt->dims, qn->wq, n);
  const char *ws = init_raw(b, pstr(&b->p, "n%d.weight_scale", i), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, 1, kd,
                            qn->wscale, (size_t)k);
  const char *wzp = init_raw(b, pstr(&b->p, "n%d.weight_zp", i), ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 1, 1, kd, wz,
                             (size_t)k);
  attr_axis(b, node(b, "DequantizeLinear", pstr(&b->p, "n%d.weight_DQ", i), pstr(&b->p, "n%d.weight", i), wq, ws, wzp),
            0);
  if (nd->param[1] < 0)
    return;
  const char *bq = init_raw(b, pstr(&b->p, "n%d.bias_quantized", i), ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 4, 1, kd,
                            qn->bq, (size_t)k);
  const char *bsn = init_raw(b, pstr(&b->p, "n%d.bias_scale", i), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, 1, kd, bs,
                             (size_t)k);
  const char *bzp = init_raw(b, pstr(&b->p, "n%d.bias_zp", i), ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 4, 1, kd, bz,
                             (size_t)k);
  attr_axis(b, node(b, "DequantizeLinear", pstr(&b->p, "n%d.bias_DQ", i), pstr(&b->p, "n%d.bias", i), bq, bsn, bzp),
            0);
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g, const char *name) {
  for (size_t i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name))
      return g->initializer[i];
  return NULL;
}

/* Rebuilds the skeleton's graph into b. */
static int rebuild(qb *b, const Onnx__GraphProto *g) {
  const hant_qnet *q = b->q;
  const hant_net *net = q->net;
  /* initializers that stay: all but the float weights of integer nodes */
  for (size_t i = 0; i < g->n_initializer; i++) {
    int n = -1, len = 0;
    const char *name = g->initializer[i]->name;
    if (name && sscanf(name, "n%d.%n", &n, &len) == 1 && len > 0 && n > 0 && n < net->n_nodes &&
        q->nodes[n].kind == HANT_QK_INT && (!strcmp(name + len, "weight") || !strcmp(name + len, "bias")))
      continue;
    push(b, (void ***)&b->inits, &b->n_inits, &b->cap_inits, g->initializer[i]);
  }
  qdq(b, "input", "input", "input_dq", q->nodes[0].scale, q->nodes[0].zp);
  rename_add(b, "input", "input_dq");
  for (size_t k = 0; k < g->n_node && !b->p.err; k++) {
    const Onnx__NodeProto *src = g->node[k];
    if (src->n_output != 1)
      return hant__error(HANT_EINVAL, "QDQ export: node '%s' of the float model has %zu outputs", src->name,
                         src->n_output);
    const char *out = src->output[0];
    int vi = value_node(q, out);
    if (!strcmp(src->op_type, "Relu") && vi > 0 && q->nodes[vi].kind == HANT_QK_ALIAS && q->nodes[vi].src != vi) {
      rename_add(b, out, renamed(b, src->input[0])); /* absorbed by the producer's saturation */
      continue;
    }
    if ((!strcmp(src->op_type, "Conv") || !strcmp(src->op_type, "Gemm")) && vi > 0) {
      int ii = vi; /* a conv's or linear layer's output is named after it */
      const Onnx__TensorProto *wt = find_init(g, src->n_input > 1 ? src->input[1] : "");
      if (q->nodes[ii].kind != HANT_QK_INT || !wt)
        return hant__error(HANT_EINVAL, "QDQ export: %s node '%s' has no quantised weights", src->op_type,
                           src->name);
      weights(b, ii, wt);
    }
    Onnx__NodeProto *n = pa(&b->p, sizeof(*n));
    char **ins = pa(&b->p, (src->n_input ? src->n_input : 1) * sizeof(char *));
    char **outs = pa(&b->p, sizeof(char *));
    if (!n || !ins || !outs)
      break;
    *n = *src;
    for (size_t j = 0; j < src->n_input; j++)
      ins[j] = (char *)renamed(b, src->input[j]);
    n->input = ins;
    outs[0] = (char *)out;
    n->output = outs;
    push(b, (void ***)&b->nodes, &b->n_nodes, &b->cap_nodes, n);
    /* which parameters the output is quantised with, if at all */
    const hant_qnode *qp = NULL;
    size_t len = strlen(out);
    if (vi >= 0) {
      const hant_qnode *qn = &q->nodes[vi];
      if (qn->src == vi && !qn->out_float && qn->kind != HANT_QK_ALIAS)
        qp = qn;
    } else if (len > 5 && !strcmp(out + len - 5, "_flat")) { /* the Flatten before a Gemm */
      int x = value_node(q, src->input[0]);
      if (x >= 0)
        qp = &q->nodes[q->nodes[x].src];
    }
    if (!qp)
      continue;
    const char *tag = out;
    if (!strcmp(out, "logits")) { /* the graph's output stays float32: the DQ writes it */
      outs[0] = pstr(&b->p, "logits_float");
      tag = "logits_out";
      qdq(b, tag, outs[0], "logits", qp->scale, qp->zp);
      continue;
    }
    const char *dq = pstr(&b->p, "%s_dq", out);
    qdq(b, tag, out, dq, qp->scale, qp->zp);
    rename_add(b, out, dq);
  }
  return b->p.err;
}

int hant_onnx_serialize_qdq(const hant_qnet *q, const hant_onnx_save_opts *opts, uint8_t **data, size_t *len) {
  if (!q || !data || !len)
    return hant__error(HANT_EINVAL, "QDQ export: no quantised network or output buffer");
  *data = NULL;
  *len = 0;
  uint8_t *fp = NULL;
  size_t fp_len = 0;
  int rc = hant_onnx_serialize(q->net, opts, &fp, &fp_len);
  if (rc)
    return rc;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, fp_len, fp);
  free(fp);
  if (!m || !m->graph)
    return hant__error(HANT_ENOMEM, "QDQ export: cannot read back the float model");
  qb b = {.q = q};
  Onnx__GraphProto *g = m->graph;
  if (!(rc = rebuild(&b, g))) {
    Onnx__NodeProto **old_nodes = g->node;
    Onnx__TensorProto **old_inits = g->initializer;
    size_t old_n = g->n_node, old_i = g->n_initializer;
    g->node = b.nodes, g->n_node = b.n_nodes;
    g->initializer = b.inits, g->n_initializer = b.n_inits;
    size_t n = onnx__model_proto__get_packed_size(m);
    if (n > HANT_ONNX_MAX_BYTES)
      rc = hant__error(HANT_ELIMIT, "QDQ export: the model would take %zu bytes", n);
    else if (!(*data = malloc(n ? n : 1)))
      rc = HANT_ENOMEM;
    else
      *len = onnx__model_proto__pack(m, *data);
    g->node = old_nodes, g->n_node = old_n;
    g->initializer = old_inits, g->n_initializer = old_i;
  }
  if (rc == HANT_ENOMEM)
    rc = hant__error(HANT_ENOMEM, "QDQ export: out of memory");
  onnx__model_proto__free_unpacked(m, NULL);
  for (size_t i = 0; i < b.p.n; i++)
    free(b.p.blocks[i]);
  free(b.p.blocks);
  free(b.nodes);
  free(b.inits);
  free(b.from);
  free(b.to);
  return rc;
}

int hant_onnx_save_qdq(const hant_qnet *q, const char *path, const hant_onnx_save_opts *opts) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = hant_onnx_serialize_qdq(q, opts, &buf, &len);
  if (rc)
    return rc;
  rc = hant_file_write_atomic(path, buf, len);
  free(buf);
  return rc;
}
