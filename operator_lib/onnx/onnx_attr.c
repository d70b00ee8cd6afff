/* SPDX-License-Identifier: MIT */
/* onnx_attr.c: reads the attributes of ONNX nodes, refusing wrong types, unsupported values and unknown names. */
#include "onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base.h"

const Onnx__AttributeProto *hant__onnx_attr(const onnx_reader *r, int ni, const char *name) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  for (size_t i = 0; i < p->n_attribute; i++)
    if (p->attribute[i]->name && !strcmp(p->attribute[i]->name, name))
      return p->attribute[i];
  return NULL;
}

/* Refuses attributes the op does not list: an ignored one could change
 * the meaning. allowed is a NULL-terminated list. */
int hant__onnx_attrs_known(const onnx_reader *r, int ni, const char *const *allowed) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  for (size_t i = 0; i < p->n_attribute; i++) {
    const char *a = p->attribute[i]->name;
    bool ok = false;
    for (const char *const *k = allowed; *k && a; k++)
      ok |= !strcmp(*k, a);
    if (!ok)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "attribute '%.40s' is not supported", a ? a : "");
  }
  return 0;
}

bool hant__onnx_attr_is(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t) {
  return a->has_type ? a->type == t : false;
}

int hant__onnx_attr_int(const onnx_reader *r, int ni, const char *name, int64_t def, int64_t lo, int64_t hi,
                        int64_t *out) {
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, name);
  *out = def;
  if (!a)
    return 0;
  if (!hant__onnx_attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) && !(!a->has_type && a->has_i))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be an integer", name);
  if (a->i < lo || a->i > hi)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "attribute %s=%lld is not supported (expected %lld to %lld)", name,
                               (long long)a->i, (long long)lo, (long long)hi);
  *out = a->i;
  return 0;
}

int hant__onnx_attr_float(const onnx_reader *r, int ni, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, name);
  *out = def;
  if (!a)
    return 0;
  if (!hant__onnx_attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) && !(!a->has_type && a->has_f))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be a float", name);
  if (!isfinite(a->f) && fabsf(a->f) != INFINITY)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute '%s' is not a number", name);
  *out = a->f;
  return 0;
}

/* ints of exactly n values in [lo, hi]; *present tells whether it was given. */
int hant__onnx_attr_ints(const onnx_reader *r, int ni, const char *name, size_t n, int64_t lo, int64_t hi, int64_t *out,
                         bool *present) {
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, name);
  *present = a != NULL;
  if (!a)
    return 0;
  if (!hant__onnx_attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) && !(!a->has_type && a->n_ints))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be a list of integers", name);
  if (a->n_ints != n)
    return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "attribute '%s' has %zu values (expected %zu: 2-D NCHW only)", name,
                               a->n_ints, n);
  for (size_t i = 0; i < n; i++) {
    if (a->ints[i] < lo || a->ints[i] > hi)
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "attribute %s[%zu]=%lld is not supported (expected %lld to %lld)",
                                 name, i, (long long)a->ints[i], (long long)lo, (long long)hi);
    out[i] = a->ints[i];
  }
  return 0;
}

int hant__onnx_attr_string(const onnx_reader *r, int ni, const char *name, const char *def, char *out, size_t n) {
  const Onnx__AttributeProto *a = hant__onnx_attr(r, ni, name);
  snprintf(out, n, "%s", def);
  if (!a)
    return 0;
  if (!hant__onnx_attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) && !(!a->has_type && a->has_s))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be a string", name);
  size_t len = a->s.len < n - 1 ? a->s.len : n - 1;
  if (len)
    memcpy(out, a->s.data, len);
  out[len] = '\0';
  if (memchr(out, '\0', len))
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute '%s' contains a NUL byte", name);
  return 0;
}
