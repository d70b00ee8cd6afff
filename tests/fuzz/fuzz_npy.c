/* SPDX-License-Identifier: MIT */
/* fuzz_npy.c: fuzz target for the .npy parser: a header it accepts describes exactly the bytes that follow it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hant_npy a;
  int rc = hant_npy_parse("fuzz.npy", data, size, &a);
  if (rc == 0) {
    uint64_t count = 1;
    if (a.ndim < 1 || a.ndim > 4 || (a.item != 1 && a.item != 2 && a.item != 4 && a.item != 8) ||
        (a.type != 'u' && a.type != 'i'))
      abort();
    for (int i = 0; i < a.ndim; i++) {
      if (a.shape[i] < 1)
        abort();
      count *= (uint64_t)a.shape[i];
    }
    /* The payload is the file's tail, exactly. */
    if (a.data < data || a.data + count * (uint64_t)a.item != data + size)
      abort();
    accepted++;
  } else if (!strstr(hant_errmsg(), "fuzz.npy")) {
    fprintf(stderr, "fuzz_npy: a refusal that does not name the file: %s\n", hant_errmsg());
    abort();
  }
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_npy"
#include "fuzz_driver.h"

/* Headers as numpy writes them (padded to 64 bytes with '\n' last), versions 1.0 and 2.0. */
static seed npy(const char *dict_text, int version, size_t payload) {
  size_t pre = version == 1 ? 10 : 12, len = strlen(dict_text), total = (pre + len + 1 + 63) / 64 * 64;
  uint8_t *b = malloc(total + payload);
  if (!b)
    abort();
  memset(b, ' ', total);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (uint8_t)version, b[7] = 0;
  size_t hl = total - pre;
  b[8] = (uint8_t)hl, b[9] = (uint8_t)(hl >> 8);
  if (version != 1)
    b[10] = b[11] = 0;
  memcpy(b + pre, dict_text, len);
  b[total - 1] = '\n';
  for (size_t i = 0; i < payload; i++)
    b[total + i] = (uint8_t)(i * 7);
  return (seed){b, total + payload};
}

static int make_seeds(seed *pool, size_t *n, size_t cap) {
  if (*n + 4 > cap)
    return 0;
  pool[(*n)++] = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4, 5), }", 1, 60);
  pool[(*n)++] = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }", 1, 48);
  pool[(*n)++] = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4, 3), }", 2, 72);
  pool[(*n)++] = npy("{\"descr\": \">u2\", \"fortran_order\": False, \"shape\": (5, 1)}", 1, 10);
  return 0;
}

static const char *const dict[] = {"'descr'", "'fortran_order'", "'shape'", "False", "True", "'|u1'", "'<i8'",
                                   "'<f4'", "(", ")", ",", ":", "{", "}", "99999999999", "\x93NUMPY", "\x02\x00",
                                   "\x03\x00", "\xff\xff"};

static const fuzz_target target = {.make_seeds = make_seeds,
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 8,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
