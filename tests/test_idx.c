/* SPDX-License-Identifier: MIT */
/* test_idx.c: the IDX loader refuses each kind of malformed file with a message naming it, and reads valid (and gzipped) ones. */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "hant.h"
#include "test_util.h"

static char dir[64];
static char img_path[128], lab_path[128], gz_img_path[128], gz_lab_path[128], missing_path[128];

/* A valid pair: 3 images of 4x5 and their labels in [0, 10). */
#define N_IMG 3
#define IMG_H 4
#define IMG_W 5
#define CLASSES 10

typedef struct blob {
  uint8_t data[256];
  size_t len;
} blob;

static void put_be32(blob *b, uint32_t v) {
  b->data[b->len++] = (uint8_t)(v >> 24);
  b->data[b->len++] = (uint8_t)(v >> 16);
  b->data[b->len++] = (uint8_t)(v >> 8);
  b->data[b->len++] = (uint8_t)v;
}

static blob images_blob(uint32_t magic, uint32_t n, uint32_t h, uint32_t w, size_t payload) {
  blob b = {.len = 0};
  put_be32(&b, magic);
  put_be32(&b, n);
  put_be32(&b, h);
  put_be32(&b, w);
  HANT_ASSERT(b.len + payload <= sizeof(b.data));
  for (size_t i = 0; i < payload; i++)
    b.data[b.len++] = (uint8_t)(i * 37 + 11);
  return b;
}

static blob labels_blob(uint32_t magic, uint32_t n, const uint8_t *labels, size_t count) {
  blob b = {.len = 0};
  put_be32(&b, magic);
  put_be32(&b, n);
  HANT_ASSERT(b.len + count <= sizeof(b.data));
  memcpy(b.data + b.len, labels, count);
  b.len += count;
  return b;
}

static const uint8_t good_labels[N_IMG] = {7, 0, 9};

static blob good_images(void) { return images_blob(0x803, N_IMG, IMG_H, IMG_W, N_IMG * IMG_H * IMG_W); }
static blob good_labels_blob(void) { return labels_blob(0x801, N_IMG, good_labels, N_IMG); }

static void write_raw(const char *path, const blob *b) {
  FILE *f = fopen(path, "wb");
  HANT_ASSERT(f);
  HANT_ASSERT(fwrite(b->data, 1, b->len, f) == b->len);
  HANT_ASSERT(fclose(f) == 0);
}

static void write_gz(const char *path, const blob *b) {
  gzFile f = gzopen(path, "wb");
  HANT_ASSERT(f);
  HANT_ASSERT(gzwrite(f, b->data, (unsigned)b->len) == (int)b->len);
  HANT_ASSERT(gzclose(f) == Z_OK);
}

/* Writes the pair, loads it, and expects `want` with a message naming
 * `bad_file` and containing `needle`. */
static void expect_refused(const char *what, const blob *img, const blob *lab, int want, const char *bad_file,
                           const char *needle) {
  write_raw(img_path, img);
  write_raw(lab_path, lab);
  hant_dataset ds;
  memset(&ds, 0xab, sizeof(ds));
  hant_errmsg_clear();
  int rc = hant_idx_load(img_path, lab_path, CLASSES, &ds);
  const char *msg = hant_errmsg();
  CHECK(rc == want, "%s: returned %s, expected %s (%s)", what, hant_err_name(rc), hant_err_name(want), msg);
  CHECK(strstr(msg, bad_file) != NULL, "%s: message '%s' does not name %s", what, msg, bad_file);
  CHECK(strstr(msg, needle) != NULL, "%s: message '%s' does not say '%s'", what, msg, needle);
  CHECK(ds.images == NULL && ds.labels == NULL, "%s: failed load left buffers in the dataset", what);
  if (rc == 0)
    hant_dataset_free(&ds);
}

static void test_refusals(void) {
  blob img = good_images(), lab = good_labels_blob();

  blob b = img;
  b.data[2] = 0x09; /* 0x00000903: not unsigned bytes */
  expect_refused("image magic 0x903", &b, &lab, HANT_EFORMAT, img_path, "magic");
  b = lab;
  b.data[0] = 0x12;
  expect_refused("label magic 0x12000801", &img, &b, HANT_EFORMAT, lab_path, "magic");

  /* A 2-dimensional file where images need 3, and a 2-D label file. */
  b = images_blob(0x802, N_IMG, IMG_H * IMG_W, 0, 0);
  b.len = 12;
  for (size_t i = 0; i < N_IMG * IMG_H * IMG_W; i++)
    b.data[b.len++] = (uint8_t)i;
  expect_refused("images with 2 dimensions", &b, &lab, HANT_EFORMAT, img_path, "3 dimensions");
  b = labels_blob(0x802, N_IMG, good_labels, 0);
  put_be32(&b, 1);
  memcpy(b.data + b.len, good_labels, N_IMG);
  b.len += N_IMG;
  expect_refused("labels with 2 dimensions", &img, &b, HANT_EFORMAT, lab_path, "1 dimension");

  b = img;
  b.len = 10; /* magic and half the dimensions */
  expect_refused("truncated image header", &b, &lab, HANT_EFORMAT, img_path, "truncated header");
  b.len = 3;
  expect_refused("3-byte image file", &b, &lab, HANT_EFORMAT, img_path, "truncated");
  b.len = 0;
  expect_refused("empty image file", &b, &lab, HANT_EFORMAT, img_path, "truncated");
  b = lab;
  b.len = 6;
  expect_refused("truncated label header", &img, &b, HANT_EFORMAT, lab_path, "truncated header");

  b = img;
  b.len -= 7;
  expect_refused("image data 7 bytes short", &b, &lab, HANT_EFORMAT, img_path, "truncated");
  b = lab;
  b.len -= 1;
  expect_refused("label data 1 byte short", &img, &b, HANT_EFORMAT, lab_path, "truncated");

  b = img;
  b.data[b.len++] = 0;
  b.data[b.len++] = 0;
  expect_refused("2 trailing image bytes", &b, &lab, HANT_EFORMAT, img_path, "trailing");
  b = lab;
  b.data[b.len++] = 1;
  expect_refused("1 trailing label byte", &img, &b, HANT_EFORMAT, lab_path, "trailing");

  uint8_t two[2] = {1, 2};
  b = labels_blob(0x801, 2, two, 2);
  expect_refused("3 images, 2 labels", &img, &b, HANT_EFORMAT, lab_path, "labels");
  CHECK(strstr(hant_errmsg(), img_path) != NULL, "count mismatch message '%s' does not name the image file",
        hant_errmsg());

  uint8_t out_of_range[N_IMG] = {1, CLASSES, 2};
  b = labels_blob(0x801, N_IMG, out_of_range, N_IMG);
  expect_refused("label 10 with 10 classes", &img, &b, HANT_EFORMAT, lab_path, "outside");
  uint8_t max_label[N_IMG] = {255, 0, 0};
  b = labels_blob(0x801, N_IMG, max_label, N_IMG);
  expect_refused("label 255", &img, &b, HANT_EFORMAT, lab_path, "label 255");

  b = images_blob(0x803, N_IMG, 0, IMG_W, 0);
  expect_refused("zero height", &b, &lab, HANT_EFORMAT, img_path, "dimension 1 is 0");
  b = images_blob(0x803, 0, IMG_H, IMG_W, 0);
  blob l0 = labels_blob(0x801, 0, good_labels, 0);
  expect_refused("zero images", &b, &l0, HANT_EFORMAT, img_path, "dimension 0 is 0");
  b = images_blob(0x803, N_IMG, IMG_H, 1u << 25, 0);
  expect_refused("absurd width", &b, &lab, HANT_EFORMAT, img_path, "dimension 2");
  b = images_blob(0x803, 1u << 24, 1u << 24, 1u << 24, 0);
  expect_refused("2^72-byte payload", &b, &lab, HANT_ELIMIT, img_path, "larger");

  /* Missing files. */
  hant_dataset ds;
  int rc = hant_idx_load(missing_path, lab_path, CLASSES, &ds);
  CHECK(rc == HANT_ENOENT && strstr(hant_errmsg(), missing_path), "missing image file: %s '%s'", hant_err_name(rc),
        hant_errmsg());
  write_raw(img_path, &img);
  rc = hant_idx_load(img_path, missing_path, CLASSES, &ds);
  CHECK(rc == HANT_ENOENT && strstr(hant_errmsg(), missing_path), "missing label file: %s '%s'", hant_err_name(rc),
        hant_errmsg());

  /* A Fashion-MNIST directory without the files: the wrapped message keeps
   * the original reason and adds the hint. */
  rc = hant_fmnist_load(missing_path, HANT_SPLIT_TRAIN, 0, &ds);
  CHECK(rc == HANT_ENOENT && strstr(hant_errmsg(), "cannot open") && strstr(hant_errmsg(), missing_path) &&
            strstr(hant_errmsg(), "HANT_FMNIST_DIR"),
        "Fashion-MNIST from a missing directory: %s '%s'", hant_err_name(rc), hant_errmsg());

  /* A gzip stream cut short: any error is fine, but it must name the file. */
  write_gz(gz_img_path, &img);
  FILE *f = fopen(gz_img_path, "rb");
  uint8_t gz[512];
  size_t gl = fread(gz, 1, sizeof(gz), f);
  fclose(f);
  f = fopen(gz_img_path, "wb");
  fwrite(gz, 1, gl / 2, f);
  fclose(f);
  write_raw(lab_path, &lab);
  rc = hant_idx_load(gz_img_path, lab_path, CLASSES, &ds);
  CHECK(rc < 0 && strstr(hant_errmsg(), gz_img_path), "truncated gzip: %s '%s'", hant_err_name(rc), hant_errmsg());
}

static void check_contents(const char *what, const hant_dataset *ds, const blob *img) {
  CHECK(ds->n == N_IMG && ds->c == 1 && ds->h == IMG_H && ds->w == IMG_W && ds->classes == CLASSES,
        "%s: shape %dx%dx%dx%d, %d classes", what, ds->n, ds->c, ds->h, ds->w, ds->classes);
  CHECK(ds->images && !memcmp(ds->images, img->data + 16, N_IMG * IMG_H * IMG_W), "%s: pixels differ", what);
  CHECK(ds->labels && !memcmp(ds->labels, good_labels, N_IMG), "%s: labels differ", what);
}

static void test_valid(void) {
  blob img = good_images(), lab = good_labels_blob();
  hant_dataset ds;
  write_raw(img_path, &img);
  write_raw(lab_path, &lab);
  int rc = hant_idx_load(img_path, lab_path, CLASSES, &ds);
  CHECK(rc == 0, "valid raw pair refused: %s", hant_errmsg());
  if (rc == 0) {
    check_contents("raw", &ds, &img);
    hant_dataset_free(&ds);
    CHECK(ds.images == NULL && ds.n == 0, "hant_dataset_free left fields set");
  }
  write_gz(gz_img_path, &img);
  write_gz(gz_lab_path, &lab);
  rc = hant_idx_load(gz_img_path, gz_lab_path, CLASSES, &ds);
  CHECK(rc == 0, "valid gzip pair refused: %s", hant_errmsg());
  if (rc == 0) {
    check_contents("gzip", &ds, &img);
    hant_dataset_free(&ds);
  }
  rc = hant_idx_load(gz_img_path, lab_path, CLASSES, &ds);
  CHECK(rc == 0, "gzip images with raw labels refused: %s", hant_errmsg());
  if (rc == 0) {
    check_contents("mixed", &ds, &img);
    hant_dataset_free(&ds);
  }
  hant_dataset_free(NULL);
}

static void test_fmnist(void) {
  const char *fdir = hant_fmnist_dir();
  if (access(fdir, R_OK) != 0) {
    printf("idx: %s not present, Fashion-MNIST checks skipped\n", fdir);
    return;
  }
  static const int want[HANT_SPLIT_COUNT] = {55000, 5000, 10000};
  hant_dataset sp[HANT_SPLIT_COUNT];
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    int rc = hant_fmnist_load(fdir, (hant_split)s, 0, &sp[s]);
    CHECK(rc == 0, "loading %s: %s", hant_split_name((hant_split)s), hant_errmsg());
    if (rc) {
      memset(&sp[s], 0, sizeof(sp[s]));
      continue;
    }
    CHECK(sp[s].n == want[s] && sp[s].c == 1 && sp[s].h == 28 && sp[s].w == 28 && sp[s].classes == 10,
          "%s: %d images of %dx%dx%d, %d classes", hant_split_name((hant_split)s), sp[s].n, sp[s].c, sp[s].h,
          sp[s].w, sp[s].classes);
    int hist[10] = {0}, bad = 0;
    for (int i = 0; i < sp[s].n; i++) {
      if (sp[s].labels[i] < 10)
        hist[sp[s].labels[i]]++;
      else
        bad++;
    }
    int missing = 0;
    for (int k = 0; k < 10; k++)
      missing += hist[k] == 0;
    CHECK(bad == 0 && missing == 0, "%s: %d labels out of range, %d classes absent", hant_split_name((hant_split)s),
          bad, missing);
  }
  /* The train and val splits are disjoint slices of the training file. */
  hant_dataset head;
  int rc = hant_fmnist_load(fdir, HANT_SPLIT_VAL, 10, &head);
  CHECK(rc == 0 && head.n == 10, "val limit 10: %s", hant_errmsg());
  if (rc == 0) {
    CHECK(sp[HANT_SPLIT_VAL].images && !memcmp(head.images, sp[HANT_SPLIT_VAL].images, 10 * 28 * 28),
          "val with a limit does not start at the val split");
    CHECK(sp[HANT_SPLIT_TRAIN].images &&
              memcmp(head.images, sp[HANT_SPLIT_TRAIN].images + (size_t)54990 * 28 * 28, 10 * 28 * 28),
          "val split starts inside the train split");
    hant_dataset_free(&head);
  }
  CHECK(hant_fmnist_load(fdir, HANT_SPLIT_COUNT, 0, &head) == HANT_EINVAL, "unknown split accepted");
  for (int s = 0; s < HANT_SPLIT_COUNT; s++)
    hant_dataset_free(&sp[s]);
}

int main(void) {
  snprintf(dir, sizeof(dir), "%s", "/tmp/hant_test_idx.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(img_path, sizeof(img_path), "%s/images-idx3-ubyte", dir);
  snprintf(lab_path, sizeof(lab_path), "%s/labels-idx1-ubyte", dir);
  snprintf(gz_img_path, sizeof(gz_img_path), "%s/images-idx3-ubyte.gz", dir);
  snprintf(gz_lab_path, sizeof(gz_lab_path), "%s/labels-idx1-ubyte.gz", dir);
  snprintf(missing_path, sizeof(missing_path), "%s/no-such-file", dir);
  test_refusals();
  test_valid();
  unlink(img_path);
  unlink(lab_path);
  unlink(gz_img_path);
  unlink(gz_lab_path);
  CHECK(rmdir(dir) == 0, "temporary directory %s not empty after the test", dir);
  test_fmnist();
  return test_summary("idx");
}
