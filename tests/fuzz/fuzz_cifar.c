/* SPDX-License-Identifier: MIT */
/* fuzz_cifar.c: fuzz target for the CIFAR-10 batch reader: accepted bytes are whole records with labels 0-9, read back exactly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long accepted;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hant_dataset ds = {0};
  /* Twice into the same set, as the five training batches are. */
  int rc = hant_cifar_parse("fuzz.bin", data, size, &ds);
  if (!rc)
    rc = hant_cifar_parse("fuzz.bin", data, size, &ds);
  if (rc == 0) {
    size_t n = size / 3073;
    if (size % 3073 || ds.n != (int)(2 * n) || ds.c != 3 || ds.h != 32 || ds.w != 32 || ds.classes != 10)
      abort();
    for (size_t i = 0; i < 2 * n; i++)
      if (ds.labels[i] != data[(i % n) * 3073] || ds.labels[i] > 9 ||
          memcmp(ds.images + i * 3072, data + (i % n) * 3073 + 1, 3072))
        abort();
    accepted++;
  } else if (!strstr(hant_errmsg(), "fuzz.bin")) {
    fprintf(stderr, "fuzz_cifar: a refusal that does not name the file: %s\n", hant_errmsg());
    abort();
  }
  hant_dataset_free(&ds);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_cifar"
#include "fuzz_driver.h"

static int make_seeds(seed *pool, size_t *n, size_t cap) {
  for (int k = 1; k <= 3 && *n < cap; k++) {
    size_t len = (size_t)k * 3073;
    uint8_t *b = malloc(len);
    if (!b)
      return 1;
    for (size_t i = 0; i < len; i++)
      b[i] = i % 3073 == 0 ? (uint8_t)(i / 3073 * 3 % 10) : (uint8_t)(i * 11);
    pool[(*n)++] = (seed){b, len};
  }
  return 0;
}

static const char *const dict[] = {"\x09", "\x0a", "\xff", "\x00"};

static const fuzz_target target = {.make_seeds = make_seeds,
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 0,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
