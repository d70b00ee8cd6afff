/* SPDX-License-Identifier: MIT */
/* test_data.c: image folders, CIFAR-10 batches and .npy arrays load as the IDX files do, and malformed ones are refused naming the file. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "hant.h"
#include "test_util.h"

static char root[64];

/* mkdir -p A/B */
static void mkdirs(const char *a, const char *b) {
  char p[512];
  HANT_ASSERT(snprintf(p, sizeof(p), "%s/%s", a, b) < (int)sizeof(p));
  char *s = p;
  while ((s = strchr(s + 1, '/'))) {
    *s = '\0';
    mkdir(p, 0755);
    *s = '/';
  }
  mkdir(p, 0755);
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  HANT_ASSERT(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

/* Writes pixels [c, h, w] (c 1 or 3) as a PNG with libpng's simplified API. */
static void write_png(const char *path, const uint8_t *chw, int c, int h, int w) {
  uint8_t *hwc = malloc((size_t)c * h * w);
  for (int j = 0; j < h * w; j++)
    for (int ch = 0; ch < c; ch++)
      hwc[j * c + ch] = chw[ch * h * w + j];
  png_image im;
  memset(&im, 0, sizeof(im));
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  HANT_ASSERT(png_image_write_to_file(&im, path, 0, hwc, 0, NULL));
  free(hwc);
}

static void write_jpeg(const char *path, const uint8_t *chw, int c, int h, int w) {
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr err;
  ci.err = jpeg_std_error(&err);
  jpeg_create_compress(&ci);
  FILE *f = fopen(path, "wb");
  HANT_ASSERT(f);
  jpeg_stdio_dest(&ci, f);
  ci.image_width = (JDIMENSION)w;
  ci.image_height = (JDIMENSION)h;
  ci.input_components = c;
  ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 95, TRUE);
  jpeg_start_compress(&ci, TRUE);
  uint8_t *row = malloc((size_t)c * w);
  while (ci.next_scanline < ci.image_height) {
    for (int x = 0; x < w; x++)
      for (int ch = 0; ch < c; ch++)
        row[x * c + ch] = chw[(ch * h + (int)ci.next_scanline) * w + x];
    JSAMPROW r = row;
    jpeg_write_scanlines(&ci, &r, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  fclose(f);
  free(row);
}

static bool msg_has(const char *a, const char *b) {
  const char *m = hant_errmsg();
  return strstr(m, a) && (!b || strstr(m, b));
}

/* ---- an image-folder copy of Fashion-MNIST reads back image for image ------------- */

static const char *const fm_classes[10] = {"0-tshirt", "1-trouser", "2-pullover", "3-dress", "4-coat",
                                           "5-sandal", "6-shirt",   "7-sneaker",  "8-bag",   "9-boot"};

static void test_folder_equals_idx(void) {
  if (access(hant_fmnist_dir(), R_OK)) {
    printf("data: %s absent, the Fashion-MNIST comparison is skipped\n", hant_fmnist_dir());
    return;
  }
  static const int count[HANT_SPLIT_COUNT] = {300, 100, 200};
  char dir[128], p[1024];
  snprintf(dir, sizeof(dir), "%s/fm", root);
  hant_data_spec fm = {.data = "fmnist"};
  hant_dataset ref[HANT_SPLIT_COUNT];
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    HANT_ASSERT(hant_data_load(&fm, (hant_split)s, count[s], &ref[s]) == 0);
    for (int c = 0; c < 10; c++) {
      snprintf(p, sizeof(p), "%s/%s", dir, hant_split_name((hant_split)s));
      mkdirs(p, fm_classes[c]);
    }
    /* Named by index, so the folder's name order is the IDX order. */
    for (int i = 0; i < ref[s].n; i++) {
      snprintf(p, sizeof(p), "%s/%s/%s/%05d.png", dir, hant_split_name((hant_split)s), fm_classes[ref[s].labels[i]], i);
      write_png(p, ref[s].images + (size_t)i * 784, 1, 28, 28);
    }
  }
  hant_data_spec spec = {.data = dir, .c = 1, .h = 28, .w = 28, .classes = 10};
  hant_data_format f = HANT_DATA_AUTO;
  CHECK(hant_data_detect(dir, &f) == 0 && f == HANT_DATA_FOLDER, "a train/val/test folder detected as %s",
        hant_data_format_name(f));
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    hant_dataset got;
    int rc = hant_data_load(&spec, (hant_split)s, 0, &got);
    CHECK(rc == 0, "folder %s: %s", hant_split_name((hant_split)s), hant_errmsg());
    if (rc)
      continue;
    CHECK(got.n == ref[s].n && got.c == 1 && got.h == 28 && got.w == 28 && got.classes == 10,
          "folder %s: %d images of %dx%dx%d, %d classes", hant_split_name((hant_split)s), got.n, got.c, got.h, got.w,
          got.classes);
    CHECK(got.n == ref[s].n && !memcmp(got.images, ref[s].images, (size_t)got.n * 784) &&
              !memcmp(got.labels, ref[s].labels, (size_t)got.n),
          "folder %s: images or labels differ from the IDX files'", hant_split_name((hant_split)s));
    hant_dataset_free(&got);
  }
  /* The same images as JPEG (quality 95): lossy, but close and the right shape. */
  snprintf(p, sizeof(p), "%s/one.jpg", root);
  write_jpeg(p, ref[2].images, 1, 28, 28);
  char *buf;
  size_t len;
  hant_image im;
  HANT_ASSERT(hant_file_read(p, 1 << 20, &buf, &len) == 0);
  int rc = hant_image_decode(p, (const uint8_t *)buf, len, &im);
  CHECK(rc == 0 && im.c == 1 && im.h == 28 && im.w == 28, "gray JPEG: %s", hant_errmsg());
  if (!rc) {
    double mad = 0;
    for (int j = 0; j < 784; j++)
      mad += abs((int)im.pixels[j] - (int)ref[2].images[j]);
    CHECK(mad / 784 < 4, "gray JPEG at quality 95 is %.1f levels from its source on average", mad / 784);
  }
  hant_image_free(&im);
  free(buf);
  for (int s = 0; s < HANT_SPLIT_COUNT; s++)
    hant_dataset_free(&ref[s]);
}

/* ---- folders without split folders: a seeded split per class ----------------------- */

static void synth(uint8_t *px, int c, int h, int w, int seed) {
  for (int j = 0; j < c * h * w; j++)
    px[j] = (uint8_t)(seed * 31 + j * 7);
}

static void test_folder_split(void) {
  char dir[128], p[512];
  snprintf(dir, sizeof(dir), "%s/split", root);
  uint8_t px[3 * 8 * 8];
  static const char *const cls[3] = {"ant", "bee", "cat"};
  for (int c = 0; c < 3; c++) {
    mkdirs(dir, cls[c]);
    for (int i = 0; i < 40; i++) {
      synth(px, 1, 8, 8, c * 100 + i);
      snprintf(p, sizeof(p), "%s/%s/%s%02d.png", dir, cls[c], cls[c], i);
      write_png(p, px, 1, 8, 8);
    }
  }
  hant_data_spec spec = {.data = dir};
  hant_dataset sp[HANT_SPLIT_COUNT], again;
  int total = 0, per_class[HANT_SPLIT_COUNT][3] = {{0}};
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    int rc = hant_data_load(&spec, (hant_split)s, 0, &sp[s]);
    CHECK(rc == 0, "split folder %s: %s", hant_split_name((hant_split)s), hant_errmsg());
    if (rc) {
      memset(&sp[s], 0, sizeof(sp[s]));
      continue;
    }
    total += sp[s].n;
    for (int i = 0; i < sp[s].n; i++)
      per_class[s][sp[s].labels[i]]++;
  }
  CHECK(total == 120, "the three splits hold %d of the 120 images", total);
  for (int c = 0; c < 3; c++)
    CHECK(per_class[HANT_SPLIT_TEST][c] == 4 && per_class[HANT_SPLIT_VAL][c] == 4 && per_class[HANT_SPLIT_TRAIN][c] == 32,
          "class %s: %d train, %d val, %d test (expected 32, 4, 4)", cls[c], per_class[0][c], per_class[1][c],
          per_class[2][c]);
  /* Disjoint: no image of test is in train. */
  int shared = 0;
  for (int i = 0; i < sp[HANT_SPLIT_TEST].n; i++)
    for (int j = 0; j < sp[HANT_SPLIT_TRAIN].n; j++)
      shared += !memcmp(sp[HANT_SPLIT_TEST].images + 64 * i, sp[HANT_SPLIT_TRAIN].images + 64 * j, 64);
  CHECK(shared == 0, "%d test images are also training images", shared);
  CHECK(hant_data_load(&spec, HANT_SPLIT_TEST, 0, &again) == 0 && again.n == sp[HANT_SPLIT_TEST].n &&
            !memcmp(again.images, sp[HANT_SPLIT_TEST].images, (size_t)again.n * 64),
        "the split is not the same from one load to the next");
  hant_dataset_free(&again);
  /* A gray folder feeds a 3-channel teacher by replication. */
  spec.c = 3;
  CHECK(hant_data_load(&spec, HANT_SPLIT_VAL, 0, &again) == 0 && again.c == 3 &&
            !memcmp(again.images, sp[HANT_SPLIT_VAL].images, 64) &&
            !memcmp(again.images + 64, sp[HANT_SPLIT_VAL].images, 64) &&
            !memcmp(again.images + 128, sp[HANT_SPLIT_VAL].images, 64),
        "gray images are not replicated to RGB: %s", hant_errmsg());
  hant_dataset_free(&again);
  for (int s = 0; s < HANT_SPLIT_COUNT; s++)
    hant_dataset_free(&sp[s]);

  /* An image of another size is refused, naming the file and both sizes. */
  synth(px, 1, 8, 8, 1);
  snprintf(p, sizeof(p), "%s/cat/zz-small.png", dir);
  write_png(p, px, 1, 4, 4);
  spec.c = 1, spec.h = 8, spec.w = 8;
  int rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, 0, &again);
  rc = rc ? rc : hant_data_load(&spec, HANT_SPLIT_VAL, 0, &again);
  rc = rc ? rc : hant_data_load(&spec, HANT_SPLIT_TEST, 0, &again);
  CHECK(rc == HANT_ESHAPE && msg_has("zz-small.png", "4x4"), "an image of 4x4 among 8x8: %d, %s", rc, hant_errmsg());
  unlink(p);

  /* A colour image for a gray teacher: refused, unless --gray asks. */
  uint8_t rgb[3 * 8 * 8];
  for (int j = 0; j < 64; j++)
    rgb[j] = 200, rgb[64 + j] = 100, rgb[128 + j] = 50;
  snprintf(p, sizeof(p), "%s/ant/000-colour.png", dir);
  write_png(p, rgb, 3, 8, 8);
  hant_dataset all[HANT_SPLIT_COUNT];
  int refused = 0, found = 0;
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    rc = hant_data_load(&spec, (hant_split)s, 0, &all[s]);
    refused += rc == HANT_ESHAPE && msg_has("000-colour.png", "--gray");
    if (!rc)
      hant_dataset_free(&all[s]);
  }
  CHECK(refused == 1, "a colour image for a gray teacher is refused once, naming it (%d)", refused);
  spec.rgb_to_gray = true;
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    if (hant_data_load(&spec, (hant_split)s, 0, &all[s]))
      continue;
    for (int i = 0; i < all[s].n; i++) {
      int same = 0;
      for (int j = 0; j < 64; j++)
        same += all[s].images[64 * i + j] == (299 * 200 + 587 * 100 + 114 * 50 + 500) / 1000;
      found += same == 64;
    }
    hant_dataset_free(&all[s]);
  }
  CHECK(found == 1, "--gray turns the colour image to its BT.601 luma (%d found)", found);
  unlink(p);

  /* A corrupt PNG: one byte of its image data flipped, so its CRC fails. */
  snprintf(p, sizeof(p), "%s/bee/bee00.png", dir);
  char *buf;
  size_t len;
  HANT_ASSERT(hant_file_read(p, 1 << 20, &buf, &len) == 0);
  uint8_t *idat = memmem(buf, len, "IDAT", 4);
  HANT_ASSERT(idat);
  idat[6] ^= 0x55;
  write_bytes(p, buf, len);
  hant_image im;
  rc = hant_image_decode(p, (const uint8_t *)buf, len, &im);
  CHECK(rc == HANT_EFORMAT && msg_has("bee00.png", "corrupt PNG"), "a corrupt PNG: %d, %s", rc, hant_errmsg());
  free(buf);
  spec.rgb_to_gray = false;
  refused = 0;
  for (int s = 0; s < HANT_SPLIT_COUNT; s++) {
    rc = hant_data_load(&spec, (hant_split)s, 0, &all[s]);
    refused += rc == HANT_EFORMAT && msg_has("bee00.png", "corrupt PNG");
    if (!rc)
      hant_dataset_free(&all[s]);
  }
  CHECK(refused == 1, "the corrupt PNG is refused by the split holding it (%d)", refused);
  CHECK(hant_image_decode("x.png", (const uint8_t *)"GIF89a", 6, &im) == HANT_EFORMAT && msg_has("x.png", "neither"),
        "a GIF is not taken for an image: %s", hant_errmsg());
}

/* ---- CIFAR-10 binary -------------------------------------------------------------- */

static void test_cifar(void) {
  char dir[128], p[512];
  snprintf(dir, sizeof(dir), "%s/cifar", root);
  mkdir(dir, 0755);
  /* Five batches of 1001 records: 5005 training records, the last 5000 validate. */
  const int per = 1001;
  uint8_t *b = malloc((size_t)per * 3073);
  for (int k = 1; k <= 6; k++) {
    for (int i = 0; i < per; i++) {
      int id = (k - 1) * per + i;
      b[(size_t)i * 3073] = (uint8_t)(id % 10);
      for (int j = 0; j < 3072; j++)
        b[(size_t)i * 3073 + 1 + j] = (uint8_t)(id * 13 + j);
    }
    if (k <= 5)
      snprintf(p, sizeof(p), "%s/data_batch_%d.bin", dir, k);
    else
      snprintf(p, sizeof(p), "%s/test_batch.bin", dir);
    write_bytes(p, b, (size_t)(k == 6 ? 7 : per) * 3073);
  }
  hant_data_format f;
  CHECK(hant_data_detect(dir, &f) == 0 && f == HANT_DATA_CIFAR, "CIFAR batches detected as %s", hant_data_format_name(f));
  hant_data_spec spec = {.data = dir, .c = 3, .h = 32, .w = 32, .classes = 10};
  hant_dataset tr, va, te;
  int rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, 0, &tr);
  CHECK(rc == 0 && tr.n == 5 && tr.c == 3 && tr.h == 32 && tr.labels[4] == 4 && tr.images[3072 * 4 + 5] == (uint8_t)(4 * 13 + 5),
        "CIFAR train: %s", hant_errmsg());
  rc = hant_data_load(&spec, HANT_SPLIT_VAL, 0, &va);
  CHECK(rc == 0 && va.n == 5000 && va.labels[0] == 5 && va.images[1] == (uint8_t)(5 * 13 + 1), "CIFAR val: %s",
        hant_errmsg());
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 3, &te);
  CHECK(rc == 0 && te.n == 3, "CIFAR test with a limit: %s", hant_errmsg());
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  hant_dataset_free(&te);
  /* A teacher of 1x28x28: both shapes named. */
  hant_data_spec small = {.data = dir, .c = 1, .h = 28, .w = 28};
  rc = hant_data_load(&small, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc == HANT_ESHAPE && msg_has("3x32x32", "1x28x28"), "CIFAR for a 1x28x28 teacher: %s", hant_errmsg());
  /* A truncated batch. */
  snprintf(p, sizeof(p), "%s/data_batch_3.bin", dir);
  write_bytes(p, b, (size_t)per * 3073 - 100);
  rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, 0, &tr);
  CHECK(rc == HANT_EFORMAT && msg_has("data_batch_3.bin", "truncated"), "a truncated CIFAR batch: %s", hant_errmsg());
  /* A label of 10. */
  b[0] = 10;
  write_bytes(p, b, (size_t)per * 3073);
  rc = hant_data_load(&spec, HANT_SPLIT_VAL, 0, &va);
  CHECK(rc == HANT_EFORMAT && msg_has("data_batch_3.bin", "label 10"), "a CIFAR label of 10: %s", hant_errmsg());
  free(b);
}

/* ---- NumPy arrays ----------------------------------------------------------------- */

/* An .npy file in out; returns its length. */
static size_t npy_bytes(uint8_t *out, size_t cap, const char *descr, const char *fortran, const char *shape,
                        const void *data, size_t n, int version) {
  char hdr[256];
  int len = snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape);
  int pre = version == 1 ? 10 : 12, total = (pre + len + 1 + 63) / 64 * 64;
  HANT_ASSERT((size_t)total + n <= cap);
  memset(out, ' ', (size_t)total);
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (uint8_t)version, out[7] = 0;
  int hl = total - pre;
  out[8] = (uint8_t)hl, out[9] = (uint8_t)(hl >> 8);
  if (version != 1)
    out[10] = out[11] = 0;
  memcpy(out + pre, hdr, (size_t)len);
  out[total - 1] = '\n';
  memcpy(out + total, data, n);
  return (size_t)total + n;
}

static void write_npy(const char *dir, const char *name, const char *descr, const char *shape, const void *data,
                      size_t n, int version) {
  uint8_t out[4096 + 256];
  char p[512];
  size_t len = npy_bytes(out, sizeof(out), descr, "False", shape, data, n, version);
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  write_bytes(p, out, len);
}

static void test_npy(void) {
  char dir[128];
  snprintf(dir, sizeof(dir), "%s/npy", root);
  mkdir(dir, 0755);
  /* 20 RGB images of 4x5 as [n, h, w, c], labels int64 0..3. */
  uint8_t hwc[20 * 4 * 5 * 3], chw[20 * 3 * 4 * 5];
  int64_t lab[20];
  for (int i = 0; i < 20; i++) {
    lab[i] = i % 4;
    for (int y = 0; y < 20; y++)
      for (int c = 0; c < 3; c++) {
        hwc[(i * 20 + y) * 3 + c] = (uint8_t)(i * 11 + y * 3 + c * 70);
        chw[(i * 3 + c) * 20 + y] = (uint8_t)(i * 11 + y * 3 + c * 70);
      }
  }
  write_npy(dir, "train_images.npy", "|u1", "(20, 4, 5, 3)", hwc, sizeof(hwc), 1);
  write_npy(dir, "train_labels.npy", "<i8", "(20,)", lab, sizeof(lab), 2);
  write_npy(dir, "test_images.npy", "|u1", "(20, 3, 4, 5)", chw, sizeof(chw), 1);
  write_npy(dir, "test_labels.npy", "<i8", "(20,)", lab, sizeof(lab), 1);
  hant_data_format f;
  CHECK(hant_data_detect(dir, &f) == 0 && f == HANT_DATA_NPY, "npy arrays detected as %s", hant_data_format_name(f));
  hant_data_spec spec = {.data = dir};
  hant_dataset tr, va, te;
  int rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, 0, &tr);
  CHECK(rc == 0 && tr.n == 18 && tr.c == 3 && tr.h == 4 && tr.w == 5 && tr.classes == 4, "npy train: %s",
        hant_errmsg());
  rc = hant_data_load(&spec, HANT_SPLIT_VAL, 0, &va);
  CHECK(rc == 0 && va.n == 2 && va.labels[0] == 18 % 4, "npy val (the last tenth of train): %s", hant_errmsg());
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  /* [n, h, w, c] and [n, c, h, w] of the same pixels read the same. */
  CHECK(rc == 0 && tr.images && !memcmp(te.images, tr.images, (size_t)tr.n * 60), "npy NHWC and NCHW differ: %s",
        hant_errmsg());
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  hant_dataset_free(&te);
  /* A float image array. */
  write_npy(dir, "test_images.npy", "<f4", "(20, 3, 4, 5)", chw, sizeof(chw), 1);
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc == HANT_EFORMAT && msg_has("test_images.npy", "'<f4'"), "npy float images: %s", hant_errmsg());
  /* Labels of the wrong shape. */
  write_npy(dir, "test_images.npy", "|u1", "(20, 3, 4, 5)", chw, sizeof(chw), 1);
  write_npy(dir, "test_labels.npy", "<i8", "(10, 2)", lab, sizeof(lab), 1);
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc == HANT_EFORMAT && msg_has("test_labels.npy", "shape"), "npy labels [10, 2]: %s", hant_errmsg());
  /* Images of an unreadable layout. */
  write_npy(dir, "test_images.npy", "|u1", "(20, 4, 5, 3, 1)", chw, sizeof(chw), 1);
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc && msg_has("test_images.npy", "dimensions"), "npy of 5 dimensions: %s", hant_errmsg());
  write_npy(dir, "test_images.npy", "|u1", "(20, 2, 6, 5)", chw, sizeof(chw), 1);
  write_npy(dir, "test_labels.npy", "<i8", "(20,)", lab, sizeof(lab), 1);
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc == HANT_EFORMAT && msg_has("test_images.npy", "[n, c, h, w]"), "npy [20, 2, 6, 5]: %s", hant_errmsg());
  /* Truncated data, and fortran order. */
  write_npy(dir, "test_images.npy", "|u1", "(20, 3, 4, 5)", chw, sizeof(chw) - 7, 1);
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc == HANT_EFORMAT && msg_has("test_images.npy", "truncated"), "a truncated npy: %s", hant_errmsg());
  hant_npy a;
  uint8_t fo[256];
  size_t fl = npy_bytes(fo, sizeof(fo), "|u1", "True", "(2,)", "ab", 2, 1);
  CHECK(hant_npy_parse("f.npy", fo, fl, &a) == HANT_ENOTSUP && msg_has("f.npy", "fortran"),
        "fortran order: %s", hant_errmsg());
  /* A label outside the teacher's classes. */
  write_npy(dir, "test_images.npy", "|u1", "(20, 3, 4, 5)", chw, sizeof(chw), 1);
  spec.classes = 3;
  rc = hant_data_load(&spec, HANT_SPLIT_TEST, 0, &te);
  CHECK(rc == HANT_EFORMAT && msg_has("test_labels.npy", "[0, 3)"), "a label of 3 for 3 classes: %s", hant_errmsg());
}

/* ---- normalisation and its record in the library ---------------------------------- */

static void test_norm(void) {
  uint8_t px[2 * 2 * 2] = {0, 51, 102, 255, 10, 20, 30, 40};
  uint8_t lab[1] = {0};
  hant_dataset ds = {.n = 1, .c = 2, .h = 2, .w = 2, .classes = 1, .images = px, .labels = lab};
  float plain[8], normed[8];
  int idx = 0, l;
  hant_dataset_batch(&ds, &idx, 1, false, 0, NULL, plain, &l);
  const float mean[2] = {0.5f, 0.25f}, sd[2] = {0.25f, 2.0f};
  CHECK(hant_dataset_set_norm(&ds, mean, sd, 2) == 0, "set_norm: %s", hant_errmsg());
  hant_dataset_batch(&ds, &idx, 1, false, 0, NULL, normed, &l);
  int bad = 0;
  for (int j = 0; j < 4; j++)
    for (int c = 0; c < 2; c++) {
      float v = (float)px[c * 4 + j] * (1.0f / 255.0f);
      bad += plain[j * 2 + c] != v || normed[j * 2 + c] != (v - mean[c]) / sd[c];
    }
  CHECK(bad == 0, "%d values of the batch are not (pixel / 255 - mean) / std", bad);
  CHECK(hant_dataset_set_norm(&ds, mean, sd, 3) == HANT_EINVAL && msg_has("3 values", "2 channels"),
        "3 values for 2 channels: %s", hant_errmsg());
  const float zero[1] = {0};
  CHECK(hant_dataset_set_norm(&ds, mean, zero, 1) == HANT_EINVAL, "a std of 0 accepted");

  char db[128];
  snprintf(db, sizeof(db), "%s/lib.db", root);
  hant_store *st = NULL;
  HANT_ASSERT(hant_store_open(db, HANT_STORE_CREATE, &st) == 0);
  hant_build_settings a = {.families = "all", .epochs = 1, .batch = 64, .seed = 1, .samples = 70000, .norm_k = 3},
                      b;
  snprintf(a.data, sizeof(a.data), "cifar /data/c10");
  a.mean[0] = 0.4914f, a.mean[1] = 0.4822f, a.mean[2] = 0.4465f;
  a.std[0] = 0.2470f, a.std[1] = 0.2435f, a.std[2] = 0.2616f;
  int rc = hant_build_settings_put(st, &a);
  rc = rc ? rc : hant_build_settings_get(st, &b);
  CHECK(rc == 0 && b.norm_k == 3 && !memcmp(b.mean, a.mean, sizeof(a.mean)) && !memcmp(b.std, a.std, sizeof(a.std)) &&
            !strcmp(b.data, a.data) && b.samples == 70000,
        "build settings with normalisation do not read back: %s", hant_errmsg());
  CHECK(hant_build_settings_same_training(&a, &b), "the same settings differ");
  b.std[2] = 0.26f;
  CHECK(!hant_build_settings_same_training(&a, &b), "another std trains the same way");
  /* Recipes: 3 fits group's start with --init lsq and ends ir in a ReLU,
   * so it differs from 2 except in one round from random starts (the
   * quick preset), which trains alike in every recipe. */
  hant_build_settings r2 = {.epochs = 3, .epochs_teacher = 2, .plateau = 0.02, .batch = 64, .seed = 1, .recipe = 2},
                      r3 = r2;
  r3.recipe = 3;
  snprintf(r2.init, sizeof(r2.init), "lsq"), snprintf(r3.init, sizeof(r3.init), "lsq");
  CHECK(!hant_build_settings_same_training(&r2, &r3) && hant_build_settings_same_training(&r3, &r3),
        "recipes 2 and 3 with lsq starts train alike");
  r2.epochs = r2.epochs_teacher = r3.epochs = r3.epochs_teacher = 1;
  CHECK(!hant_build_settings_same_training(&r2, &r3), "one round of recipes 2 and 3 with lsq starts trains alike");
  snprintf(r2.init, sizeof(r2.init), "random"), snprintf(r3.init, sizeof(r3.init), "random");
  CHECK(hant_build_settings_same_training(&r2, &r3), "one round of recipes 2 and 3 from random starts differs");
  r2.recipe = 1;
  CHECK(hant_build_settings_same_training(&r2, &r3), "one round of recipes 1 and 3 from random starts differs");
  r2.epochs = r3.epochs = 3;
  CHECK(!hant_build_settings_same_training(&r2, &r3), "three rounds of recipes 1 and 3 train alike");
  r2.recipe = 2;
  CHECK(!hant_build_settings_same_training(&r2, &r3), "three rounds of recipes 2 and 3 train alike");
  hant_data_spec spec = {0};
  CHECK(hant_data_spec_parse(a.data, &spec) == 0 && spec.format == HANT_DATA_CIFAR && !strcmp(spec.data, "/data/c10"),
        "the recorded data does not parse back");
  /* What transforms, fine-tuning and re-ranking see: the recorded data and normalisation, the teacher's shape. */
  hant_net *teacher = hant_arch_build("input 3x32x32; conv 8; res 8; gap; linear 10", "test");
  HANT_ASSERT(teacher);
  hant_build_settings rec;
  rc = hant_deploy_data_spec(st, teacher, NULL, &rec, &spec);
  CHECK(rc == 0 && spec.format == HANT_DATA_CIFAR && !strcmp(spec.data, "/data/c10") && spec.c == 3 && spec.h == 32 &&
            spec.w == 32 && spec.classes == 10 && spec.norm_k == 3 && !memcmp(spec.mean, a.mean, sizeof(a.mean)) &&
            !memcmp(spec.std, a.std, sizeof(a.std)),
        "a library's data spec is not its recorded data and normalisation: %s", hant_errmsg());
  rc = hant_deploy_data_spec(st, teacher, "/elsewhere", &rec, &spec);
  CHECK(rc == 0 && !strcmp(spec.data, "/elsewhere") && spec.format == HANT_DATA_AUTO && spec.norm_k == 3,
        "data named by the caller keeps the library's normalisation: %s", hant_errmsg());
  hant_net_destroy(teacher);
  /* A library recorded before normalisation existed has none. */
  HANT_ASSERT(hant_store_meta_put(st, "build.settings",
                                  "{\"preset\":\"\",\"families\":\"all\",\"per_family\":0,\"samples\":100,"
                                  "\"val_samples\":50,\"epochs\":1,\"batch\":64,\"seed\":\"1\"}") == 0);
  CHECK(hant_build_settings_get(st, &b) == 0 && b.norm_k == 0 && !b.data[0], "old settings: %s", hant_errmsg());
  hant_store_close(st);
}

int main(void) {
  snprintf(root, sizeof(root), "/tmp/hant_test_data.XXXXXX");
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    return 1;
  }
  test_norm();
  test_npy();
  test_cifar();
  test_folder_split();
  test_folder_equals_idx();
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd))
    fprintf(stderr, "data: could not remove %s\n", root);
  return test_summary("data");
}
