/* SPDX-License-Identifier: MIT */
/* test_conv_naive.c: hant_conv_forward/backward against a direct double-precision convolution and the reference kernel on odd shapes. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "ops.h"
#include "oracle/net_ref.h"
#include "qops.h"
#include "oracle/ops_ref.h"
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

/* The int8 convolution gives the exact integer sums on every CPU, also
 * where pairs of products overflow int16 (255 x 127 x 2 > 32767), as
 * oneDNN's kernels without VNNI let them saturate: the same sums ONNX
 * Runtime's exact kernels compute. Checked against the sum in int64, with
 * the largest activations and weights, a mix of signs, padding and groups. */
static void check_qconv_exact(hant_arena *scratch) {
  const hant_conv_desc d = {.c_in = 64, .c_out = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 2};
  enum { N = 2, H = 5, W = 5 };
  int cg = d.c_in / d.groups, kg = d.c_out / d.groups;
  static uint8_t x[N * H * W * 64];
  static int8_t w[8 * 32 * 3 * 3];
  hant_rng r;
  hant_rng_seed(&r, 7);
  for (size_t i = 0; i < sizeof(x); i++)
    x[i] = hant_rng_below(&r, 4) ? 255 : (uint8_t)hant_rng_below(&r, 256);
  for (size_t i = 0; i < sizeof(w); i++)
    w[i] = (int8_t)(hant_rng_below(&r, 8) ? 127 : (int)hant_rng_below(&r, 256) - 128);
  hant_qconv_packed *pk = NULL;
  int rc = hant_qconv_pack(&d, N, H, W, w, &pk);
  CHECK(rc == 0, "int8 conv: pack: %s", hant_errmsg());
  if (rc)
    return;
  static int32_t acc[N * H * W * 8];
  rc = hant_qconv_packed_forward(pk, x, acc, scratch);
  CHECK(rc == 0, "int8 conv: forward: %s", hant_errmsg());
  int wrong = 0;
  for (int n = 0; n < N; n++)
    for (int oh = 0; oh < H; oh++)
      for (int ow = 0; ow < W; ow++)
        for (int k = 0; k < d.c_out; k++) {
          int64_t sum = 0;
          for (int c = 0; c < cg; c++)
            for (int i = 0; i < 3; i++)
              for (int j = 0; j < 3; j++) {
                int ih = oh - 1 + i, iw = ow - 1 + j;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  sum += (int64_t)x[((n * H + ih) * W + iw) * d.c_in + (k / kg) * cg + c] *
                         w[((k * cg + c) * 3 + i) * 3 + j];
              }
          wrong += acc[((n * H + oh) * W + ow) * d.c_out + k] != sum;
        }
  CHECK(wrong == 0, "int8 conv: %d of %d sums differ from the exact ones", wrong, N * H * W * d.c_out);
  hant_qconv_packed_free(pk);
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
