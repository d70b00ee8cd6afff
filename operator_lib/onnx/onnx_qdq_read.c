/* SPDX-License-Identifier: MIT */
/* onnx_qdq_read.c: QuantizeLinear and DequantizeLinear in imported models: their parameters checked, constant weights dequantised, activation pairs read as the float values they stand for. */
#include "onnx_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

/*
 * hant reads a QDQ model as its float32 network: a DequantizeLinear of a
 * constant (int8 weights, int32 biases) becomes the float constant it
 * computes, and QuantizeLinear / DequantizeLinear of a computed value pass
 * the value through as an Identity would, except a QuantizeLinear whose
 * zero point is its type's minimum: it clamps at 0, which is how hant's own
 * QDQ export (onnx_qdq.c) writes a ReLU, and reads as one. Before that, every node's
 * quantisation parameters are checked, because a model whose scale is 0 or
 * whose zero point lies outside its type's range has no meaning any runtime
 * agrees on: such a model is refused naming the node.
 */

bool hant__onnx_is_qdq(const Onnx__NodeProto *p) {
  return p->op_type && (!strcmp(p->op_type, "QuantizeLinear") || !strcmp(p->op_type, "DequantizeLinear"));
}

static const Onnx__TensorProto *initializer(const onnx_reader *r, const char *name) {
  for (size_t i = 0; name && name[0] && i < r->g->n_initializer; i++)
    if (r->g->initializer[i]->name && !strcmp(r->g->initializer[i]->name, name))
      return r->g->initializer[i];
  return NULL;
}

static size_t numel_of(const Onnx__TensorProto *t) {
  size_t n = 1;
  for (size_t i = 0; i < t->n_dims; i++)
    n *= t->dims[i] > 0 ? (size_t)t->dims[i] : 0;
  return n;
}

/* The range of an integer ONNX type hant quantises to, false for others. */
static bool int_range(int dtype, int64_t *lo, int64_t *hi) {
  switch (dtype) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    *lo = 0, *hi = 255;
    return true;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    *lo = -128, *hi = 127;
    return true;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    *lo = INT32_MIN, *hi = INT32_MAX;
    return true;
  default:
    return false;
  }
}

static const char *type_name(int dtype) {
  switch (dtype) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    return "uint8";
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    return "int8";
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    return "int32";
  case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    return "float";
  default:
    return "another type";
  }
}

/* The values of an int8, uint8 or int32 initializer as int64 (raw data
 * little-endian, or int32_data, where protobuf keeps the small types and
 * where a value can lie outside its type's range). *out is malloc'd. */
static int int_values(const onnx_reader *r, int ni, const Onnx__TensorProto *t, const char *what, int64_t **out,
                      size_t *n) {
  *out = NULL;
  *n = numel_of(t);
  int dtype = t->has_data_type ? t->data_type : 0;
  int64_t lo, hi;
  if (!int_range(dtype, &lo, &hi))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "%s '%.80s' is %s; expected int8, uint8 or int32", what,
                               t->name ? t->name : "", type_name(dtype));
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "%s '%.80s' is in an external file; hant reads quantised "
                               "tensors only inline", what, t->name ? t->name : "");
  if (*n > ONNX_MAX_NUMEL)
    return hant__onnx_node_err(r, ni, HANT_ELIMIT, "%s has %zu values", what, *n);
  size_t es = dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? 4 : 1;
  if (t->has_raw_data ? t->raw_data.len != *n * es : t->n_int32_data != *n)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "%s '%.80s' holds %zu values, its shape %zu", what,
                               t->name ? t->name : "", t->has_raw_data ? t->raw_data.len / es : t->n_int32_data, *n);
  int64_t *v = malloc(sizeof(int64_t) * (*n ? *n : 1));
  if (!v)
    return HANT_ENOMEM;
  for (size_t i = 0; i < *n; i++) {
    if (!t->has_raw_data) {
      v[i] = t->int32_data[i];
    } else if (es == 4) {
      const uint8_t *b = t->raw_data.data + 4 * i;
      v[i] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    } else {
      v[i] = dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ? (int64_t)(int8_t)t->raw_data.data[i]
                                                          : (int64_t)t->raw_data.data[i];
    }
  }
  *out = v;
  return 0;
}

/* The float values of a scale initializer, checked finite and positive. */
static int scales(const onnx_reader *r, int ni, const Onnx__TensorProto *t, float **out, size_t *n) {
  *out = NULL;
  *n = numel_of(t);
  if ((t->has_data_type ? t->data_type : 0) != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "scale '%.80s' is %s; expected float", t->name ? t->name : "",
                               type_name(t->has_data_type ? t->data_type : 0));
  if (t->n_dims > 1)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "scale '%.80s' has %zu dimensions; expected a scalar or 1-D",
                               t->name ? t->name : "", t->n_dims);
  if (*n == 0 || *n > ONNX_MAX_CHANNELS)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "scale '%.80s' has %zu values", t->name ? t->name : "", *n);
  if (t->has_raw_data ? t->raw_data.len != *n * 4 : t->n_float_data != *n)
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "scale '%.80s' holds %zu values, its shape %zu",
                               t->name ? t->name : "", t->has_raw_data ? t->raw_data.len / 4 : t->n_float_data, *n);
  float *s = malloc(sizeof(float) * *n);
  if (!s)
    return HANT_ENOMEM;
  for (size_t i = 0; i < *n; i++) {
    if (t->has_raw_data) {
      const uint8_t *b = t->raw_data.data + 4 * i;
      uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
      memcpy(&s[i], &u, 4);
    } else {
      s[i] = t->float_data[i];
    }
    if (!(isfinite(s[i]) && s[i] > 0)) {
      int rc = hant__onnx_node_err(r, ni, HANT_EFORMAT, "scale '%.80s' value %zu is %g; scales must be positive",
                                   t->name ? t->name : "", i, (double)s[i]);
      free(s);
      return rc;
    }
  }
  *out = s;
  return 0;
}

/* Everything about node ni's parameters, checked: scale[n_scale],
 * zp[n_scale] (zeros when absent), the data type of the quantised side and,
 * for a constant input, its initializer and the axis its scales run along. */
typedef struct qdq {
  float *scale;
  int64_t *zp;
  size_t n;
  int qtype;
  const Onnx__TensorProto *x; /* constant input, or NULL */
  int axis;
} qdq;

static void qdq_free(qdq *q) {
  free(q->scale);
  free(q->zp);
}

static int qdq_read(onnx_reader *r, int ni, qdq *q) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  bool deq = !strcmp(p->op_type, "DequantizeLinear");
  memset(q, 0, sizeof(*q));
  static const char *const known[] = {"axis", NULL};
  int rc = hant__onnx_attrs_known(r, ni, known);
  if (rc)
    return rc;
  if (p->n_input < 2 || p->n_input > 3 || !p->input[0] || !p->input[0][0] || !p->input[1] || !p->input[1][0])
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "expected inputs x, scale and an optional zero point");
  const Onnx__TensorProto *ts = initializer(r, p->input[1]);
  if (!ts)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "scale '%.80s' must be an initializer", p->input[1]);
  if ((rc = scales(r, ni, ts, &q->scale, &q->n)))
    return rc;
  const char *zname = p->n_input == 3 ? p->input[2] : NULL;
  const Onnx__TensorProto *tz = zname && zname[0] ? initializer(r, zname) : NULL;
  if (zname && zname[0] && !tz)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "zero point '%.80s' must be an initializer", zname);
  q->x = initializer(r, p->input[0]);
  q->qtype = tz && tz->has_data_type ? tz->data_type : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
  if (deq && q->x && q->x->has_data_type) {
    if (tz && q->x->data_type != q->qtype)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "zero point '%.80s' is %s but the input is %s", zname,
                                 type_name(q->qtype), type_name(q->x->data_type));
    q->qtype = q->x->data_type;
  }
  int64_t lo, hi;
  if (!int_range(q->qtype, &lo, &hi))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "the quantised type is %s; expected int8, uint8 or int32",
                               type_name(q->qtype));
  if (tz) {
    size_t nz;
    if ((rc = int_values(r, ni, tz, "zero point", &q->zp, &nz)))
      return rc;
    if (nz != q->n || tz->n_dims != ts->n_dims)
      return hant__onnx_node_err(r, ni, HANT_ESHAPE, "zero point '%.80s' has %zu values, the scale %zu", zname, nz,
                                 q->n);
    for (size_t i = 0; i < nz; i++)
      if (q->zp[i] < lo || q->zp[i] > hi || (q->qtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 && q->zp[i]))
        return hant__onnx_node_err(r, ni, HANT_EFORMAT, "zero point '%.80s' value %zu is %lld, outside %s's %lld..%lld",
                                   zname, i, (long long)q->zp[i], type_name(q->qtype),
                                   q->qtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? 0LL : (long long)lo,
                                   q->qtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? 0LL : (long long)hi);
  } else if (!(q->zp = calloc(q->n, sizeof(int64_t)))) {
    return HANT_ENOMEM;
  }
  int64_t axis = 1;
  if ((rc = hant__onnx_attr_int(r, ni, "axis", 1, INT32_MIN, INT32_MAX, &axis)))
    return rc;
  if (ts->n_dims == 0 || (q->n == 1 && !hant__onnx_attr(r, ni, "axis")))
    return 0; /* per tensor */
  if (!q->x)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP,
                               "per-axis scales (%zu) on a computed value; hant reads them on constant weights only",
                               q->n);
  int rank = (int)q->x->n_dims;
  if (axis < -rank || axis >= rank)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "axis %lld is outside the rank-%d input '%.80s'",
                               (long long)axis, rank, p->input[0]);
  q->axis = (int)(axis < 0 ? axis + rank : axis);
  if ((int64_t)q->n != q->x->dims[q->axis])
    return hant__onnx_node_err(r, ni, HANT_ESHAPE, "scale '%.80s' has %zu values but axis %d of '%.80s' has %lld",
                               p->input[1], q->n, q->axis, p->input[0], (long long)q->x->dims[q->axis]);
  return 0;
}

int hant__onnx_qdq_check(onnx_reader *r, int ni, bool *is_const, bool *clamps) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  qdq q;
  int rc = qdq_read(r, ni, &q);
  *is_const = q.x != NULL;
  int64_t lo, hi;
  *clamps = !rc && !q.x && !strcmp(p->op_type, "QuantizeLinear") && int_range(q.qtype, &lo, &hi) && q.zp[0] == lo;
  if (!rc && q.x && strcmp(p->op_type, "DequantizeLinear"))
    rc = hant__onnx_node_err(r, ni, HANT_ENOTSUP, "QuantizeLinear of the constant '%.80s'; hant reads quantised "
                             "constants only as DequantizeLinear inputs", p->input[0]);
  qdq_free(&q);
  return rc;
}

int hant__onnx_qdq_const(onnx_reader *r, int ni, onnx_value *v) {
  qdq q;
  int64_t *x = NULL;
  size_t n = 0;
  int rc = qdq_read(r, ni, &q);
  if (!rc && !q.x)
    rc = hant__onnx_node_err(r, ni, HANT_EINVAL, "the input is not a constant");
  if (!rc && q.x->n_dims > 8)
    rc = hant__onnx_node_err(r, ni, HANT_ENOTSUP, "the input has %zu dimensions (at most 8)", q.x->n_dims);
  if (!rc)
    rc = int_values(r, ni, q.x, "input", &x, &n);
  if (!rc && !(v->f = malloc(sizeof(float) * (n ? n : 1))))
    rc = HANT_ENOMEM;
  if (!rc) {
    size_t inner = 1;
    for (size_t d = (size_t)q.axis + 1; q.n > 1 && d < q.x->n_dims; d++)
      inner *= (size_t)q.x->dims[d];
    for (size_t e = 0; e < n; e++) {
      size_t c = q.n > 1 ? (e / inner) % q.n : 0;
      /* as ONNX defines it: (x - zero point) * scale in float32 */
      v->f[e] = (float)(int32_t)(x[e] - q.zp[c]) * q.scale[c];
    }
    v->dtype = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    v->ndim = (int)q.x->n_dims;
    for (size_t d = 0; d < q.x->n_dims; d++)
      v->dims[d] = q.x->dims[d];
    v->numel = n;
  }
  free(x);
  qdq_free(&q);
  return rc;
}
