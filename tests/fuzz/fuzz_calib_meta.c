/* SPDX-License-Identifier: MIT */
/* fuzz_calib_meta.c: fuzz target for the calibration's figures read back from a library's meta (the slot weights and the chance floor's scale): any text gives what a reference parser says, and nothing is written past the room given. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "library.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input is the text of meta calibration_slot_kl_weights and of
 * calibration_floor_scale, as the store hands it out (a C string): a
 * library is a file anyone with access can edit, and hantd loads it. */

enum { MAX_W = 8 };
static long accepted; /* weight lists read */

static void fail(const char *what, const char *text) {
  fprintf(stderr, "fuzz_calib_meta: %s\n--- text ---\n%.400s\n---\n", what, text);
  abort();
}

/* What the weights' text means, token by token: comma-separated numbers,
 * each finite and >= 0, at most max of them; -1 for anything else, 0 for
 * no text. */
static int reference_weights(const char *text, double *w, int max) {
  if (!*text)
    return 0;
  int n = 0;
  const char *p = text;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char *tok = malloc(len + 1), *end;
    if (!tok)
      abort();
    memcpy(tok, p, len);
    tok[len] = '\0';
    double v = strtod(tok, &end);
    bool ok = len > 0 && end == tok + len && isfinite(v) && v >= 0 && n < max;
    free(tok);
    if (!ok)
      return -1;
    w[n++] = v;
    if (!comma)
      return n;
    p = comma + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  for (int max = 1; max <= MAX_W; max += MAX_W - 1) {
    double w[MAX_W + 1], want[MAX_W + 1];
    for (int i = 0; i <= MAX_W; i++)
      w[i] = -7;
    int n = hant_library_slot_weights_parse(text, w, max), m = reference_weights(text, want, max);
    if (n != m)
      fail(n < m ? "weights refused that the reference reads" : "weights read that the reference refuses", text);
    for (int i = 0; i < n; i++)
      if (w[i] != want[i])
        fail("a weight differs from the reference's", text);
    for (int i = max; i <= MAX_W; i++)
      if (w[i] != -7)
        fail("a weight written past the room given", text);
    accepted += n > 0;
  }
  double s = hant_library_floor_scale_parse(text), v;
  char *end;
  v = strtod(text, &end);
  double want = end != text && !*end && v >= 0 && v <= 1 ? v : 0;
  if (!(s >= 0 && s <= 1) || s != want)
    fail("a floor scale outside [0, 1] or not the text's", text);
  free(text);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_calib_meta"
#include "fuzz_driver.h"

static const char *const seeds[] = {
    "0.241322014,0.836676852,1.52355107,1.0151603,1.05133041,0.168638862,0.379722137",
    "0.1",
    "1,2,3",
    "none",
};

static const char *const dict[] = {",", ".", "-", "+", "e", "e-400", "1e308", "nan", "inf", "0x1p-3", " ", "\t",
                                   "0", "1", "0.5", ",,", "none", "9999999999999999999999"};

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 8,
                                    .accepted = &accepted};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
