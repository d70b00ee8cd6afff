/* SPDX-License-Identifier: MIT */
/* dataset.h: image classification data from IDX files, splits, and mini-batches with augmentation. */
#ifndef HANT_DATASET_H
#define HANT_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

/* Most channels an image of a data set may have. */
#define HANT_DATA_MAX_CHANNELS 4

/* Images as uint8 [n, c, h, w] and labels in [0, classes). Owned.
 * With `normalised`, hant_dataset_batch feeds (pixel / 255 - mean[ch]) /
 * std[ch]; without it, pixel / 255 (a zeroed dataset has no normalisation). */
typedef struct hant_dataset {
  int n, c, h, w;
  int classes;
  uint8_t *images;
  uint8_t *labels;
  bool normalised;
  float mean[HANT_DATA_MAX_CHANNELS]; /* per channel, in units of pixel / 255 */
  float std[HANT_DATA_MAX_CHANNELS];  /* per channel, > 0 */
} hant_dataset;

/* Largest IDX file accepted, guarding against absurd headers. */
#define HANT_IDX_MAX_BYTES ((size_t)1 << 31)

/* Reads an IDX image file (magic 0x00000803, [n, h, w] uint8) and its
 * label file (0x00000801, [n] uint8). Checks magic numbers, dimensions,
 * truncation and label range; errors name the file and what is wrong.
 * Transparently reads gzip-compressed files. */
int hant_idx_load(const char *images_path, const char *labels_path, int classes, hant_dataset *out);
void hant_dataset_free(hant_dataset *ds);

typedef enum hant_split {
  HANT_SPLIT_TRAIN, /* training images 0-54999 */
  HANT_SPLIT_VAL,   /* training images 55000-59999 */
  HANT_SPLIT_TEST,  /* the 10,000 test images */
  HANT_SPLIT_COUNT
} hant_split;

const char *hant_split_name(hant_split s);
hant_split hant_split_from_name(const char *s);

/* Default location of Debian's dataset-fashion-mnist package. The
 * HANT_FMNIST_DIR environment variable overrides it. */
const char *hant_fmnist_dir(void);

/* Loads a Fashion-MNIST split. `limit` > 0 keeps only the first `limit`
 * images of the split (for quick runs); 0 keeps all. */
int hant_fmnist_load(const char *dir, hant_split split, int limit, hant_dataset *out);

/* Sets ds's normalisation from mean[0..k) and std[0..k), where k is 1 (the
 * same for every channel) or ds->c; NULL mean means 0 and NULL std 1. Both
 * NULL removes it. HANT_EINVAL, naming the count, when k fits neither or a
 * std is not > 0. */
int hant_dataset_set_norm(hant_dataset *ds, const float *mean, const float *std, int k);

/* Converts images idx[0..n) to float [n, c, h, w] in [0, 1] (normalised
 * when ds says so, see hant_dataset), channels last
 * as the network's activations (ops.h), and their
 * labels. With augment, applies a random crop from the image padded by
 * `pad` zero pixels and a horizontal flip with probability 1/2. */
void hant_dataset_batch(const hant_dataset *ds, const int *idx, int n, bool augment, int pad,
                        hant_rng *rng, float *x, int *labels);

#endif
