/* SPDX-License-Identifier: MIT */
/* dataset.c: the defensive IDX reader, Fashion-MNIST splits and batch assembly. */
#include "dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base.h"
#include "file.h"

static const char *const split_names[] = {
    [HANT_SPLIT_TRAIN] = "train", [HANT_SPLIT_VAL] = "val", [HANT_SPLIT_TEST] = "test"};
_Static_assert(sizeof(split_names) / sizeof(split_names[0]) == HANT_SPLIT_COUNT, "split names");

const char *hant_split_name(hant_split s) { return (unsigned)s < HANT_SPLIT_COUNT ? split_names[s] : "?"; }

hant_split hant_split_from_name(const char *s) {
  for (int i = 0; i < HANT_SPLIT_COUNT; i++)
    if (!strcmp(s, split_names[i]))
      return (hant_split)i;
  return HANT_SPLIT_COUNT;
}

/* Deflate's stored blocks add 5 bytes to every 65535, and the gzip wrapper
 * a header and trailer: room for a compressed file of data that does not
 * compress, whose content is still within the limit. */
static size_t gzip_slack(size_t max) { return max / 8192 + 4096; }

/* Inflates the gzip members in raw into a new buffer of at most max bytes.
 * Like zlib's gzread, members written one after another are joined, bytes
 * after the last member that do not start another are ignored, and a
 * stream cut short gives the bytes before the cut. */
static int gunzip(const char *path, const uint8_t *raw, size_t n, size_t max, uint8_t **data, size_t *len) {
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  /* 16 + MAX_WBITS: a gzip wrapper, not a zlib one. */
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return hant__error(HANT_ENOMEM, "%s: out of memory for the gzip decoder", path);
  /* One byte past the limit tells a stream of exactly max bytes from a
   * longer one. */
  const size_t lim = max + 1;
  size_t cap = n < lim / 4 ? 4 * n + 4096 : lim, out = 0;
  if (cap > lim)
    cap = lim;
  uint8_t *buf = malloc(cap + 1);
  int rc = 0;
  if (!buf) {
    rc = hant__error(HANT_ENOMEM, "%s: out of memory for %zu bytes", path, cap + 1);
    goto done;
  }
  const uint8_t *in = raw;
  size_t in_left = n;
  for (;;) {
    if (out > max) {
      rc = hant__error(HANT_ELIMIT, "%s: decompressed data over the limit of %zu bytes", path, max);
      break;
    }
    if (out == cap) {
      size_t grow = cap < lim / 2 ? cap * 2 : lim;
      uint8_t *nb = realloc(buf, grow + 1);
      if (!nb) {
        rc = hant__error(HANT_ENOMEM, "%s: out of memory for %zu bytes", path, grow + 1);
        break;
      }
      buf = nb;
      cap = grow;
    }
    /* uInt is 32 bits: feed and drain at most 1 GiB per call. */
    size_t step_in = in_left < (1u << 30) ? in_left : (1u << 30);
    size_t step_out = cap - out < (1u << 30) ? cap - out : (1u << 30);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)step_in;
    zs.next_out = buf + out;
    zs.avail_out = (uInt)step_out;
    int z = inflate(&zs, Z_NO_FLUSH);
    in += step_in - zs.avail_in;
    in_left -= step_in - zs.avail_in;
    out += step_out - zs.avail_out;
    if (z == Z_STREAM_END) {
      if (in_left >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      if (out > max)
        rc = hant__error(HANT_ELIMIT, "%s: decompressed data over the limit of %zu bytes", path, max);
      break;
    }
    /* A stream cut short keeps what it inflated, as gzread did: the IDX
     * header check then says how many bytes are missing. */
    if (z == Z_BUF_ERROR && in_left == 0)
      break;
    if (z == Z_BUF_ERROR && out < cap) {
      /* No progress with input and room left: never loop on it. */
      rc = hant__error(HANT_EIO, "%s: read error (gzip decoder stalled)", path);
      break;
    }
    if (z == Z_MEM_ERROR) {
      rc = hant__error(HANT_ENOMEM, "%s: out of memory in the gzip decoder", path);
      break;
    }
    if (z != Z_OK && z != Z_BUF_ERROR) {
      rc = hant__error(HANT_EIO, "%s: read error (%s)", path, zs.msg ? zs.msg : "gzip data corrupt");
      break;
    }
  }
done:
  inflateEnd(&zs);
  if (rc) {
    free(buf);
    return rc;
  }
  *data = buf;
  *len = out;
  return 0;
}

/* Reads a whole file of at most max bytes, inflating it when it starts with
 * the gzip magic (the compressed file itself may be a little larger). */
static int read_file(const char *path, size_t max, uint8_t **data, size_t *len) {
  char *raw;
  size_t n;
  int rc = hant_file_read(path, max + gzip_slack(max), &raw, &n);
  if (rc)
    return rc;
  const uint8_t *r = (const uint8_t *)raw;
  if (n >= 2 && r[0] == 0x1f && r[1] == 0x8b) {
    rc = gunzip(path, r, n, max, data, len);
    free(raw);
    return rc;
  }
  if (n > max) {
    free(raw);
    return hant__error(HANT_ELIMIT, "%s: %zu bytes, over the limit of %zu bytes", path, n, max);
  }
  *data = (uint8_t *)raw;
  *len = n;
  return 0;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parses an IDX header; dims receives up to 3 dimensions. */
static int idx_header(const char *path, const uint8_t *d, size_t len, int want_ndim, uint32_t dims[3],
                      size_t *payload) {
  if (len < 4)
    return hant__error(HANT_EFORMAT, "%s: truncated: %zu bytes, shorter than an IDX header", path, len);
  uint32_t magic = be32(d);
  if ((magic >> 8) != 0x08 || (int)(magic & 0xff) != want_ndim)
    return hant__error(HANT_EFORMAT, "%s: bad magic number 0x%08x (expected 0x%08x: unsigned bytes, %d dimension%s)",
                       path, magic, 0x800u | (unsigned)want_ndim, want_ndim, want_ndim > 1 ? "s" : "");
  size_t hdr = 4 + 4 * (size_t)want_ndim;
  if (len < hdr)
    return hant__error(HANT_EFORMAT, "%s: truncated header: %zu bytes, expected %zu", path, len, hdr);
  uint64_t total = 1;
  for (int i = 0; i < want_ndim; i++) {
    dims[i] = be32(d + 4 + 4 * i);
    if (dims[i] == 0 || dims[i] > (1u << 24))
      return hant__error(HANT_EFORMAT, "%s: dimension %d is %u (expected 1 to %u)", path, i, dims[i], 1u << 24);
    total *= dims[i];
    if (total > HANT_IDX_MAX_BYTES)
      return hant__error(HANT_ELIMIT, "%s: payload larger than %zu bytes", path, HANT_IDX_MAX_BYTES);
  }
  if (len - hdr < total)
    return hant__error(HANT_EFORMAT, "%s: truncated: %zu data bytes, header promises %llu", path, len - hdr,
                       (unsigned long long)total);
  if (len - hdr > total)
    return hant__error(HANT_EFORMAT, "%s: %zu trailing bytes after the data the header describes", path,
                       len - hdr - (size_t)total);
  *payload = hdr;
  return 0;
}

void hant_dataset_free(hant_dataset *ds) {
  if (!ds)
    return;
  free(ds->images);
  free(ds->labels);
  memset(ds, 0, sizeof(*ds));
}

int hant_idx_load(const char *images_path, const char *labels_path, int classes, hant_dataset *out) {
  uint8_t *img = NULL, *lab = NULL;
  size_t ilen = 0, llen = 0, ioff = 0, loff = 0;
  uint32_t idims[3] = {0}, ldims[3] = {0};
  memset(out, 0, sizeof(*out));
  int rc = read_file(images_path, HANT_IDX_MAX_BYTES + 64, &img, &ilen);
  if (rc)
    goto fail;
  if ((rc = read_file(labels_path, HANT_IDX_MAX_BYTES + 64, &lab, &llen)))
    goto fail;
  if ((rc = idx_header(images_path, img, ilen, 3, idims, &ioff)) ||
      (rc = idx_header(labels_path, lab, llen, 1, ldims, &loff)))
    goto fail;
  if (idims[0] != ldims[0]) {
    rc = hant__error(HANT_EFORMAT, "%s has %u images but %s has %u labels", images_path, idims[0], labels_path, ldims[0]);
    goto fail;
  }
  for (uint32_t i = 0; i < ldims[0]; i++)
    if (lab[loff + i] >= classes) {
      rc = hant__error(HANT_EFORMAT, "%s: label %u of item %u is outside [0, %d)", labels_path, lab[loff + i], i, classes);
      goto fail;
    }
  out->n = (int)idims[0];
  out->c = 1;
  out->h = (int)idims[1];
  out->w = (int)idims[2];
  out->classes = classes;
  /* Move payloads to the front so the buffers are exactly the data. */
  memmove(img, img + ioff, ilen - ioff);
  memmove(lab, lab + loff, llen - loff);
  out->images = img;
  out->labels = lab;
  return 0;
fail:
  free(img);
  free(lab);
  return rc;
}

const char *hant_fmnist_dir(void) {
  const char *e = getenv("HANT_FMNIST_DIR");
  return e && *e ? e : "/usr/share/datasets/fashion-mnist";
}

/* The files Debian ships; gzip-compressed names are tried second. */
static int open_pair(const char *dir, const char *prefix, int classes, hant_dataset *ds) {
  char ip[4096], lp[4096];
  snprintf(ip, sizeof(ip), "%s/%s-images-idx3-ubyte", dir, prefix);
  snprintf(lp, sizeof(lp), "%s/%s-labels-idx1-ubyte", dir, prefix);
  FILE *f = fopen(ip, "rb");
  if (f)
    fclose(f);
  else {
    snprintf(ip, sizeof(ip), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lp, sizeof(lp), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
  }
  int rc = hant_idx_load(ip, lp, classes, ds);
  if (rc == HANT_ENOENT)
    return hant__error(rc, "%s (install Debian's dataset-fashion-mnist, or set HANT_FMNIST_DIR)", hant_errmsg());
  return rc;
}

int hant_fmnist_load(const char *dir, hant_split split, int limit, hant_dataset *out) {
  hant_dataset all;
  int lo, hi;
  if ((unsigned)split >= HANT_SPLIT_COUNT)
    return hant__error(HANT_EINVAL, "unknown split %d", (int)split);
  int rc = open_pair(dir, split == HANT_SPLIT_TEST ? "t10k" : "train", 10, &all);
  if (rc)
    return rc;
  if (split == HANT_SPLIT_TEST) {
    lo = 0;
    hi = all.n;
  } else {
    if (all.n != 60000) {
      hant_dataset_free(&all);
      return hant__error(HANT_EFORMAT, "%s: expected 60000 training images for the train/val split, found %d", dir, all.n);
    }
    lo = split == HANT_SPLIT_TRAIN ? 0 : 55000;
    hi = split == HANT_SPLIT_TRAIN ? 55000 : 60000;
  }
  if (limit > 0 && hi - lo > limit)
    hi = lo + limit;
  size_t per = (size_t)all.c * all.h * all.w;
  *out = all;
  out->n = hi - lo;
  out->images = malloc(per * (size_t)out->n);
  out->labels = malloc((size_t)out->n);
  if (!out->images || !out->labels) {
    free(out->images);
    free(out->labels);
    hant_dataset_free(&all);
    return HANT_ENOMEM;
  }
  memcpy(out->images, all.images + per * lo, per * (size_t)out->n);
  memcpy(out->labels, all.labels + lo, (size_t)out->n);
  hant_dataset_free(&all);
  return 0;
}

int hant_dataset_set_norm(hant_dataset *ds, const float *mean, const float *std, int k) {
  if (!mean && !std) {
    ds->normalised = false;
    return 0;
  }
  if (ds->c < 1 || ds->c > HANT_DATA_MAX_CHANNELS || (k != 1 && k != ds->c))
    return hant__error(HANT_EINVAL, "normalisation: %d value%s for images of %d channel%s (expected 1 or %d)", k,
                       k == 1 ? "" : "s", ds->c, ds->c == 1 ? "" : "s", ds->c);
  for (int ch = 0; ch < ds->c; ch++) {
    float m = mean ? mean[k == 1 ? 0 : ch] : 0.0f, s = std ? std[k == 1 ? 0 : ch] : 1.0f;
    if (!(s > 0.0f) || !(m > -1e6f && m < 1e6f) || !(s < 1e6f))
      return hant__error(HANT_EINVAL, "normalisation: channel %d has mean %g and std %g (std must be > 0)", ch, m, s);
    ds->mean[ch] = m;
    ds->std[ch] = s;
  }
  ds->normalised = true;
  return 0;
}

/* Without normalisation the arithmetic is exactly pixel * (1/255), as it
 * always was, so results without --mean/--std do not move by a bit. */
static inline float pixel(const hant_dataset *ds, int ch, uint8_t v) {
  float f = (float)v * (1.0f / 255.0f);
  return ds->normalised ? (f - ds->mean[ch]) / ds->std[ch] : f;
}

void hant_dataset_batch(const hant_dataset *ds, const int *idx, int n, bool augment, int pad,
                        hant_rng *rng, float *x, int *labels) {
  int c = ds->c, h = ds->h, w = ds->w;
  size_t per = (size_t)c * h * w;
  for (int i = 0; i < n; i++) {
    const uint8_t *src = ds->images + per * (size_t)idx[i];
    float *dst = x + per * (size_t)i;
    labels[i] = ds->labels[idx[i]];
    if (!augment) {
      for (int ch = 0; ch < c; ch++)
        for (size_t j = 0; j < (size_t)h * w; j++)
          dst[j * c + ch] = pixel(ds, ch, src[(size_t)ch * h * w + j]);
      continue;
    }
    int dy = (int)hant_rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
    int dx = (int)hant_rng_below(rng, (uint32_t)(2 * pad + 1)) - pad;
    bool flip = hant_rng_below(rng, 2) != 0;
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++) {
        int sy = y + dy;
        for (int xx = 0; xx < w; xx++) {
          int sx = (flip ? w - 1 - xx : xx) + dx;
          /* Padding is a black pixel, normalised like the others. */
          float v = pixel(ds, ch, 0);
          if (sy >= 0 && sy < h && sx >= 0 && sx < w)
            v = pixel(ds, ch, src[((size_t)ch * h + sy) * w + sx]);
          dst[((size_t)y * w + xx) * c + ch] = v;
        }
      }
  }
}
