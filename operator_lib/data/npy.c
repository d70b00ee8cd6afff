/* SPDX-License-Identifier: MIT */
/* npy.c: the NumPy .npy reader: a defensive parser of the header's dict literal, and image and label arrays per split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "data_internal.h"
#include "file.h"

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static void skip_blank(const char **p, const char *end) {
  while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
    (*p)++;
}

/* A quoted Python string without escapes (numpy writes none in these
 * fields) into buf. */
static int py_string(const char *name, const char **p, const char *end, char *buf, size_t n) {
  if (*p >= end || (**p != '\'' && **p != '"'))
    return hant__error(HANT_EFORMAT, "%s: header: expected a quoted string", name);
  char q = **p;
  const char *s = ++*p;
  while (*p < end && **p != q && **p != '\\')
    (*p)++;
  if (*p >= end || **p != q)
    return hant__error(HANT_EFORMAT, "%s: header: unterminated or escaped string", name);
  size_t len = (size_t)(*p - s);
  (*p)++;
  if (len >= n)
    return hant__error(HANT_EFORMAT, "%s: header: string '%.*s...' longer than %zu characters", name, 16, s, n - 1);
  memcpy(buf, s, len);
  buf[len] = '\0';
  return 0;
}

/* descr: an integer type such as '|u1', '<i8' or '>u2'. */
static int parse_descr(const char *name, const char *d, hant_npy *out) {
  if (strlen(d) != 3 || !strchr("<>|=", d[0]) || (d[1] != 'u' && d[1] != 'i') || !strchr("1248", d[2]))
    return hant__error(HANT_EFORMAT,
                       "%s: descr '%s' is not an integer array type (expected |u1 for images, an integer type such "
                       "as |u1, <i4 or <i8 for labels)",
                       name, d);
  snprintf(out->descr, sizeof(out->descr), "%s", d);
  out->type = d[1];
  out->item = d[2] - '0';
  out->big_endian = d[0] == '>';
  if (out->item > 1 && d[0] == '|')
    return hant__error(HANT_EFORMAT, "%s: descr '%s': a %d-byte type needs a byte order", name, d, out->item);
  return 0;
}

/* shape: a tuple of non-negative integers, "()" to "(a, b, c, d)". */
static int parse_shape(const char *name, const char **p, const char *end, hant_npy *out) {
  if (*p >= end || **p != '(')
    return hant__error(HANT_EFORMAT, "%s: header: shape is not a tuple", name);
  (*p)++;
  out->ndim = 0;
  for (;;) {
    skip_blank(p, end);
    if (*p < end && **p == ')') {
      (*p)++;
      break;
    }
    if (out->ndim == 4)
      return hant__error(HANT_EFORMAT, "%s: shape has more than 4 dimensions", name);
    int64_t v = 0;
    int digits = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
      if (v > ((int64_t)1 << 40))
        return hant__error(HANT_ELIMIT, "%s: shape dimension %d is too large", name, out->ndim);
      v = v * 10 + (**p - '0');
      (*p)++;
      digits++;
    }
    if (!digits)
      return hant__error(HANT_EFORMAT, "%s: shape dimension %d is not a whole number", name, out->ndim);
    out->shape[out->ndim++] = v;
    skip_blank(p, end);
    if (*p < end && **p == ',') {
      (*p)++;
      continue;
    }
    if (*p < end && **p == ')') {
      (*p)++;
      break;
    }
    return hant__error(HANT_EFORMAT, "%s: shape: expected ',' or ')' after dimension %d", name, out->ndim - 1);
  }
  if (out->ndim == 0)
    return hant__error(HANT_EFORMAT, "%s: shape () is a scalar, not an array", name);
  return 0;
}

int hant_npy_parse(const char *name, const uint8_t *buf, size_t len, hant_npy *out) {
  memset(out, 0, sizeof(*out));
  if (len < 10 || memcmp(buf, npy_magic, 6))
    return hant__error(HANT_EFORMAT, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", name);
  int major = buf[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    hoff = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12)
      return hant__error(HANT_EFORMAT, "%s: truncated header", name);
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    hoff = 12;
  } else {
    return hant__error(HANT_EFORMAT, "%s: .npy format version %d.%d (expected 1.0, 2.0 or 3.0)", name, major, buf[7]);
  }
  if (hlen > 1u << 20 || hlen > len - hoff)
    return hant__error(HANT_EFORMAT, "%s: header of %zu bytes runs past the file's %zu bytes", name, hlen, len);
  const char *p = (const char *)buf + hoff, *end = p + hlen;
  bool have_descr = false, have_fortran = false, have_shape = false;
  int rc;
  skip_blank(&p, end);
  if (p >= end || *p != '{')
    return hant__error(HANT_EFORMAT, "%s: header is not a dict literal", name);
  p++;
  for (;;) {
    skip_blank(&p, end);
    if (p < end && *p == '}') {
      p++;
      break;
    }
    char key[32];
    if ((rc = py_string(name, &p, end, key, sizeof(key))))
      return rc;
    skip_blank(&p, end);
    if (p >= end || *p != ':')
      return hant__error(HANT_EFORMAT, "%s: header: expected ':' after '%s'", name, key);
    p++;
    skip_blank(&p, end);
    if (!strcmp(key, "descr") && !have_descr) {
      char d[16];
      if ((rc = py_string(name, &p, end, d, sizeof(d))) || (rc = parse_descr(name, d, out)))
        return rc;
      have_descr = true;
    } else if (!strcmp(key, "fortran_order") && !have_fortran) {
      if ((size_t)(end - p) >= 5 && !memcmp(p, "False", 5))
        p += 5;
      else if ((size_t)(end - p) >= 4 && !memcmp(p, "True", 4))
        return hant__error(HANT_ENOTSUP,
                           "%s: fortran_order is True; save a C-ordered array (numpy.ascontiguousarray)", name);
      else
        return hant__error(HANT_EFORMAT, "%s: header: fortran_order is neither True nor False", name);
      have_fortran = true;
    } else if (!strcmp(key, "shape") && !have_shape) {
      if ((rc = parse_shape(name, &p, end, out)))
        return rc;
      have_shape = true;
    } else {
      return hant__error(HANT_EFORMAT, "%s: header: unexpected or repeated key '%s' (expected descr, fortran_order, shape)",
                         name, key);
    }
    skip_blank(&p, end);
    if (p < end && *p == ',') {
      p++;
      continue;
    }
    if (p < end && *p == '}') {
      p++;
      break;
    }
    return hant__error(HANT_EFORMAT, "%s: header: expected ',' or '}' after '%s'", name, key);
  }
  if (!have_descr || !have_fortran || !have_shape)
    return hant__error(HANT_EFORMAT, "%s: header lacks '%s'", name,
                       !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
  /* What is left of the header is padding. */
  skip_blank(&p, end);
  if (p != end)
    return hant__error(HANT_EFORMAT, "%s: header: unexpected text after the dict", name);
  uint64_t count = 1;
  for (int i = 0; i < out->ndim; i++) {
    if (out->shape[i] == 0)
      return hant__error(HANT_EFORMAT, "%s: shape dimension %d is 0 (an empty array)", name, i);
    count *= (uint64_t)out->shape[i];
    if (count > (uint64_t)HANT_DATA_MAX_FILE)
      return hant__error(HANT_ELIMIT, "%s: array larger than %zu elements", name, HANT_DATA_MAX_FILE);
  }
  uint64_t bytes = count * (uint64_t)out->item, have = len - hoff - hlen;
  if (have < bytes)
    return hant__error(HANT_EFORMAT, "%s: truncated: %llu data bytes, the header's shape needs %llu", name,
                       (unsigned long long)have, (unsigned long long)bytes);
  if (have > bytes)
    return hant__error(HANT_EFORMAT, "%s: %llu bytes after the data the header describes", name,
                       (unsigned long long)(have - bytes));
  out->data = buf + hoff + hlen;
  return 0;
}

/* Element i of an integer array, or -1 when it does not fit 0..2^31. */
static int64_t npy_int(const hant_npy *a, size_t i) {
  const uint8_t *e = a->data + i * (size_t)a->item;
  uint64_t u = 0;
  for (int b = 0; b < a->item; b++)
    u |= (uint64_t)e[a->big_endian ? a->item - 1 - b : b] << (8 * b);
  if (a->type == 'i' && a->item < 8 && (u >> (8 * a->item - 1)) & 1)
    return -1;
  if (u > (uint64_t)1 << 31)
    return -1;
  return (int64_t)u;
}

typedef struct npy_file {
  char path[4096];
  char *buf;
  hant_npy a;
} npy_file;

static int npy_open(const char *dir, const char *split, const char *what, npy_file *f) {
  snprintf(f->path, sizeof(f->path), "%s/%s_%s.npy", dir, split, what);
  size_t len;
  int rc = hant_file_read(f->path, HANT_DATA_MAX_FILE, &f->buf, &len);
  if (!rc && (rc = hant_npy_parse(f->path, (const uint8_t *)f->buf, len, &f->a))) {
    free(f->buf);
    f->buf = NULL;
  }
  return rc;
}

/* Reads one split's pair of arrays, the images in hant's [n, c, h, w]. A
 * 3-D array is [n, h, w] (gray). A 4-D array is [n, h, w, c] when its last
 * dimension is 1 or 3 (NumPy's and PIL's habit), else [n, c, h, w] when its
 * second is; anything else is refused rather than guessed. */
static int load_pair(const char *dir, const char *split, int classes, hant_dataset *ds) {
  npy_file im = {0}, lb = {0};
  int rc;
  if ((rc = npy_open(dir, split, "images", &im)) || (rc = npy_open(dir, split, "labels", &lb)))
    goto out;
  const hant_npy *a = &im.a, *l = &lb.a;
  if (a->type != 'u' || a->item != 1) {
    rc = hant__error(HANT_EFORMAT, "%s: images have dtype '%s'; expected uint8 ('|u1')", im.path, a->descr);
    goto out;
  }
  int64_t n = a->shape[0], c, h, w;
  bool hwc = false;
  if (a->ndim == 3) {
    c = 1, h = a->shape[1], w = a->shape[2];
  } else if (a->ndim == 4 && (a->shape[3] == 1 || a->shape[3] == 3)) {
    hwc = true;
    h = a->shape[1], w = a->shape[2], c = a->shape[3];
  } else if (a->ndim == 4 && (a->shape[1] == 1 || a->shape[1] == 3)) {
    c = a->shape[1], h = a->shape[2], w = a->shape[3];
  } else {
    rc = hant__error(HANT_EFORMAT,
                     "%s: images have %d dimension%s; expected [n, h, w], [n, h, w, c] or [n, c, h, w] with c 1 or 3",
                     im.path, a->ndim, a->ndim == 1 ? "" : "s");
    goto out;
  }
  if (n > (1 << 24) || h > HANT_IMAGE_MAX_SIDE || w > HANT_IMAGE_MAX_SIDE) {
    rc = hant__error(HANT_ELIMIT, "%s: %lld images of %lldx%lld are over the limits", im.path, (long long)n,
                     (long long)h, (long long)w);
    goto out;
  }
  if (l->ndim != 1 && !(l->ndim == 2 && l->shape[1] == 1)) {
    rc = hant__error(HANT_EFORMAT, "%s: labels must have shape [n] (or [n, 1]); found %d dimensions", lb.path,
                     l->ndim);
    goto out;
  }
  if (l->shape[0] != n) {
    rc = hant__error(HANT_EFORMAT, "%s has %lld images but %s has %lld labels", im.path, (long long)n, lb.path,
                     (long long)l->shape[0]);
    goto out;
  }
  size_t per = (size_t)(c * h * w);
  ds->images = malloc(per * (size_t)n);
  ds->labels = malloc((size_t)n);
  if (!ds->images || !ds->labels) {
    rc = hant__error(HANT_ENOMEM, "%s: out of memory for %lld images", im.path, (long long)n);
    goto out;
  }
  int most = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t v = npy_int(l, (size_t)i);
    if (v < 0 || v >= (classes ? classes : 256)) {
      rc = hant__error(HANT_EFORMAT, "%s: label of item %lld is outside [0, %d)", lb.path, (long long)i,
                       classes ? classes : 256);
      goto out;
    }
    ds->labels[i] = (uint8_t)v;
    if (v > most)
      most = (int)v;
  }
  if (hwc) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t y = 0; y < h * w; y++)
        for (int64_t ch = 0; ch < c; ch++)
          ds->images[(size_t)i * per + (size_t)(ch * h * w + y)] = a->data[(size_t)i * per + (size_t)(y * c + ch)];
  } else {
    memcpy(ds->images, a->data, per * (size_t)n);
  }
  ds->n = (int)n, ds->c = (int)c, ds->h = (int)h, ds->w = (int)w;
  ds->classes = classes ? classes : most + 1;
out:
  free(im.buf);
  free(lb.buf);
  if (rc)
    hant_dataset_free(ds);
  return rc;
}

static bool exists(const char *dir, const char *file) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  FILE *f = fopen(path, "rb");
  if (f)
    fclose(f);
  return f != NULL;
}

int hant__npy_load(const char *dir, hant_split split, int limit, int classes, hant_dataset *out) {
  memset(out, 0, sizeof(*out));
  int rc;
  if (!classes) {
    /* The classes are the training labels' (1 + the largest), whichever split is read. */
    hant_dataset tr = {0};
    if ((rc = load_pair(dir, "train", 0, &tr)))
      return rc;
    classes = tr.classes;
    hant_dataset_free(&tr);
  }
  bool own_val = exists(dir, "val_images.npy");
  const char *name = split == HANT_SPLIT_TEST ? "test" : split == HANT_SPLIT_VAL && own_val ? "val" : "train";
  if ((rc = load_pair(dir, name, classes, out)))
    return rc;
  int lo = 0, hi = out->n;
  if (split != HANT_SPLIT_TEST && !own_val) {
    int nval = out->n / 10;
    if (nval < 1) {
      hant_dataset_free(out);
      return hant__error(HANT_EFORMAT, "%s/train_images.npy: %d images; without val_images.npy at least 10 are needed "
                         "(the last tenth validates)", dir, hi);
    }
    lo = split == HANT_SPLIT_TRAIN ? 0 : out->n - nval;
    hi = split == HANT_SPLIT_TRAIN ? out->n - nval : out->n;
  }
  if ((rc = hant__dataset_keep(out, lo, hi, limit)))
    hant_dataset_free(out);
  return rc;
}
