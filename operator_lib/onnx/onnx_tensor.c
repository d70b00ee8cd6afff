/* SPDX-License-Identifier: MIT */
/* onnx_tensor.c: decodes ONNX constants (initializers, Constant nodes, external data files) into the reader's values.
 */
#include "onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "place.h"

/* Reads `bytes` of external data into a new buffer *dst, allocated only
 * once the file is known to hold them. The file lies beneath the model's
 * own directory and is reached without following any link, as ONNX's own
 * checker demands: a model is often someone else's file, and its
 * locations must not reach what its reader may read but its author not. */
static int read_external(onnx_reader *r, const Onnx__TensorProto *t, const char *tname, uint8_t **dst,
                         size_t bytes) {
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
  if (r->dir_fd < 0) {
    if ((r->dir_fd = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
      return hant__error(HANT_ENOENT, "%s: initializer '%s': cannot open the model's directory %s (%s)", r->file,
                         tname, r->dir, strerror(errno));
    r->own_dir_fd = true;
  }
  /* O_NONBLOCK: a FIFO at that name must not stall the reader. */
  int fd = hant_path_open_beneath(r->dir_fd, loc, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (fd == -ELOOP)
    return hant__error(HANT_EFORMAT,
                       "%s: initializer '%s': external data %s goes through a symbolic link; hant follows none there",
                       r->file, tname, path);
  if (fd < 0)
    return hant__error(HANT_ENOENT, "%s: initializer '%s': cannot open external data %s (%s)", r->file, tname, path,
                       strerror(-fd));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = hant__error(HANT_EIO, "%s: initializer '%s': %s is not a regular file", r->file, tname, path);
  } else if ((uint64_t)st.st_size > HANT_ONNX_MAX_BYTES) {
    rc = hant__error(HANT_ELIMIT, "%s: external data %s is larger than %zu bytes", r->file, path, HANT_ONNX_MAX_BYTES);
  } else if (offset > (uint64_t)st.st_size || bytes > (uint64_t)st.st_size - offset) {
    rc = hant__error(HANT_EFORMAT,
                     "%s: initializer '%s': %zu bytes at offset %llu lie beyond the end of %s (%lld bytes)", r->file,
                     tname, bytes, (unsigned long long)offset, path, (long long)st.st_size);
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
int hant__onnx_decode_tensor(onnx_reader *r, const Onnx__TensorProto *t, const char *tname, onnx_value *v) {
  if (!t)
    return hant__error(HANT_EFORMAT, "%s: constant '%s' has no tensor", r->file, tname);
  if (t->n_dims > 8)
    return hant__error(HANT_ENOTSUP, "%s: initializer '%s' has %zu dimensions (at most 8)", r->file, tname, t->n_dims);
  if (t->segment)
    return hant__error(HANT_ENOTSUP, "%s: initializer '%s' is segmented", r->file, tname);
  size_t numel = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || (t->dims[i] > 0 && numel > ONNX_MAX_NUMEL / (size_t)t->dims[i]))
      return hant__error(t->dims[i] < 0 ? HANT_EFORMAT : HANT_ELIMIT,
                         "%s: initializer '%s' dimension %zu is %lld (expected 0 to %zu elements in all)", r->file,
                         tname, i, (long long)t->dims[i], ONNX_MAX_NUMEL);
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

int hant__onnx_constant_node(onnx_reader *r, int ni, onnx_value *v) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (p->n_attribute != 1 || !p->attribute[0]->name)
    return hant__onnx_node_err(r, ni, HANT_EFORMAT, "expected exactly one attribute");
  const Onnx__AttributeProto *a = p->attribute[0];
  const char *an = a->name;
  if (!strcmp(an, "value")) {
    if (!a->t)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "attribute 'value' has no tensor");
    return hant__onnx_decode_tensor(r, a->t, v->name, v);
  }
  if (!strcmp(an, "value_float") || !strcmp(an, "value_floats")) {
    size_t n = an[11] ? a->n_floats : 1;
    if (n > ONNX_MAX_NUMEL || !(v->f = malloc(n ? n * sizeof(float) : 1)))
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
      return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "more than 64 integers");
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
  return hant__onnx_node_err(r, ni, HANT_ENOTSUP, "attribute '%.40s' is not supported", an);
}
