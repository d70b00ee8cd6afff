/* SPDX-License-Identifier: MIT */
/* pooling.c: max, average and global average pooling, forward and backward. */
#include <float.h>
#include <string.h>

#include "ops.h"

void hant_maxpool_forward(const hant_pool_desc *d, const float *x, int n,
                          int c, int h, int w, float *y, int *idx) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    const float *xp = x + pl * h * w;
    float *yp = y + pl * ho * wo;
    int *ip = idx + pl * ho * wo;
    for (int oh = 0; oh < ho; oh++)
      for (int ow = 0; ow < wo; ow++) {
        float best = -FLT_MAX;
        int arg = -1;
        for (int ki = 0; ki < d->k; ki++) {
          int ih = oh * d->s - d->p + ki;
          if (ih < 0 || ih >= h)
            continue;
          for (int kj = 0; kj < d->k; kj++) {
            int iw = ow * d->s - d->p + kj;
            if (iw < 0 || iw >= w)
              continue;
            float v = xp[ih * w + iw];
            if (arg < 0 || v > best) {
              best = v;
              arg = ih * w + iw;
            }
          }
        }
        yp[oh * wo + ow] = arg < 0 ? 0.0f : best;
        ip[oh * wo + ow] = arg;
      }
  }
}

void hant_maxpool_backward(const hant_pool_desc *d, const float *dy,
                           const int *idx, int n, int c, int h, int w,
                           float *dx) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  memset(dx, 0, sizeof(float) * (size_t)n * c * h * w);
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    const float *gp = dy + pl * ho * wo;
    const int *ip = idx + pl * ho * wo;
    float *dp = dx + pl * h * w;
    for (int j = 0; j < ho * wo; j++)
      if (ip[j] >= 0)
        dp[ip[j]] += gp[j];
  }
}

static int window_count(const hant_pool_desc *d, int oh, int ow, int h, int w) {
  if (d->count_include_pad)
    return d->k * d->k;
  int h0 = oh * d->s - d->p, w0 = ow * d->s - d->p;
  int h1 = h0 + d->k, w1 = w0 + d->k;
  h0 = h0 < 0 ? 0 : h0;
  w0 = w0 < 0 ? 0 : w0;
  h1 = h1 > h ? h : h1;
  w1 = w1 > w ? w : w1;
  int cnt = (h1 - h0) * (w1 - w0);
  return cnt > 0 ? cnt : 1;
}

void hant_avgpool_forward(const hant_pool_desc *d, const float *x, int n,
                          int c, int h, int w, float *y) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    const float *xp = x + pl * h * w;
    float *yp = y + pl * ho * wo;
    for (int oh = 0; oh < ho; oh++)
      for (int ow = 0; ow < wo; ow++) {
        float s = 0.0f;
        for (int ki = 0; ki < d->k; ki++) {
          int ih = oh * d->s - d->p + ki;
          if (ih < 0 || ih >= h)
            continue;
          for (int kj = 0; kj < d->k; kj++) {
            int iw = ow * d->s - d->p + kj;
            if (iw >= 0 && iw < w)
              s += xp[ih * w + iw];
          }
        }
        yp[oh * wo + ow] = s / (float)window_count(d, oh, ow, h, w);
      }
  }
}

void hant_avgpool_backward(const hant_pool_desc *d, const float *dy, int n,
                           int c, int h, int w, float *dx) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  memset(dx, 0, sizeof(float) * (size_t)n * c * h * w);
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    const float *gp = dy + pl * ho * wo;
    float *dp = dx + pl * h * w;
    for (int oh = 0; oh < ho; oh++)
      for (int ow = 0; ow < wo; ow++) {
        float g = gp[oh * wo + ow] / (float)window_count(d, oh, ow, h, w);
        for (int ki = 0; ki < d->k; ki++) {
          int ih = oh * d->s - d->p + ki;
          if (ih < 0 || ih >= h)
            continue;
          for (int kj = 0; kj < d->k; kj++) {
            int iw = ow * d->s - d->p + kj;
            if (iw >= 0 && iw < w)
              dp[ih * w + iw] += g;
          }
        }
      }
  }
}

void hant_gap_forward(const float *x, int n, int c, int hw, float *y) {
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    const float *p = x + pl * hw;
    float s = 0.0f;
    for (int j = 0; j < hw; j++)
      s += p[j];
    y[pl] = s / (float)hw;
  }
}

void hant_gap_backward(const float *dy, int n, int c, int hw, float *dx) {
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    float g = dy[pl] / (float)hw;
    float *p = dx + pl * hw;
    for (int j = 0; j < hw; j++)
      p[j] = g;
  }
}
