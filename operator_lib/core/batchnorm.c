/* SPDX-License-Identifier: MIT */
/* batchnorm.c: batch normalisation over N, H, W per channel, its backward, and folding into convs. */
#include <math.h>

#include "ops.h"

void hant_bn_forward_train(const float *x, int n, int c, int hw,
                           const float *gamma, const float *beta,
                           float *run_mean, float *run_var, float momentum,
                           float eps, float *y, float *save_mean,
                           float *save_invstd) {
  double count = (double)n * hw;
  for (int ch = 0; ch < c; ch++) {
    /* Two passes in double: one-pass formulas lose precision on
     * activations with a large mean. */
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
      const float *p = x + ((size_t)i * c + ch) * hw;
      float s = 0.0f;
      for (int j = 0; j < hw; j++)
        s += p[j];
      sum += s;
    }
    double mean = sum / count, sq = 0.0;
    for (int i = 0; i < n; i++) {
      const float *p = x + ((size_t)i * c + ch) * hw;
      float s = 0.0f, m = (float)mean;
      for (int j = 0; j < hw; j++) {
        float dv = p[j] - m;
        s += dv * dv;
      }
      sq += s;
    }
    double var = sq / count;
    float invstd = (float)(1.0 / sqrt(var + eps));
    save_mean[ch] = (float)mean;
    save_invstd[ch] = invstd;
    if (run_mean) {
      double unbiased = count > 1 ? var * count / (count - 1) : var;
      run_mean[ch] = (1.0f - momentum) * run_mean[ch] + momentum * (float)mean;
      run_var[ch] = (1.0f - momentum) * run_var[ch] + momentum * (float)unbiased;
    }
    float scale = gamma[ch] * invstd, shift = beta[ch] - (float)mean * scale;
    for (int i = 0; i < n; i++) {
      const float *p = x + ((size_t)i * c + ch) * hw;
      float *q = y + ((size_t)i * c + ch) * hw;
      for (int j = 0; j < hw; j++)
        q[j] = p[j] * scale + shift;
    }
  }
}

void hant_bn_forward_eval(const float *x, int n, int c, int hw,
                          const float *gamma, const float *beta,
                          const float *run_mean, const float *run_var,
                          float eps, float *y) {
  for (int ch = 0; ch < c; ch++) {
    float scale = gamma[ch] / sqrtf(run_var[ch] + eps);
    float shift = beta[ch] - run_mean[ch] * scale;
    for (int i = 0; i < n; i++) {
      const float *p = x + ((size_t)i * c + ch) * hw;
      float *q = y + ((size_t)i * c + ch) * hw;
      for (int j = 0; j < hw; j++)
        q[j] = p[j] * scale + shift;
    }
  }
}

void hant_bn_backward(const float *x, const float *dy, int n, int c, int hw,
                      const float *gamma, const float *save_mean,
                      const float *save_invstd, float *dx, float *dgamma,
                      float *dbeta) {
  float count = (float)n * (float)hw;
  for (int ch = 0; ch < c; ch++) {
    float mean = save_mean[ch], invstd = save_invstd[ch];
    double sdy = 0.0, sdyxh = 0.0;
    for (int i = 0; i < n; i++) {
      const float *p = x + ((size_t)i * c + ch) * hw;
      const float *g = dy + ((size_t)i * c + ch) * hw;
      float a = 0.0f, b = 0.0f;
      for (int j = 0; j < hw; j++) {
        a += g[j];
        b += g[j] * (p[j] - mean);
      }
      sdy += a;
      sdyxh += b;
    }
    sdyxh *= invstd;
    dgamma[ch] += (float)sdyxh;
    dbeta[ch] += (float)sdy;
    if (!dx)
      continue;
    /* dx = gamma*invstd/N * (N*dy - sum(dy) - xhat*sum(dy*xhat)) */
    float k = gamma[ch] * invstd / count;
    float mdy = (float)sdy, mxh = (float)sdyxh;
    for (int i = 0; i < n; i++) {
      const float *p = x + ((size_t)i * c + ch) * hw;
      const float *g = dy + ((size_t)i * c + ch) * hw;
      float *q = dx + ((size_t)i * c + ch) * hw;
      for (int j = 0; j < hw; j++) {
        float xh = (p[j] - mean) * invstd;
        q[j] = k * (count * g[j] - mdy - xh * mxh);
      }
    }
  }
}

void hant_bn_fold(int k, int per_k, float *w, float *b, const float *gamma,
                  const float *beta, const float *run_mean,
                  const float *run_var, float eps) {
  for (int i = 0; i < k; i++) {
    float scale = gamma[i] / sqrtf(run_var[i] + eps);
    for (int j = 0; j < per_k; j++)
      w[(size_t)i * per_k + j] *= scale;
    b[i] = (b[i] - run_mean[i]) * scale + beta[i];
  }
}
