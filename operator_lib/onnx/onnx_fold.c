/* SPDX-License-Identifier: MIT */
/* onnx_fold.c: evaluates the integer shape arithmetic PyTorch exports around reshapes and slices while importing. */
#include "onnx_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base.h"

/* PyTorch computes the shapes of view() and the bounds of chunk() from
 * x.size() at run time: Shape, Gather, Unsqueeze, Concat, Div, Mul, Add,
 * Sub and Cast on int64 values. Every activation's shape except the batch
 * is fixed once the graph is imported, so these nodes fold to constants as
 * they are reached, and the Reshape or Slice that reads them sees a
 * constant, as it would in a model exported with a fixed batch. A dynamic
 * batch folds to HANT__ONNX_BATCH, which may be moved around but not
 * computed with. */

static bool int_const(const onnx_value *v) {
  return v->kind == V_CONST && v->dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 && v->i64;
}

/* The node's input k as a folded or constant int64 value, or NULL. */
static const onnx_value *int_in(const onnx_reader *r, int ni, int k) {
  int v = hant__onnx_in_val(r, ni, k);
  return v >= 0 && int_const(&r->vals[v]) ? &r->vals[v] : NULL;
}

/* Turns node ni's first output into an int64 constant of the given dims. */
static int set_out(onnx_reader *r, int ni, const int64_t *data, size_t numel, int ndim, const int64_t *dims) {
  int v = hant__onnx_lookup(r, r->nodes[ni].p->output[0]);
  onnx_value *o = &r->vals[v];
  int64_t *d = malloc(numel ? numel * sizeof(int64_t) : 1);
  if (!d)
    return HANT_ENOMEM;
  memcpy(d, data, numel * sizeof(int64_t));
  free(o->i64);
  o->i64 = d;
  o->kind = V_CONST;
  o->dtype = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  o->numel = numel;
  o->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    o->dims[i] = dims[i];
  o->hnode = -1;
  return 1;
}

static int fold_shape(onnx_reader *r, int ni) {
  int v = hant__onnx_in_val(r, ni, 0);
  if (v < 0 || r->nodes[ni].p->n_input != 1 || r->nodes[ni].p->n_attribute)
    return 0;
  const onnx_value *x = &r->vals[v];
  if (x->kind == V_CONST || x->hnode < 0)
    return 0;
  const hant_node *nd = &r->net->nodes[x->hnode];
  int64_t batch = r->batch > 0 ? r->batch : HANT__ONNX_BATCH;
  int64_t s4[4] = {batch, nd->c, nd->h, nd->w}, s2[2] = {batch, (int64_t)nd->c * nd->h * nd->w};
  int64_t n = x->rank;
  return set_out(r, ni, x->rank == 4 ? s4 : s2, (size_t)n, 1, &n);
}

static int fold_gather(onnx_reader *r, int ni) {
  const onnx_value *d = int_in(r, ni, 0), *ix = int_in(r, ni, 1);
  const Onnx__AttributeProto *ax = hant__onnx_attr(r, ni, "axis");
  if (!d || !ix || d->ndim != 1 || ix->ndim > 1 || (ax && ax->i != 0) || ix->numel > 8)
    return 0;
  int64_t out[8];
  for (size_t i = 0; i < ix->numel; i++) {
    int64_t k = ix->i64[i] < 0 ? ix->i64[i] + (int64_t)d->numel : ix->i64[i];
    if (k < 0 || k >= (int64_t)d->numel)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "index %lld is outside the %zu values gathered from",
                                 (long long)ix->i64[i], d->numel);
    out[i] = d->i64[k];
  }
  int64_t n = (int64_t)ix->numel;
  return set_out(r, ni, out, ix->numel, ix->ndim, &n);
}

static int fold_unsqueeze(onnx_reader *r, int ni) {
  const onnx_value *d = int_in(r, ni, 0);
  if (!d || d->numel > 8)
    return 0;
  int64_t axis = -1;
  const onnx_value *ax = int_in(r, ni, 1);
  const Onnx__AttributeProto *aa = hant__onnx_attr(r, ni, "axes");
  if (ax && ax->numel == 1)
    axis = ax->i64[0];
  else if (aa && aa->n_ints == 1)
    axis = aa->ints[0];
  /* a scalar or a vector made a vector or a row: the values do not move */
  if (axis != 0 || d->ndim > 1)
    return 0;
  int64_t dims[2] = {1, (int64_t)d->numel};
  return d->ndim == 0 ? set_out(r, ni, d->i64, 1, 1, dims) : set_out(r, ni, d->i64, d->numel, 2, dims);
}

static int fold_concat(onnx_reader *r, int ni) {
  const Onnx__AttributeProto *ax = hant__onnx_attr(r, ni, "axis");
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (!ax || ax->i != 0 || p->n_input < 1 || p->n_input > 8)
    return 0;
  int64_t out[8];
  size_t n = 0;
  for (size_t k = 0; k < p->n_input; k++) {
    const onnx_value *d = int_in(r, ni, (int)k);
    if (!d || d->ndim != 1 || n + d->numel > 8)
      return 0;
    memcpy(out + n, d->i64, d->numel * sizeof(int64_t));
    n += d->numel;
  }
  int64_t dim = (int64_t)n;
  return set_out(r, ni, out, n, 1, &dim);
}

/* Div, Mul, Add, Sub of a vector (at most 8 values) and a scalar or a
 * vector of the same length. */
static int fold_arith(onnx_reader *r, int ni, char op) {
  const onnx_value *a = int_in(r, ni, 0), *b = int_in(r, ni, 1);
  if (!a || !b || r->nodes[ni].p->n_input != 2 || a->numel > 8 || b->numel > 8 ||
      (a->numel != b->numel && a->numel != 1 && b->numel != 1))
    return 0;
  const onnx_value *big = a->numel >= b->numel ? a : b;
  size_t n = big->numel;
  int64_t out[8];
  for (size_t i = 0; i < n; i++) {
    int64_t x = a->i64[a->numel == 1 ? 0 : i], y = b->i64[b->numel == 1 ? 0 : i];
    if (x == HANT__ONNX_BATCH || y == HANT__ONNX_BATCH)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                                 "arithmetic on the dynamic batch size is not supported (export with a fixed batch, "
                                 "or compute shapes from the other dimensions)");
    if (op == '/' && y == 0)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "integer division by zero");
    if ((x > (1ll << 40) || x < -(1ll << 40) || y > (1ll << 40) || y < -(1ll << 40)) && op != '/')
      return hant__onnx_node_err(r, ni, HANT_ELIMIT, "shape arithmetic on %lld and %lld", (long long)x, (long long)y);
    out[i] = op == '/' ? x / y : op == '*' ? x * y : op == '+' ? x + y : x - y;
  }
  return set_out(r, ni, out, n, big->ndim, big->dims);
}

static int fold_cast(onnx_reader *r, int ni) {
  const onnx_value *d = int_in(r, ni, 0);
  const Onnx__AttributeProto *to = hant__onnx_attr(r, ni, "to");
  if (!d || !to || to->i != ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
    return 0;
  return set_out(r, ni, d->i64, d->numel, d->ndim, d->dims);
}

int hant__onnx_fold(onnx_reader *r, int ni) {
  if (r->nodes[ni].absorbed_by >= 0)
    return 0; /* part of a pattern that reads the nodes themselves */
  const char *op = r->nodes[ni].p->op_type;
  if (!strcmp(op, "Shape"))
    return fold_shape(r, ni);
  if (!strcmp(op, "Gather"))
    return fold_gather(r, ni);
  if (!strcmp(op, "Unsqueeze"))
    return fold_unsqueeze(r, ni);
  if (!strcmp(op, "Concat"))
    return fold_concat(r, ni);
  if (!strcmp(op, "Cast"))
    return fold_cast(r, ni);
  static const char ops[] = "/*+-";
  static const char *const names[] = {"Div", "Mul", "Add", "Sub"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(op, names[i]))
      return fold_arith(r, ni, ops[i]);
  return 0;
}
