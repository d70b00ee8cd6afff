/* SPDX-License-Identifier: MIT */
/* onnx_channels.c: importers of the channel moves: Concat, Slice and Split of channels, and the channel shuffle. */
#include "onnx_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base.h"

/* Shapes and bounds here are constants, or were folded to constants from
 * Shape nodes by onnx_fold.c before these nodes are reached. */

static onnx_value *out_k(onnx_reader *r, int ni, int k) {
  const char *nm = r->nodes[ni].p->output[k];
  return nm && nm[0] ? &r->vals[hant__onnx_lookup(r, nm)] : NULL;
}

/* The hant node of data input k, which must be a rank-4 activation. */
static int act_in(const onnx_reader *r, int ni, int k, int *h) {
  int v = hant__onnx_in_val(r, ni, k);
  if (v < 0)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "input %d is missing", k);
  const onnx_value *x = &r->vals[v];
  if (x->kind == V_CONST || x->hnode < 0)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "input %d ('%.80s') is not an activation computed from the input",
                               k, x->name);
  if (x->rank != 4)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "input %d ('%.80s') has rank %d (expected [N, C, H, W])", k,
                               x->name, x->rank);
  *h = x->hnode;
  return 0;
}

static int built(const onnx_reader *r, int ni, int h) {
  if (h >= 0)
    return h;
  char msg[1024];
  snprintf(msg, sizeof(msg), "%s", hant_errmsg());
  return hant__onnx_node_err(r, ni, h, "%s", msg);
}

/* An int64 constant input with n values (n 0: any count up to 8). */
static int ints_in(const onnx_reader *r, int ni, int k, size_t n, const onnx_value **out) {
  int v = hant__onnx_in_val(r, ni, k);
  const onnx_value *c = v >= 0 ? &r->vals[v] : NULL;
  if (!c || c->kind != V_CONST || c->dtype != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || !c->i64 ||
      (n ? c->numel != n : c->numel > 8))
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "input %d must be %s int64 constant, or computed from shapes (onnx_fold.c)", k,
                               n == 1 ? "a one-value" : "a small");
  *out = c;
  return 0;
}

/* Concat on the channel axis of two or more activations with the same H
 * and W: a chain of two-input concatenations (GoogLeNet's four branches
 * make three). */
int hant__onnx_op_concat(onnx_reader *r, int ni) {
  if (r->nodes[ni].absorbed_by >= 0)
    return 0; /* the shape of x.view(x.size(0), -1): its Reshape emits it */
  static const char *const known[] = {"axis", NULL};
  int64_t axis;
  int rc;
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if ((rc = hant__onnx_attrs_known(r, ni, known)) || (rc = hant__onnx_attr_int(r, ni, "axis", 1, -4, 4, &axis)))
    return rc;
  if (axis != 1 && axis != -3)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "Concat of activations on axis %lld is not supported (expected 1: channels)",
                               (long long)axis);
  if (p->n_input < 2 || p->n_input > 64)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "%zu inputs (expected 2 to 64)", p->n_input);
  int y;
  if ((rc = act_in(r, ni, 0, &y)))
    return rc;
  for (size_t k = 1; k < p->n_input; k++) {
    int b;
    if ((rc = act_in(r, ni, (int)k, &b)) || (rc = built(r, ni, hant_net_concat(r->net, y, b))) < 0)
      return rc;
    y = rc;
  }
  onnx_value *o = out_k(r, ni, 0);
  o->hnode = y, o->rank = 4;
  return 0;
}

/* Slice of channels [start, end) of an activation, step 1: torchvision's
 * x.chunk(2, dim=1), whose bounds come from x.size(1). Inputs from opset
 * 10, attributes before. */
static int op_slice(onnx_reader *r, int ni) {
  int x = -1, rc;
  int64_t start, end, axis = 0, step = 1;
  if ((rc = act_in(r, ni, 0, &x)))
    return rc;
  const hant_node *in = &r->net->nodes[x];
  if (r->opset < 10) {
    static const char *const known[] = {"starts", "ends", "axes", NULL};
    bool present;
    if ((rc = hant__onnx_attrs_known(r, ni, known)) ||
        (rc = hant__onnx_attr_ints(r, ni, "starts", 1, INT64_MIN, INT64_MAX, &start, &present)) ||
        (rc = hant__onnx_attr_ints(r, ni, "ends", 1, INT64_MIN, INT64_MAX, &end, &present)) ||
        (rc = hant__onnx_attr_ints(r, ni, "axes", 1, -4, 3, &axis, &present)))
      return rc;
    if (!present)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "a Slice needs axes = [1] (channels)");
  } else {
    const onnx_value *s = NULL, *e = NULL, *a = NULL, *st = NULL;
    int n = (int)r->nodes[ni].p->n_input;
    if (n < 4)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "a Slice needs its axes input, [1] (channels)");
    if ((rc = ints_in(r, ni, 1, 1, &s)) || (rc = ints_in(r, ni, 2, 1, &e)) || (rc = ints_in(r, ni, 3, 1, &a)))
      return rc;
    start = s->i64[0], end = e->i64[0], axis = a->i64[0];
    if (n > 4 && hant__onnx_in_val(r, ni, 4) >= 0) {
      if ((rc = ints_in(r, ni, 4, 1, &st)))
        return rc;
      step = st->i64[0];
    }
  }
  if ((axis != 1 && axis != -3) || step != 1)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "Slice on axis %lld with step %lld is not supported (expected channels, step 1)",
                               (long long)axis, (long long)step);
  /* ONNX clamps the bounds to the axis, negative ones counted from its end */
  int64_t c = in->c;
  start = start < 0 ? start + c : start, end = end < 0 ? end + c : end;
  start = start < 0 ? 0 : start > c ? c : start;
  end = end < 0 ? 0 : end > c ? c : end;
  if (end <= start)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "the slice of channels [%lld, %lld) of %lld is empty",
                               (long long)start, (long long)end, (long long)c);
  int h = built(r, ni, hant_net_chslice(r->net, x, (int)start, (int)(end - start)));
  if (h < 0)
    return h;
  onnx_value *o = out_k(r, ni, 0);
  o->hnode = h, o->rank = 4;
  return 0;
}

/* Split on the channel axis: sizes from the split input (opset 13+) or
 * attribute, or equal parts. */
static int op_split(onnx_reader *r, int ni) {
  static const char *const known[] = {"axis", "split", "num_outputs", NULL};
  int x = -1, rc;
  int64_t axis;
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if ((rc = hant__onnx_attrs_known(r, ni, known)) || (rc = act_in(r, ni, 0, &x)) ||
      (rc = hant__onnx_attr_int(r, ni, "axis", 0, -4, 3, &axis)))
    return rc;
  if (axis != 1 && axis != -3)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "Split on axis %lld is not supported (expected 1: channels)",
                               (long long)axis);
  int c = r->net->nodes[x].c, n = (int)p->n_output;
  int64_t sizes[8];
  const onnx_value *sv = NULL;
  const Onnx__AttributeProto *sa = hant__onnx_attr(r, ni, "split");
  if (hant__onnx_in_val(r, ni, 1) >= 0) {
    if ((rc = ints_in(r, ni, 1, (size_t)n, &sv)))
      return rc;
    memcpy(sizes, sv->i64, sizeof(int64_t) * (size_t)n);
  } else if (sa) {
    bool present;
    if ((rc = hant__onnx_attr_ints(r, ni, "split", (size_t)n, 1, c, sizes, &present)))
      return rc;
  } else {
    for (int k = 0; k < n; k++) /* the last part takes what is left (opset 18) */
      sizes[k] = k < n - 1 ? (c + n - 1) / n : c - (int64_t)(n - 1) * ((c + n - 1) / n);
  }
  int64_t first = 0;
  for (int k = 0; k < n; k++) {
    if (sizes[k] <= 0 || first + sizes[k] > c)
      return hant__onnx_node_err(r, ni, HANT_ESHAPE, "split sizes do not partition the %d channels", c);
    onnx_value *o = out_k(r, ni, k);
    int h = built(r, ni, hant_net_chslice(r->net, x, (int)first, (int)sizes[k]));
    if (h < 0)
      return h;
    if (o)
      o->hnode = h, o->rank = 4;
    first += sizes[k];
  }
  if (first != c)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "split sizes add up to %lld, not the %d channels",
                               (long long)first, c);
  return 0;
}

static bool is_batch(const onnx_reader *r, int64_t d) {
  return d == 0 || d == HANT__ONNX_BATCH || (r->batch > 0 && d == r->batch);
}

/* ShuffleNet's channel shuffle is three nodes: Reshape to [N, g, C/g, H,
 * W], Transpose (0, 2, 1, 3, 4), Reshape to [N, C, H, W]. The first two
 * emit nothing and leave their state on their output; the last emits one
 * shuffle node. Returns 1 when the Reshape was one of these, 0 when it is
 * not (op_reshape handles it), or an error. */
int hant__onnx_shuffle_reshape(onnx_reader *r, int ni) {
  int v = hant__onnx_in_val(r, ni, 0), sv = hant__onnx_in_val(r, ni, 1);
  if (v < 0 || sv < 0 || r->vals[sv].kind != V_CONST || !r->vals[sv].i64)
    return 0;
  onnx_value *x = &r->vals[v];
  const onnx_value *s = &r->vals[sv];
  onnx_value *o = out_k(r, ni, 0);
  if (x->shuf_stage == 0 && s->numel == 5 && x->hnode >= 0 && x->rank == 4) {
    const hant_node *in = &r->net->nodes[x->hnode];
    const int64_t *d = s->i64;
    if (!is_batch(r, d[0]) || d[1] <= 0 || d[2] <= 0 || d[1] > in->c || d[2] > in->c || d[1] * d[2] != in->c ||
        d[3] != in->h || d[4] != in->w)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "a reshape to 5 dimensions is supported only as [N, g, C/g, H, W] before a "
                                 "channel shuffle (C=%d, H=%d, W=%d)",
                                 in->c, in->h, in->w);
    if (o->cons != 1)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "a channel shuffle's first reshape must have one reader");
    o->shuf_stage = 1, o->shuf_src = x->hnode, o->shuf_groups = (int)d[1], o->hnode = -1, o->rank = 5;
    return 1;
  }
  if (x->shuf_stage == 1)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "a reshape to [N, g, C/g, H, W] is supported only before Transpose (0, 2, 1, 3, 4)");
  if (x->shuf_stage == 2) {
    const hant_node *in = &r->net->nodes[x->shuf_src];
    const int64_t *d = s->i64;
    if (s->numel != 4 || !is_batch(r, d[0]) || (d[1] != in->c && d[1] != -1) || d[2] != in->h || d[3] != in->w)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "a channel shuffle must end in a reshape back to [N, %d, %d, %d]", in->c, in->h,
                                 in->w);
    int h = built(r, ni, hant_net_shuffle(r->net, x->shuf_src, x->shuf_groups));
    if (h < 0)
      return h;
    o->hnode = h, o->rank = 4;
    return 1;
  }
  return 0;
}

static int op_transpose(onnx_reader *r, int ni) {
  static const char *const known[] = {"perm", NULL};
  int rc;
  int64_t perm[5];
  bool present;
  int v = hant__onnx_in_val(r, ni, 0);
  if ((rc = hant__onnx_attrs_known(r, ni, known)))
    return rc;
  onnx_value *x = v >= 0 ? &r->vals[v] : NULL, *o = out_k(r, ni, 0);
  if (!x || x->shuf_stage != 1 || hant__onnx_attr_ints(r, ni, "perm", 5, 0, 4, perm, &present) || !present ||
      perm[0] != 0 || perm[1] != 2 || perm[2] != 1 || perm[3] != 3 || perm[4] != 4)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "Transpose is supported only as (0, 2, 1, 3, 4) between the reshapes of a channel "
                               "shuffle: Reshape [N, g, C/g, H, W], Transpose, Reshape [N, C, H, W]");
  if (o->cons != 1)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "a channel shuffle's transpose must have one reader");
  o->shuf_stage = 2, o->shuf_src = x->shuf_src, o->shuf_groups = x->shuf_groups, o->hnode = -1, o->rank = 5;
  return 0;
}

/* Integer ops that onnx_fold.c did not fold. */
static int op_shape_only(onnx_reader *r, int ni) {
  return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                             "%s is supported only on integer shape values hant can evaluate at import (computed "
                             "from Shape of an activation and constants)",
                             r->nodes[ni].p->op_type);
}

static const struct {
  const char *name;
  hant__onnx_op_fn fn;
  int since;
} ops[] = {
    {"Slice", op_slice, 1},         {"Split", op_split, 2},
    {"Transpose", op_transpose, 1}, {"Div", op_shape_only, 1},
    {"Sub", op_shape_only, 1},      {"Cast", op_shape_only, 1},
};

hant__onnx_op_fn hant__onnx_find_channel_op(const char *name, int opset, bool *known) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (!strcmp(ops[i].name, name)) {
      *known = opset >= ops[i].since;
      return ops[i].fn;
    }
  *known = false;
  return NULL;
}
