/* SPDX-License-Identifier: MIT */
/* onnx_read.c: reads ONNX models defensively into hant networks, refusing what hant cannot run exactly. */
#include "onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "netfile.h"
#include "onnx.pb-c.h"
#include "slots.h"

#define MAX_CHANNELS 65536
#define MAX_SPATIAL 65536
#define MAX_NUMEL ((size_t)1 << 28) /* elements of one tensor: 1 GiB of float32 */
#define MAX_KERNEL 64
#define OPSET_MIN 7
#define OPSET_MAX 21

/* ---- wire-format pre-check -----------------------------------------------
 * protobuf-c unpacks recursively without a depth limit, and a few bytes on
 * the wire can become a large allocation. This walk, guided by the same
 * descriptors, bounds nesting, message count and the unpacked size, and
 * checks every length before protobuf-c sees the bytes. */

typedef struct wire {
  const char *name;
  long messages;
  size_t est;   /* estimated unpacked bytes */
  size_t limit; /* on est */
} wire;

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end)
      return -1;
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

static int malformed(const wire *w, const char *what) {
  return hant__error(HANT_EFORMAT, "%s: not a valid ONNX model (malformed protobuf: %s)", w->name, what);
}

static int wire_check(wire *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth) {
  const uint8_t *end = p + len;
  if (depth > HANT_ONNX_MAX_DEPTH)
    return hant__error(HANT_ELIMIT, "%s: protobuf messages nested deeper than %d", w->name, HANT_ONNX_MAX_DEPTH);
  if (++w->messages > HANT_ONNX_MAX_MESSAGES)
    return hant__error(HANT_ELIMIT, "%s: more than %ld protobuf messages", w->name, HANT_ONNX_MAX_MESSAGES);
  w->est += d->sizeof_message + 32;
  while (p < end) {
    uint64_t key, v;
    if (varint(&p, end, &key))
      return malformed(w, "truncated field key");
    uint32_t tag = (uint32_t)(key >> 3);
    if (tag == 0 || key >> 3 > 0x1fffffff)
      return malformed(w, "field number 0 or out of range");
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, tag);
    bool repeated = f && f->label == PROTOBUF_C_LABEL_REPEATED;
    switch (key & 7) {
    case 0:
      if (varint(&p, end, &v))
        return malformed(w, "truncated varint");
      w->est += repeated ? 8 : 0;
      break;
    case 1:
      if (end - p < 8)
        return malformed(w, "truncated 64-bit field");
      p += 8;
      w->est += repeated ? 8 : 0;
      break;
    case 5:
      if (end - p < 4)
        return malformed(w, "truncated 32-bit field");
      p += 4;
      w->est += repeated ? 4 : 0;
      break;
    case 2: {
      if (varint(&p, end, &v))
        return malformed(w, "truncated length");
      if (v > (uint64_t)(end - p))
        return malformed(w, "length beyond the end of its message");
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        int rc = wire_check(w, f->descriptor, p, (size_t)v, depth + 1);
        if (rc)
          return rc;
        w->est += sizeof(void *);
      } else if (f && repeated && f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES) {
        /* packed scalars: count varints exactly, fixed-size ones by length */
        if (f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_FIXED32 ||
            f->type == PROTOBUF_C_TYPE_SFIXED32 || f->type == PROTOBUF_C_TYPE_DOUBLE ||
            f->type == PROTOBUF_C_TYPE_FIXED64 || f->type == PROTOBUF_C_TYPE_SFIXED64) {
          w->est += (size_t)v;
        } else {
          for (size_t k = 0; k < v; k++)
            w->est += (p[k] & 0x80) ? 0 : 8;
        }
      } else {
        w->est += (size_t)v + 32 + (repeated ? sizeof(ProtobufCBinaryData) : 0);
      }
      p += v;
      break;
    }
    default:
      return malformed(w, "unsupported wire type (groups are not used by ONNX)");
    }
    if (w->est > w->limit)
      return hant__error(HANT_ELIMIT, "%s: the model would take more than %zu bytes of memory to unpack", w->name,
                         w->limit);
  }
  return 0;
}

/* ---- values and the graph -------------------------------------------------- */

typedef enum vkind { V_INPUT, V_CONST, V_DYN, V_ALIAS } vkind;

typedef struct value {
  const char *name;
  vkind kind;
  /* V_CONST */
  int dtype; /* ONNX__TENSOR_PROTO__DATA_TYPE__* */
  int ndim;
  int64_t dims[8];
  size_t numel;
  float *f;     /* float data, owned by the reader */
  int64_t *i64; /* int64 data, owned by the reader */
  /* V_DYN: producing node; V_ALIAS: the Identity node whose input this is */
  int producer;
  int alias; /* resolved value for V_ALIAS, -1 until resolved */
  int cons;  /* readers among compute nodes and graph outputs */
  int reader; /* the last compute node that reads it, -1 for none */
  /* after emission */
  int hnode; /* hant node, -1 before */
  int rank;  /* 4: [N, C, H, W]; 2: [N, F] */
} value;

enum { ST_NEW, ST_OPEN, ST_DONE };

typedef struct rnode {
  const Onnx__NodeProto *p;
  int state;
  int absorbed_by; /* node that emits this one as part of a fused pattern, or -1 */
} rnode;

typedef struct rd {
  const char *file;
  const char *dir;
  int opset;
  const Onnx__GraphProto *g;
  value *vals;
  int n_vals, cap_vals;
  int *htab; /* open addressing: value index + 1, 0 empty */
  size_t hcap;
  rnode *nodes;
  int n_nodes;
  int input;  /* value index of the data input */
  int batch;  /* fixed batch size of the data input, 0 when dynamic */
  int output; /* value index of the graph output */
  hant_net *net;
} rd;

/* FNV-1a, then a 64-bit finaliser so the table's low bits depend on every
 * byte (FNV's low bits alone are easy to collide on purpose). */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

static int find(const rd *r, const char *name) {
  if (!r->hcap)
    return -1;
  for (size_t i = hash_str(name) & (r->hcap - 1);; i = (i + 1) & (r->hcap - 1)) {
    int k = r->htab[i];
    if (!k)
      return -1;
    if (!strcmp(r->vals[k - 1].name, name))
      return k - 1;
  }
}

/* A readable label for messages: node names from the file can be anything. */
static const char *nname(const rd *r, int ni, char *buf, size_t n) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (p->name && p->name[0])
    snprintf(buf, n, "%.80s", p->name);
  else
    snprintf(buf, n, "#%d", ni);
  return buf;
}

static int node_err(const rd *r, int ni, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int node_err(const rd *r, int ni, int err, const char *fmt, ...) {
  char what[640], nb[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  const Onnx__NodeProto *p = r->nodes[ni].p;
  return hant__error(err, "%s: node '%s' (%.40s, opset %d): %s", r->file, nname(r, ni, nb, sizeof(nb)),
                     p->op_type ? p->op_type : "?", r->opset, what);
}

static int add_value(rd *r, const char *name, vkind kind, int producer) {
  if (!name || !name[0])
    return hant__error(HANT_EFORMAT, "%s: a value has an empty name", r->file);
  if (find(r, name) >= 0)
    return hant__error(HANT_EFORMAT, "%s: value '%.80s' is defined more than once", r->file, name);
  if (r->n_vals == r->cap_vals)
    return hant__error(HANT_ELIMIT, "%s: too many values", r->file);
  value *v = &r->vals[r->n_vals];
  memset(v, 0, sizeof(*v));
  v->name = name;
  v->kind = kind;
  v->producer = producer;
  v->alias = -1;
  v->hnode = -1;
  v->reader = -1;
  for (size_t i = hash_str(name) & (r->hcap - 1);; i = (i + 1) & (r->hcap - 1))
    if (!r->htab[i]) {
      r->htab[i] = r->n_vals + 1;
      break;
    }
  return r->n_vals++;
}

/* Looks a name up and follows Identity aliases to the value that holds the data. */
static int lookup(const rd *r, const char *name) {
  int v = find(r, name);
  return v >= 0 && r->vals[v].kind == V_ALIAS ? r->vals[v].alias : v;
}

/* ---- tensors ---------------------------------------------------------------- */

/* Reads `bytes` of external data into a new buffer *dst, allocated only
 * once the file is known to hold them. */
static int read_external(const rd *r, const Onnx__TensorProto *t, const char *tname, uint8_t **dst, size_t bytes) {
  const char *loc = NULL;
  uint64_t offset = 0, length = bytes;
  bool has_len = false;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = t->external_data[i];
    if (!e->key || !e->value)
      continue;
    char *end;
    if (!strcmp(e->key, "location")) {
      loc = e->value;
    } else if (!strcmp(e->key, "offset") || !strcmp(e->key, "length")) {
      errno = 0;
      unsigned long long v = strtoull(e->value, &end, 10);
      if (errno || end == e->value || *end || e->value[0] == '-')
        return hant__error(HANT_EFORMAT, "%s: initializer '%s': external data %s '%.40s' is not a number", r->file,
                           tname, e->key, e->value);
      if (e->key[0] == 'o')
        offset = v;
      else
        length = v, has_len = true;
    }
  }
  if (!loc || !loc[0])
    return hant__error(HANT_EFORMAT, "%s: initializer '%s': external data without a location", r->file, tname);
  if (loc[0] == '/' || strstr(loc, "..") || strlen(loc) > 255)
    return hant__error(HANT_EFORMAT,
                       "%s: initializer '%s': external data location '%.80s' must be a plain relative path next to "
                       "the model",
                       r->file, tname, loc);
  if (!r->dir)
    return hant__error(HANT_ENOTSUP, "%s: initializer '%s': external data file '%.80s' cannot be read from memory",
                       r->file, tname, loc);
  if (has_len && length != bytes)
    return hant__error(HANT_ESHAPE, "%s: initializer '%s': external data length %llu, its shape needs %zu bytes",
                       r->file, tname, (unsigned long long)length, bytes);
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/%s", r->dir, loc) >= (int)sizeof(path))
    return hant__error(HANT_EINVAL, "%s: external data path too long", r->file);
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return hant__error(HANT_ENOENT, "%s: initializer '%s': cannot open external data %s (%s)", r->file, tname, path,
                       strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = hant__error(HANT_EIO, "%s: initializer '%s': %s is not a regular file", r->file, tname, path);
  } else if ((uint64_t)st.st_size > HANT_ONNX_MAX_BYTES) {
    rc = hant__error(HANT_ELIMIT, "%s: external data %s is larger than %zu bytes", r->file, path, HANT_ONNX_MAX_BYTES);
  } else if (offset > (uint64_t)st.st_size || bytes > (uint64_t)st.st_size - offset) {
    rc = hant__error(HANT_EFORMAT, "%s: initializer '%s': %zu bytes at offset %llu lie beyond the end of %s (%lld bytes)",
                     r->file, tname, bytes, (unsigned long long)offset, path, (long long)st.st_size);
  } else if (!(*dst = malloc(bytes ? bytes : 1))) {
    rc = HANT_ENOMEM;
  } else {
    size_t got = 0;
    while (got < bytes) {
      ssize_t k = pread(fd, *dst + got, bytes - got, (off_t)(offset + got));
      if (k <= 0) {
        rc = hant__error(HANT_EIO, "%s: initializer '%s': read error in %s", r->file, tname, path);
        break;
      }
      got += (size_t)k;
    }
  }
  close(fd);
  return rc;
}

static uint32_t le32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Decodes a float32 or int64 tensor into v, checking its shape against the
 * amount of data. */
static int decode_tensor(rd *r, const Onnx__TensorProto *t, const char *tname, value *v) {
  if (!t)
    return hant__error(HANT_EFORMAT, "%s: constant '%s' has no tensor", r->file, tname);
  if (t->n_dims > 8)
    return hant__error(HANT_ENOTSUP, "%s: initializer '%s' has %zu dimensions (at most 8)", r->file, tname, t->n_dims);
  if (t->segment)
    return hant__error(HANT_ENOTSUP, "%s: initializer '%s' is segmented", r->file, tname);
  size_t numel = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || (t->dims[i] > 0 && numel > MAX_NUMEL / (size_t)t->dims[i]))
      return hant__error(t->dims[i] < 0 ? HANT_EFORMAT : HANT_ELIMIT,
                         "%s: initializer '%s' dimension %zu is %lld (expected 0 to %zu elements in all)", r->file,
                         tname, i, (long long)t->dims[i], MAX_NUMEL);
    numel *= (size_t)t->dims[i];
    v->dims[i] = t->dims[i];
  }
  v->ndim = (int)t->n_dims;
  v->numel = numel;
  v->dtype = t->has_data_type ? t->data_type : 0;
  bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (v->dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    /* check the amount of data before allocating what the dims claim */
    if (external) {
      int rc = read_external(r, t, tname, (uint8_t **)&v->f, numel * 4);
      if (rc)
        return rc;
      for (size_t i = 0; i < numel; i++) {
        uint32_t u = le32((const uint8_t *)&v->f[i]);
        memcpy(&v->f[i], &u, 4);
      }
    } else if (t->has_raw_data) {
      if (t->raw_data.len != numel * 4)
        return hant__error(HANT_ESHAPE, "%s: initializer '%s' has %zu bytes of raw data, its shape needs %zu",
                           r->file, tname, t->raw_data.len, numel * 4);
      if (!(v->f = malloc(numel ? numel * sizeof(float) : 1)))
        return HANT_ENOMEM;
      for (size_t i = 0; i < numel; i++) {
        uint32_t u = le32(t->raw_data.data + 4 * i);
        memcpy(&v->f[i], &u, 4);
      }
    } else {
      if (t->n_float_data != numel)
        return hant__error(HANT_ESHAPE, "%s: initializer '%s' has %zu floats, its shape needs %zu", r->file, tname,
                           t->n_float_data, numel);
      if (!(v->f = malloc(numel ? numel * sizeof(float) : 1)))
        return HANT_ENOMEM;
      if (numel)
        memcpy(v->f, t->float_data, numel * sizeof(float));
    }
    for (size_t i = 0; i < numel; i++)
      if (!isfinite(v->f[i]))
        return hant__error(HANT_EFORMAT, "%s: initializer '%s' value %zu is not finite", r->file, tname, i);
  } else if (v->dtype == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    if (numel > 64)
      return hant__error(HANT_ENOTSUP, "%s: int64 initializer '%s' has %zu values (hant reads only small shape "
                                       "tensors)", r->file, tname, numel);
    if (!(v->i64 = malloc(numel ? numel * sizeof(int64_t) : 1)))
      return HANT_ENOMEM;
    if (external)
      return hant__error(HANT_ENOTSUP, "%s: int64 initializer '%s' is stored externally", r->file, tname);
    if (t->has_raw_data) {
      if (t->raw_data.len != numel * 8)
        return hant__error(HANT_ESHAPE, "%s: initializer '%s' has %zu bytes of raw data, its shape needs %zu",
                           r->file, tname, t->raw_data.len, numel * 8);
      for (size_t i = 0; i < numel; i++)
        v->i64[i] = (int64_t)((uint64_t)le32(t->raw_data.data + 8 * i) |
                              (uint64_t)le32(t->raw_data.data + 8 * i + 4) << 32);
    } else {
      if (t->n_int64_data != numel)
        return hant__error(HANT_ESHAPE, "%s: initializer '%s' has %zu int64 values, its shape needs %zu", r->file,
                           tname, t->n_int64_data, numel);
      if (numel)
        memcpy(v->i64, t->int64_data, numel * sizeof(int64_t));
    }
  }
  /* other types are kept as unusable constants; using one is an error */
  return 0;
}

/* ---- attributes ------------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const rd *r, int ni, const char *name) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  for (size_t i = 0; i < p->n_attribute; i++)
    if (p->attribute[i]->name && !strcmp(p->attribute[i]->name, name))
      return p->attribute[i];
  return NULL;
}

/* Refuses attributes the op does not list: an ignored one could change
 * the meaning. allowed is a NULL-terminated list. */
static int attrs_known(const rd *r, int ni, const char *const *allowed) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  for (size_t i = 0; i < p->n_attribute; i++) {
    const char *a = p->attribute[i]->name;
    bool ok = false;
    for (const char *const *k = allowed; *k && a; k++)
      ok |= !strcmp(*k, a);
    if (!ok)
      return node_err(r, ni, HANT_ENOTSUP, "attribute '%.40s' is not supported", a ? a : "");
  }
  return 0;
}

static bool attr_is(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t) {
  return a->has_type ? a->type == t : false;
}

static int get_int(const rd *r, int ni, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out) {
  const Onnx__AttributeProto *a = attr(r, ni, name);
  *out = def;
  if (!a)
    return 0;
  if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) && !(!a->has_type && a->has_i))
    return node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be an integer", name);
  if (a->i < lo || a->i > hi)
    return node_err(r, ni, HANT_ENOTSUP, "attribute %s=%lld is not supported (expected %lld to %lld)", name,
                    (long long)a->i, (long long)lo, (long long)hi);
  *out = a->i;
  return 0;
}

static int get_float(const rd *r, int ni, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = attr(r, ni, name);
  *out = def;
  if (!a)
    return 0;
  if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) && !(!a->has_type && a->has_f))
    return node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be a float", name);
  if (!isfinite(a->f) && fabsf(a->f) != INFINITY)
    return node_err(r, ni, HANT_EFORMAT, "attribute '%s' is not a number", name);
  *out = a->f;
  return 0;
}

/* ints of exactly n values in [lo, hi]; *present tells whether it was given. */
static int get_ints(const rd *r, int ni, const char *name, size_t n, int64_t lo, int64_t hi, int64_t *out,
                    bool *present) {
  const Onnx__AttributeProto *a = attr(r, ni, name);
  *present = a != NULL;
  if (!a)
    return 0;
  if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) && !(!a->has_type && a->n_ints))
    return node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be a list of integers", name);
  if (a->n_ints != n)
    return node_err(r, ni, HANT_ENOTSUP, "attribute '%s' has %zu values (expected %zu: 2-D NCHW only)", name,
                    a->n_ints, n);
  for (size_t i = 0; i < n; i++) {
    if (a->ints[i] < lo || a->ints[i] > hi)
      return node_err(r, ni, HANT_ENOTSUP, "attribute %s[%zu]=%lld is not supported (expected %lld to %lld)", name,
                      i, (long long)a->ints[i], (long long)lo, (long long)hi);
    out[i] = a->ints[i];
  }
  return 0;
}

static int get_string(const rd *r, int ni, const char *name, const char *def, char *out, size_t n) {
  const Onnx__AttributeProto *a = attr(r, ni, name);
  snprintf(out, n, "%s", def);
  if (!a)
    return 0;
  if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) && !(!a->has_type && a->has_s))
    return node_err(r, ni, HANT_EFORMAT, "attribute '%s' must be a string", name);
  size_t len = a->s.len < n - 1 ? a->s.len : n - 1;
  if (len)
    memcpy(out, a->s.data, len);
  out[len] = '\0';
  if (memchr(out, '\0', len))
    return node_err(r, ni, HANT_EFORMAT, "attribute '%s' contains a NUL byte", name);
  return 0;
}

/* ---- node inputs ------------------------------------------------------------ */

static int n_in(const rd *r, int ni) { return (int)r->nodes[ni].p->n_input; }

/* The value of input k, or -1 for an absent optional input. */
static int in_val(const rd *r, int ni, int k) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (k >= (int)p->n_input || !p->input[k] || !p->input[k][0])
    return -1;
  return lookup(r, p->input[k]);
}

static int need_inputs(const rd *r, int ni, int lo, int hi) {
  int n = n_in(r, ni);
  if (n < lo || n > hi)
    return node_err(r, ni, HANT_EFORMAT, "%d inputs (expected %d to %d)", n, lo, hi);
  for (int k = 0; k < lo; k++)
    if (in_val(r, ni, k) < 0)
      return node_err(r, ni, HANT_EFORMAT, "required input %d is missing", k);
  return 0;
}

/* The hant node for a data input of the expected rank (0: any). */
static int dyn_in(const rd *r, int ni, int k, int rank, int *hnode) {
  int v = in_val(r, ni, k);
  if (v < 0)
    return node_err(r, ni, HANT_EFORMAT, "input %d is missing", k);
  const value *x = &r->vals[v];
  if (x->kind == V_CONST)
    return node_err(r, ni, HANT_ENOTSUP, "input %d ('%.80s') is a constant; hant computes only on the data input",
                    k, x->name);
  if (x->hnode < 0)
    return node_err(r, ni, HANT_EFORMAT, "input %d ('%.80s') is not computed before the node", k, x->name);
  if (rank && x->rank != rank)
    return node_err(r, ni, HANT_ESHAPE, "input %d ('%.80s') has rank %d (expected %d)", k, x->name, x->rank, rank);
  *hnode = x->hnode;
  return 0;
}

/* A constant float input with the given number of dims (-1: any). */
static int const_in(const rd *r, int ni, int k, int ndim, const value **out) {
  int v = in_val(r, ni, k);
  if (v < 0)
    return node_err(r, ni, HANT_EFORMAT, "input %d is missing", k);
  const value *c = &r->vals[v];
  if (c->kind != V_CONST)
    return node_err(r, ni, HANT_ENOTSUP, "input %d ('%.80s') must be a constant (an initializer or Constant)", k,
                    c->name);
  if (c->dtype != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return node_err(r, ni, HANT_ENOTSUP, "input %d ('%.80s') has data type %d (expected float32)", k, c->name,
                    c->dtype);
  if (ndim >= 0 && c->ndim != ndim)
    return node_err(r, ni, HANT_ESHAPE, "input %d ('%.80s') has %d dimensions (expected %d)", k, c->name, c->ndim,
                    ndim);
  *out = c;
  return 0;
}

/* Scalar float constant (0-d or one element). */
static int scalar_in(const rd *r, int ni, int k, float *out, bool *present) {
  *present = in_val(r, ni, k) >= 0;
  if (!*present)
    return 0;
  const value *c;
  int rc = const_in(r, ni, k, -1, &c);
  if (rc)
    return rc;
  if (c->numel != 1)
    return node_err(r, ni, HANT_ESHAPE, "input %d ('%.80s') must be a scalar", k, c->name);
  *out = c->f[0];
  return 0;
}

/* Wraps a builder's shape message with the node's name. */
static int built(const rd *r, int ni, int h) {
  if (h >= 0) {
    /* Later nodes compute C*H*W in int: keep every activation small enough. */
    const hant_node *nd = &r->net->nodes[h];
    if ((size_t)nd->c * (size_t)nd->h * (size_t)nd->w > MAX_NUMEL)
      return node_err(r, ni, HANT_ELIMIT, "output of %dx%dx%d values per sample is larger than %zu", nd->c, nd->h,
                      nd->w, MAX_NUMEL);
    return h;
  }
  char msg[1024];
  snprintf(msg, sizeof(msg), "%s", hant_errmsg());
  return node_err(r, ni, h, "%s", msg);
}

static value *out_val(rd *r, int ni) { return &r->vals[lookup(r, r->nodes[ni].p->output[0])]; }

/* ---- ops -------------------------------------------------------------------- */

/* pads [top, left, bottom, right] to symmetric (ph, pw), honouring auto_pad. */
static int resolve_pads(const rd *r, int ni, const int64_t *k, const int64_t *s, int h, int w, int *ph, int *pw) {
  char ap[32];
  int64_t pads[4] = {0, 0, 0, 0};
  bool has_pads;
  int rc = get_string(r, ni, "auto_pad", "NOTSET", ap, sizeof(ap));
  if (!rc)
    rc = get_ints(r, ni, "pads", 4, 0, MAX_KERNEL, pads, &has_pads);
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
        return node_err(r, ni, HANT_ENOTSUP,
                        "auto_pad=%s pads %lld pixels along %s: asymmetric padding is not supported", ap,
                        (long long)total, d ? "width" : "height");
      pads[d] = pads[d + 2] = total / 2;
    }
  } else if (!strcmp(ap, "VALID")) {
    memset(pads, 0, sizeof(pads));
  } else if (strcmp(ap, "NOTSET")) {
    return node_err(r, ni, HANT_ENOTSUP, "auto_pad='%s' is not supported", ap);
  }
  if (pads[0] != pads[2] || pads[1] != pads[3])
    return node_err(r, ni, HANT_ENOTSUP,
                    "asymmetric pads [%lld, %lld, %lld, %lld] are not supported (expected top = bottom, left = right)",
                    (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3]);
  *ph = (int)pads[0];
  *pw = (int)pads[1];
  return 0;
}

static int op_conv(rd *r, int ni) {
  static const char *const known[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
  int x, rc;
  const value *wv, *bv = NULL;
  if ((rc = need_inputs(r, ni, 2, 3)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 4, &x)) ||
      (rc = const_in(r, ni, 1, 4, &wv)))
    return rc;
  if (in_val(r, ni, 2) >= 0 && (rc = const_in(r, ni, 2, 1, &bv)))
    return rc;
  const hant_node *in = &r->net->nodes[x];
  int64_t group, k[2] = {wv->dims[2], wv->dims[3]}, s[2] = {1, 1}, dil[2], ks[2] = {0, 0};
  bool has;
  if ((rc = get_int(r, ni, "group", 1, 1, MAX_CHANNELS, &group)) ||
      (rc = get_ints(r, ni, "dilations", 2, 1, 1, dil, &has)) ||
      (rc = get_ints(r, ni, "strides", 2, 1, MAX_KERNEL, s, &has)) ||
      (rc = get_ints(r, ni, "kernel_shape", 2, 1, MAX_KERNEL, ks, &has)))
    return rc;
  if (has && (ks[0] != k[0] || ks[1] != k[1]))
    return node_err(r, ni, HANT_ESHAPE, "kernel_shape %lldx%lld does not match the weight's %lldx%lld",
                    (long long)ks[0], (long long)ks[1], (long long)k[0], (long long)k[1]);
  if (wv->dims[0] < 1 || wv->dims[0] > MAX_CHANNELS || k[0] < 1 || k[0] > MAX_KERNEL || k[1] < 1 || k[1] > MAX_KERNEL)
    return node_err(r, ni, HANT_ESHAPE, "weight shape [%lld, %lld, %lld, %lld] is out of range", (long long)wv->dims[0],
                    (long long)wv->dims[1], (long long)k[0], (long long)k[1]);
  if (wv->dims[1] * group != in->c || wv->dims[0] % group)
    return node_err(r, ni, HANT_ESHAPE,
                    "weight [%lld, %lld, %lld, %lld] with group %lld does not fit an input of %d channels",
                    (long long)wv->dims[0], (long long)wv->dims[1], (long long)k[0], (long long)k[1],
                    (long long)group, in->c);
  if (bv && bv->dims[0] != wv->dims[0])
    return node_err(r, ni, HANT_ESHAPE, "bias has %lld values for %lld output channels", (long long)bv->dims[0],
                    (long long)wv->dims[0]);
  hant_conv_desc d = {.c_in = in->c, .c_out = (int)wv->dims[0], .kh = (int)k[0], .kw = (int)k[1], .sh = (int)s[0],
                      .sw = (int)s[1], .groups = (int)group};
  if ((rc = resolve_pads(r, ni, k, s, in->h, in->w, &d.ph, &d.pw)))
    return rc;
  if (2 * d.ph > d.kh || 2 * d.pw > d.kw)
    return node_err(r, ni, HANT_ENOTSUP, "padding %dx%d is more than half the %dx%d kernel", d.ph, d.pw, d.kh, d.kw);
  int h = built(r, ni, hant_net_conv(r->net, x, &d, bv != NULL));
  if (h < 0)
    return h;
  hant_node *nd = &r->net->nodes[h];
  memcpy(r->net->params[nd->param[0]].w, wv->f, wv->numel * sizeof(float));
  if (bv)
    memcpy(r->net->params[nd->param[1]].w, bv->f, bv->numel * sizeof(float));
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int op_bn(rd *r, int ni) {
  static const char *const known[] = {"epsilon", "momentum", "training_mode", "spatial", "is_test", NULL};
  int x, rc;
  const value *p[4];
  int64_t training, spatial;
  float eps, mom;
  if ((rc = need_inputs(r, ni, 5, 5)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)) ||
      (rc = get_float(r, ni, "epsilon", 1e-5f, &eps)) || (rc = get_float(r, ni, "momentum", 0.9f, &mom)) ||
      (rc = get_int(r, ni, "training_mode", 0, 0, 0, &training)) || (rc = get_int(r, ni, "spatial", 1, 1, 1, &spatial)))
    return rc;
  if (!(eps > 0 && eps < 1))
    return node_err(r, ni, HANT_ENOTSUP, "epsilon %g is not supported (expected 0 < epsilon < 1)", (double)eps);
  const Onnx__NodeProto *pn = r->nodes[ni].p;
  for (size_t k = 1; k < pn->n_output; k++)
    if (pn->output[k] && pn->output[k][0] && r->vals[lookup(r, pn->output[k])].cons)
      return node_err(r, ni, HANT_ENOTSUP, "training outputs (running statistics) are used; export in eval mode");
  int c = r->net->nodes[x].c;
  for (int k = 0; k < 4; k++) {
    if ((rc = const_in(r, ni, k + 1, 1, &p[k])))
      return rc;
    if (p[k]->dims[0] != c)
      return node_err(r, ni, HANT_ESHAPE, "input %d has %lld values for %d channels", k + 1, (long long)p[k]->dims[0], c);
  }
  for (int j = 0; j < c; j++)
    if (p[3]->f[j] < 0)
      return node_err(r, ni, HANT_EFORMAT, "running variance of channel %d is negative", j);
  int h = built(r, ni, hant_net_bn(r->net, x));
  if (h < 0)
    return h;
  hant_node *nd = &r->net->nodes[h];
  nd->bn_eps = eps;
  for (int k = 0; k < 4; k++)
    memcpy(r->net->params[nd->param[k]].w, p[k]->f, (size_t)c * sizeof(float));
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[in_val(r, ni, 0)].rank;
  return 0;
}

static int emit_act(rd *r, int ni, int x, hant_act a) {
  int h = built(r, ni, hant_net_act(r->net, x, a));
  if (h < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[in_val(r, ni, 0)].rank;
  return 0;
}

static int op_relu(rd *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  return emit_act(r, ni, x, HANT_ACT_RELU);
}

static int op_clip(rd *r, int ni) {
  static const char *const known_old[] = {"min", "max", NULL}, *const known_new[] = {NULL};
  int x, rc;
  float lo = -INFINITY, hi = INFINITY;
  bool has_lo = false, has_hi = false;
  if (r->opset < 11) {
    if ((rc = need_inputs(r, ni, 1, 1)) || (rc = attrs_known(r, ni, known_old)) ||
        (rc = get_float(r, ni, "min", -INFINITY, &lo)) || (rc = get_float(r, ni, "max", INFINITY, &hi)))
      return rc;
  } else if ((rc = need_inputs(r, ni, 1, 3)) || (rc = attrs_known(r, ni, known_new)) ||
             (rc = scalar_in(r, ni, 1, &lo, &has_lo)) || (rc = scalar_in(r, ni, 2, &hi, &has_hi))) {
    return rc;
  }
  if ((rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  if (lo == 0.0f && hi == 6.0f)
    return emit_act(r, ni, x, HANT_ACT_RELU6);
  if (lo == 0.0f && hi == INFINITY)
    return emit_act(r, ni, x, HANT_ACT_RELU);
  return node_err(r, ni, HANT_ENOTSUP, "Clip to [%g, %g] is not supported (expected [0, 6], ReLU6)", (double)lo,
                  (double)hi);
}

static int op_hardswish(rd *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  return emit_act(r, ni, x, HANT_ACT_HSWISH);
}

/* HardSigmoid(x; 1/6, 1/2) read only by Mul(x, .): hard-swish. Returns the
 * Mul's node index when node hs is that pattern, else -1. */
static int hswish_mul(const rd *r, int hs) {
  const Onnx__NodeProto *p = r->nodes[hs].p;
  if (strcmp(p->op_type, "HardSigmoid") || p->n_input != 1 || p->n_output != 1 || !p->output[0][0])
    return -1;
  const Onnx__AttributeProto *a = attr(r, hs, "alpha"), *b = attr(r, hs, "beta");
  float alpha = a && a->has_f ? a->f : 0.2f, beta = b && b->has_f ? b->f : 0.5f;
  if (fabsf(alpha - 1.0f / 6.0f) > 1e-6f || beta != 0.5f || p->n_attribute > (size_t)(!!a + !!b))
    return -1;
  int x = lookup(r, p->input[0]), y = lookup(r, p->output[0]);
  if (x < 0 || y < 0 || r->vals[y].cons != 1 || r->vals[y].reader < 0)
    return -1;
  int ni = r->vals[y].reader;
  const Onnx__NodeProto *m = r->nodes[ni].p;
  if (strcmp(m->op_type, "Mul") || m->n_input != 2 || m->n_attribute)
    return -1;
  int a0 = lookup(r, m->input[0]), a1 = lookup(r, m->input[1]);
  return (a0 == x && a1 == y) || (a0 == y && a1 == x) ? ni : -1;
}

static int op_mul(rd *r, int ni) {
  for (int k = 0; k < 2; k++) {
    int v = in_val(r, ni, k);
    if (v >= 0 && r->vals[v].kind == V_DYN && r->nodes[r->vals[v].producer].absorbed_by == ni) {
      int x;
      int rc = dyn_in(r, ni, 1 - k, 0, &x);
      return rc ? rc : emit_act(r, ni, x, HANT_ACT_HSWISH);
    }
  }
  return node_err(r, ni, HANT_ENOTSUP, "Mul is supported only as x * HardSigmoid(x; alpha=1/6, beta=0.5) (hard-swish)");
}

/* MatMul(x, W) with constant W [in, out] read only by an Add of a constant
 * bias: a linear layer. Returns the Add's index, or -1. */
static int matmul_add(const rd *r, int mm) {
  const Onnx__NodeProto *p = r->nodes[mm].p;
  if (strcmp(p->op_type, "MatMul") || p->n_input != 2 || p->n_output != 1 || !p->output[0][0])
    return -1;
  int y = lookup(r, p->output[0]);
  if (y < 0 || r->vals[y].cons != 1 || r->vals[y].reader < 0)
    return -1;
  int ni = r->vals[y].reader;
  const Onnx__NodeProto *a = r->nodes[ni].p;
  if (strcmp(a->op_type, "Add") || a->n_input != 2)
    return -1;
  int a0 = lookup(r, a->input[0]), a1 = lookup(r, a->input[1]);
  if ((a0 == y && a1 >= 0 && r->vals[a1].kind == V_CONST) || (a1 == y && a0 >= 0 && r->vals[a0].kind == V_CONST))
    return ni;
  return -1;
}

/* x [N, in] times W, plus bias b: a hant linear layer. trans: W is [out, in]. */
static int emit_linear(rd *r, int ni, int x, const value *wv, bool trans, const value *bv) {
  const hant_node *in = &r->net->nodes[x];
  int64_t features = (int64_t)in->c * in->h * in->w;
  int64_t fin = trans ? wv->dims[1] : wv->dims[0], fout = trans ? wv->dims[0] : wv->dims[1];
  if (fin != features)
    return node_err(r, ni, HANT_ESHAPE, "weight [%lld, %lld] expects %lld input features, the input has %lld",
                    (long long)wv->dims[0], (long long)wv->dims[1], (long long)fin, (long long)features);
  if (fout < 1 || fout > MAX_CHANNELS)
    return node_err(r, ni, HANT_ESHAPE, "%lld output features is out of range", (long long)fout);
  if (bv && !(bv->numel == (size_t)fout && (bv->ndim == 1 || (bv->ndim == 2 && bv->dims[0] == 1))))
    return node_err(r, ni, HANT_ESHAPE, "bias must have shape [%lld] or [1, %lld]", (long long)fout, (long long)fout);
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
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = 2;
  return 0;
}

static int op_gemm(rd *r, int ni) {
  static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
  int x, rc;
  float alpha, beta;
  int64_t ta, tb;
  const value *wv, *bv = NULL;
  if ((rc = need_inputs(r, ni, 2, 3)) || (rc = attrs_known(r, ni, known)) ||
      (rc = get_float(r, ni, "alpha", 1, &alpha)) || (rc = get_float(r, ni, "beta", 1, &beta)) ||
      (rc = get_int(r, ni, "transA", 0, 0, 0, &ta)) || (rc = get_int(r, ni, "transB", 0, 0, 1, &tb)) ||
      (rc = dyn_in(r, ni, 0, 2, &x)) || (rc = const_in(r, ni, 1, 2, &wv)))
    return rc;
  if (alpha != 1.0f || beta != 1.0f)
    return node_err(r, ni, HANT_ENOTSUP, "alpha=%g, beta=%g is not supported (expected 1, 1)", (double)alpha,
                    (double)beta);
  if (in_val(r, ni, 2) >= 0 && (rc = const_in(r, ni, 2, -1, &bv)))
    return rc;
  return emit_linear(r, ni, x, wv, tb == 1, bv);
}

static int op_matmul(rd *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  const value *wv;
  if (r->nodes[ni].absorbed_by >= 0)
    return 0; /* the Add after it emits the linear layer */
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 2, &x)) ||
      (rc = const_in(r, ni, 1, 2, &wv)))
    return rc;
  return emit_linear(r, ni, x, wv, false, NULL);
}

static int op_add(rd *r, int ni) {
  static const char *const known[] = {NULL};
  int rc;
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = attrs_known(r, ni, known)))
    return rc;
  for (int k = 0; k < 2; k++) { /* MatMul + constant bias */
    int v = in_val(r, ni, k);
    if (r->vals[v].kind == V_DYN && r->nodes[r->vals[v].producer].absorbed_by == ni) {
      int mm = r->vals[v].producer, x;
      const value *wv, *bv;
      /* the MatMul's own checks, reported under its name */
      static const char *const none[] = {NULL};
      if ((rc = need_inputs(r, mm, 2, 2)) || (rc = attrs_known(r, mm, none)) || (rc = dyn_in(r, mm, 0, 2, &x)) ||
          (rc = const_in(r, mm, 1, 2, &wv)) || (rc = const_in(r, ni, 1 - k, -1, &bv)))
        return rc;
      return emit_linear(r, ni, x, wv, false, bv);
    }
  }
  int a, b;
  for (int k = 0; k < 2; k++)
    if (r->vals[in_val(r, ni, k)].kind == V_CONST)
      return node_err(r, ni, HANT_ENOTSUP, "Add of a constant is supported only as the bias after MatMul");
  if ((rc = dyn_in(r, ni, 0, 0, &a)) || (rc = dyn_in(r, ni, 1, 0, &b)))
    return rc;
  if (r->vals[in_val(r, ni, 0)].rank != r->vals[in_val(r, ni, 1)].rank)
    return node_err(r, ni, HANT_ESHAPE, "inputs have ranks %d and %d (broadcasting is not supported)",
                    r->vals[in_val(r, ni, 0)].rank, r->vals[in_val(r, ni, 1)].rank);
  int h = built(r, ni, hant_net_add(r->net, a, b));
  if (h < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[in_val(r, ni, 0)].rank;
  return 0;
}

/* Pad(x, zeros on H and W only, the same on every side) read only by an
 * AveragePool without padding of its own: PyTorch's export of
 * AvgPool2d(padding=p, count_include_pad=True). Reads the padding into *p
 * (when p is non-NULL) and returns the pool's index, or -1. */
static int pad_pool(const rd *r, int pad, int *p) {
  const Onnx__NodeProto *n = r->nodes[pad].p;
  if (strcmp(n->op_type, "Pad") || n->n_input < 1 || n->n_output != 1 || !n->output[0][0])
    return -1;
  int y = lookup(r, n->output[0]);
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
    int pv = n->n_input > 1 && n->input[1][0] ? lookup(r, n->input[1]) : -1;
    int cv = n->n_input > 2 && n->input[2][0] ? lookup(r, n->input[2]) : -1;
    if (n->n_input > 3 || pv < 0 || r->vals[pv].kind != V_CONST || !r->vals[pv].i64 || r->vals[pv].numel != 8)
      return -1;
    memcpy(pads, r->vals[pv].i64, sizeof(pads));
    if (cv >= 0) {
      if (r->vals[cv].kind != V_CONST || !r->vals[cv].f || r->vals[cv].numel != 1)
        return -1;
      cval = r->vals[cv].f[0];
    }
  } else if (!attr(r, pad, "pads")) {
    return -1;
  }
  if (cval != 0.0f || pads[0] || pads[1] || pads[4] || pads[5] || pads[2] < 1 || pads[2] > MAX_KERNEL ||
      pads[3] != pads[2] || pads[6] != pads[2] || pads[7] != pads[2])
    return -1;
  int ni = r->vals[y].reader;
  if (ni < 0)
    return -1;
  const Onnx__NodeProto *m = r->nodes[ni].p;
  if (strcmp(m->op_type, "AveragePool") || m->n_input != 1 || lookup(r, m->input[0]) != y)
    return -1;
  const Onnx__AttributeProto *a = attr(r, ni, "pads"), *ap = attr(r, ni, "auto_pad");
  for (size_t k = 0; a && k < a->n_ints; k++)
    if (a->ints[k])
      return -1;
  if (ap && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6)))
    return -1;
  if (p)
    *p = (int)pads[2];
  return ni;
}

static int op_pool(rd *r, int ni, bool avg) {
  static const char *const known_max[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                                          "storage_order", "strides", NULL};
  static const char *const known_avg[] = {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                                          "strides", NULL};
  int x, rc;
  int64_t k[2], s[2] = {1, 1}, dil[2], ceil_mode, cip = 0, order;
  bool has;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = attrs_known(r, ni, avg ? known_avg : known_max)))
    return rc;
  int pv = in_val(r, ni, 0), padded = -1;
  if (avg && r->vals[pv].kind == V_DYN && r->nodes[r->vals[pv].producer].absorbed_by == ni) {
    const Onnx__NodeProto *pn = r->nodes[r->vals[pv].producer].p; /* the Pad's input */
    pv = pn->input[0][0] ? lookup(r, pn->input[0]) : -1;
    pad_pool(r, r->vals[in_val(r, ni, 0)].producer, &padded);
  }
  if (pv < 0 || r->vals[pv].kind == V_CONST || r->vals[pv].hnode < 0 || r->vals[pv].rank != 4)
    return node_err(r, ni, HANT_EFORMAT, "input 0 must be an [N, C, H, W] value computed before the node");
  x = r->vals[pv].hnode;
  if ((rc = get_ints(r, ni, "kernel_shape", 2, 1, MAX_KERNEL, k, &has)))
    return rc;
  if (!has)
    return node_err(r, ni, HANT_EFORMAT, "attribute 'kernel_shape' is required");
  if ((rc = get_ints(r, ni, "strides", 2, 1, MAX_KERNEL, s, &has)) ||
      (rc = get_ints(r, ni, "dilations", 2, 1, 1, dil, &has)) ||
      (rc = get_int(r, ni, "ceil_mode", 0, 0, 1, &ceil_mode)) ||
      (rc = get_int(r, ni, "count_include_pad", 0, 0, 1, &cip)) ||
      (rc = get_int(r, ni, "storage_order", 0, 0, 0, &order)))
    return rc;
  const Onnx__NodeProto *pn = r->nodes[ni].p;
  if (pn->n_output > 1 && pn->output[1] && pn->output[1][0] && r->vals[lookup(r, pn->output[1])].cons)
    return node_err(r, ni, HANT_ENOTSUP, "the Indices output is not supported");
  const hant_node *in = &r->net->nodes[x];
  int ph, pw;
  if ((rc = resolve_pads(r, ni, k, s, in->h, in->w, &ph, &pw)))
    return rc;
  if (k[0] != k[1] || s[0] != s[1] || ph != pw)
    return node_err(r, ni, HANT_ENOTSUP,
                    "kernel %lldx%lld, stride %lldx%lld, padding %dx%d: only square kernels, strides and padding are "
                    "supported",
                    (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1], ph, pw);
  hant_pool_desc d = {.k = (int)k[0], .s = (int)s[0], .p = ph, .count_include_pad = cip != 0};
  if (padded >= 0) /* zeros padded by the Pad count, as count_include_pad=1 */
    d.p = padded, d.count_include_pad = true;
  if (2 * d.p > d.k)
    return node_err(r, ni, HANT_ENOTSUP, "padding %d is more than half the kernel %d", d.p, d.k);
  if (ceil_mode) { /* fine only when rounding up gives the same size */
    for (int dim = 0; dim < 2; dim++) {
      int n = dim ? in->w : in->h, span = n + 2 * d.p - d.k;
      if (span >= 0 && span % d.s)
        return node_err(r, ni, HANT_ENOTSUP, "ceil_mode=1 changes the output size here (hant pools round down)");
    }
  }
  int h = built(r, ni, avg ? hant_net_avgpool(r->net, x, &d) : hant_net_maxpool(r->net, x, &d));
  if (h < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int op_gap(rd *r, int ni) {
  static const char *const known[] = {NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 4, &x)))
    return rc;
  int h = built(r, ni, hant_net_gap(r->net, x));
  if (h < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = 4;
  return 0;
}

static int emit_flatten(rd *r, int ni, int x) {
  int h = built(r, ni, hant_net_flatten(r->net, x));
  if (h < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = 2;
  return 0;
}

/* ReduceMean over H and W, as x.mean((2, 3)) exports: global average
 * pooling, then a flatten when keepdims=0. Axes come from the attribute
 * (opset < 18) or the second input (opset 18). */
static int op_reducemean(rd *r, int ni) {
  static const char *const known[] = {"axes", "keepdims", "noop_with_empty_axes", NULL};
  int x, rc;
  int64_t keep, noop, axes[2];
  if ((rc = need_inputs(r, ni, 1, 2)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 4, &x)) ||
      (rc = get_int(r, ni, "keepdims", 1, 0, 1, &keep)) ||
      (rc = get_int(r, ni, "noop_with_empty_axes", 0, 0, 0, &noop)))
    return rc;
  const Onnx__AttributeProto *a = attr(r, ni, "axes");
  int av = in_val(r, ni, 1);
  size_t n = 0;
  if (a && av >= 0)
    return node_err(r, ni, HANT_EFORMAT, "axes given both as an attribute and as an input");
  if (a) {
    if (!attr_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) && !(!a->has_type && a->n_ints))
      return node_err(r, ni, HANT_EFORMAT, "attribute 'axes' must be a list of integers");
    for (n = 0; n < a->n_ints && n < 2; n++)
      axes[n] = a->ints[n];
    n = a->n_ints;
  } else if (av >= 0) {
    const value *v = &r->vals[av];
    if (v->kind != V_CONST || !v->i64 || v->ndim != 1)
      return node_err(r, ni, HANT_ENOTSUP, "axes must be a constant 1-D int64 tensor");
    for (n = 0; n < v->numel && n < 2; n++)
      axes[n] = v->i64[n];
    n = v->numel;
  }
  for (size_t i = 0; i < n && i < 2; i++)
    axes[i] = axes[i] < 0 ? axes[i] + 4 : axes[i];
  if (n != 2 || !((axes[0] == 2 && axes[1] == 3) || (axes[0] == 3 && axes[1] == 2)))
    return node_err(r, ni, HANT_ENOTSUP, "ReduceMean is supported only over H and W (axes [2, 3] or [-2, -1])");
  int h = built(r, ni, hant_net_gap(r->net, x));
  if (h < 0)
    return h;
  if (!keep && (h = built(r, ni, hant_net_flatten(r->net, h))) < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = keep ? 4 : 2;
  return 0;
}

/* Dropout in an inference graph: the identity. A training-mode input
 * that is not a constant false, or a requested mask, is refused. */
static int op_dropout(rd *r, int ni) {
  static const char *const known[] = {"ratio", "seed", "is_test", NULL};
  int x, rc;
  if ((rc = need_inputs(r, ni, 1, 3)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)))
    return rc;
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (p->n_output > 1 && p->output[1] && p->output[1][0])
    return node_err(r, ni, HANT_ENOTSUP, "Dropout's mask output is not supported (inference graphs only)");
  int tv = in_val(r, ni, 2);
  if (tv >= 0) {
    const value *t = &r->vals[tv];
    bool off = t->kind == V_CONST && t->numel == 1 &&
               ((t->i64 && t->i64[0] == 0) || (t->f && t->f[0] == 0));
    if (!off)
      return node_err(r, ni, HANT_ENOTSUP, "Dropout in training mode (a training_mode input that is not a constant false) is not supported; export the model in eval mode");
  }
  int h = built(r, ni, hant_net_identity(r->net, x));
  if (h < 0)
    return h;
  value *o = out_val(r, ni);
  o->hnode = h, o->rank = r->vals[in_val(r, ni, 0)].rank;
  return 0;
}

static int op_flatten(rd *r, int ni) {
  static const char *const known[] = {"axis", NULL};
  int x, rc;
  int64_t axis;
  if ((rc = need_inputs(r, ni, 1, 1)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)) ||
      (rc = get_int(r, ni, "axis", 1, -4, 4, &axis)))
    return rc;
  int rank = r->vals[in_val(r, ni, 0)].rank;
  if (axis != 1 && axis != 1 - rank)
    return node_err(r, ni, HANT_ENOTSUP, "axis=%lld is not supported (expected 1: keep the batch)", (long long)axis);
  return emit_flatten(r, ni, x);
}

/* The computed value v, read only once, made by op_type; -1 otherwise. */
static int made_by(const rd *r, int v, const char *op_type) {
  if (v < 0 || r->vals[v].kind != V_DYN || r->vals[v].cons != 1)
    return -1;
  int p = r->vals[v].producer;
  return strcmp(r->nodes[p].p->op_type, op_type) ? -1 : p;
}

/* A constant int64 scalar or one-element tensor in *out. */
static bool const_i64(const rd *r, int v, int64_t *out) {
  if (v < 0 || r->vals[v].kind != V_CONST || !r->vals[v].i64 || r->vals[v].numel != 1 || r->vals[v].ndim > 1)
    return false;
  *out = r->vals[v].i64[0];
  return true;
}

static bool attr_ints_are(const rd *r, int ni, const char *name, int64_t v0) {
  const Onnx__AttributeProto *a = attr(r, ni, name);
  return a && a->n_ints == 1 && a->ints[0] == v0;
}

/* PyTorch's x.view(x.size(0), -1) with a dynamic batch computes the shape:
 * Reshape(x, Concat(Unsqueeze(Gather(Shape(v), 0), [0]), [t]), axis 0).
 * Every value's first dimension is the batch here, so the shape is
 * [N, t]. Returns the Reshape's index when node `reshape` has that form
 * (t in *tail), and with mark set, marks the four shape nodes as its. */
static int batch_shape(rd *r, int reshape, int64_t *tail, bool mark) {
  const Onnx__NodeProto *p = r->nodes[reshape].p;
  if (strcmp(p->op_type, "Reshape") || p->n_input != 2)
    return -1;
  int concat = made_by(r, lookup(r, p->input[1]), "Concat");
  if (concat < 0)
    return -1;
  const Onnx__NodeProto *c = r->nodes[concat].p;
  const Onnx__AttributeProto *ax = attr(r, concat, "axis");
  if (c->n_input != 2 || !ax || ax->i != 0 || c->n_attribute != 1 || !const_i64(r, lookup(r, c->input[1]), tail))
    return -1;
  int unsq = made_by(r, lookup(r, c->input[0]), "Unsqueeze");
  if (unsq < 0)
    return -1;
  const Onnx__NodeProto *u = r->nodes[unsq].p;
  int64_t zero = -1;
  if (r->opset < 13 ? !(u->n_input == 1 && u->n_attribute == 1 && attr_ints_are(r, unsq, "axes", 0))
                    : !(u->n_input == 2 && !u->n_attribute && const_i64(r, lookup(r, u->input[1]), &zero) && !zero))
    return -1;
  int gather = made_by(r, lookup(r, u->input[0]), "Gather");
  if (gather < 0)
    return -1;
  const Onnx__NodeProto *g = r->nodes[gather].p;
  const Onnx__AttributeProto *gax = attr(r, gather, "axis");
  zero = -1;
  if (g->n_input != 2 || (gax && gax->i != 0) || g->n_attribute > (size_t)(gax != NULL) ||
      !const_i64(r, lookup(r, g->input[1]), &zero) || zero)
    return -1;
  int shape = made_by(r, lookup(r, g->input[0]), "Shape");
  if (shape < 0 || r->nodes[shape].p->n_input != 1 || r->nodes[shape].p->n_attribute)
    return -1;
  if (mark)
    r->nodes[concat].absorbed_by = r->nodes[unsq].absorbed_by = r->nodes[gather].absorbed_by =
        r->nodes[shape].absorbed_by = reshape;
  return reshape;
}

static int op_reshape(rd *r, int ni) {
  static const char *const known[] = {"allowzero", NULL};
  int x, rc;
  int64_t allowzero;
  if ((rc = need_inputs(r, ni, 2, 2)) || (rc = attrs_known(r, ni, known)) || (rc = dyn_in(r, ni, 0, 0, &x)) ||
      (rc = get_int(r, ni, "allowzero", 0, 0, 1, &allowzero)))
    return rc;
  const value *sv = &r->vals[in_val(r, ni, 1)];
  const hant_node *in = &r->net->nodes[x];
  int64_t f = (int64_t)in->c * in->h * in->w, tail;
  if (sv->kind == V_DYN && r->nodes[sv->producer].absorbed_by == ni && batch_shape(r, ni, &tail, false) == ni) {
    if (tail != -1 && tail != f)
      return node_err(r, ni, HANT_ENOTSUP, "reshape to [N, %lld] is not supported (expected [N, -1] or [N, %lld])",
                      (long long)tail, (long long)f);
    return emit_flatten(r, ni, x);
  }
  if (sv->kind != V_CONST || sv->dtype != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || sv->ndim != 1)
    return node_err(r, ni, HANT_ENOTSUP, "the shape must be a constant 1-D int64 tensor, or x.size(0) and a "
                                         "constant (other computed shapes are not supported)");
  const int64_t *d = sv->i64;
  /* the first dimension keeps the batch: 0 (copy), -1, or the input's fixed batch size */
  bool ok = sv->numel == 2 && ((d[0] == 0 && !allowzero) || d[0] == -1 || (r->batch > 0 && d[0] == r->batch)) &&
            (d[1] == f || (d[1] == -1 && d[0] != -1));
  if (!ok) {
    char shape[128] = "";
    for (size_t i = 0, n = 0; i < sv->numel && i < 6 && n < sizeof(shape) - 24; i++)
      n += (size_t)snprintf(shape + n, sizeof(shape) - n, "%s%lld", i ? ", " : "", (long long)d[i]);
    return node_err(r, ni, HANT_ENOTSUP, "reshape to [%s] is not supported (expected [N, -1] or [N, %lld], N as 0, "
                                         "-1 or the input's fixed batch size)", shape, (long long)f);
  }
  return emit_flatten(r, ni, x);
}

/* ---- the graph ---------------------------------------------------------------- */

typedef int (*op_fn)(rd *r, int ni);
static int op_maxpool(rd *r, int ni) { return op_pool(r, ni, false); }
static int op_avgpool(rd *r, int ni) { return op_pool(r, ni, true); }
static int op_absorbed(rd *r, int ni) {
  if (r->nodes[ni].absorbed_by >= 0)
    return 0;
  const char *op = r->nodes[ni].p->op_type;
  if (!strcmp(op, "Shape") || !strcmp(op, "Gather") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Concat"))
    return node_err(r, ni, HANT_ENOTSUP,
                    "%s is supported only in the shape of x.view(x.size(0), -1): "
                    "Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0), [0]), [-1]))", op);
  if (!strcmp(op, "Pad"))
    return node_err(r, ni, HANT_ENOTSUP,
                    "Pad is supported only as equal zero padding of H and W before an AveragePool without pads");
  return node_err(r, ni, HANT_ENOTSUP,
                  "HardSigmoid is supported only as x * HardSigmoid(x; alpha=1/6, beta=0.5) (hard-swish)");
}

static const struct {
  const char *name;
  op_fn fn;
  int since; /* first opset with this op */
} ops[] = {
    {"Conv", op_conv, 1},          {"BatchNormalization", op_bn, 1},   {"Relu", op_relu, 1},
    {"Clip", op_clip, 1},          {"HardSwish", op_hardswish, 14},    {"HardSigmoid", op_absorbed, 1},
    {"Mul", op_mul, 1},            {"Add", op_add, 1},                 {"MaxPool", op_maxpool, 1},
    {"AveragePool", op_avgpool, 1}, {"GlobalAveragePool", op_gap, 1},  {"Flatten", op_flatten, 1},
    {"Reshape", op_reshape, 5},    {"Gemm", op_gemm, 1},               {"MatMul", op_matmul, 1},
    {"Pad", op_absorbed, 2},       {"Identity", NULL, 1},              {"Constant", NULL, 1},
    {"Shape", op_absorbed, 1},     {"Gather", op_absorbed, 1},         {"Unsqueeze", op_absorbed, 1},
    {"Concat", op_absorbed, 4},    {"ReduceMean", op_reducemean, 1},   {"Dropout", op_dropout, 1},
};

static op_fn find_op(const char *name, int opset, bool *known) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (!strcmp(ops[i].name, name)) {
      *known = opset >= ops[i].since;
      return ops[i].fn;
    }
  *known = false;
  return NULL;
}

static int constant_node(rd *r, int ni, value *v) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (p->n_attribute != 1 || !p->attribute[0]->name)
    return node_err(r, ni, HANT_EFORMAT, "expected exactly one attribute");
  const Onnx__AttributeProto *a = p->attribute[0];
  const char *an = a->name;
  if (!strcmp(an, "value")) {
    if (!a->t)
      return node_err(r, ni, HANT_EFORMAT, "attribute 'value' has no tensor");
    return decode_tensor(r, a->t, v->name, v);
  }
  if (!strcmp(an, "value_float") || !strcmp(an, "value_floats")) {
    size_t n = an[11] ? a->n_floats : 1;
    if (n > MAX_NUMEL || !(v->f = malloc(n ? n * sizeof(float) : 1)))
      return HANT_ENOMEM;
    if (an[11]) {
      if (n)
        memcpy(v->f, a->floats, n * sizeof(float));
      v->ndim = 1, v->dims[0] = (int64_t)n;
    }
    else
      v->f[0] = a->f;
    v->numel = n;
    v->dtype = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    return 0;
  }
  if (!strcmp(an, "value_int") || !strcmp(an, "value_ints")) {
    size_t n = an[9] ? a->n_ints : 1;
    if (n > 64)
      return node_err(r, ni, HANT_ENOTSUP, "more than 64 integers");
    if (!(v->i64 = malloc(n ? n * sizeof(int64_t) : 1)))
      return HANT_ENOMEM;
    if (an[9]) {
      if (n)
        memcpy(v->i64, a->ints, n * sizeof(int64_t));
      v->ndim = 1, v->dims[0] = (int64_t)n;
    } else {
      v->i64[0] = a->i;
    }
    v->numel = n;
    v->dtype = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    return 0;
  }
  return node_err(r, ni, HANT_ENOTSUP, "attribute '%.40s' is not supported", an);
}

/* The data input's type: float32 [N, C, H, W] with C, H, W fixed. */
static int graph_input(rd *r, const Onnx__ValueInfoProto *vi, hant_onnx_info *info) {
  const char *nm = vi->name;
  const Onnx__TypeProto *t = vi->type;
  if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
    return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' is not a tensor", r->file, nm);
  const Onnx__TypeProto__Tensor *tt = t->tensor_type;
  if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' has element type %d (expected float32)", r->file, nm,
                       tt->elem_type);
  if (!tt->shape || tt->shape->n_dim != 4)
    return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' must have shape [N, C, H, W] (it has %zu dimensions)",
                       r->file, nm, tt->shape ? tt->shape->n_dim : (size_t)0);
  int64_t d[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; i++) {
    const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
    if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
      d[i] = dm->dim_value;
    else if (i > 0)
      return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' dimension %d is not fixed (only the batch may vary)",
                         r->file, nm, i);
  }
  if (d[0] < 0 || d[0] > 1 << 20 || d[1] < 1 || d[1] > MAX_CHANNELS || d[2] < 1 || d[2] > MAX_SPATIAL || d[3] < 1 ||
      d[3] > MAX_SPATIAL || d[1] * d[2] * d[3] > (int64_t)MAX_NUMEL)
    return hant__error(HANT_ELIMIT, "%s: graph input '%.80s' shape [%lld, %lld, %lld, %lld] is out of range", r->file,
                       nm, (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
  r->batch = (int)d[0];
  if (info) {
    info->batch = (int)d[0];
    snprintf(info->input, sizeof(info->input), "%s", nm);
  }
  r->net = hant_net_new((int)d[1], (int)d[2], (int)d[3]);
  return r->net ? 0 : HANT_ENOMEM;
}

/* Checks a declared [N, ...] shape (where given) against what hant computed. */
static int check_declared(const rd *r, const Onnx__ValueInfoProto *vi, int vidx, const char *what) {
  const value *v = &r->vals[vidx];
  const Onnx__TypeProto *t = vi->type;
  if (v->hnode < 0 || !t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
      !t->tensor_type->shape)
    return 0;
  const Onnx__TensorShapeProto *s = t->tensor_type->shape;
  const hant_node *nd = &r->net->nodes[v->hnode];
  int64_t want[4] = {0, v->rank == 4 ? nd->c : (int64_t)nd->c * nd->h * nd->w, nd->h, nd->w};
  if (s->n_dim != (size_t)v->rank)
    return hant__error(HANT_ESHAPE, "%s: %s '%.80s' is declared with %zu dimensions, the graph computes %d", r->file,
                       what, v->name, s->n_dim, v->rank);
  for (int i = 1; i < v->rank; i++)
    if (s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && s->dim[i]->dim_value != want[i])
      return hant__error(HANT_ESHAPE, "%s: %s '%.80s' is declared with dimension %d = %lld, the graph computes %lld",
                         r->file, what, v->name, i, (long long)s->dim[i]->dim_value, (long long)want[i]);
  return 0;
}

/* Post-order depth-first walk from the output's producer, iterative so a
 * long chain cannot exhaust the stack. Visiting inputs in order emits the
 * nodes of a block (everything a node needs that is not yet emitted)
 * together, right before the node: slots come out contiguous. */
static int emit_all(rd *r) {
  int *stack = malloc(sizeof(int) * (size_t)(r->n_nodes + 1));
  int *next = calloc((size_t)r->n_nodes + 1, sizeof(int));
  int rc = 0, sp = 0;
  if (!stack || !next) {
    rc = HANT_ENOMEM;
    goto out;
  }
  int start = r->vals[r->output].producer;
  stack[sp++] = start;
  r->nodes[start].state = ST_OPEN;
  while (sp && !rc) {
    int ni = stack[sp - 1];
    const Onnx__NodeProto *p = r->nodes[ni].p;
    if (next[ni] < (int)p->n_input) {
      int k = next[ni]++;
      int v = in_val(r, ni, k);
      if (v < 0 && p->input[k] && p->input[k][0]) {
        char nb[96];
        rc = hant__error(HANT_EFORMAT,
                         "%s: input '%.80s' of node '%s' (%s, opset %d) is not produced by any node, initializer or "
                         "graph input",
                         r->file, p->input[k], nname(r, ni, nb, sizeof(nb)), p->op_type, r->opset);
        break;
      }
      if (v < 0 || r->vals[v].kind != V_DYN)
        continue;
      int src = r->vals[v].producer;
      if (r->nodes[src].state == ST_OPEN) {
        rc = node_err(r, src, HANT_EFORMAT, "the graph has a cycle through this node");
        break;
      }
      if (r->nodes[src].state == ST_NEW) {
        r->nodes[src].state = ST_OPEN;
        stack[sp++] = src;
      }
      continue;
    }
    sp--;
    r->nodes[ni].state = ST_DONE;
    bool known;
    op_fn fn = find_op(p->op_type, r->opset, &known);
    if (fn && r->net->n_nodes >= HANT_ONNX_MAX_NODES)
      rc = hant__error(HANT_ELIMIT, "%s: more than %d operators", r->file, HANT_ONNX_MAX_NODES);
    else if (fn)
      rc = fn(r, ni);
  }
out:
  free(stack);
  free(next);
  return rc;
}

static void free_reader(rd *r) {
  for (int i = 0; i < r->n_vals; i++) {
    free(r->vals[i].f);
    free(r->vals[i].i64);
  }
  free(r->vals);
  free(r->htab);
  free(r->nodes);
}

static int read_model(rd *r, const Onnx__ModelProto *m, hant_onnx_info *info) {
  int rc;
  r->opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version)
      r->opset = o->version > 1000 ? 1000 : (int)o->version;
  }
  if (r->opset < 0)
    return hant__error(HANT_EFORMAT, "%s: the model imports no default-domain opset", r->file);
  if (r->opset < OPSET_MIN || r->opset > OPSET_MAX)
    return hant__error(HANT_ENOTSUP, "%s: opset %d is not supported (hant reads opsets %d-%d)", r->file, r->opset,
                       OPSET_MIN, OPSET_MAX);
  const Onnx__GraphProto *g = r->g = m->graph;
  if (!g)
    return hant__error(HANT_EFORMAT, "%s: the model has no graph", r->file);
  if (info) {
    info->opset = r->opset;
    info->ir_version = m->ir_version;
    snprintf(info->producer, sizeof(info->producer), "%.30s %.30s", m->producer_name ? m->producer_name : "",
             m->producer_version ? m->producer_version : "");
    info->onnx_nodes = (int)g->n_node;
  }
  if (g->n_node > HANT_ONNX_MAX_NODES)
    return hant__error(HANT_ELIMIT, "%s: %zu nodes (at most %d)", r->file, g->n_node, HANT_ONNX_MAX_NODES);
  if (g->n_sparse_initializer)
    return hant__error(HANT_ENOTSUP, "%s: sparse initializers are not supported", r->file);
  size_t nv = g->n_initializer + g->n_input;
  r->n_nodes = (int)g->n_node;
  for (size_t i = 0; i < g->n_node; i++)
    nv += g->node[i]->n_output;
  if (nv > 4 * (size_t)HANT_ONNX_MAX_MESSAGES)
    return hant__error(HANT_ELIMIT, "%s: too many values", r->file);
  r->cap_vals = (int)nv + 1;
  r->hcap = 16;
  while (r->hcap < 2 * nv + 2)
    r->hcap *= 2;
  r->vals = calloc((size_t)r->cap_vals, sizeof(value));
  r->htab = calloc(r->hcap, sizeof(int));
  r->nodes = calloc((size_t)r->n_nodes + 1, sizeof(rnode));
  if (!r->vals || !r->htab || !r->nodes)
    return HANT_ENOMEM;

  /* initializers */
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *t = g->initializer[i];
    int v = add_value(r, t->name, V_CONST, -1);
    if (v < 0)
      return v;
    if ((rc = decode_tensor(r, t, r->vals[v].name, &r->vals[v])))
      return rc;
  }
  /* the data input: the one graph input that is not an initializer */
  r->input = -1;
  for (size_t i = 0; i < g->n_input; i++) {
    const char *nm = g->input[i]->name;
    if (nm && find(r, nm) >= 0 && r->vals[find(r, nm)].kind == V_CONST)
      continue;
    if (r->input >= 0)
      return hant__error(HANT_ENOTSUP, "%s: the graph has more than one input ('%.80s', '%.80s'); hant networks take one",
                         r->file, r->vals[r->input].name, nm ? nm : "");
    if ((r->input = add_value(r, nm, V_INPUT, -1)) < 0)
      return r->input;
    if ((rc = graph_input(r, g->input[i], info)))
      return rc;
    r->vals[r->input].hnode = 0;
    r->vals[r->input].rank = 4;
  }
  if (r->input < 0)
    return hant__error(HANT_EFORMAT, "%s: the graph has no input", r->file);

  /* nodes: register outputs; every op must be one hant reads */
  for (int ni = 0; ni < r->n_nodes; ni++) {
    const Onnx__NodeProto *p = r->nodes[ni].p = g->node[ni];
    r->nodes[ni].absorbed_by = -1;
    if (!p->op_type || !p->op_type[0])
      return hant__error(HANT_EFORMAT, "%s: node #%d has no op_type", r->file, ni);
    if (p->domain && p->domain[0] && strcmp(p->domain, "ai.onnx")) {
      char nb[96];
      return hant__error(HANT_ENOTSUP, "%s: node '%s': op %.40s of domain '%.40s' is not supported (opset %d)", r->file,
                         nname(r, ni, nb, sizeof(nb)), p->op_type, p->domain, r->opset);
    }
    bool known;
    find_op(p->op_type, r->opset, &known);
    if (!known) {
      char nb[96];
      return hant__error(HANT_ENOTSUP, "%s: node '%s': op %.40s is not supported (opset %d)", r->file,
                         nname(r, ni, nb, sizeof(nb)), p->op_type, r->opset);
    }
    if (p->n_output < 1 || p->n_output > 8)
      return node_err(r, ni, HANT_EFORMAT, "%zu outputs", p->n_output);
    bool is_id = !strcmp(p->op_type, "Identity"), is_const = !strcmp(p->op_type, "Constant");
    for (size_t k = 0; k < p->n_output; k++) {
      if (!p->output[k] || !p->output[k][0]) {
        if (k == 0)
          return node_err(r, ni, HANT_EFORMAT, "the first output has no name");
        continue;
      }
      int v = add_value(r, p->output[k], is_id ? V_ALIAS : is_const ? V_CONST : V_DYN, ni);
      if (v < 0)
        return node_err(r, ni, v, "%s", "output names must be unique and not shadow initializers or inputs");
      if (is_const && (rc = constant_node(r, ni, &r->vals[v])))
        return rc;
    }
    if ((is_id || is_const) && p->n_output != 1)
      return node_err(r, ni, HANT_EFORMAT, "expected one output");
    if (is_id && (p->n_input != 1 || !p->input[0] || !p->input[0][0]))
      return node_err(r, ni, HANT_EFORMAT, "expected one input");
    if (is_const && p->n_input)
      return node_err(r, ni, HANT_EFORMAT, "expected no inputs");
  }
  /* Identity chains: resolve each alias to its source, refusing loops */
  for (int v = 0; v < r->n_vals; v++) {
    if (r->vals[v].kind != V_ALIAS)
      continue;
    int cur = v, steps = 0;
    while (r->vals[cur].kind == V_ALIAS && r->vals[cur].alias < 0) {
      const Onnx__NodeProto *p = r->nodes[r->vals[cur].producer].p;
      int src = find(r, p->input[0]);
      if (src < 0)
        return node_err(r, r->vals[cur].producer, HANT_EFORMAT,
                        "input '%.80s' is not produced by any node, initializer or graph input", p->input[0]);
      if (++steps > r->n_vals)
        return node_err(r, r->vals[cur].producer, HANT_EFORMAT, "the graph has a cycle of Identity nodes");
      cur = src;
    }
    int root = r->vals[cur].kind == V_ALIAS ? r->vals[cur].alias : cur;
    for (int w = v; r->vals[w].kind == V_ALIAS && r->vals[w].alias < 0;)
      r->vals[w].alias = root, w = find(r, r->nodes[r->vals[w].producer].p->input[0]);
  }
  /* graph output */
  if (g->n_output != 1)
    return hant__error(HANT_ENOTSUP, "%s: the graph has %zu outputs; hant networks have exactly one", r->file,
                       g->n_output);
  if (!g->output[0]->name || (r->output = lookup(r, g->output[0]->name)) < 0)
    return hant__error(HANT_EFORMAT, "%s: graph output '%.80s' is not produced by any node", r->file,
                       g->output[0]->name ? g->output[0]->name : "");
  if (r->vals[r->output].kind != V_DYN)
    return hant__error(HANT_ENOTSUP, "%s: graph output '%.80s' is %s, not computed from the input", r->file,
                       g->output[0]->name, r->vals[r->output].kind == V_INPUT ? "the input itself" : "a constant");
  if (info)
    snprintf(info->output, sizeof(info->output), "%s", g->output[0]->name);
  /* readers of each value, then the fused patterns */
  for (int ni = 0; ni < r->n_nodes; ni++) {
    const Onnx__NodeProto *p = r->nodes[ni].p;
    if (!strcmp(p->op_type, "Identity") || !strcmp(p->op_type, "Constant"))
      continue;
    for (size_t k = 0; k < p->n_input; k++) {
      int v = p->input[k] && p->input[k][0] ? lookup(r, p->input[k]) : -1;
      if (v >= 0)
        r->vals[v].cons++, r->vals[v].reader = ni;
    }
  }
  r->vals[r->output].cons++;
  for (int ni = 0; ni < r->n_nodes; ni++) {
    int by = hswish_mul(r, ni);
    if (by < 0)
      by = matmul_add(r, ni);
    if (by < 0)
      by = pad_pool(r, ni, NULL);
    r->nodes[ni].absorbed_by = by;
  }
  for (int ni = 0; ni < r->n_nodes; ni++) { /* after: marks nodes other than ni */
    int64_t tail;
    batch_shape(r, ni, &tail, true);
  }
  if ((rc = emit_all(r)))
    return rc;
  const value *o = &r->vals[r->output];
  if (o->hnode != hant_net_output(r->net))
    return hant__error(HANT_EFORMAT, "%s: graph output '%.80s' is not the last value computed", r->file, o->name);
  if ((rc = check_declared(r, g->output[0], r->output, "graph output")))
    return rc;
  for (size_t i = 0; i < g->n_value_info; i++) {
    const char *nm = g->value_info[i]->name;
    int v = nm ? lookup(r, nm) : -1;
    if (v >= 0 && (rc = check_declared(r, g->value_info[i], v, "value")))
      return rc;
  }
  return 0;
}

int hant_onnx_parse(const uint8_t *data, size_t len, const char *name, const char *dir, hant_net **out,
                    hant_onnx_info *info) {
  if (!out || (!data && len))
    return hant__error(HANT_EINVAL, "ONNX reader: no output or data");
  *out = NULL;
  if (!name)
    name = "onnx";
  if (info)
    memset(info, 0, sizeof(*info));
  if (len > HANT_ONNX_MAX_BYTES)
    return hant__error(HANT_ELIMIT, "%s: %zu bytes is more than the %zu-byte limit for ONNX files", name, len,
                       HANT_ONNX_MAX_BYTES);
  if (len == 0)
    return hant__error(HANT_EFORMAT, "%s: empty file, not an ONNX model", name);
  wire w = {.name = name, .limit = 2 * len + ((size_t)64 << 20)};
  int rc = wire_check(&w, &onnx__model_proto__descriptor, data, len, 0);
  if (rc)
    return rc;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m)
    return hant__error(HANT_EFORMAT, "%s: not a valid ONNX model (protobuf-c could not unpack it)", name);
  rd r = {.file = name, .dir = dir};
  rc = read_model(&r, m, info);
  if (!rc && (rc = hant_slots_discover(r.net)) > 0)
    rc = 0;
  free_reader(&r);
  onnx__model_proto__free_unpacked(m, NULL);
  if (rc) {
    hant_net_destroy(r.net);
    return rc;
  }
  *out = r.net;
  return 0;
}

/* Reads a whole file, refusing more than `limit` bytes. */
static int slurp(const char *path, size_t limit, uint8_t **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return hant__error(HANT_ENOENT, "%s: cannot open (%s)", path, strerror(errno));
  struct stat st;
  int rc = 0;
  *buf = NULL;
  *len = 0;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    rc = hant__error(HANT_EIO, "%s: not a regular file", path);
  } else if ((uint64_t)st.st_size > limit) {
    rc = hant__error(HANT_ELIMIT, "%s: %lld bytes is more than the %zu-byte limit", path, (long long)st.st_size, limit);
  } else if (!(*buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
    rc = HANT_ENOMEM;
  } else if ((*len = fread(*buf, 1, (size_t)st.st_size, f)) != (size_t)st.st_size) {
    rc = hant__error(HANT_EIO, "%s: read error", path);
  }
  fclose(f);
  if (rc) {
    free(*buf);
    *buf = NULL;
  }
  return rc;
}

int hant_onnx_load(const char *path, hant_net **out, hant_onnx_info *info) {
  uint8_t *buf;
  size_t len;
  int rc = slurp(path, HANT_ONNX_MAX_BYTES, &buf, &len);
  if (rc)
    return rc;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof(dir), ".");
  else
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
  rc = hant_onnx_parse(buf, len, path, dir, out, info);
  free(buf);
  return rc;
}

int hant_onnx_load_any(const char *path, hant_net **out, bool *onnx) {
  uint8_t *buf;
  size_t len;
  int rc = slurp(path, HANT_ONNX_MAX_BYTES, &buf, &len);
  if (rc)
    return rc;
  bool native = len >= 8 && !memcmp(buf, "HANTNET1", 8);
  if (onnx)
    *onnx = !native;
  if (native) {
    rc = hant_netfile_parse(buf, len, path, out, NULL);
  } else {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
      snprintf(dir, sizeof(dir), ".");
    else
      snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
    rc = hant_onnx_parse(buf, len, path, dir, out, NULL);
  }
  free(buf);
  return rc;
}
