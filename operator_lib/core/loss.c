/* SPDX-License-Identifier: MIT */
/* loss.c: cross-entropy, feature-map MSE and temperature-scaled distillation losses. */
#include <math.h>
#include <stdlib.h>

#include "ops.h"

/* p = softmax(z / t) for one row, computed stably; returns log-sum-exp of z/t. */
static double softmax_row(const float *z, int k, float t, float *p) {
  float mx = z[0];
  for (int j = 1; j < k; j++)
    mx = z[j] > mx ? z[j] : mx;
  double s = 0.0;
  for (int j = 0; j < k; j++) {
    p[j] = expf((z[j] - mx) / t);
    s += p[j];
  }
  for (int j = 0; j < k; j++)
    p[j] = (float)(p[j] / s);
  return mx / t + log(s);
}

float hant_loss_xent(const float *logits, const int *labels, int n, int k,
                     float smoothing, float *dlogits) {
  double total = 0.0;
  float off = smoothing / (float)k, on = 1.0f - smoothing + off;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;
    float *g = dlogits + (size_t)i * k;
    double lse = softmax_row(z, k, 1.0f, g);
    double l = 0.0;
    for (int j = 0; j < k; j++) {
      float q = j == labels[i] ? on : off;
      if (q > 0.0f)
        l -= q * (z[j] - lse);
      g[j] = (g[j] - q) / (float)n;
    }
    total += l;
  }
  return (float)(total / n);
}

/* Eight running sums rather than one, so that the loop vectorises: a
 * single double sum is a chain of dependent additions, and it made this
 * loss 7% of a library build's CPU time. The gradient does not depend on
 * the order; the loss moves in its last bits. */
float hant_loss_mse(const float *y, const float *t, size_t count, float *dy) {
  enum { LANES = 8 };
  double part[LANES] = {0};
  float scale = 2.0f / (float)count;
  size_t body = count - count % LANES;
  for (size_t i = 0; i < body; i += LANES)
    for (int j = 0; j < LANES; j++) {
      float d = y[i + j] - t[i + j];
      part[j] += (double)d * d;
    }
  for (size_t i = body; i < count; i++) {
    float d = y[i] - t[i];
    part[i - body] += (double)d * d;
  }
  if (dy)
    for (size_t i = 0; i < count; i++)
      dy[i] = scale * (y[i] - t[i]);
  double s = 0.0;
  for (int j = 0; j < LANES; j++)
    s += part[j];
  return (float)(s / (double)count);
}

float hant_loss_kd(const float *student, const float *teacher, int n, int k,
                   float temperature, float *dstudent) {
  double total = 0.0;
  float t = temperature;
  float small[256];
  float *pt = k <= 256 ? small : malloc(sizeof(float) * (size_t)k);
  if (!pt)
    return NAN;
  for (int i = 0; i < n; i++) {
    const float *zs = student + (size_t)i * k, *zt = teacher + (size_t)i * k;
    float *g = dstudent + (size_t)i * k;
    double lse_s = softmax_row(zs, k, t, g);
    double lse_t = softmax_row(zt, k, t, pt);
    double kl = 0.0;
    for (int j = 0; j < k; j++) {
      if (pt[j] > 0.0f) {
        double log_pt = zt[j] / t - lse_t, log_ps = zs[j] / t - lse_s;
        kl += pt[j] * (log_pt - log_ps);
      }
      /* d/dzs of T^2 * KL = T * (ps - pt) */
      g[j] = t * (g[j] - pt[j]) / (float)n;
    }
    total += kl * t * t;
  }
  if (pt != small)
    free(pt);
  return (float)(total / n);
}

/* log sum exp of a row, shifted by its maximum so that no term overflows. */
static double logsumexp_row(const float *z, int k) {
  double m = z[0];
  for (int j = 1; j < k; j++)
    m = z[j] > m ? z[j] : m;
  double sum = 0.0;
  for (int j = 0; j < k; j++)
    sum += exp(z[j] - m);
  return m + log(sum);
}

double hant_kl_logits(const float *teacher, const float *student, int k) {
  double lt = logsumexp_row(teacher, k), ls = logsumexp_row(student, k), kl = 0.0;
  for (int j = 0; j < k; j++) {
    double log_pt = teacher[j] - lt;
    kl += exp(log_pt) * (log_pt - (student[j] - ls));
  }
  /* Rounding can leave a hair below zero for equal rows. */
  return kl > 0.0 ? kl : 0.0;
}
