/* SPDX-License-Identifier: MIT */
/* test_conv_naive.c: hant_conv_forward/backward against a direct double-precision convolution and the reference kernel on odd shapes, and the int8 convolution against exact int64 sums. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "ops.h"
#include "oracle/net_ref.h"
#include "oracle/ops_ref.h"
#include "qconv_direct.h"
#include "qops.h"
#include "rng.h"
#include "test_util.h"

typedef struct conv_case {
  const char *what;
  hant_conv_desc d;
  int n, h, w;
} conv_case;

static void fill_normal(hant_rng *rng, float *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = hant_rng_normal(rng);
}

/* y: [N, K, H', W'] = b + sum over the group's channels and taps, in double;
 * activations channels last, as ops.h has them. */
static void naive_forward(const hant_conv_desc *d, const float *x, int n, int h, int w, const float *wt,
                          const float *bias, double *y) {
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < d->c_out; k++) {
      int c0 = (k / kg) * cg;
      for (int oh = 0; oh < ho; oh++)
        for (int ow = 0; ow < wo; ow++) {
          double s = bias ? bias[k] : 0.0;
          for (int c = 0; c < cg; c++)
            for (int ki = 0; ki < d->kh; ki++) {
              int ih = oh * d->sh - d->ph + ki;
              if (ih < 0 || ih >= h)
                continue;
              for (int kj = 0; kj < d->kw; kj++) {
                int iw = ow * d->sw - d->pw + kj;
                if (iw < 0 || iw >= w)
                  continue;
                double xv = x[(((size_t)i * h + ih) * w + iw) * d->c_in + c0 + c];
                double wv = wt[(((size_t)k * cg + c) * d->kh + ki) * d->kw + kj];
                s += xv * wv;
              }
            }
          y[(((size_t)i * ho + oh) * wo + ow) * d->c_out + k] = s;
        }
    }
}

/* The adjoints of naive_forward: dx = W^T dy (scattered), dw = dy x^T, db = sum dy. */
static void naive_backward(const hant_conv_desc *d, const float *x, int n, int h, int w, const float *wt,
                           const float *dy, double *dx, double *dw, double *db) {
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  memset(dx, 0, sizeof(double) * (size_t)n * d->c_in * h * w);
  memset(dw, 0, sizeof(double) * (size_t)d->c_out * cg * d->kh * d->kw);
  memset(db, 0, sizeof(double) * (size_t)d->c_out);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < d->c_out; k++) {
      int c0 = (k / kg) * cg;
      for (int oh = 0; oh < ho; oh++)
        for (int ow = 0; ow < wo; ow++) {
          double g = dy[(((size_t)i * ho + oh) * wo + ow) * d->c_out + k];
          db[k] += g;
          for (int c = 0; c < cg; c++)
            for (int ki = 0; ki < d->kh; ki++) {
              int ih = oh * d->sh - d->ph + ki;
              if (ih < 0 || ih >= h)
                continue;
              for (int kj = 0; kj < d->kw; kj++) {
                int iw = ow * d->sw - d->pw + kj;
                if (iw < 0 || iw >= w)
                  continue;
                size_t xi = (((size_t)i * h + ih) * w + iw) * d->c_in + c0 + c;
                size_t wi = (((size_t)k * cg + c) * d->kh + ki) * d->kw + kj;
                dx[xi] += g * wt[wi];
                dw[wi] += g * x[xi];
              }
            }
        }
    }
}

/* Largest |got - ref| over the largest |ref|: error relative to the output's scale. */
static double rel_err(const float *got, const double *ref, size_t n, const double *offset) {
  double md = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double r = ref[i] + (offset ? offset[i] : 0.0);
    double dv = fabs((double)got[i] - r);
    if (!(dv <= md)) /* also catches NaN */
      md = dv;
    if (fabs(r) > scale)
      scale = fabs(r);
  }
  return md / (scale > 1e-12 ? scale : 1e-12);
}

/* The same measure against a float reference. */
static double rel_err_f(const float *got, const float *ref, size_t n) {
  double md = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double dv = fabs((double)got[i] - ref[i]);
    if (!(dv <= md))
      md = dv;
    if (fabs(ref[i]) > scale)
      scale = fabs(ref[i]);
  }
  return md / (scale > 1e-12 ? scale : 1e-12);
}

/* hant's former im2col + GEMM kernel (tests/oracle) on the same buffers:
 * forward, and backward with dw and db accumulating onto zeros. Both sum
 * in float32 in different orders, so they agree to about 1e-6 of the
 * output's scale; 1e-4 is the bound used against the double reference. */
static void check_oracle(const conv_case *cc, bool use_bias, const float *x, const float *wt, const float *b,
                         const float *dy, hant_arena *scratch) {
  const hant_conv_desc *d = &cc->d;
  int n = cc->n, h = cc->h, w = cc->w;
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  size_t nx = (size_t)n * d->c_in * h * w, ny = (size_t)n * d->c_out * ho * wo;
  size_t nw = (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw, nk = (size_t)d->c_out;
  float *y[2], *dx[2], *dw[2], *db[2];
  for (int s = 0; s < 2; s++) {
    y[s] = malloc(ny * sizeof(float)), dx[s] = malloc(nx * sizeof(float));
    dw[s] = calloc(nw, sizeof(float)), db[s] = calloc(nk, sizeof(float));
    HANT_ASSERT(y[s] && dx[s] && dw[s] && db[s]);
  }
  /* The reference kernel runs channels first: x and dy go in converted,
   * y and dx come back converted. */
  float *xf = malloc(nx * sizeof(float)), *dyf = malloc(ny * sizeof(float));
  float *tmp = malloc((nx > ny ? nx : ny) * sizeof(float));
  HANT_ASSERT(xf && dyf && tmp);
  ref_channels_first(x, n, d->c_in, h * w, xf);
  ref_channels_first(dy, n, d->c_out, ho * wo, dyf);
  int rc = hant_conv_forward(d, x, n, h, w, wt, use_bias ? b : NULL, y[0], scratch);
  hant_arena_reset(scratch);
  rc |= ref_conv_forward(d, xf, n, h, w, wt, use_bias ? b : NULL, tmp, scratch);
  ref_channels_last(tmp, n, d->c_out, ho * wo, y[1]);
  hant_arena_reset(scratch);
  rc |= hant_conv_backward(d, x, n, h, w, wt, dy, dx[0], dw[0], use_bias ? db[0] : NULL, scratch);
  hant_arena_reset(scratch);
  rc |= ref_conv_backward(d, xf, n, h, w, wt, dyf, tmp, dw[1], use_bias ? db[1] : NULL, scratch);
  ref_channels_last(tmp, n, d->c_in, h * w, dx[1]);
  hant_arena_reset(scratch);
  free(xf), free(dyf), free(tmp);
  CHECK(rc == 0, "%s: library or reference kernel failed: %s", cc->what, hant_errmsg());
  double e = fmax(fmax(rel_err_f(y[0], y[1], ny), rel_err_f(dx[0], dx[1], nx)),
                  fmax(rel_err_f(dw[0], dw[1], nw), rel_err_f(db[0], db[1], nk)));
  CHECK(e <= 1e-4, "%s: library and reference kernel differ by %.3g", cc->what, e);
  for (int s = 0; s < 2; s++)
    free(y[s]), free(dx[s]), free(dw[s]), free(db[s]);
}

static void run_case(const conv_case *cc, int idx, hant_arena *scratch) {
  const hant_conv_desc *d = &cc->d;
  int n = cc->n, h = cc->h, w = cc->w;
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w);
  size_t nx = (size_t)n * d->c_in * h * w, ny = (size_t)n * d->c_out * ho * wo;
  size_t nw = (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw;
  bool use_bias = idx % 2 == 0;
  hant_rng rng;
  hant_rng_seed(&rng, 1000 + (uint64_t)idx);

  float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float)), *b = malloc(d->c_out * sizeof(float));
  float *y = malloc(ny * sizeof(float)), *dy = malloc(ny * sizeof(float)), *dx = malloc(nx * sizeof(float));
  float *dw = malloc(nw * sizeof(float)), *db = malloc(d->c_out * sizeof(float));
  double *ry = malloc(ny * sizeof(double)), *rdx = malloc(nx * sizeof(double));
  double *rdw = malloc(nw * sizeof(double)), *rdb = malloc(d->c_out * sizeof(double));
  double *dw0 = malloc(nw * sizeof(double)), *db0 = malloc(d->c_out * sizeof(double));
  HANT_ASSERT(x && wt && b && y && dy && dx && dw && db && ry && rdx && rdw && rdb && dw0 && db0);
  fill_normal(&rng, x, nx);
  fill_normal(&rng, wt, nw);
  fill_normal(&rng, b, (size_t)d->c_out);
  fill_normal(&rng, dy, ny);

  /* Forward: y is pre-filled with garbage, which must be overwritten. */
  for (size_t i = 0; i < ny; i++)
    y[i] = 1e30f;
  int rc = hant_conv_forward(d, x, n, h, w, wt, use_bias ? b : NULL, y, scratch);
  hant_arena_reset(scratch);
  CHECK(rc == 0, "%s: forward returned %s: %s", cc->what, hant_err_name(rc), hant_errmsg());
  naive_forward(d, x, n, h, w, wt, use_bias ? b : NULL, ry);
  double e = rel_err(y, ry, ny, NULL);
  CHECK(e <= 1e-4, "%s: forward relative error %.3g", cc->what, e);

  /* Backward: dw and db accumulate onto what is there; dx is overwritten. */
  for (size_t i = 0; i < nw; i++) {
    dw[i] = 0.25f * hant_rng_normal(&rng);
    dw0[i] = dw[i];
  }
  for (int k = 0; k < d->c_out; k++) {
    db[k] = 0.25f * hant_rng_normal(&rng);
    db0[k] = db[k];
  }
  for (size_t i = 0; i < nx; i++)
    dx[i] = 1e30f;
  rc = hant_conv_backward(d, x, n, h, w, wt, dy, dx, dw, use_bias ? db : NULL, scratch);
  hant_arena_reset(scratch);
  CHECK(rc == 0, "%s: backward returned %s: %s", cc->what, hant_err_name(rc), hant_errmsg());
  naive_backward(d, x, n, h, w, wt, dy, rdx, rdw, rdb);
  e = rel_err(dx, rdx, nx, NULL);
  CHECK(e <= 1e-4, "%s: dx relative error %.3g", cc->what, e);
  e = rel_err(dw, rdw, nw, dw0);
  CHECK(e <= 1e-4, "%s: dw (accumulated) relative error %.3g", cc->what, e);
  if (use_bias) {
    e = rel_err(db, rdb, (size_t)d->c_out, db0);
    CHECK(e <= 1e-4, "%s: db (accumulated) relative error %.3g", cc->what, e);
  } else {
    bool same = true;
    for (int k = 0; k < d->c_out; k++)
      same &= db[k] == (float)db0[k];
    CHECK(same, "%s: db was written although NULL was passed", cc->what);
  }

  /* Backward without dx must give the same dw. */
  for (size_t i = 0; i < nw; i++)
    dw[i] = 0.0f;
  rc = hant_conv_backward(d, x, n, h, w, wt, dy, NULL, dw, NULL, scratch);
  hant_arena_reset(scratch);
  CHECK(rc == 0, "%s: backward without dx returned %s", cc->what, hant_err_name(rc));
  e = rel_err(dw, rdw, nw, NULL);
  CHECK(e <= 1e-4, "%s: dw without dx relative error %.3g", cc->what, e);

  check_oracle(cc, use_bias, x, wt, b, dy, scratch);

  free(x), free(wt), free(b), free(y), free(dy), free(dx), free(dw), free(db);
  free(ry), free(rdx), free(rdw), free(rdb), free(dw0), free(db0);
}

#define DESC(ci, co, kh_, kw_, sh_, sw_, ph_, pw_, g)                                                        \
  {.c_in = (ci), .c_out = (co), .kh = (kh_), .kw = (kw_), .sh = (sh_), .sw = (sw_), .ph = (ph_), .pw = (pw_), \
   .groups = (g)}

static const conv_case cases[] = {
    {"3x3 stride 2 pad 1, 7x9, batch 5", DESC(3, 4, 3, 3, 2, 2, 1, 1, 1), 5, 7, 9},
    {"3x3 groups 2, batch 1", DESC(4, 6, 3, 3, 1, 1, 1, 1, 2), 1, 8, 8},
    {"3x3 groups 3 stride 2, 9x7, batch 5", DESC(6, 9, 3, 3, 2, 2, 1, 1, 3), 5, 9, 7},
    {"1x1, 7x9, batch 5", DESC(5, 7, 1, 1, 1, 1, 0, 0, 1), 5, 7, 9},
    {"1x1, 7x9, batch 1 (pointwise fast path)", DESC(5, 7, 1, 1, 1, 1, 0, 0, 1), 1, 7, 9},
    {"1x1 stride 2, batch 2", DESC(4, 6, 1, 1, 2, 2, 0, 0, 1), 2, 9, 7},
    {"1x1 groups 2, batch 1", DESC(4, 6, 1, 1, 1, 1, 0, 0, 2), 1, 5, 6},
    {"5x5 pad 2, 7x9, batch 2", DESC(3, 4, 5, 5, 1, 1, 2, 2, 1), 2, 7, 9},
    {"5x5 pad 2, stride 2, batch 1", DESC(3, 5, 5, 5, 2, 2, 2, 2, 1), 1, 9, 7},
    {"depthwise 3x3, 7x9, batch 5", DESC(8, 8, 3, 3, 1, 1, 1, 1, 8), 5, 7, 9},
    {"depthwise 3x3 stride 2, 9x7, batch 1", DESC(6, 6, 3, 3, 2, 2, 1, 1, 6), 1, 9, 7},
    {"depthwise 5x5 pad 2 stride 2, 11x6, batch 2", DESC(4, 4, 5, 5, 2, 2, 2, 2, 4), 2, 11, 6},
    {"depthwise 3x1, batch 3", DESC(5, 5, 3, 1, 1, 1, 1, 0, 5), 3, 7, 9},
    {"channel multiplier 2 (groups == C, K == 2C)", DESC(4, 8, 3, 3, 1, 1, 1, 1, 4), 2, 7, 9},
    {"3x1, 7x9, batch 5", DESC(4, 5, 3, 1, 1, 1, 1, 0, 1), 5, 7, 9},
    {"1x3, 9x7, batch 1", DESC(4, 5, 1, 3, 1, 1, 0, 1, 1), 1, 9, 7},
    {"3x1 stride 2x1 groups 2, batch 3", DESC(4, 6, 3, 1, 2, 1, 1, 0, 2), 3, 9, 7},
    {"1x3 stride 1x2, batch 2", DESC(3, 4, 1, 3, 1, 2, 0, 1, 1), 2, 6, 11},
    {"3x3 stride 3 no pad, 10x11 (leftover columns)", DESC(3, 4, 3, 3, 3, 3, 0, 0, 1), 2, 10, 11},
    {"3x3 pad 2 (output larger than input)", DESC(2, 3, 3, 3, 1, 1, 2, 2, 1), 2, 5, 4},
    {"kernel equal to padded input", DESC(2, 3, 5, 5, 1, 1, 1, 1, 1), 2, 3, 3},
    {"single pixel input", DESC(3, 2, 3, 3, 1, 1, 1, 1, 1), 4, 1, 1},
    /* ckk * H'W' = 576 * 784 floats per sample: 9 samples per im2col chunk
     * of the reference kernel, so 24 samples take chunks of 9, 9 and 6. */
    {"64->16 3x3, 28x28, batch 24 (3 im2col chunks)", DESC(64, 16, 3, 3, 1, 1, 1, 1, 1), 24, 28, 28},
    {"128->16 3x3 groups 2, 28x28, batch 12 (2 chunks)", DESC(128, 16, 3, 3, 1, 1, 1, 1, 2), 12, 28, 28},
};

static void check_invalid(hant_arena *scratch) {
  float buf[64] = {0};
  struct {
    const char *what, *needle;
    hant_conv_desc d;
    int h, w;
  } bad[] = {
      {"groups 4 do not divide 6 input channels", "groups", DESC(6, 8, 3, 3, 1, 1, 1, 1, 4), 4, 4},
      {"groups 2 do not divide 3 output channels", "groups", DESC(4, 3, 3, 3, 1, 1, 1, 1, 2), 4, 4},
      {"5x5 kernel on a 2x2 input padded by 1", "larger", DESC(1, 1, 5, 5, 1, 1, 1, 1, 1), 2, 2},
      {"3x1 kernel on a 1-row input, no padding", "larger", DESC(1, 1, 3, 1, 1, 1, 0, 0, 1), 1, 4},
      {"zero stride", "stride", DESC(1, 1, 1, 1, 0, 1, 0, 0, 1), 2, 2},
      {"negative padding", "padding", DESC(1, 1, 1, 1, 1, 1, -1, 0, 1), 2, 2},
      {"zero groups", "groups", DESC(2, 2, 1, 1, 1, 1, 0, 0, 0), 2, 2},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    hant_errmsg_clear();
    int rc = hant_conv_check(&bad[i].d, bad[i].h, bad[i].w);
    CHECK(rc == HANT_EINVAL, "%s: check returned %s", bad[i].what, hant_err_name(rc));
    CHECK(strstr(hant_errmsg(), bad[i].needle) != NULL, "%s: message '%s' lacks '%s'", bad[i].what, hant_errmsg(),
          bad[i].needle);
    hant_errmsg_clear();
    rc = hant_conv_forward(&bad[i].d, buf, 1, bad[i].h, bad[i].w, buf, NULL, buf, scratch);
    CHECK(rc == HANT_EINVAL && hant_errmsg()[0], "%s: forward returned %s", bad[i].what, hant_err_name(rc));
    hant_errmsg_clear();
    rc = hant_conv_backward(&bad[i].d, buf, 1, bad[i].h, bad[i].w, buf, buf, NULL, buf, NULL, scratch);
    CHECK(rc == HANT_EINVAL && hant_errmsg()[0], "%s: backward returned %s", bad[i].what, hant_err_name(rc));
  }
}

/* ---- int8 convolution ------------------------------------------------- */

typedef enum qvals {
  QV_MIXED,   /* mostly 255 and 127, some random, every sign */
  QV_EXTREME, /* 255 x -128 everywhere: the largest sums, of one sign */
  QV_RANDOM,  /* uniform over the whole ranges */
} qvals;

typedef struct qconv_case {
  const char *what;
  hant_conv_desc d;
  int n, h, w;
  qvals vals;
} qconv_case;

/* acc: [N, H', W', K] = the sum in int64 of x * w over each window, taps
 * outside the input left out. */
static void qconv_ref(const qconv_case *qc, const uint8_t *x, const int8_t *w, int64_t *ref) {
  const hant_conv_desc *d = &qc->d;
  int ho = hant_conv_out_h(d, qc->h), wo = hant_conv_out_w(d, qc->w);
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  for (int n = 0; n < qc->n; n++)
    for (int oh = 0; oh < ho; oh++)
      for (int ow = 0; ow < wo; ow++)
        for (int k = 0; k < d->c_out; k++) {
          int64_t sum = 0;
          for (int c = 0; c < cg; c++)
            for (int i = 0; i < d->kh; i++)
              for (int j = 0; j < d->kw; j++) {
                int ih = oh * d->sh - d->ph + i, iw = ow * d->sw - d->pw + j;
                if (ih >= 0 && ih < qc->h && iw >= 0 && iw < qc->w)
                  sum += (int64_t)x[(((size_t)n * qc->h + ih) * qc->w + iw) * d->c_in + (k / kg) * cg + c] *
                         w[(((size_t)k * cg + c) * d->kh + i) * d->kw + j];
              }
          ref[(((size_t)n * ho + oh) * wo + ow) * d->c_out + k] = sum;
        }
}

/* Runs a packed int8 convolution into a buffer of garbage with a guard
 * after it, so sums left unwritten and stores past the end both show. */
enum { QGUARD = 64 };
static const int32_t qgarbage = 0x5a5a5a5a;

static void qconv_compare(const qconv_case *qc, const char *kernel, int rc, const int32_t *acc, const int64_t *ref,
                          size_t ny) {
  CHECK(rc == 0, "int8 conv %s, %s: %s", qc->what, kernel, hant_errmsg());
  if (rc)
    return;
  size_t wrong = 0, first = ny;
  for (size_t e = 0; e < ny; e++)
    if (acc[e] != ref[e]) {
      wrong++;
      if (first == ny)
        first = e;
    }
  CHECK(wrong == 0, "int8 conv %s, %s: %zu of %zu sums differ from the exact ones (first at %zu: %d, not %lld)",
        qc->what, kernel, wrong, ny, first, first < ny ? acc[first] : 0, first < ny ? (long long)ref[first] : 0);
  bool guard = true;
  for (size_t e = ny; e < ny + QGUARD; e++)
    guard &= acc[e] == qgarbage;
  CHECK(guard, "int8 conv %s, %s: wrote past the end of its output", qc->what, kernel);
}

/* The int8 convolution gives the exact integer sums, also where pairs of
 * products overflow int16 (255 x 127 x 2 > 32767), as oneDNN's kernels
 * without VNNI let them saturate: the same sums ONNX Runtime's exact
 * kernels compute. Checked against the sum in int64 on every shape the
 * kernels treat apart (one group with odd C, several, depthwise, a channel
 * multiplier, K/g not a multiple of 8, rows narrower than a pixel block),
 * through the public entry point (oneDNN with VNNI, else the direct
 * convolution) and through the direct convolution's fastest and portable
 * kernels, whatever this CPU would choose. */
static void check_qconv_case(const qconv_case *qc, int idx, hant_arena *scratch) {
  const hant_conv_desc *d = &qc->d;
  int ho = hant_conv_out_h(d, qc->h), wo = hant_conv_out_w(d, qc->w);
  size_t nx = (size_t)qc->n * qc->h * qc->w * d->c_in, ny = (size_t)qc->n * ho * wo * d->c_out;
  size_t nw = (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw;
  uint8_t *x = malloc(nx);
  int8_t *w = malloc(nw);
  int32_t *acc = malloc((ny + QGUARD) * sizeof(int32_t));
  int64_t *ref = malloc(ny * sizeof(int64_t));
  HANT_ASSERT(x && w && acc && ref);
  hant_rng r;
  hant_rng_seed(&r, 7 + (uint64_t)idx);
  for (size_t e = 0; e < nx; e++)
    x[e] = qc->vals == QV_EXTREME ? 255
           : qc->vals == QV_RANDOM || !hant_rng_below(&r, 4) ? (uint8_t)hant_rng_below(&r, 256)
                                                            : 255;
  for (size_t e = 0; e < nw; e++)
    w[e] = (int8_t)(qc->vals == QV_EXTREME                           ? -128
                    : qc->vals == QV_RANDOM || !hant_rng_below(&r, 4) ? (int)hant_rng_below(&r, 256) - 128
                    : hant_rng_below(&r, 2)                           ? 127
                                                                      : -128);
  qconv_ref(qc, x, w, ref);

  for (size_t e = 0; e < ny + QGUARD; e++)
    acc[e] = qgarbage;
  hant_qconv_packed *pk = NULL;
  int rc = hant_qconv_pack(d, qc->n, qc->h, qc->w, w, &pk);
  if (!rc)
    rc = hant_qconv_packed_forward(pk, x, acc, scratch);
  hant_arena_reset(scratch);
  qconv_compare(qc, "public entry point", rc, acc, ref, ny);
  hant_qconv_packed_free(pk);

  static const struct {
    const char *name;
    hant__qdirect_kernel kernel;
    bool scratch;
  } runs[] = {
      {"direct, fastest kernel", HANT__QDIRECT_FASTEST, true},
      {"direct, fastest kernel, no scratch arena", HANT__QDIRECT_FASTEST, false},
      {"direct, portable kernel", HANT__QDIRECT_PORTABLE, true},
  };
  for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
    for (size_t e = 0; e < ny + QGUARD; e++)
      acc[e] = qgarbage;
    hant__qdirect *q = NULL;
    rc = hant__qdirect_pack(d, qc->n, qc->h, qc->w, w, runs[k].kernel, &q);
    if (!rc)
      rc = hant__qdirect_run(q, x, acc, runs[k].scratch ? scratch : NULL);
    hant_arena_reset(scratch);
    qconv_compare(qc, runs[k].name, rc, acc, ref, ny);
    if (q && runs[k].kernel == HANT__QDIRECT_PORTABLE)
      CHECK(!hant__qdirect_simd(q), "int8 conv %s: the portable kernel was asked for, not given", qc->what);
    hant__qdirect_free(q);
  }
  free(x), free(w), free(acc), free(ref);
}

static const qconv_case qcases[] = {
    {"64->8 3x3 groups 2 pad 1, 5x5, batch 2", DESC(64, 8, 3, 3, 1, 1, 1, 1, 2), 2, 5, 5, QV_MIXED},
    {"64->64 3x3 pad 1, 7x7, batch 2, 255 x -128", DESC(64, 64, 3, 3, 1, 1, 1, 1, 1), 2, 7, 7, QV_EXTREME},
    {"64->64 3x3 pad 1, 7x7, batch 1", DESC(64, 64, 3, 3, 1, 1, 1, 1, 1), 1, 7, 7, QV_MIXED},
    {"1->16 3x3 pad 1, 28x28 (one input channel, odd row runs)", DESC(1, 16, 3, 3, 1, 1, 1, 1, 1), 1, 28, 28, QV_MIXED},
    {"3->10 3x3 pad 1, 9x11, batch 2 (odd C, K/g not a multiple of 8)", DESC(3, 10, 3, 3, 1, 1, 1, 1, 1), 2, 9, 11,
     QV_MIXED},
    {"5->24 5x5 pad 2, 7x9, batch 2 (chunks of 16 and 8)", DESC(5, 24, 5, 5, 1, 1, 2, 2, 1), 2, 7, 9, QV_RANDOM},
    {"3->8 7x7 stride 2 pad 3, 13x11, batch 2", DESC(3, 8, 7, 7, 2, 2, 3, 3, 1), 2, 13, 11, QV_MIXED},
    {"7->33 7x7 pad 3, 6x5, 255 x -128", DESC(7, 33, 7, 7, 1, 1, 3, 3, 1), 1, 6, 5, QV_EXTREME},
    {"16->32 1x1 stride 2, 14x14, batch 3", DESC(16, 32, 1, 1, 2, 2, 0, 0, 1), 3, 14, 14, QV_MIXED},
    {"7->9 1x1, 5x3, batch 5 (pixels not a multiple of a block)", DESC(7, 9, 1, 1, 1, 1, 0, 0, 1), 5, 5, 3, QV_RANDOM},
    {"4->12 3x1 pad 1x0, 1x3 stride 1x2", DESC(4, 12, 3, 1, 1, 1, 1, 0, 1), 2, 6, 7, QV_MIXED},
    {"3->5 1x3 stride 1x2 pad 0x1", DESC(3, 5, 1, 3, 1, 2, 0, 1, 1), 2, 6, 11, QV_MIXED},
    {"5->6 3x3 stride 3 no pad, 10x11 (leftover columns)", DESC(5, 6, 3, 3, 3, 3, 0, 0, 1), 2, 10, 11, QV_RANDOM},
    {"2->3 3x3 pad 2 (output larger than input)", DESC(2, 3, 3, 3, 1, 1, 2, 2, 1), 2, 5, 4, QV_MIXED},
    {"3->4 3x3 pad 1, single pixel input, batch 4", DESC(3, 4, 3, 3, 1, 1, 1, 1, 1), 4, 1, 1, QV_MIXED},
    {"16->32 3x3 groups 4 pad 1 (C/g 4, K/g 8), batch 2", DESC(16, 32, 3, 3, 1, 1, 1, 1, 4), 2, 9, 7, QV_MIXED},
    {"9->15 3x3 groups 3 stride 2 pad 1 (C/g 3, K/g 5)", DESC(9, 15, 3, 3, 2, 2, 1, 1, 3), 3, 9, 10, QV_MIXED},
    {"64->48 1x1 groups 2 (K/g 24), 255 x -128", DESC(64, 48, 1, 1, 1, 1, 0, 0, 2), 1, 5, 6, QV_EXTREME},
    {"40->40 5x5 groups 2 stride 2 pad 2", DESC(40, 40, 5, 5, 2, 2, 2, 2, 2), 1, 9, 9, QV_RANDOM},
    {"8->16 3x3 groups 8 pad 1 (channel multiplier 2)", DESC(8, 16, 3, 3, 1, 1, 1, 1, 8), 2, 7, 9, QV_MIXED},
    {"5->15 5x5 groups 5 pad 2 (channel multiplier 3)", DESC(5, 15, 5, 5, 1, 1, 2, 2, 5), 1, 6, 7, QV_RANDOM},
    {"3->24 3x3 groups 3 stride 2 pad 1 (channel multiplier 8)", DESC(3, 24, 3, 3, 2, 2, 1, 1, 3), 2, 9, 8, QV_MIXED},
    {"depthwise 16 3x3 pad 1, 7x9, batch 2", DESC(16, 16, 3, 3, 1, 1, 1, 1, 16), 2, 7, 9, QV_MIXED},
    {"depthwise 24 3x3 stride 2 pad 1, 9x7 (C not a multiple of 16)", DESC(24, 24, 3, 3, 2, 2, 1, 1, 24), 1, 9, 7,
     QV_MIXED},
    {"depthwise 5 7x7 pad 3, batch 3, 255 x -128", DESC(5, 5, 7, 7, 1, 1, 3, 3, 5), 3, 8, 6, QV_EXTREME},
    {"depthwise 33 5x5 stride 2 pad 2, 11x6", DESC(33, 33, 5, 5, 2, 2, 2, 2, 33), 2, 11, 6, QV_RANDOM},
    {"depthwise 32 1x1, 3x5", DESC(32, 32, 1, 1, 1, 1, 0, 0, 32), 1, 3, 5, QV_MIXED},
    {"depthwise 8 3x3 no pad, 3x3 (one output pixel)", DESC(8, 8, 3, 3, 1, 1, 0, 0, 8), 1, 3, 3, QV_MIXED},
};

static void check_qconv_exact(hant_arena *scratch) {
  for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++)
    check_qconv_case(&qcases[i], (int)i, scratch);
  static const int8_t w1[1];
  const hant_conv_desc d1 = DESC(1, 1, 1, 1, 1, 1, 0, 0, 1);
  hant__qdirect *q = NULL;
  if (!hant__qdirect_pack(&d1, 1, 1, 1, w1, HANT__QDIRECT_FASTEST, &q) && !hant__qdirect_simd(q))
    printf("conv_naive: no SIMD int8 kernel on this CPU; the portable one was checked twice\n");
  hant__qdirect_free(q);
}

int main(void) {
  hant_arena scratch;
  hant_arena_init(&scratch, (size_t)1 << 20);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    run_case(&cases[i], (int)i, &scratch);
  check_invalid(&scratch);
  check_qconv_exact(&scratch);
  hant_arena_free(&scratch);
  return test_summary("conv_naive");
}
