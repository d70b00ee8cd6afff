/* SPDX-License-Identifier: MIT */
/* linear.c: fully connected layers as one GEMM each way. */
#include "gemm.h"
#include "ops.h"

void hant_linear_forward(const float *x, int n, int in, int out,
                         const float *w, const float *b, float *y) {
  hant_gemm(false, true, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (b)
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++)
        y[(size_t)i * out + o] += b[o];
}

void hant_linear_backward(const float *x, const float *dy, int n, int in,
                          int out, const float *w, float *dx, float *dw,
                          float *db) {
  hant_gemm(true, false, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
  if (db)
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++)
        db[o] += dy[(size_t)i * out + o];
  if (dx)
    hant_gemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}
