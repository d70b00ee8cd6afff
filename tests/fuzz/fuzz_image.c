/* SPDX-License-Identifier: MIT */
/* fuzz_image.c: fuzz target for PNG and JPEG decoding of image folders: any bytes decode to a sane image or a named refusal. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hant_image im;
  int rc = hant_image_decode("fuzz.img", data, size, &im);
  if (rc == 0) {
    if ((im.c != 1 && im.c != 3) || im.h < 1 || im.w < 1 || im.h > HANT_IMAGE_MAX_SIDE || im.w > HANT_IMAGE_MAX_SIDE ||
        !im.pixels)
      abort();
    /* Touch every pixel: a short buffer shows under ASan. */
    unsigned sum = 0;
    for (size_t j = 0; j < (size_t)im.c * im.h * im.w; j++)
      sum += im.pixels[j];
    (void)sum;
    accepted++;
  } else if (!strstr(hant_errmsg(), "fuzz.img")) {
    fprintf(stderr, "fuzz_image: a refusal that does not name the file: %s\n", hant_errmsg());
    abort();
  }
  hant_image_free(&im);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_image"
#include "fuzz_driver.h"

static void pixels(uint8_t *p, size_t n) {
  for (size_t j = 0; j < n; j++)
    p[j] = (uint8_t)(j * 37 + 5);
}

/* PNGs of every colour type libpng's simplified API writes, and JPEGs gray and colour. */
static int make_seeds(seed *pool, size_t *n, size_t cap) {
  static const png_uint_32 formats[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA,
                                        PNG_FORMAT_LINEAR_Y};
  uint8_t px[12 * 9 * 4 * 2];
  pixels(px, sizeof(px));
  for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]) && *n < cap; i++) {
    png_image im;
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    im.width = 12, im.height = 9, im.format = formats[i];
    png_alloc_size_t len = 0;
    if (!png_image_write_to_memory(&im, NULL, &len, 0, px, 0, NULL))
      return 1;
    uint8_t *b = malloc(len);
    if (!b || !png_image_write_to_memory(&im, b, &len, 0, px, 0, NULL))
      return 1;
    pool[(*n)++] = (seed){b, len};
  }
  for (int c = 1; c <= 3 && *n < cap; c += 2) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = 16, ci.image_height = 8, ci.input_components = c;
    ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
      JSAMPROW r = px + ci.next_scanline * 16 * (unsigned)c;
      jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    uint8_t *b = malloc(len);
    if (!b)
      return 1;
    memcpy(b, mem, len);
    free(mem);
    pool[(*n)++] = (seed){b, len};
  }
  return 0;
}

static const char *const dict[] = {"IHDR", "IDAT", "IEND", "PLTE", "tRNS", "gAMA", "\xff\xd8\xff", "\xff\xc0",
                                   "\xff\xc4", "\xff\xda", "\xff\xd9", "\xff\xdb", "\xff\xff\xff\xff", "\x7f\xff"};

static const fuzz_target target = {.make_seeds = make_seeds,
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 8,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
