/* SPDX-License-Identifier: MIT */
/* test_util.h: a minimal test harness: named checks, counts, and a closing line ctest and CI read. */
#ifndef HANT_TEST_UTIL_H
#define HANT_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int t_pass, t_fail;

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (cond) {                                                              \
      t_pass++;                                                              \
    } else {                                                                 \
      t_fail++;                                                              \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
      fprintf(stderr, __VA_ARGS__);                                          \
      fputc('\n', stderr);                                                   \
    }                                                                        \
  } while (0)

static inline int t_close(bool a, bool b) { return a == b; }

static inline bool t_near(double a, double b, double atol, double rtol) {
  return fabs(a - b) <= atol + rtol * fmax(fabs(a), fabs(b));
}

/* Largest |got - ref| over the largest |ref|: a difference relative to the
 * tensor's scale (NaN in got counts as the largest). */
static inline double t_rel_diff(const float *got, const float *ref, size_t n) {
  double md = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= md))
      md = d;
    scale = fmax(scale, fabs(ref[i]));
  }
  return md / (scale > 1e-12 ? scale : 1e-12);
}

static inline int test_summary(const char *name) {
  printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
  return t_fail ? 1 : 0;
}

#endif
