/* SPDX-License-Identifier: MIT */
/* cifar.c: the CIFAR-10 binary reader: five training batches and a test batch of 3073-byte records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "data_internal.h"
#include "file.h"

enum { CIFAR_SIDE = 32, CIFAR_PIXELS = 3 * 32 * 32, CIFAR_RECORD = 1 + CIFAR_PIXELS, CIFAR_CLASSES = 10 };
/* The validation split: the last 5,000 training records, as Fashion-MNIST keeps 5,000 of its 60,000. */
enum { CIFAR_VAL = 5000 };

int hant_cifar_parse(const char *name, const uint8_t *buf, size_t len, hant_dataset *out) {
  if (len == 0)
    return hant__error(HANT_EFORMAT, "%s: empty: expected records of %d bytes (1 label, 3072 pixels)", name,
                       CIFAR_RECORD);
  if (len % CIFAR_RECORD)
    return hant__error(HANT_EFORMAT,
                       "%s: truncated: %zu bytes is not a whole number of %d-byte records (record %zu has %zu bytes)",
                       name, len, CIFAR_RECORD, len / CIFAR_RECORD + 1, len % CIFAR_RECORD);
  size_t n = len / CIFAR_RECORD;
  if (out->images && (out->c != 3 || out->h != CIFAR_SIDE || out->w != CIFAR_SIDE))
    return hant__error(HANT_EINVAL, "%s: appended to a data set of other images", name);
  if ((size_t)out->n + n > (size_t)1 << 24)
    return hant__error(HANT_ELIMIT, "%s: more than %d records in all", name, 1 << 24);
  for (size_t i = 0; i < n; i++)
    if (buf[i * CIFAR_RECORD] >= CIFAR_CLASSES)
      return hant__error(HANT_EFORMAT, "%s: record %zu has label %u (expected 0 to 9)", name, i,
                         buf[i * CIFAR_RECORD]);
  size_t total = (size_t)out->n + n;
  uint8_t *im = realloc(out->images, total * CIFAR_PIXELS);
  if (!im)
    return hant__error(HANT_ENOMEM, "%s: out of memory for %zu images", name, total);
  out->images = im;
  uint8_t *lab = realloc(out->labels, total);
  if (!lab)
    return hant__error(HANT_ENOMEM, "%s: out of memory for %zu labels", name, total);
  out->labels = lab;
  for (size_t i = 0; i < n; i++) {
    /* A record's pixels are already channel, row, column: hant's [c, h, w]. */
    lab[(size_t)out->n + i] = buf[i * CIFAR_RECORD];
    memcpy(im + ((size_t)out->n + i) * CIFAR_PIXELS, buf + i * CIFAR_RECORD + 1, CIFAR_PIXELS);
  }
  out->n = (int)total;
  out->c = 3;
  out->h = out->w = CIFAR_SIDE;
  out->classes = CIFAR_CLASSES;
  return 0;
}

static int load_batch(const char *dir, const char *file, hant_dataset *ds) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  char *buf;
  size_t len;
  int rc = hant_file_read(path, HANT_DATA_MAX_FILE, &buf, &len);
  if (rc)
    return rc;
  rc = hant_cifar_parse(path, (const uint8_t *)buf, len, ds);
  free(buf);
  return rc;
}

int hant__cifar_load(const char *dir, hant_split split, int limit, hant_dataset *out) {
  memset(out, 0, sizeof(*out));
  int rc = 0;
  if (split == HANT_SPLIT_TEST) {
    rc = load_batch(dir, "test_batch.bin", out);
  } else {
    for (int b = 1; b <= 5 && !rc; b++) {
      char file[32];
      snprintf(file, sizeof(file), "data_batch_%d.bin", b);
      rc = load_batch(dir, file, out);
    }
  }
  if (rc)
    goto fail;
  if (split == HANT_SPLIT_TEST) {
    rc = hant__dataset_keep(out, 0, out->n, limit);
  } else if (out->n <= CIFAR_VAL) {
    rc = hant__error(HANT_EFORMAT, "%s: %d training records; more than %d are needed (the last %d validate)", dir,
                     out->n, CIFAR_VAL, CIFAR_VAL);
  } else {
    int lo = split == HANT_SPLIT_TRAIN ? 0 : out->n - CIFAR_VAL, hi = split == HANT_SPLIT_TRAIN ? out->n - CIFAR_VAL : out->n;
    rc = hant__dataset_keep(out, lo, hi, limit);
  }
  if (!rc)
    return 0;
fail:
  hant_dataset_free(out);
  return rc;
}
