/* SPDX-License-Identifier: MIT */
/* fuzz_idx.c: fuzz target for the IDX loader (image and label roles), with a standalone random/mutation driver. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs are written to files in one temporary directory per process:
 * $TMPDIR, else /dev/shm (rewriting a truncated file on ext4 waits for
 * writeback at close, which costs most of the run), else /tmp. */
static char tmp_dir[4096];
static char path_a[4200], path_b[4200];

static void remove_tmp(void) {
  unlink(path_a);
  unlink(path_b);
  rmdir(tmp_dir);
}

static void ensure_tmp(void) {
  if (tmp_dir[0])
    return;
  const char *base = getenv("TMPDIR");
  if (!base || !*base)
    base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(tmp_dir, sizeof(tmp_dir), "%s/hant_fuzz_idx.XXXXXX", base);
  if (!mkdtemp(tmp_dir))
    abort();
  snprintf(path_a, sizeof(path_a), "%s/a", tmp_dir);
  snprintf(path_b, sizeof(path_b), "%s/b", tmp_dir);
  atexit(remove_tmp);
}

static void write_file(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f))
    abort();
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A valid companion file for `n` items: labels (i % 10) or 2x2 images. */
static void write_companion(const char *path, bool labels, uint32_t n) {
  size_t hdr = labels ? 8 : 16, per = labels ? 1 : 4;
  uint8_t *b = malloc(hdr + per * n);
  if (!b)
    abort();
  set_be32(b, labels ? 0x801 : 0x803);
  set_be32(b + 4, n);
  if (!labels) {
    set_be32(b + 8, 2);
    set_be32(b + 12, 2);
  }
  for (size_t i = 0; i < per * n; i++)
    b[hdr + i] = (uint8_t)(labels ? i % 10 : i * 7);
  write_file(path, b, hdr + per * n);
  free(b);
}

/* Checks a successful load against the bytes it came from. */
static void check_loaded(const hant_dataset *ds, const uint8_t *img, size_t ilen, bool img_is_input) {
  if (ds->n <= 0 || ds->c != 1 || ds->h <= 0 || ds->w <= 0 || ds->classes != 10)
    abort();
  for (int i = 0; i < ds->n; i++)
    if (ds->labels[i] >= 10)
      abort();
  /* Raw (not gzip) image input: the pixels are the bytes after the header. */
  size_t need = (size_t)ds->n * ds->h * ds->w;
  bool gz = ilen >= 2 && img[0] == 0x1f && img[1] == 0x8b;
  if (img_is_input && !gz && ilen == 16 + need && memcmp(ds->images, img + 16, need))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ensure_tmp();
  /* The companion's item count comes from the input's first dimension when
   * it is small, so that count and range checks are reached too. */
  uint32_t n = size >= 8 ? be32(data + 4) : 1;
  if (n == 0 || n > 4096)
    n = 1;
  hant_dataset ds;

  /* Role 1: the input is the image file. Every refusal must say why. */
  write_file(path_a, data, size);
  write_companion(path_b, true, n);
  hant_errmsg_clear();
  int rc = hant_idx_load(path_a, path_b, 10, &ds);
  if (rc == 0) {
    check_loaded(&ds, data, size, true);
    hant_dataset_free(&ds);
  } else if (rc != HANT_ENOMEM && !hant_errmsg()[0]) {
    abort();
  }

  /* Role 2: the input is the label file. */
  write_companion(path_b, false, n);
  hant_errmsg_clear();
  rc = hant_idx_load(path_b, path_a, 10, &ds);
  if (rc == 0) {
    check_loaded(&ds, NULL, 0, false);
    hant_dataset_free(&ds);
  } else if (rc != HANT_ENOMEM && !hant_errmsg()[0]) {
    abort();
  }
  return 0;
}

#ifndef HANT_LIBFUZZER
/* Standalone driver (fuzz_driver.h): runs the files named on the command
 * line, or with --random SECONDS [--seed N] mutates seeds built here for
 * that long. A crashing input is saved to fuzz_idx-crash.bin in the
 * working directory. */

#define FUZZ_NAME "fuzz_idx"
#include "fuzz_driver.h"

static seed make_raw(bool labels, uint32_t count) {
  ensure_tmp();
  write_companion(path_a, labels, count);
  FILE *f = fopen(path_a, "rb");
  seed s = {malloc(1 << 16), 0};
  if (!f || !s.p)
    abort();
  s.n = fread(s.p, 1, 1 << 16, f);
  fclose(f);
  return s;
}

static seed make_gz(const seed *raw) {
  gzFile g = gzopen(path_a, "wb");
  if (!g || gzwrite(g, raw->p, (unsigned)raw->n) != (int)raw->n || gzclose(g) != Z_OK)
    abort();
  FILE *f = fopen(path_a, "rb");
  seed s = {malloc(1 << 16), 0};
  if (!f || !s.p)
    abort();
  s.n = fread(s.p, 1, 1 << 16, f);
  fclose(f);
  return s;
}

/* Image and label files of a few sizes, raw and gzip-compressed. */
static int make_seeds(seed *pool, size_t *n, size_t cap) {
  if (*n + 6 > cap)
    return 1;
  seed *s = pool + *n;
  s[0] = make_raw(false, 3);
  s[1] = make_raw(true, 3);
  s[2] = make_raw(false, 1);
  s[3] = make_raw(true, 40);
  s[4] = make_gz(&s[0]);
  s[5] = make_gz(&s[1]);
  *n += 6;
  return 0;
}

static const uint32_t interesting32[] = {0, 1, 2, 3, 4, 10, 28, 255, 256, 0x801, 0x803, 0x802, 0x8803,
                                         1u << 16, 1u << 24, (1u << 24) + 1, 0x7fffffffu, 0x80000000u,
                                         0xffffffffu};
static const uint8_t interesting8[] = {0, 1, 2, 3, 8, 9, 10, 0x1f, 0x7f, 0x80, 0x8b, 0xfe, 0xff};

/* One time in 16 pure noise; otherwise 1-4 edits aimed at the IDX header. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  if (fuzz_below(16) == 0) {
    len = fuzz_below(64);
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)fuzz_next();
    return len;
  }
  int edits = 1 + (int)fuzz_below(4);
  for (int e = 0; e < edits; e++) {
    uint32_t op = fuzz_below(9);
    size_t at = len ? fuzz_below((uint32_t)len) : 0;
    switch (op) {
    case 0: /* flip a bit */
      if (len)
        buf[at] ^= (uint8_t)(1u << fuzz_below(8));
      break;
    case 1: /* an interesting byte */
      if (len)
        buf[at] = interesting8[fuzz_below(sizeof(interesting8))];
      break;
    case 2: /* an interesting 32-bit value, big-endian, often on a header field */
      if (fuzz_below(2))
        at = 4 * fuzz_below(4);
      if (at + 4 <= len)
        set_be32(buf + at, interesting32[fuzz_below(sizeof(interesting32) / 4)]);
      break;
    case 3: { /* insert random bytes */
      size_t k = 1 + fuzz_below(16);
      if (len + k > cap)
        break;
      memmove(buf + at + k, buf + at, len - at);
      for (size_t i = 0; i < k; i++)
        buf[at + i] = (uint8_t)fuzz_next();
      len += k;
      break;
    }
    case 4: { /* delete a range */
      size_t k = len - at ? 1 + fuzz_below((uint32_t)(len - at)) : 0;
      memmove(buf + at, buf + at + k, len - at - k);
      len -= k;
      break;
    }
    case 5: /* truncate */
      len = at;
      break;
    case 6: { /* append random bytes */
      size_t k = 1 + fuzz_below(32);
      for (size_t i = 0; i < k && len < cap; i++)
        buf[len++] = (uint8_t)fuzz_next();
      break;
    }
    case 7: { /* copy a chunk over another place */
      if (len < 2)
        break;
      size_t from = fuzz_below((uint32_t)len), k = 1 + fuzz_below(8);
      if (from + k > len)
        k = len - from;
      if (at + k > len)
        k = len - at;
      memmove(buf + at, buf + from, k);
      break;
    }
    default: /* a random byte */
      if (len)
        buf[at] = (uint8_t)fuzz_next();
      break;
    }
  }
  return len;
}

static const fuzz_target target = {.make_seeds = make_seeds, .mutate = mutate};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
