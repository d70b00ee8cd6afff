/* SPDX-License-Identifier: MIT */
/* channels.c: concatenation, slicing and shuffling of channels, forward and backward, on channels-last buffers. */
#include <string.h>

#include "ops.h"

/* Channels last puts one pixel's channels side by side, so every op here
 * is a run of memcpy per pixel; there is nothing to compute. */

void hant_concat_forward(const float *a, int ca, const float *b, int cb, int n, int hw, float *y) {
  size_t px = (size_t)n * hw;
  int c = ca + cb;
  for (size_t p = 0; p < px; p++) {
    memcpy(y + p * c, a + p * ca, sizeof(float) * (size_t)ca);
    memcpy(y + p * c + ca, b + p * cb, sizeof(float) * (size_t)cb);
  }
}

void hant_concat_backward(const float *dy, int ca, int cb, int n, int hw, float *da, float *db) {
  size_t px = (size_t)n * hw;
  int c = ca + cb;
  for (size_t p = 0; p < px; p++) {
    if (da)
      memcpy(da + p * ca, dy + p * c, sizeof(float) * (size_t)ca);
    if (db)
      memcpy(db + p * cb, dy + p * c + ca, sizeof(float) * (size_t)cb);
  }
}

void hant_chslice_forward(const float *x, int c, int first, int cy, int n, int hw, float *y) {
  size_t px = (size_t)n * hw;
  for (size_t p = 0; p < px; p++)
    memcpy(y + p * cy, x + p * c + first, sizeof(float) * (size_t)cy);
}

void hant_chslice_backward(const float *dy, int c, int first, int cy, int n, int hw, float *dx) {
  size_t px = (size_t)n * hw;
  memset(dx, 0, sizeof(float) * px * (size_t)c);
  for (size_t p = 0; p < px; p++)
    memcpy(dx + p * c + first, dy + p * cy, sizeof(float) * (size_t)cy);
}

void hant_shuffle_forward(const float *x, int c, int groups, int n, int hw, float *y) {
  size_t px = (size_t)n * hw;
  int per = c / groups;
  for (size_t p = 0; p < px; p++) {
    const float *xp = x + p * c;
    float *yp = y + p * c;
    for (int i = 0; i < groups; i++)
      for (int j = 0; j < per; j++)
        yp[j * groups + i] = xp[i * per + j];
  }
}

void hant_shuffle_backward(const float *dy, int c, int groups, int n, int hw, float *dx) {
  size_t px = (size_t)n * hw;
  int per = c / groups;
  for (size_t p = 0; p < px; p++) {
    const float *gp = dy + p * c;
    float *dp = dx + p * c;
    for (int i = 0; i < groups; i++)
      for (int j = 0; j < per; j++)
        dp[i * per + j] = gp[j * groups + i];
  }
}
