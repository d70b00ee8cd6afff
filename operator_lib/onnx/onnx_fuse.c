/* SPDX-License-Identifier: MIT */
/* onnx_fuse.c: recognises the groups of ONNX nodes that exporters write for one hant operator. */
#include "onnx_internal.h"

#include <math.h>
#include <string.h>

/* HardSigmoid(x; 1/6, 1/2) read only by Mul(x, .): hard-swish. Returns the
 * Mul's node index when node hs is that pattern, else -1. */
int hant__onnx_hswish_mul(const onnx_reader *r, int hs) {
  const Onnx__NodeProto *p = r->nodes[hs].p;
  if (strcmp(p->op_type, "HardSigmoid") || p->n_input != 1 || p->n_output != 1 || !p->output[0][0])
    return -1;
  const Onnx__AttributeProto *a = hant__onnx_attr(r, hs, "alpha"), *b = hant__onnx_attr(r, hs, "beta");
  float alpha = a && a->has_f ? a->f : 0.2f, beta = b && b->has_f ? b->f : 0.5f;
  if (fabsf(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f || p->n_attribute > (size_t)(!!a + !!b))
    return -1;
  int x = hant__onnx_lookup(r, p->input[0]), y = hant__onnx_lookup(r, p->output[0]);
  if (x < 0 || y < 0 || r->vals[y].cons != 1 || r->vals[y].reader < 0)
    return -1;
  int ni = r->vals[y].reader;
  const Onnx__NodeProto *m = r->nodes[ni].p;
  if (strcmp(m->op_type, "Mul") || m->n_input != 2 || m->n_attribute)
    return -1;
  int a0 = hant__onnx_lookup(r, m->input[0]), a1 = hant__onnx_lookup(r, m->input[1]);
  return (a0 == x && a1 == y) || (a0 == y && a1 == x) ? ni : -1;
}

/* Sigmoid(x) read only by Mul(x, .): SiLU, as PyTorch exports
 * nn.SiLU. Returns the Mul's node index when node sg is that pattern, else
 * -1; a Sigmoid whose Mul multiplies something else (the gate of
 * squeeze-and-excitation) is a sigmoid of its own. */
int hant__onnx_silu_mul(const onnx_reader *r, int sg) {
  const Onnx__NodeProto *p = r->nodes[sg].p;
  if (strcmp(p->op_type, "Sigmoid") || p->n_input != 1 || p->n_output != 1 || !p->output[0][0] || p->n_attribute)
    return -1;
  int x = hant__onnx_lookup(r, p->input[0]), y = hant__onnx_lookup(r, p->output[0]);
  if (x < 0 || y < 0 || r->vals[y].cons != 1 || r->vals[y].reader < 0)
    return -1;
  int ni = r->vals[y].reader;
  const Onnx__NodeProto *m = r->nodes[ni].p;
  if (strcmp(m->op_type, "Mul") || m->n_input != 2 || m->n_attribute)
    return -1;
  int a0 = hant__onnx_lookup(r, m->input[0]), a1 = hant__onnx_lookup(r, m->input[1]);
  return (a0 == x && a1 == y) || (a0 == y && a1 == x) ? ni : -1;
}

/* MatMul(x, W) with constant W [in, out] read only by an Add of a constant
 * bias: a linear layer. Returns the Add's index, or -1. */
int hant__onnx_matmul_add(const onnx_reader *r, int mm) {
  const Onnx__NodeProto *p = r->nodes[mm].p;
  if (strcmp(p->op_type, "MatMul") || p->n_input != 2 || p->n_output != 1 || !p->output[0][0])
    return -1;
  int y = hant__onnx_lookup(r, p->output[0]);
  if (y < 0 || r->vals[y].cons != 1 || r->vals[y].reader < 0)
    return -1;
  int ni = r->vals[y].reader;
  const Onnx__NodeProto *a = r->nodes[ni].p;
  if (strcmp(a->op_type, "Add") || a->n_input != 2)
    return -1;
  int a0 = hant__onnx_lookup(r, a->input[0]), a1 = hant__onnx_lookup(r, a->input[1]);
  if ((a0 == y && a1 >= 0 && r->vals[a1].kind == V_CONST) || (a1 == y && a0 >= 0 && r->vals[a0].kind == V_CONST))
    return ni;
  return -1;
}

/* Pad(x, zeros on H and W only, the same on every side) read only by an
 * AveragePool without padding of its own: PyTorch's export of
 * AvgPool2d(padding=p, count_include_pad=True). Reads the padding into *p
 * (when p is non-NULL) and returns the pool's index, or -1. */
int hant__onnx_pad_pool(const onnx_reader *r, int pad, int *p) {
  const Onnx__NodeProto *n = r->nodes[pad].p;
  if (strcmp(n->op_type, "Pad") || n->n_input < 1 || n->n_output != 1 || !n->output[0][0])
    return -1;
  int y = hant__onnx_lookup(r, n->output[0]);
  if (y < 0 || r->vals[y].cons != 1)
    return -1;
  int64_t pads[8];
  float cval = 0;
  for (size_t i = 0; i < n->n_attribute; i++) {
    const Onnx__AttributeProto *a = n->attribute[i];
    if (!a->name)
      return -1;
    if (!strcmp(a->name, "mode")) {
      if (a->s.len != 8 || memcmp(a->s.data, "constant", 8))
        return -1;
    } else if (!strcmp(a->name, "pads") && r->opset < 11 && a->n_ints == 8) {
      memcpy(pads, a->ints, sizeof(pads));
    } else if (!strcmp(a->name, "value") && r->opset < 11) {
      cval = a->f;
    } else {
      return -1;
    }
  }
  if (r->opset >= 11) {
    int pv = n->n_input > 1 && n->input[1][0] ? hant__onnx_lookup(r, n->input[1]) : -1;
    int cv = n->n_input > 2 && n->input[2][0] ? hant__onnx_lookup(r, n->input[2]) : -1;
    if (n->n_input > 3 || pv < 0 || r->vals[pv].kind != V_CONST || !r->vals[pv].i64 || r->vals[pv].numel != 8)
      return -1;
    memcpy(pads, r->vals[pv].i64, sizeof(pads));
    if (cv >= 0) {
      if (r->vals[cv].kind != V_CONST || !r->vals[cv].f || r->vals[cv].numel != 1)
        return -1;
      cval = r->vals[cv].f[0];
    }
  } else if (!hant__onnx_attr(r, pad, "pads")) {
    return -1;
  }
  if (cval != 0.0f || pads[0] || pads[1] || pads[4] || pads[5] || pads[2] < 1 || pads[2] > ONNX_MAX_KERNEL ||
      pads[3] != pads[2] || pads[6] != pads[2] || pads[7] != pads[2])
    return -1;
  int ni = r->vals[y].reader;
  if (ni < 0)
    return -1;
  const Onnx__NodeProto *m = r->nodes[ni].p;
  if (strcmp(m->op_type, "AveragePool") || m->n_input != 1 || hant__onnx_lookup(r, m->input[0]) != y)
    return -1;
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, "pads"), *ap = hant__onnx_attr(r, ni, "auto_pad");
  for (size_t k = 0; a && k < a->n_ints; k++)
    if (a->ints[k])
      return -1;
  if (ap && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6)))
    return -1;
  if (p)
    *p = (int)pads[2];
  return ni;
}

/* The computed value v, read only once, made by op_type; -1 otherwise. */
static int made_by(const onnx_reader *r, int v, const char *op_type) {
  if (v < 0 || r->vals[v].kind != V_DYN || r->vals[v].cons != 1)
    return -1;
  int p = r->vals[v].producer;
  return strcmp(r->nodes[p].p->op_type, op_type) ? -1 : p;
}

/* A constant int64 scalar or one-element tensor in *out. */
static bool const_i64(const onnx_reader *r, int v, int64_t *out) {
  if (v < 0 || r->vals[v].kind != V_CONST || !r->vals[v].i64 || r->vals[v].numel != 1 || r->vals[v].ndim > 1)
    return false;
  *out = r->vals[v].i64[0];
  return true;
}

static bool attr_ints_are(const onnx_reader *r, int ni, const char *name, int64_t v0) {
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, name);
  return a && a->n_ints == 1 && a->ints[0] == v0;
}

/* PyTorch's x.view(x.size(0), -1) with a dynamic batch computes the shape:
 * Reshape(x, Concat(Unsqueeze(Gather(Shape(v), 0), [0]), [t]), axis 0).
 * Every value's first dimension is the batch here, so the shape is
 * [N, t]. Returns the Reshape's index when node `reshape` has that form
 * (t in *tail), and with mark set, marks the four shape nodes as its. */
int hant__onnx_batch_shape(onnx_reader *r, int reshape, int64_t *tail, bool mark) {
  const Onnx__NodeProto *p = r->nodes[reshape].p;
  if (strcmp(p->op_type, "Reshape") || p->n_input != 2)
    return -1;
  int concat = made_by(r, hant__onnx_lookup(r, p->input[1]), "Concat");
  if (concat < 0)
    return -1;
  const Onnx__NodeProto *c = r->nodes[concat].p;
  const Onnx__AttributeProto *ax = hant__onnx_attr(r, concat, "axis");
  if (c->n_input != 2 || !ax || ax->i != 0 || c->n_attribute != 1 ||
      !const_i64(r, hant__onnx_lookup(r, c->input[1]), tail))
    return -1;
  int unsq = made_by(r, hant__onnx_lookup(r, c->input[0]), "Unsqueeze");
  if (unsq < 0)
    return -1;
  const Onnx__NodeProto *u = r->nodes[unsq].p;
  int64_t zero = -1;
  if (r->opset < 13
          ? !(u->n_input == 1 && u->n_attribute == 1 && attr_ints_are(r, unsq, "axes", 0))
          : !(u->n_input == 2 && !u->n_attribute && const_i64(r, hant__onnx_lookup(r, u->input[1]), &zero) && !zero))
    return -1;
  int gather = made_by(r, hant__onnx_lookup(r, u->input[0]), "Gather");
  if (gather < 0)
    return -1;
  const Onnx__NodeProto *g = r->nodes[gather].p;
  const Onnx__AttributeProto *gax = hant__onnx_attr(r, gather, "axis");
  zero = -1;
  if (g->n_input != 2 || (gax && gax->i != 0) || g->n_attribute > (size_t)(gax != NULL) ||
      !const_i64(r, hant__onnx_lookup(r, g->input[1]), &zero) || zero)
    return -1;
  int shape = made_by(r, hant__onnx_lookup(r, g->input[0]), "Shape");
  if (shape < 0 || r->nodes[shape].p->n_input != 1 || r->nodes[shape].p->n_attribute)
    return -1;
  if (mark)
    r->nodes[concat].absorbed_by = r->nodes[unsq].absorbed_by = r->nodes[gather].absorbed_by =
        r->nodes[shape].absorbed_by = reshape;
  return reshape;
}
