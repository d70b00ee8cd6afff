/* SPDX-License-Identifier: MIT */
/* folder.c: image folders: one sub-folder per class of PNG/JPEG files, split by folders or by a seeded shuffle. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base.h"
#include "data_internal.h"
#include "file.h"
#include "rng.h"

/* Largest image file read. */
#define IMAGE_MAX_FILE ((size_t)64 << 20)
/* Most classes and files a folder may list. */
enum { MAX_CLASSES = 256, MAX_FILES = 1 << 24 };
/* The seed of the split of folders without train/ val/ test/. */
enum { SPLIT_SEED = 1 };

typedef struct entry {
  char *name; /* the file's name within its class folder */
  int label;
} entry;

typedef struct listing {
  char *classes[MAX_CLASSES];
  int n_classes;
  entry *e;
  int n, cap;
} listing;

static void listing_free(listing *l) {
  for (int i = 0; i < l->n_classes; i++)
    free(l->classes[i]);
  for (int i = 0; i < l->n; i++)
    free(l->e[i].name);
  free(l->e);
  memset(l, 0, sizeof(*l));
}

static bool is_dir(const char *dir, const char *name) {
  char p[4096];
  struct stat st;
  if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
    return false;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_image_name(const char *n) {
  const char *dot = strrchr(n, '.');
  return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files of a split are ordered by name, then class: a folder written from
 * an indexed data set ("00042.png") keeps the data set's order. */
static int cmp_entry(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->label > y->label) - (x->label < y->label);
}

/* The class folders of root, sorted (C locale byte order): labels are their ranks. */
static int list_classes(const char *root, listing *l) {
  DIR *d = opendir(root);
  if (!d)
    return hant__error(HANT_ENOENT, "%s: cannot open the image folder", root);
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || !is_dir(root, de->d_name))
      continue;
    if (l->n_classes == MAX_CLASSES) {
      rc = hant__error(HANT_ELIMIT, "%s: more than %d class folders", root, MAX_CLASSES);
      break;
    }
    if (!(l->classes[l->n_classes] = strdup(de->d_name))) {
      rc = hant__error(HANT_ENOMEM, "%s: out of memory", root);
      break;
    }
    l->n_classes++;
  }
  closedir(d);
  if (rc)
    return rc;
  if (l->n_classes < 2)
    return hant__error(HANT_EFORMAT, "%s: %d class folder%s; expected one sub-folder per class (at least 2)", root,
                       l->n_classes, l->n_classes == 1 ? "" : "s");
  qsort(l->classes, (size_t)l->n_classes, sizeof(char *), cmp_str);
  return 0;
}

static int add_entry(listing *l, const char *name, int label) {
  if (l->n == MAX_FILES)
    return hant__error(HANT_ELIMIT, "more than %d images", MAX_FILES);
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 1024;
    entry *e = realloc(l->e, (size_t)cap * sizeof(*e));
    if (!e)
      return hant__error(HANT_ENOMEM, "out of memory listing images");
    l->e = e, l->cap = cap;
  }
  if (!(l->e[l->n].name = strdup(name)))
    return hant__error(HANT_ENOMEM, "out of memory listing images");
  l->e[l->n++].label = label;
  return 0;
}

/* The image files of root/CLASS for every class of `classes`; a class
 * folder root lacks has no images there. Sub-folders of root that are not
 * classes are refused: a typo in one would otherwise vanish. */
static int list_files(const char *root, const listing *classes, listing *l) {
  DIR *d = opendir(root);
  if (!d)
    return hant__error(HANT_ENOENT, "%s: cannot open the image folder", root);
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(d)) && !rc) {
    if (de->d_name[0] == '.' || !is_dir(root, de->d_name))
      continue;
    int label = -1;
    for (int i = 0; i < classes->n_classes; i++)
      if (!strcmp(classes->classes[i], de->d_name))
        label = i;
    if (label < 0)
      rc = hant__error(HANT_EFORMAT, "%s/%s: a class folder the training split does not have", root, de->d_name);
  }
  closedir(d);
  for (int c = 0; c < classes->n_classes && !rc; c++) {
    char p[4096];
    DIR *cd = snprintf(p, sizeof(p), "%s/%s", root, classes->classes[c]) < (int)sizeof(p) ? opendir(p) : NULL;
    if (!cd)
      continue;
    while ((de = readdir(cd)) && !rc)
      if (de->d_name[0] != '.' && is_image_name(de->d_name))
        rc = add_entry(l, de->d_name, c);
    closedir(cd);
  }
  if (!rc && l->n == 0)
    rc = hant__error(HANT_EFORMAT, "%s: no .png, .jpg or .jpeg files in its class folders", root);
  if (!rc)
    qsort(l->e, (size_t)l->n, sizeof(entry), cmp_entry);
  return rc;
}

/* Converts a decoded image to the data set's channels, exactly or not at all. */
static int convert(const char *path, hant_image *im, int want_c, bool rgb_to_gray) {
  if (im->c == want_c)
    return 0;
  size_t plane = (size_t)im->h * (size_t)im->w;
  if (im->c == 1 && want_c == 3) {
    uint8_t *p = realloc(im->pixels, 3 * plane);
    if (!p)
      return hant__error(HANT_ENOMEM, "%s: out of memory", path);
    memcpy(p + plane, p, plane);
    memcpy(p + 2 * plane, p, plane);
    im->pixels = p, im->c = 3;
    return 0;
  }
  if (im->c == 3 && want_c == 1 && rgb_to_gray) {
    const uint8_t *r = im->pixels, *g = r + plane, *b = g + plane;
    for (size_t j = 0; j < plane; j++)
      im->pixels[j] = (uint8_t)((299u * r[j] + 587u * g[j] + 114u * b[j] + 500u) / 1000u);
    im->c = 1;
    return 0;
  }
  return hant__error(HANT_ESHAPE, "%s: a %s image, but the teacher takes %d channel%s%s", path,
                     im->c == 3 ? "colour" : "gray", want_c, want_c == 1 ? "" : "s",
                     im->c == 3 && want_c == 1 ? " (--gray converts colour images to gray)" : "");
}

/* Decodes entries e[0..n) of root into out, shaped as spec asks or as the first image is. */
static int decode_all(const char *root, const listing *classes, const listing *l, const int *pick, int n, const hant_data_spec *spec,
                      hant_dataset *out) {
  int c = spec->c, h = spec->h, w = spec->w, rc = 0;
  size_t per = 0;
  for (int i = 0; i < n && !rc; i++) {
    const entry *e = &l->e[pick[i]];
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s/%s", root, classes->classes[e->label], e->name) >= (int)sizeof(path)) {
      rc = hant__error(HANT_ELIMIT, "%s/%s: path longer than %zu bytes", root, e->name, sizeof(path));
      break;
    }
    char *buf;
    size_t len;
    hant_image im = {0};
    if ((rc = hant_file_read(path, IMAGE_MAX_FILE, &buf, &len)))
      break;
    rc = hant_image_decode(path, (const uint8_t *)buf, len, &im);
    free(buf);
    if (!rc && i == 0) {
      c = c ? c : im.c;
      h = h ? h : im.h;
      w = w ? w : im.w;
    }
    if (!rc && (im.h != h || im.w != w))
      rc = hant__error(HANT_ESHAPE, "%s: image of %dx%d pixels (width x height); the %s takes %dx%d (images are not resized)",
                       path, im.w, im.h, spec->h ? "teacher" : "first image", w, h);
    if (!rc)
      rc = convert(path, &im, c, spec->rgb_to_gray);
    if (!rc && i == 0) {
      per = (size_t)c * (size_t)h * (size_t)w;
      out->images = malloc(per * (size_t)n);
      out->labels = malloc((size_t)n);
      if (!out->images || !out->labels)
        rc = hant__error(HANT_ENOMEM, "%s: out of memory for %d images", root, n);
    }
    if (!rc) {
      memcpy(out->images + per * (size_t)i, im.pixels, per);
      out->labels[i] = (uint8_t)e->label;
    }
    hant_image_free(&im);
  }
  if (rc)
    return rc;
  out->n = n, out->c = c, out->h = h, out->w = w;
  out->classes = classes->n_classes;
  return 0;
}

int hant__folder_load(const char *dir, const hant_data_spec *spec, hant_split split, int limit, hant_dataset *out) {
  memset(out, 0, sizeof(*out));
  listing classes = {0}, files = {0};
  int *pick = NULL, n = 0, rc;
  bool split_dirs = is_dir(dir, "train");
  char train_root[4096], root[4096];
  snprintf(train_root, sizeof(train_root), split_dirs ? "%s/train" : "%s", dir);
  if ((rc = list_classes(train_root, &classes)))
    goto out;
  bool own_val = split_dirs && is_dir(dir, "val");
  if (split_dirs && split == HANT_SPLIT_TEST && !is_dir(dir, "test")) {
    rc = hant__error(HANT_ENOENT, "%s: has train/ but no test/ folder", dir);
    goto out;
  }
  if (split_dirs)
    snprintf(root, sizeof(root), "%s/%s", dir, split == HANT_SPLIT_TEST ? "test" : split == HANT_SPLIT_VAL && own_val ? "val" : "train");
  else
    snprintf(root, sizeof(root), "%s", dir);
  if ((rc = list_files(root, &classes, &files)))
    goto out;
  if (!(pick = malloc((size_t)files.n * sizeof(int)))) {
    rc = hant__error(HANT_ENOMEM, "%s: out of memory", dir);
    goto out;
  }
  if (split_dirs && (split == HANT_SPLIT_TEST || own_val)) {
    for (int i = 0; i < files.n; i++)
      pick[n++] = i;
  } else if (split_dirs) {
    /* No val/: the last tenth of train/, in order, validates. */
    int nval = files.n / 10;
    if (nval < 1) {
      rc = hant__error(HANT_EFORMAT, "%s: %d images; without val/ at least 10 are needed (the last tenth validates)", root,
                       files.n);
      goto out;
    }
    int lo = split == HANT_SPLIT_TRAIN ? 0 : files.n - nval, hi = split == HANT_SPLIT_TRAIN ? files.n - nval : files.n;
    for (int i = lo; i < hi; i++)
      pick[n++] = i;
  } else {
    /* Each class on its own: its files by name, shuffled with a fixed
     * seed; the first tenth (rounded down) tests, the next tenth
     * validates, the rest trains. Per class, so every split has every
     * class in proportion; the result is kept in name order. */
    int *pos = malloc((size_t)files.n * sizeof(int)), *slot = calloc((size_t)files.n, sizeof(int));
    if (!pos || !slot) {
      free(pos);
      free(slot);
      rc = hant__error(HANT_ENOMEM, "%s: out of memory", dir);
      goto out;
    }
    hant_rng rng;
    hant_rng_seed(&rng, SPLIT_SEED);
    for (int c = 0; c < classes.n_classes; c++) {
      int k = 0;
      for (int i = 0; i < files.n; i++)
        if (files.e[i].label == c)
          pos[k++] = i;
      hant_rng_shuffle(&rng, pos, k);
      int tenth = k / 10;
      for (int j = 0; j < k; j++)
        slot[pos[j]] = j < tenth ? HANT_SPLIT_TEST : j < 2 * tenth ? HANT_SPLIT_VAL : HANT_SPLIT_TRAIN;
    }
    for (int i = 0; i < files.n; i++)
      if (slot[i] == (int)split)
        pick[n++] = i;
    free(pos);
    free(slot);
    if (n == 0) {
      rc = hant__error(HANT_EFORMAT, "%s: no images fall in the %s split (each class needs 10 or more images)", dir,
                       hant_split_name(split));
      goto out;
    }
  }
  if (limit > 0 && n > limit)
    n = limit;
  rc = decode_all(root, &classes, &files, pick, n, spec, out);
out:
  if (rc)
    hant_dataset_free(out);
  free(pick);
  listing_free(&classes);
  listing_free(&files);
  return rc;
}

int hant_folder_classes(const char *dir, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  listing l = {0};
  char root[4096];
  snprintf(root, sizeof(root), is_dir(dir, "train") ? "%s/train" : "%s", dir);
  int rc = list_classes(root, &l);
  if (!rc && !(*names = malloc((size_t)l.n_classes * sizeof(char *))))
    rc = hant__error(HANT_ENOMEM, "%s: out of memory", dir);
  if (rc) {
    listing_free(&l);
    return rc;
  }
  /* The strings change hands: the listing forgets them. */
  memcpy(*names, l.classes, (size_t)l.n_classes * sizeof(char *));
  *n = l.n_classes;
  l.n_classes = 0;
  listing_free(&l);
  return 0;
}

void hant_folder_classes_free(char **names, int n) {
  for (int i = 0; names && i < n; i++)
    free(names[i]);
  free(names);
}
