/* SPDX-License-Identifier: MIT */
/* data_load.c: resolves --data to a loaded split: detects the format, dispatches to its reader, checks the shape against the teacher's. */
#include "data_load.h"

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"
#include "data_internal.h"

static const char *const format_names[] = {[HANT_DATA_AUTO] = "auto",
                                           [HANT_DATA_IDX] = "idx",
                                           [HANT_DATA_CIFAR] = "cifar",
                                           [HANT_DATA_NPY] = "npy",
                                           [HANT_DATA_FOLDER] = "folder"};
_Static_assert(sizeof(format_names) / sizeof(format_names[0]) == HANT_DATA_FORMAT_COUNT, "format names");

const char *hant_data_format_name(hant_data_format f) {
  return (unsigned)f < HANT_DATA_FORMAT_COUNT ? format_names[f] : "?";
}

hant_data_format hant_data_format_from_name(const char *s) {
  for (int i = 0; s && i < HANT_DATA_FORMAT_COUNT; i++)
    if (!strcmp(s, format_names[i]))
      return (hant_data_format)i;
  return HANT_DATA_FORMAT_COUNT;
}

int hant__dataset_keep(hant_dataset *ds, int lo, int hi, int limit) {
  if (limit > 0 && hi - lo > limit)
    hi = lo + limit;
  size_t per = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
  int n = hi - lo;
  if (lo == 0 && n == ds->n)
    return 0;
  memmove(ds->images, ds->images + per * (size_t)lo, per * (size_t)n);
  memmove(ds->labels, ds->labels + lo, (size_t)n);
  /* Shrinking cannot fail in a way that matters: keep the larger block. */
  uint8_t *im = realloc(ds->images, per * (size_t)n), *lb = realloc(ds->labels, (size_t)n);
  if (im)
    ds->images = im;
  if (lb)
    ds->labels = lb;
  ds->n = n;
  return 0;
}

static bool has(const char *dir, const char *file) {
  char p[4096];
  struct stat st;
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  return stat(p, &st) == 0;
}

int hant_data_detect(const char *dir, hant_data_format *out) {
  struct stat st;
  if (stat(dir, &st) != 0)
    return hant__error(HANT_ENOENT, "--data %s: no such directory", dir);
  if (!S_ISDIR(st.st_mode))
    return hant__error(HANT_EFORMAT, "--data %s: not a directory (expected fmnist or a directory of data)", dir);
  static const char *const idx[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                                    "t10k-images-idx3-ubyte.gz"};
  for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
    if (has(dir, idx[i]))
      return *out = HANT_DATA_IDX, 0;
  if (has(dir, "data_batch_1.bin") || has(dir, "test_batch.bin"))
    return *out = HANT_DATA_CIFAR, 0;
  if (has(dir, "train_images.npy") || has(dir, "test_images.npy"))
    return *out = HANT_DATA_NPY, 0;
  if (has(dir, "train/.") || has(dir, "test/."))
    return *out = HANT_DATA_FOLDER, 0;
  /* Class folders: any sub-folder counts; the reader checks the rest. */
  DIR *d = opendir(dir);
  struct dirent *de;
  bool sub = false;
  while (d && !sub && (de = readdir(d)))
    if (de->d_name[0] != '.') {
      char p[4096];
      snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
      sub = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    }
  if (d)
    closedir(d);
  if (sub)
    return *out = HANT_DATA_FOLDER, 0;
  return hant__error(HANT_EFORMAT,
                     "--data %s: no data found (looked for IDX files train-images-idx3-ubyte, CIFAR-10 batches "
                     "data_batch_1.bin, NumPy arrays train_images.npy, and class folders)",
                     dir);
}

void hant_data_describe(const hant_data_spec *spec, char *buf, size_t n) {
  if (!spec->data || !strcmp(spec->data, "fmnist")) {
    snprintf(buf, n, "fmnist");
    return;
  }
  /* The detected format and the absolute path: another program (hantd)
   * reads it back from another working directory. */
  hant_data_format f = spec->format;
  if (f == HANT_DATA_AUTO && hant_data_detect(spec->data, &f))
    f = HANT_DATA_AUTO;
  char *abs = realpath(spec->data, NULL);
  snprintf(buf, n, "%s %s", hant_data_format_name(f), abs ? abs : spec->data);
  free(abs);
  hant_errmsg_clear();
}

int hant_data_spec_parse(const char *described, hant_data_spec *spec) {
  if (!strcmp(described, "fmnist")) {
    spec->data = "fmnist";
    spec->format = HANT_DATA_IDX;
    return 0;
  }
  const char *sp = strchr(described, ' ');
  char name[16];
  if (!sp || sp - described >= (ptrdiff_t)sizeof(name) || !sp[1])
    return hant__error(HANT_EFORMAT, "recorded data '%.80s': expected fmnist or FORMAT DIR", described);
  memcpy(name, described, (size_t)(sp - described));
  name[sp - described] = '\0';
  if ((spec->format = hant_data_format_from_name(name)) == HANT_DATA_FORMAT_COUNT)
    return hant__error(HANT_EFORMAT, "recorded data '%.80s': unknown format '%s'", described, name);
  spec->data = sp + 1;
  return 0;
}

/* Gray to RGB by replication: the one conversion that loses and invents nothing. */
static int replicate(hant_dataset *ds) {
  size_t plane = (size_t)ds->h * (size_t)ds->w;
  uint8_t *im = malloc(3 * plane * (size_t)ds->n);
  if (!im)
    return hant__error(HANT_ENOMEM, "out of memory for %d RGB images", ds->n);
  for (int i = 0; i < ds->n; i++)
    for (int ch = 0; ch < 3; ch++)
      memcpy(im + plane * (3 * (size_t)i + (size_t)ch), ds->images + plane * (size_t)i, plane);
  free(ds->images);
  ds->images = im;
  ds->c = 3;
  return 0;
}

int hant_data_load(const hant_data_spec *spec, hant_split split, int limit, hant_dataset *out) {
  memset(out, 0, sizeof(*out));
  if ((unsigned)split >= HANT_SPLIT_COUNT)
    return hant__error(HANT_EINVAL, "unknown split %d", (int)split);
  if ((unsigned)spec->format >= HANT_DATA_FORMAT_COUNT)
    return hant__error(HANT_EINVAL, "unknown data format %d", (int)spec->format);
  bool fmnist = !spec->data || !strcmp(spec->data, "fmnist");
  const char *dir = fmnist ? hant_fmnist_dir() : spec->data;
  hant_data_format f = fmnist ? HANT_DATA_IDX : spec->format;
  int rc;
  if (f == HANT_DATA_AUTO && (rc = hant_data_detect(dir, &f)))
    return rc;
  switch (f) {
  case HANT_DATA_IDX: rc = hant_fmnist_load(dir, split, limit, out); break;
  case HANT_DATA_CIFAR: rc = hant__cifar_load(dir, split, limit, out); break;
  case HANT_DATA_NPY: rc = hant__npy_load(dir, split, limit, spec->classes, out); break;
  default: rc = hant__folder_load(dir, spec, split, limit, out); break;
  }
  if (rc)
    return rc;
  char what[64];
  snprintf(what, sizeof(what), "%s data in %s", hant_data_format_name(f), dir);
  bool widen = spec->c == 3 && out->c == 1;
  if ((spec->c && spec->c != out->c && !widen) || (spec->h && spec->h != out->h) || (spec->w && spec->w != out->w)) {
    rc = hant__error(HANT_ESHAPE, "%s: images are %dx%dx%d (channels x height x width) but the teacher takes %dx%dx%d%s",
                     what, out->c, out->h, out->w, spec->c ? spec->c : out->c, spec->h ? spec->h : out->h,
                     spec->w ? spec->w : out->w,
                     spec->c == 1 && out->c == 3 ? " (colour images become gray only from an image folder, with --gray)"
                                                 : "");
    goto fail;
  }
  if (widen && (rc = replicate(out)))
    goto fail;
  if (spec->classes && spec->classes != out->classes) {
    /* IDX and CIFAR fix 10 classes, folders count theirs; npy was checked against spec->classes already. */
    rc = hant__error(HANT_ESHAPE, "%s: %d classes but the teacher has %d outputs", what, out->classes, spec->classes);
    goto fail;
  }
  if (spec->norm_k && (rc = hant_dataset_set_norm(out, spec->mean, spec->std, spec->norm_k)))
    goto fail;
  return 0;
fail:
  hant_dataset_free(out);
  return rc;
}
