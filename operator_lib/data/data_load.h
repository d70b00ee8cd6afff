/* SPDX-License-Identifier: MIT */
/* data_load.h: the one way a program turns --data into a loaded split: formats, detection, shape checks, normalisation. */
#ifndef HANT_DATA_LOAD_H
#define HANT_DATA_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

/* The on-disk formats a data directory may hold. */
typedef enum hant_data_format {
  HANT_DATA_AUTO,   /* detect from the directory's contents (hant_data_detect) */
  HANT_DATA_IDX,    /* Fashion-MNIST's IDX files: train-images-idx3-ubyte, t10k-... (optionally .gz) */
  HANT_DATA_CIFAR,  /* CIFAR-10 binary: data_batch_1.bin .. data_batch_5.bin, test_batch.bin */
  HANT_DATA_NPY,    /* NumPy arrays: train_images.npy, train_labels.npy, [val_...], test_... */
  HANT_DATA_FOLDER, /* PNG/JPEG image folders, one sub-folder per class, optionally under train/ val/ test/ */
  HANT_DATA_FORMAT_COUNT
} hant_data_format;

/* "auto", "idx", "cifar", "npy", "folder"; "?" out of range. */
const char *hant_data_format_name(hant_data_format f);
/* The format a name gives, HANT_DATA_FORMAT_COUNT when unknown. */
hant_data_format hant_data_format_from_name(const char *s);

/* What to load and what it must look like. Zero-initialise, then set.
 *
 * c, h, w and classes are the teacher's input and output; 0 takes the
 * data's own (the `teacher` command, which trains on whatever it finds).
 * Images must have exactly the teacher's height and width; gray images fed
 * to a 3-channel teacher are replicated to RGB; colour images fed to a
 * 1-channel teacher are refused unless rgb_to_gray, which converts them
 * with the ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B,
 * rounded). norm_k (0, 1 or the channel count) values of mean and std set
 * the normalisation (hant_dataset_set_norm); 0 feeds pixels / 255. */
typedef struct hant_data_spec {
  const char *data;        /* "fmnist" or NULL: hant_fmnist_dir(); else a directory */
  hant_data_format format; /* HANT_DATA_AUTO detects it */
  int c, h, w;             /* required image shape; 0: any */
  int classes;             /* required number of classes; 0: the data's */
  bool rgb_to_gray;        /* colour images may become gray for a 1-channel teacher */
  int norm_k;
  float mean[HANT_DATA_MAX_CHANNELS];
  float std[HANT_DATA_MAX_CHANNELS];
} hant_data_spec;

/* Detects dir's format, in this order: IDX files (train-images-idx3-ubyte
 * or t10k-images-idx3-ubyte, optionally .gz), CIFAR-10 batches
 * (data_batch_1.bin or test_batch.bin), NumPy arrays (train_images.npy or
 * test_images.npy), then image folders (sub-folders). HANT_ENOENT when dir
 * does not exist; HANT_EFORMAT naming dir and what was looked for when it
 * holds none of them. */
int hant_data_detect(const char *dir, hant_data_format *out);

/* Loads split of spec->data into *out (owned by the caller; free it with
 * hant_dataset_free). limit > 0 keeps the first `limit` images of the
 * split; 0 keeps all. The splits of each format (docs/data.md):
 *   idx:    train = training images 0-54999, val = 55000-59999, test = t10k;
 *   cifar:  train = the first 45,000 records of data_batch_1..5, val = the
 *           last 5,000, test = test_batch;
 *   npy:    SPLIT_images.npy and SPLIT_labels.npy; without val_*.npy, val is
 *           the last tenth of train's records and train the rest;
 *   folder: train/, val/, test/ when present (without val/, the last tenth of
 *           train/ in order, as npy); otherwise every class folder is split
 *           by a shuffle seeded with 1: a tenth test, a tenth val, the rest
 *           train (hant_folder_split).
 * Errors name the file and what is wrong, or both shapes when the data's
 * do not match spec's. */
int hant_data_load(const hant_data_spec *spec, hant_split split, int limit, hant_dataset *out);

/* Describes spec's data in at most n bytes, "fmnist" or the format
 * (detected when spec says auto) and the directory's absolute path
 * ("cifar /data/c10"), for a library's settings and reports. */
void hant_data_describe(const hant_data_spec *spec, char *buf, size_t n);

/* Reads back what hant_data_describe wrote: sets spec->data (pointing into
 * `described`, which must outlive spec) and spec->format. HANT_EFORMAT
 * when the text is neither "fmnist" nor "FORMAT DIR". */
int hant_data_spec_parse(const char *described, hant_data_spec *spec);

/* The class names of an image folder (its train/ folder's when it has
 * one), sorted in byte order: label i is names[i]. *names and its strings
 * are the caller's; free them with hant_folder_classes_free. */
int hant_folder_classes(const char *dir, char ***names, int *n);
void hant_folder_classes_free(char **names, int n);

/* ---- the backends, each usable alone (tests, fuzz targets) ------------------------- */

/* Parses one CIFAR-10 binary batch held in memory: records of 1 label byte
 * (0-9) and 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each row by
 * row of 32x32). `name` names it in errors. Appends nothing on error. */
int hant_cifar_parse(const char *name, const uint8_t *buf, size_t len, hant_dataset *out);

/* A NumPy array's header. */
typedef struct hant_npy {
  char descr[8];      /* as the header gives it, e.g. "<i8" */
  char type;          /* 'u' unsigned or 'i' signed integer */
  int item;           /* bytes per element: 1, 2, 4 or 8 */
  bool big_endian;
  int ndim;           /* 1 to 4 */
  int64_t shape[4];
  const uint8_t *data; /* into the buffer parsed: shape's product * item bytes */
} hant_npy;

/* Parses an .npy file held in memory (format versions 1.0, 2.0 and 3.0):
 * the magic, the header's dict literal with exactly 'descr' (an integer
 * type), 'fortran_order' (False) and 'shape' (1 to 4 dimensions), and a
 * payload of exactly the size they give. Errors name `name` and the field. */
int hant_npy_parse(const char *name, const uint8_t *buf, size_t len, hant_npy *out);

/* A decoded image: uint8 [c, h, w], c 1 (gray) or 3 (RGB). Owned. */
typedef struct hant_image {
  int c, h, w;
  uint8_t *pixels;
} hant_image;

/* Largest side and area of an image decoded, against hostile headers. */
#define HANT_IMAGE_MAX_SIDE 16384
#define HANT_IMAGE_MAX_PIXELS ((int64_t)1 << 26)

/* Decodes a PNG or JPEG file held in memory (told apart by their
 * signatures) to gray when the file is gray, else RGB; alpha is composited
 * onto black, 16-bit samples are reduced to 8 bits, palettes expanded.
 * HANT_EFORMAT naming `name` and the decoder's complaint for anything
 * else or anything corrupt; HANT_ELIMIT for images over the limits. */
int hant_image_decode(const char *name, const uint8_t *buf, size_t len, hant_image *out);
void hant_image_free(hant_image *im);

#endif
