/* SPDX-License-Identifier: MIT */
/* ops_ref.c: hant's hand-written operator kernels, kept as the reference the oneDNN-backed library is tested against. */
#include "ops_ref.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- convolution: im2col + GEMM over batches of samples, direct depthwise */

/* Bound on the im2col buffer, in floats. Large enough that GEMMs stay
 * efficient, small enough to stay in the last-level cache on small nets. */
#define COL_LIMIT_FLOATS ((size_t)4 << 20)

static bool is_depthwise(const hant_conv_desc *d) {
  return d->groups == d->c_in && d->groups == d->c_out && d->groups > 1;
}

/* First and last output column whose input column ow*s - p + kj is inside [0, w). */
static inline void valid_range(int kj, int s, int p, int w, int wo, int *lo, int *hi) {
  int a = p - kj; /* need ow*s >= a */
  int l = a <= 0 ? 0 : (a + s - 1) / s;
  int b = w - 1 + p - kj; /* need ow*s <= b */
  int r = b < 0 ? -1 : b / s;
  if (r > wo - 1)
    r = wo - 1;
  *lo = l;
  *hi = r;
}

/* col[(c*kh + ki)*kw + kj, s*hwo + oh*wo + ow] = x[n0+s, c0+c, ih, iw] or 0 */
static void im2col(const hant_conv_desc *d, const float *x, int h, int w, int ho,
                   int wo, int n0, int nb, int c0, int cg, float *col) {
  size_t hwo = (size_t)ho * wo, ld = (size_t)nb * hwo;
  for (int c = 0; c < cg; c++)
    for (int ki = 0; ki < d->kh; ki++)
      for (int kj = 0; kj < d->kw; kj++) {
        float *row = col + ((size_t)(c * d->kh + ki) * d->kw + kj) * ld;
        int lo, hi;
        valid_range(kj, d->sw, d->pw, w, wo, &lo, &hi);
        for (int s = 0; s < nb; s++) {
          const float *plane = x + ((size_t)(n0 + s) * d->c_in + c0 + c) * h * w;
          float *dst = row + (size_t)s * hwo;
          for (int oh = 0; oh < ho; oh++, dst += wo) {
            int ih = oh * d->sh - d->ph + ki;
            if (ih < 0 || ih >= h || lo > hi) {
              memset(dst, 0, sizeof(float) * wo);
              continue;
            }
            const float *src = plane + (size_t)ih * w - d->pw + kj;
            for (int ow = 0; ow < lo; ow++)
              dst[ow] = 0.0f;
            if (d->sw == 1)
              memcpy(dst + lo, src + lo, sizeof(float) * (hi - lo + 1));
            else
              for (int ow = lo; ow <= hi; ow++)
                dst[ow] = src[ow * d->sw];
            for (int ow = hi + 1; ow < wo; ow++)
              dst[ow] = 0.0f;
          }
        }
      }
}

/* The adjoint of im2col: dx += scatter(dcol). */
static void col2im(const hant_conv_desc *d, const float *col, int h, int w, int ho,
                   int wo, int n0, int nb, int c0, int cg, float *dx) {
  size_t hwo = (size_t)ho * wo, ld = (size_t)nb * hwo;
  for (int c = 0; c < cg; c++)
    for (int ki = 0; ki < d->kh; ki++)
      for (int kj = 0; kj < d->kw; kj++) {
        const float *row = col + ((size_t)(c * d->kh + ki) * d->kw + kj) * ld;
        int lo, hi;
        valid_range(kj, d->sw, d->pw, w, wo, &lo, &hi);
        if (lo > hi)
          continue;
        for (int s = 0; s < nb; s++) {
          float *plane = dx + ((size_t)(n0 + s) * d->c_in + c0 + c) * h * w;
          const float *src = row + (size_t)s * hwo;
          for (int oh = 0; oh < ho; oh++, src += wo) {
            int ih = oh * d->sh - d->ph + ki;
            if (ih < 0 || ih >= h)
              continue;
            float *dst = plane + (size_t)ih * w - d->pw + kj;
            if (d->sw == 1)
              for (int ow = lo; ow <= hi; ow++)
                dst[ow] += src[ow];
            else
              for (int ow = lo; ow <= hi; ow++)
                dst[ow * d->sw] += src[ow];
          }
        }
      }
}

static int chunk_samples(size_t rows, size_t hwo, int n) {
  size_t per = rows * hwo;
  size_t nb = per ? COL_LIMIT_FLOATS / per : (size_t)n;
  if (nb < 1)
    nb = 1;
  if (nb > (size_t)n)
    nb = (size_t)n;
  return (int)nb;
}

static void dw_forward(const hant_conv_desc *d, const float *x, int n, int h, int w,
                       const float *wt, const float *bias, float *y) {
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  for (int i = 0; i < n; i++)
    for (int c = 0; c < d->c_in; c++) {
      const float *xp = x + ((size_t)i * d->c_in + c) * h * w;
      float *yp = y + ((size_t)i * d->c_out + c) * ho * wo;
      const float *k = wt + (size_t)c * d->kh * d->kw;
      float b = bias ? bias[c] : 0.0f;
      for (size_t j = 0; j < (size_t)ho * wo; j++)
        yp[j] = b;
      for (int oh = 0; oh < ho; oh++) {
        float *yr = yp + (size_t)oh * wo;
        for (int ki = 0; ki < d->kh; ki++) {
          int ih = oh * d->sh - d->ph + ki;
          if (ih < 0 || ih >= h)
            continue;
          const float *xr = xp + (size_t)ih * w;
          for (int kj = 0; kj < d->kw; kj++) {
            int lo, hi;
            valid_range(kj, d->sw, d->pw, w, wo, &lo, &hi);
            float kv = k[ki * d->kw + kj];
            const float *xs = xr - d->pw + kj;
            if (d->sw == 1)
              for (int ow = lo; ow <= hi; ow++)
                yr[ow] += kv * xs[ow];
            else
              for (int ow = lo; ow <= hi; ow++)
                yr[ow] += kv * xs[ow * d->sw];
          }
        }
      }
    }
}

static void dw_backward(const hant_conv_desc *d, const float *x, int n, int h, int w,
                        const float *wt, const float *dy, float *dx, float *dwt,
                        float *db) {
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  for (int i = 0; i < n; i++)
    for (int c = 0; c < d->c_in; c++) {
      const float *xp = x + ((size_t)i * d->c_in + c) * h * w;
      const float *gp = dy + ((size_t)i * d->c_out + c) * ho * wo;
      float *dxp = dx ? dx + ((size_t)i * d->c_in + c) * h * w : NULL;
      const float *k = wt + (size_t)c * d->kh * d->kw;
      float *dk = dwt + (size_t)c * d->kh * d->kw;
      if (db) {
        float s = 0.0f;
        for (size_t j = 0; j < (size_t)ho * wo; j++)
          s += gp[j];
        db[c] += s;
      }
      for (int oh = 0; oh < ho; oh++) {
        const float *gr = gp + (size_t)oh * wo;
        for (int ki = 0; ki < d->kh; ki++) {
          int ih = oh * d->sh - d->ph + ki;
          if (ih < 0 || ih >= h)
            continue;
          const float *xr = xp + (size_t)ih * w - d->pw;
          float *dxr = dxp ? dxp + (size_t)ih * w - d->pw : NULL;
          for (int kj = 0; kj < d->kw; kj++) {
            int lo, hi;
            valid_range(kj, d->sw, d->pw, w, wo, &lo, &hi);
            float kv = k[ki * d->kw + kj], acc = 0.0f;
            for (int ow = lo; ow <= hi; ow++)
              acc += gr[ow] * xr[ow * d->sw + kj];
            dk[ki * d->kw + kj] += acc;
            if (dxr)
              for (int ow = lo; ow <= hi; ow++)
                dxr[ow * d->sw + kj] += kv * gr[ow];
          }
        }
      }
    }
}

int ref_conv_forward(const hant_conv_desc *d, const float *x, int n, int h,
                      int w, const float *wt, const float *bias, float *y,
                      hant_arena *scratch) {
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  if (is_depthwise(d)) {
    dw_forward(d, x, n, h, w, wt, bias, y);
    return 0;
  }
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  size_t hwo = (size_t)ho * wo, ckk = (size_t)cg * d->kh * d->kw;
  bool pointwise = d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 &&
                   d->ph == 0 && d->pw == 0;
  int nb = chunk_samples(ckk, hwo, n);
  float *col = hant_arena_floats(scratch, ckk * nb * hwo);
  float *out = nb > 1 ? hant_arena_floats(scratch, (size_t)kg * nb * hwo) : NULL;
  if (!col || (nb > 1 && !out))
    return hant__error(HANT_ENOMEM, "conv: no memory for a %zux%zu im2col buffer", ckk, (size_t)nb * hwo);
  for (int n0 = 0; n0 < n; n0 += nb) {
    int nbb = n - n0 < nb ? n - n0 : nb;
    size_t ld = (size_t)nbb * hwo;
    for (int g = 0; g < d->groups; g++) {
      const float *b;
      if (pointwise && nbb == 1) {
        b = x + ((size_t)n0 * d->c_in + (size_t)g * cg) * hwo;
      } else {
        im2col(d, x, h, w, ho, wo, n0, nbb, g * cg, cg, col);
        b = col;
      }
      const float *wg = wt + (size_t)g * kg * ckk;
      if (nbb == 1) {
        float *yg = y + ((size_t)n0 * d->c_out + (size_t)g * kg) * hwo;
        hant_gemm(false, false, kg, (int)hwo, (int)ckk, 1.0f, wg, (int)ckk, b, (int)hwo, 0.0f, yg, (int)hwo);
        if (bias)
          for (int k = 0; k < kg; k++) {
            float bv = bias[g * kg + k];
            float *yr = yg + (size_t)k * hwo;
            for (size_t j = 0; j < hwo; j++)
              yr[j] += bv;
          }
        continue;
      }
      hant_gemm(false, false, kg, (int)ld, (int)ckk, 1.0f, wg, (int)ckk, b, (int)ld, 0.0f, out, (int)ld);
      for (int s = 0; s < nbb; s++)
        for (int k = 0; k < kg; k++) {
          const float *src = out + (size_t)k * ld + (size_t)s * hwo;
          float *dst = y + ((size_t)(n0 + s) * d->c_out + (size_t)g * kg + k) * hwo;
          float bv = bias ? bias[g * kg + k] : 0.0f;
          for (size_t j = 0; j < hwo; j++)
            dst[j] = src[j] + bv;
        }
    }
  }
  return 0;
}

int ref_conv_backward(const hant_conv_desc *d, const float *x, int n, int h,
                       int w, const float *wt, const float *dy, float *dx,
                       float *dwt, float *db, hant_arena *scratch) {
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  if (dx)
    memset(dx, 0, sizeof(float) * (size_t)n * d->c_in * h * w);
  if (is_depthwise(d)) {
    dw_backward(d, x, n, h, w, wt, dy, dx, dwt, db);
    return 0;
  }
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  size_t hwo = (size_t)ho * wo, ckk = (size_t)cg * d->kh * d->kw;
  if (db)
    for (int i = 0; i < n; i++)
      for (int k = 0; k < d->c_out; k++) {
        const float *g = dy + ((size_t)i * d->c_out + k) * hwo;
        float s = 0.0f;
        for (size_t j = 0; j < hwo; j++)
          s += g[j];
        db[k] += s;
      }
  int nb = chunk_samples(ckk, hwo, n);
  float *col = hant_arena_floats(scratch, ckk * nb * hwo);
  float *dcol = dx ? hant_arena_floats(scratch, ckk * nb * hwo) : NULL;
  float *dyt = nb > 1 ? hant_arena_floats(scratch, (size_t)kg * nb * hwo) : NULL;
  if (!col || (dx && !dcol) || (nb > 1 && !dyt))
    return hant__error(HANT_ENOMEM, "conv backward: no memory for scratch buffers");
  for (int n0 = 0; n0 < n; n0 += nb) {
    int nbb = n - n0 < nb ? n - n0 : nb;
    size_t ld = (size_t)nbb * hwo;
    for (int g = 0; g < d->groups; g++) {
      const float *gy;
      if (nbb == 1) {
        gy = dy + ((size_t)n0 * d->c_out + (size_t)g * kg) * hwo;
      } else {
        for (int s = 0; s < nbb; s++)
          for (int k = 0; k < kg; k++)
            memcpy(dyt + (size_t)k * ld + (size_t)s * hwo,
                   dy + ((size_t)(n0 + s) * d->c_out + (size_t)g * kg + k) * hwo,
                   sizeof(float) * hwo);
        gy = dyt;
      }
      im2col(d, x, h, w, ho, wo, n0, nbb, g * cg, cg, col);
      const float *wg = wt + (size_t)g * kg * ckk;
      hant_gemm(false, true, kg, (int)ckk, (int)ld, 1.0f, gy, (int)ld, col, (int)ld, 1.0f,
                dwt + (size_t)g * kg * ckk, (int)ckk);
      if (dx) {
        hant_gemm(true, false, (int)ckk, (int)ld, kg, 1.0f, wg, (int)ckk, gy, (int)ld, 0.0f, dcol, (int)ld);
        col2im(d, dcol, h, w, ho, wo, n0, nbb, g * cg, cg, dx);
      }
    }
  }
  return 0;
}

/* ---- batch norm: two passes in double per channel ----------------------- */

void ref_bn_forward_train(const float *x, int n, int c, int hw,
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

void ref_bn_forward_eval(const float *x, int n, int c, int hw,
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

void ref_bn_backward(const float *x, const float *dy, int n, int c, int hw,
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

/* ---- activations -------------------------------------------------------- */

void ref_act_forward(hant_act a, const float *x, float *y, size_t n) {
  switch (a) {
  case HANT_ACT_NONE:
    if (y != x)
      memmove(y, x, n * sizeof(float));
    break;
  case HANT_ACT_RELU:
    for (size_t i = 0; i < n; i++)
      y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    break;
  case HANT_ACT_RELU6:
    for (size_t i = 0; i < n; i++) {
      float v = x[i] > 0.0f ? x[i] : 0.0f;
      y[i] = v < 6.0f ? v : 6.0f;
    }
    break;
  case HANT_ACT_HSWISH: /* x * relu6(x + 3) / 6 */
    for (size_t i = 0; i < n; i++) {
      float v = x[i] + 3.0f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 6.0f ? v : 6.0f;
      y[i] = x[i] * v * (1.0f / 6.0f);
    }
    break;
  case HANT_ACT_SIGMOID: /* in double: the reference must not share float's rounding */
    for (size_t i = 0; i < n; i++)
      y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    break;
  case HANT_ACT_SILU:
    for (size_t i = 0; i < n; i++)
      y[i] = (float)((double)x[i] / (1.0 + exp(-(double)x[i])));
    break;
  case HANT_ACT_HSIGMOID: /* relu6(x + 3) / 6 */
    for (size_t i = 0; i < n; i++) {
      float v = x[i] + 3.0f;
      v = v > 0.0f ? v : 0.0f;
      v = v < 6.0f ? v : 6.0f;
      y[i] = v / 6.0f;
    }
    break;
  case HANT_ACT_COUNT:
    break;
  }
}

void ref_act_backward(hant_act a, const float *x, const float *dy, float *dx,
                       size_t n) {
  switch (a) {
  case HANT_ACT_NONE:
    if (dx != dy)
      memmove(dx, dy, n * sizeof(float));
    break;
  case HANT_ACT_RELU:
    for (size_t i = 0; i < n; i++)
      dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    break;
  case HANT_ACT_RELU6:
    for (size_t i = 0; i < n; i++)
      dx[i] = (x[i] > 0.0f && x[i] < 6.0f) ? dy[i] : 0.0f;
    break;
  case HANT_ACT_HSWISH: /* d/dx: 0 below -3, 1 above 3, (2x + 3)/6 between */
    for (size_t i = 0; i < n; i++) {
      float v = x[i];
      float g = v <= -3.0f ? 0.0f : v >= 3.0f ? 1.0f : (2.0f * v + 3.0f) * (1.0f / 6.0f);
      dx[i] = dy[i] * g;
    }
    break;
  case HANT_ACT_SIGMOID: /* s (1 - s) */
    for (size_t i = 0; i < n; i++) {
      double sg = 1.0 / (1.0 + exp(-(double)x[i]));
      dx[i] = (float)(dy[i] * sg * (1.0 - sg));
    }
    break;
  case HANT_ACT_SILU: /* s + x s (1 - s) */
    for (size_t i = 0; i < n; i++) {
      double v = x[i], sg = 1.0 / (1.0 + exp(-v));
      dx[i] = (float)(dy[i] * (sg + v * sg * (1.0 - sg)));
    }
    break;
  case HANT_ACT_HSIGMOID: /* 1/6 strictly inside (-3, 3), 0 outside */
    for (size_t i = 0; i < n; i++)
      dx[i] = x[i] > -3.0f && x[i] < 3.0f ? dy[i] / 6.0f : 0.0f;
    break;
  case HANT_ACT_COUNT:
    break;
  }
}

/* ---- pooling ------------------------------------------------------------ */

void ref_maxpool_forward(const hant_pool_desc *d, const float *x, int n,
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

void ref_maxpool_backward(const hant_pool_desc *d, const float *dy,
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

void ref_avgpool_forward(const hant_pool_desc *d, const float *x, int n,
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

void ref_avgpool_backward(const hant_pool_desc *d, const float *dy, int n,
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

void ref_gap_forward(const float *x, int n, int c, int hw, float *y) {
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    const float *p = x + pl * hw;
    float s = 0.0f;
    for (int j = 0; j < hw; j++)
      s += p[j];
    y[pl] = s / (float)hw;
  }
}

void ref_gap_backward(const float *dy, int n, int c, int hw, float *dx) {
  for (size_t pl = 0; pl < (size_t)n * c; pl++) {
    float g = dy[pl] / (float)hw;
    float *p = dx + pl * hw;
    for (int j = 0; j < hw; j++)
      p[j] = g;
  }
}

/* ---- linear: one GEMM each way -------------------------------------------- */

void ref_linear_forward(const float *x, int n, int in, int out,
                         const float *w, const float *b, float *y) {
  hant_gemm(false, true, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (b)
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++)
        y[(size_t)i * out + o] += b[o];
}

void ref_linear_backward(const float *x, const float *dy, int n, int in,
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

void ref_concat_forward(const float *a, int ca, const float *b, int cb, int n, int hw, float *y) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < ca + cb; c++)
      for (int s = 0; s < hw; s++)
        y[((size_t)i * (ca + cb) + c) * hw + s] =
            c < ca ? a[((size_t)i * ca + c) * hw + s] : b[((size_t)i * cb + c - ca) * hw + s];
}

void ref_concat_backward(const float *dy, int ca, int cb, int n, int hw, float *da, float *db) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < ca + cb; c++)
      for (int s = 0; s < hw; s++) {
        float g = dy[((size_t)i * (ca + cb) + c) * hw + s];
        if (c < ca && da)
          da[((size_t)i * ca + c) * hw + s] = g;
        else if (c >= ca && db)
          db[((size_t)i * cb + c - ca) * hw + s] = g;
      }
}

void ref_chslice_forward(const float *x, int c, int first, int cy, int n, int hw, float *y) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < cy; k++)
      for (int s = 0; s < hw; s++)
        y[((size_t)i * cy + k) * hw + s] = x[((size_t)i * c + first + k) * hw + s];
}

void ref_chslice_backward(const float *dy, int c, int first, int cy, int n, int hw, float *dx) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < c; k++)
      for (int s = 0; s < hw; s++)
        dx[((size_t)i * c + k) * hw + s] = k >= first && k < first + cy ? dy[((size_t)i * cy + k - first) * hw + s] : 0;
}

/* Element (i, g, j, s) of the [N, G, C/G, HW] view goes to (i, j, g, s) of
 * the transposed [N, C/G, G, HW], whose flat channel is j*G + g. */
void ref_shuffle_forward(const float *x, int c, int groups, int n, int hw, float *y) {
  int per = c / groups;
  for (int i = 0; i < n; i++)
    for (int g = 0; g < groups; g++)
      for (int j = 0; j < per; j++)
        for (int s = 0; s < hw; s++)
          y[(((size_t)i * per + j) * groups + g) * hw + s] = x[(((size_t)i * groups + g) * per + j) * hw + s];
}

void ref_shuffle_backward(const float *dy, int c, int groups, int n, int hw, float *dx) {
  int per = c / groups;
  for (int i = 0; i < n; i++)
    for (int g = 0; g < groups; g++)
      for (int j = 0; j < per; j++)
        for (int s = 0; s < hw; s++)
          dx[(((size_t)i * groups + g) * per + j) * hw + s] = dy[(((size_t)i * per + j) * groups + g) * hw + s];
}

/* ---- multiply with broadcast (squeeze-and-excitation) ------------------- */

void ref_mul_forward(const float *a, const float *b, int n, int c, int hw, int bhw, float *y) {
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int k = 0; k < hw; k++) {
        size_t ia = ((size_t)i * c + ch) * hw + k, ib = ((size_t)i * c + ch) * bhw + (bhw == 1 ? 0 : k);
        y[ia] = a[ia] * b[ib];
      }
}

void ref_mul_backward(const float *a, const float *b, const float *dy, int n, int c, int hw, int bhw, float *da,
                      float *db) {
  if (db)
    memset(db, 0, sizeof(float) * (size_t)n * c * bhw);
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int k = 0; k < hw; k++) {
        size_t ia = ((size_t)i * c + ch) * hw + k, ib = ((size_t)i * c + ch) * bhw + (bhw == 1 ? 0 : k);
        if (da)
          da[ia] = dy[ia] * b[ib];
        if (db)
          db[ib] += dy[ia] * a[ia];
      }
}
