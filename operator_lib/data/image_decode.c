/* SPDX-License-Identifier: MIT */
/* image_decode.c: PNG and JPEG files decoded defensively to gray or RGB pixels (libpng, libjpeg-turbo). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "base.h"
#include "data_load.h"

void hant_image_free(hant_image *im) {
  if (!im)
    return;
  free(im->pixels);
  memset(im, 0, sizeof(*im));
}

static int check_size(const char *name, long long w, long long h) {
  if (w < 1 || h < 1 || w > HANT_IMAGE_MAX_SIDE || h > HANT_IMAGE_MAX_SIDE || w * h > HANT_IMAGE_MAX_PIXELS)
    return hant__error(HANT_ELIMIT, "%s: image of %lldx%lld pixels is outside the limits (1 to %d a side, %lld in all)",
                       name, w, h, HANT_IMAGE_MAX_SIDE, (long long)HANT_IMAGE_MAX_PIXELS);
  return 0;
}

/* Interleaved rows [h, w, c] to hant's planes [c, h, w]. */
static int to_planes(const char *name, const uint8_t *hwc, int c, int h, int w, hant_image *out) {
  size_t plane = (size_t)h * (size_t)w;
  out->pixels = malloc(plane * (size_t)c);
  if (!out->pixels)
    return hant__error(HANT_ENOMEM, "%s: out of memory for %dx%d pixels", name, w, h);
  for (size_t j = 0; j < plane; j++)
    for (int ch = 0; ch < c; ch++)
      out->pixels[(size_t)ch * plane + j] = hwc[j * (size_t)c + (size_t)ch];
  out->c = c, out->h = h, out->w = w;
  return 0;
}

/* libpng's simplified API checks the stream's CRCs and chunk order and
 * does the conversions (palette, 16 bits, alpha) itself; errors come back
 * as image.message rather than through longjmp. */
static int decode_png(const char *name, const uint8_t *buf, size_t len, hant_image *out) {
  png_image im;
  memset(&im, 0, sizeof(im));
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&im, buf, len))
    return hant__error(HANT_EFORMAT, "%s: corrupt PNG (%s)", name, im.message);
  int rc = check_size(name, im.width, im.height);
  if (rc) {
    png_image_free(&im);
    return rc;
  }
  int c = (im.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  im.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  size_t bytes = PNG_IMAGE_SIZE(im);
  uint8_t *hwc = malloc(bytes);
  if (!hwc) {
    png_image_free(&im);
    return hant__error(HANT_ENOMEM, "%s: out of memory for %zu bytes", name, bytes);
  }
  /* A NULL background composites alpha onto black. */
  if (!png_image_finish_read(&im, NULL, hwc, 0, NULL)) {
    rc = hant__error(HANT_EFORMAT, "%s: corrupt PNG (%s)", name, im.message);
    png_image_free(&im);
    free(hwc);
    return rc;
  }
  rc = to_planes(name, hwc, c, (int)im.height, (int)im.width, out);
  png_image_free(&im);
  free(hwc);
  return rc;
}

typedef struct jpeg_err {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
} jpeg_err;

/* libjpeg's default error_exit calls exit(); take the message and jump back. */
static void jpeg_fail(j_common_ptr cinfo) {
  jpeg_err *e = (jpeg_err *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, e->msg);
  longjmp(e->jump, 1);
}

/* Warnings (a corrupt but decodable stream) are failures too: untrusted data is taken only when clean. */
static void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
  }
}

static int decode_jpeg(const char *name, const uint8_t *buf, size_t len, hant_image *out) {
  struct jpeg_decompress_struct cinfo;
  jpeg_err err;
  memset(&cinfo, 0, sizeof(cinfo));
  /* volatile: both are changed between setjmp and a longjmp back. */
  uint8_t *volatile hwc = NULL;
  volatile int rc = 0;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_message;
  err.msg[0] = '\0';
  if (setjmp(err.jump)) {
    if (!rc)
      rc = hant__error(HANT_EFORMAT, "%s: corrupt JPEG (%s)", name, err.msg);
    goto out;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, buf, (unsigned long)len);
  jpeg_read_header(&cinfo, TRUE);
  if ((rc = check_size(name, cinfo.image_width, cinfo.image_height)))
    goto out;
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    rc = hant__error(HANT_ENOTSUP, "%s: CMYK JPEG (expected gray or colour)", name);
    goto out;
  }
  int c = cinfo.num_components == 1 ? 1 : 3;
  cinfo.out_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if ((int)cinfo.output_components != c) {
    rc = hant__error(HANT_EFORMAT, "%s: JPEG decodes to %d components, expected %d", name, cinfo.output_components, c);
    goto out;
  }
  size_t row = (size_t)cinfo.output_width * (size_t)c;
  hwc = malloc(row * cinfo.output_height);
  if (!hwc) {
    rc = hant__error(HANT_ENOMEM, "%s: out of memory for %ux%u pixels", name, cinfo.output_width, cinfo.output_height);
    goto out;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW r = hwc + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_decompress(&cinfo);
  rc = to_planes(name, hwc, c, (int)cinfo.output_height, (int)cinfo.output_width, out);
out:
  jpeg_destroy_decompress(&cinfo);
  free(hwc);
  return rc;
}

int hant_image_decode(const char *name, const uint8_t *buf, size_t len, hant_image *out) {
  memset(out, 0, sizeof(*out));
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (len >= 8 && !memcmp(buf, png_sig, 8))
    return decode_png(name, buf, len, out);
  if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
    return decode_jpeg(name, buf, len, out);
  return hant__error(HANT_EFORMAT, "%s: neither a PNG nor a JPEG file (by its first bytes)", name);
}
