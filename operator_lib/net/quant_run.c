/* SPDX-License-Identifier: MIT */
/* quant_run.c: evaluation of a quantised network in integer arithmetic, node by node as ONNX Runtime runs the exported QDQ model. */
#include <math.h>
#include <stdlib.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <string.h>

#include "base.h"
#include "kernels.h"
#include "net_internal.h"
#include "qops.h"
#include "quant_internal.h"

/* Packed int8 convolutions for one batch size and thread count, and the
 * arenas of a run. */
struct hant_qrun {
  int n, threads, n_nodes;
  hant_qconv_packed **pk; /* per conv node: oneDNN's int8 convolution */
  int32_t **zcorr;        /* per conv node whose input's zero point is not 0: [H_out * W_out * K] (see zero_corr) */
  uint8_t **add_lut;      /* per add node: [256 * 256] sums, indexed a * 256 + b */
  hant_arena act, tmp;
  hant_pass pass; /* for the nodes that run in float32 */
};

void hant__qrun_free(struct hant_qrun *r) {
  if (!r)
    return;
  for (int i = 0; r->pk && i < r->n_nodes; i++)
    hant_qconv_packed_free(r->pk[i]);
  for (int i = 0; r->add_lut && i < r->n_nodes; i++)
    free(r->add_lut[i]);
  for (int i = 0; r->zcorr && i < r->n_nodes; i++)
    free(r->zcorr[i]);
  free(r->add_lut);
  free(r->zcorr);
  free(r->pk);
  hant_arena_free(&r->act);
  hant_arena_free(&r->tmp);
  hant_pass_free(&r->pass);
  free(r);
}

/* Rounds half to even as the CPU's default rounding mode does, for |v| <
 * 2^22: adding and subtracting 1.5 * 2^23 leaves v's integer part in the
 * float's last bits (MLAS's own trick). It saves the libm call nearbyintf
 * is on a baseline x86-64 build, which made int8 slower than float32. */
static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline float rne(float v) {
  const float magic = 12582912.0f;
  return (v + magic) - magic;
}

/* ONNX Runtime's QuantizeLinear (MLAS): a division, not a multiplication
 * by the reciprocal, then rounding half to even, then saturation (clamping
 * first to the range the zero point leaves is the same and keeps rne in
 * its domain). */
static inline uint8_t quantise(float x, float scale, int32_t zp) {
  float v = clampf(x / scale, (float)(0 - zp), (float)(255 - zp));
  return (uint8_t)((int32_t)rne(v) + zp);
}

/* MLAS's requantisation of an int32 sum: scaled in float32, clamped to the
 * range the zero point leaves, rounded half to even. */
static inline uint8_t requant(int32_t acc, float m, int32_t zp) {
  float v = clampf((float)acc * m, (float)(0 - zp), (float)(255 - zp));
  return (uint8_t)((int32_t)rne(v) + zp);
}

/* fmaf(a, b, c) for a uint8 a: a * b is exact in double, so one rounding
 * of the double sum to float gives the fused result except in double
 * rounding ties, far rarer than the differences the test allows. fmaf
 * itself is a slow software routine on a baseline x86-64 build. */
static inline float fma_u8(uint8_t a, float b, float c) { return (float)((double)a * (double)b + (double)c); }

static size_t numel(const hant_node *nd, int n) { return (size_t)n * nd->c * nd->h * nd->w; }

/* What oneDNN's sums lack when the input's zero point zx is not 0: the
 * convolution is of (x - zx), padded with the real zero (zx), but oneDNN
 * multiplies the raw uint8 values and pads with 0, so
 * sum (x - zx) w over the taps inside the image = its sum - zx x (sum of
 * w over the taps inside). The second term depends on the output position
 * only through which taps fall inside; kept per position and channel,
 * [H_out * W_out * K], exact in int32 as the sums are. NULL when out of
 * memory. */
static int32_t *zero_corr(const hant_conv_desc *d, int32_t zx, int h, int w, const int8_t *wt) {
  int ho = hant_conv_out_h(d, h), wo = hant_conv_out_w(d, w), cg = d->c_in / d->groups;
  int32_t *corr = malloc(sizeof(int32_t) * (size_t)ho * wo * d->c_out);
  for (int oy = 0; corr && oy < ho; oy++)
    for (int ox = 0; ox < wo; ox++)
      for (int k = 0; k < d->c_out; k++) {
        const int8_t *wk = wt + (size_t)k * cg * d->kh * d->kw;
        int32_t s = 0;
        for (int ky = 0; ky < d->kh; ky++) {
          int iy = oy * d->sh - d->ph + ky;
          for (int kx = 0; kx < d->kw && iy >= 0 && iy < h; kx++) {
            int ix = ox * d->sw - d->pw + kx;
            if (ix < 0 || ix >= w)
              continue;
            for (int c = 0; c < cg; c++)
              s += wk[((size_t)c * d->kh + ky) * d->kw + kx];
          }
        }
        corr[((size_t)oy * wo + ox) * d->c_out + k] = zx * s;
      }
  return corr;
}

/* QLinearAdd as MLAS computes it: the zero points folded into one
 * constant, each raw uint8 input times its scale over the output's added
 * by a fused multiply-add, rounded half to even. Computing (a - za) * ra +
 * (b - zb) * rb instead rounds differently often enough to change 0.8 % of
 * the teacher's logits by one step. */
static uint8_t qadd(const hant_qnode *qa, const hant_qnode *qb, const hant_qnode *qc, uint8_t a, uint8_t b) {
  float ra = qa->scale / qc->scale, rb = qb->scale / qc->scale;
  float fixed = (float)qc->zp - (ra * (float)qa->zp + rb * (float)qb->zp);
  float v = fma_u8(a, ra, fixed);
  v = fma_u8(b, rb, v);
  return (uint8_t)(int32_t)rne(clampf(v, 0.0f, 255.0f));
}

/* The sum depends on the two uint8 inputs only, so each add node keeps
 * all 65,536 of them in a table made once: a lookup per element instead of
 * two multiply-adds in double precision and a rounding. */
static uint8_t *add_table(const hant_qnode *qa, const hant_qnode *qb, const hant_qnode *qc) {
  uint8_t *t = calloc(1, 256 * 256 + 4); /* + 4: a 32-bit gather at the last index stays inside */
  for (int a = 0; t && a < 256; a++)
    for (int b = 0; b < 256; b++)
      t[a * 256 + b] = qadd(qa, qb, qc, (uint8_t)a, (uint8_t)b);
  return t;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* Sixteen lookups per gather: the table's bytes fetched as 32-bit words
 * and narrowed back, a third of the scalar loop's time at batch 1. */
__attribute__((target("avx512f"))) static size_t add_avx512(const uint8_t *lut, const uint8_t *a, const uint8_t *b,
                                                          uint8_t *c, size_t cnt) {
  size_t e = 0;
  for (; e + 16 <= cnt; e += 16) {
    __m512i va = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(a + e)));
    __m512i vb = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(b + e)));
    __m512i idx = _mm512_or_si512(_mm512_slli_epi32(va, 8), vb);
    __m512i g = _mm512_i32gather_epi32(idx, (const void *)lut, 1);
    _mm_storeu_si128((__m128i *)(c + e), _mm512_cvtepi32_epi8(g));
  }
  return e;
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* Eight lookups per gather, for CPUs with AVX2 and no AVX-512: the same
 * 32-bit words, the low byte of each kept and packed back to bytes. */
__attribute__((target("avx2"))) static size_t add_avx2(const uint8_t *lut, const uint8_t *a, const uint8_t *b,
                                                       uint8_t *c, size_t cnt) {
  const __m256i low = _mm256_set1_epi32(0xff);
  size_t e = 0;
  for (; e + 16 <= cnt; e += 16) {
    __m256i a0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + e)));
    __m256i a1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + e + 8)));
    __m256i b0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + e)));
    __m256i b1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + e + 8)));
    __m256i g0 = _mm256_and_si256(
        _mm256_i32gather_epi32((const int *)lut, _mm256_or_si256(_mm256_slli_epi32(a0, 8), b0), 1), low);
    __m256i g1 = _mm256_and_si256(
        _mm256_i32gather_epi32((const int *)lut, _mm256_or_si256(_mm256_slli_epi32(a1, 8), b1), 1), low);
    /* 16 x int32 -> 16 x int16 -> 16 x uint8; packs work per 128-bit lane, so
     * the lanes are put back in order after each */
    __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(g0, g1), 0xd8);
    __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128((__m128i *)(c + e), bytes);
  }
  return e;
}
#endif

void hant__qadd_lookup(const uint8_t *restrict lut, const uint8_t *restrict a, const uint8_t *restrict b,
                       uint8_t *restrict c, size_t cnt, bool portable) {
  size_t e = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (portable)
    ;
  else if (__builtin_cpu_supports("avx512f"))
    e = add_avx512(lut, a, b, c, cnt);
  else if (__builtin_cpu_supports("avx2"))
    e = add_avx2(lut, a, b, c, cnt);
#else
  (void)portable;
#endif
  for (; e < cnt; e++)
    c[e] = lut[(size_t)a[e] << 8 | b[e]];
}

static int prepare(hant_qnet *q, int n) {
  struct hant_qrun *r = q->run;
  const hant_net *net = q->net;
  int threads = hant_threads_get();
  if (r && r->n == n && r->threads == threads)
    return 0;
  if (!r) {
    if (!(r = calloc(1, sizeof(*r))) || !(r->pk = calloc((size_t)net->n_nodes, sizeof(*r->pk))) ||
        !(r->add_lut = calloc((size_t)net->n_nodes, sizeof(*r->add_lut))) ||
        !(r->zcorr = calloc((size_t)net->n_nodes, sizeof(*r->zcorr)))) {
      if (r)
        free(r->pk), free(r->add_lut);
      free(r);
      return hant__error(HANT_ENOMEM, "int8 evaluation: no memory for its state");
    }
    r->n_nodes = net->n_nodes;
    hant_arena_init(&r->act, 0);
    hant_arena_init(&r->tmp, 0);
    hant_pass_init(&r->pass);
    q->run = r;
  }
  for (int i = 0; i < net->n_nodes; i++) {
    hant_qconv_packed_free(r->pk[i]);
    r->pk[i] = NULL;
  }
  r->n = 0;
  for (int i = 1; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    const hant_qnode *qn = &q->nodes[i];
    if (qn->kind == HANT_QK_ADD && !r->add_lut[i] &&
        !(r->add_lut[i] = add_table(&q->nodes[q->nodes[nd->in[0]].src], &q->nodes[q->nodes[nd->in[1]].src], qn)))
      return hant__error(HANT_ENOMEM, "int8 evaluation: no memory for the table of add node %d", i);
    if (qn->kind != HANT_QK_INT || nd->op != HANT_OP_CONV)
      continue;
    const hant_node *in = &net->nodes[nd->in[0]];
    /* oneDNN pads with 0, which is the real zero only when the zero point
     * is; otherwise its sums are corrected (zero_corr) */
    int32_t zx = q->nodes[q->nodes[nd->in[0]].src].zp;
    if (zx != 0 && !r->zcorr[i] && !(r->zcorr[i] = zero_corr(&nd->conv, zx, in->h, in->w, qn->wq)))
      return hant__error(HANT_ENOMEM, "int8 evaluation: no memory for the zero-point correction of node %d", i);
    int rc = hant_qconv_pack(&nd->conv, n, in->h, in->w, qn->wq, &r->pk[i]);
    if (rc)
      return rc;
  }
  r->n = n;
  r->threads = threads;
  return 0;
}

/* px pixels of k channels: the zero-point correction (corr, one sample's
 * [px * k], or NULL) taken off, the bias added, requantised. Built for
 * AVX2 and the baseline, chosen when the program loads: this loop is most
 * of the int8 evaluation's own work. An AVX-512 clone measured slower at
 * 16-64 channels (one partial 512-bit vector; docs/results.md, int8). */
__attribute__((target_clones("avx2", "default"))) static void
requant_rows(const int32_t *restrict a, const int32_t *restrict corr, const int32_t *restrict bq,
             const float *restrict mult, int32_t zp, uint8_t *restrict y, size_t px, int k) {
  for (size_t p = 0; p < px; p++, a += k, y += k) {
    if (corr) {
      const int32_t *restrict cp = corr + p * (size_t)k;
      for (int o = 0; o < k; o++)
        y[o] = requant(a[o] - cp[o] + bq[o], mult[o], zp);
    } else {
      for (int o = 0; o < k; o++)
        y[o] = requant(a[o] + bq[o], mult[o], zp);
    }
  }
}

/* Runs integer node i: its int32 sums, then requantised into out (uint8)
 * or dequantised into fout (float32, the network's output). */
static int run_int(hant_qnet *q, int i, uint8_t *const *buf, int n, uint8_t *out, float *fout) {
  struct hant_qrun *r = q->run;
  const hant_net *net = q->net;
  const hant_node *nd = &net->nodes[i], *in = &net->nodes[nd->in[0]];
  const hant_qnode *qn = &q->nodes[i];
  const hant_qnode *qi = &q->nodes[q->nodes[nd->in[0]].src];
  const uint8_t *x = buf[qi - q->nodes];
  int k = nd->c;
  size_t cnt = numel(nd, n);
  int32_t *acc = hant_arena_alloc(&r->tmp, cnt * sizeof(int32_t));
  if (!acc)
    return hant__error(HANT_ENOMEM, "int8 evaluation: no memory for node %d", i);
  if (nd->op == HANT_OP_CONV) {
    int rc = hant_qconv_packed_forward(r->pk[i], x, acc, &r->tmp);
    if (rc)
      return rc;
    const int32_t *corr = r->zcorr[i];
    size_t per = cnt / (size_t)n; /* one sample's outputs: H_out * W_out * K */
    if (!fout) {
      for (int b = 0; b < n; b++)
        requant_rows(acc + (size_t)b * per, corr, qn->bq, qn->mult, qn->zp, out + (size_t)b * per,
                     per / (size_t)k, k);
      return 0;
    }
    for (int b = 0; corr && b < n; b++)
      for (size_t e = 0; e < per; e++)
        acc[(size_t)b * per + e] -= corr[e];
  } else { /* linear: features in channels-first order, as hant_net_forward flattens */
    int c = in->c, hw = in->h * in->w, f = c * hw;
    for (int b = 0; b < n; b++)
      for (int o = 0; o < k; o++) {
        const int8_t *wr = qn->wq + (size_t)o * f;
        const uint8_t *xb = x + (size_t)b * f;
        int32_t s = 0;
        for (int ch = 0; ch < c; ch++)
          for (int p = 0; p < hw; p++)
            s += ((int32_t)xb[(size_t)p * c + ch] - qi->zp) * wr[(size_t)ch * hw + p];
        acc[(size_t)b * k + o] = s;
      }
  }
  if (!fout) {
    requant_rows(acc, NULL, qn->bq, qn->mult, qn->zp, out, cnt / (size_t)k, k);
    return 0;
  }
  const int32_t *restrict bq = qn->bq;
  const float *restrict mult = qn->mult;
  for (size_t e0 = 0; e0 < cnt; e0 += (size_t)k)
    for (int o = 0; o < k; o++)
      fout[e0 + o] = (float)(acc[e0 + o] + bq[o]) * mult[o];
  return 0;
}

/* QLinearGlobalAveragePool: the integer sum of each plane, requantised by
 * in_scale / (out_scale * plane size). */
static void run_gap(const hant_qnode *qi, const hant_qnode *qo, const uint8_t *x, int n, int c, int hw,
                    uint8_t *y) {
  float m = qi->scale / (qo->scale * (float)hw);
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++) {
      int32_t s = -qi->zp * hw;
      for (int p = 0; p < hw; p++)
        s += x[((size_t)b * hw + p) * c + ch];
      y[(size_t)b * c + ch] = requant(s, m, qo->zp);
    }
}

static void run_maxpool(const hant_pool_desc *d, const uint8_t *x, int n, int c, int h, int w, uint8_t *y) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < ho; oy++)
      for (int ox = 0; ox < wo; ox++)
        for (int ch = 0; ch < c; ch++) {
          int m = 0;
          for (int ky = 0; ky < d->k; ky++)
            for (int kx = 0; kx < d->k; kx++) {
              int iy = oy * d->s - d->p + ky, ix = ox * d->s - d->p + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                continue;
              int v = x[(((size_t)b * h + iy) * w + ix) * c + ch];
              m = v > m ? v : m;
            }
          y[(((size_t)b * ho + oy) * wo + ox) * c + ch] = (uint8_t)m;
        }
}

/* A node with no integer form: its inputs dequantised, the float32 kernel
 * of hant_net_forward, its output quantised. */
static int run_float(hant_qnet *q, int i, uint8_t *const *buf, int n, uint8_t *out) {
  struct hant_qrun *r = q->run;
  hant_net *net = q->net;
  const hant_node *nd = &net->nodes[i];
  hant_pass *p = &r->pass;
  int rc = hant__pass_prepare(p, net->n_nodes);
  if (rc)
    return rc;
  p->n = n;
  p->train = false;
  for (int j = 0; j < 2; j++) {
    int x = nd->in[j];
    if (x < 0)
      continue;
    const hant_qnode *qs = &q->nodes[q->nodes[x].src];
    size_t cnt = numel(&net->nodes[x], n);
    float *f = hant_arena_floats(&p->act, cnt);
    if (!f)
      return hant__error(HANT_ENOMEM, "int8 evaluation: no memory for node %d", i);
    const uint8_t *u = buf[qs - q->nodes];
    for (size_t e = 0; e < cnt; e++)
      f[e] = (float)((int32_t)u[e] - qs->zp) * qs->scale;
    p->out[x] = f;
  }
  if (!(rc = hant__net_forward_node(net, p, i))) {
    const hant_qnode *qn = &q->nodes[i];
    size_t cnt = numel(nd, n);
    for (size_t e = 0; e < cnt; e++)
      out[e] = quantise(p->out[i][e], qn->scale, qn->zp);
  }
  hant_arena_reset(&p->act);
  hant_arena_reset(&p->tmp);
  return rc;
}

int hant_qnet_run(hant_qnet *q, const float *x, int n, float *y) {
  if (!q || !x || !y || n <= 0)
    return hant__error(HANT_EINVAL, "int8 evaluation: no network, input or output");
  int rc = prepare(q, n);
  if (rc)
    return rc;
  struct hant_qrun *r = q->run;
  const hant_net *net = q->net;
  int last = hant_net_output(net);
  uint8_t **buf = hant_arena_alloc(&r->act, sizeof(uint8_t *) * (size_t)net->n_nodes);
  float *fout = NULL;
  if (!buf)
    return hant__error(HANT_ENOMEM, "int8 evaluation: no memory for a batch of %d", n);
  for (int i = 0; i <= last && !rc; i++) {
    const hant_node *nd = &net->nodes[i];
    const hant_qnode *qn = &q->nodes[i];
    buf[i] = NULL;
    if (qn->src != i) {
      buf[i] = buf[qn->src];
      continue;
    }
    size_t cnt = numel(nd, n);
    if (!qn->out_float && !(buf[i] = hant_arena_alloc(&r->act, cnt))) {
      rc = hant__error(HANT_ENOMEM, "int8 evaluation: no memory for node %d", i);
      break;
    }
    const hant_node *in = nd->in[0] >= 0 ? &net->nodes[nd->in[0]] : NULL;
    const hant_qnode *qi = in ? &q->nodes[q->nodes[nd->in[0]].src] : NULL;
    const uint8_t *xi = qi ? buf[qi - q->nodes] : NULL;
    switch (qn->kind) {
    case HANT_QK_INPUT:
      for (size_t e = 0; e < cnt; e++)
        buf[i][e] = quantise(x[e], qn->scale, qn->zp);
      break;
    case HANT_QK_INT:
      if (qn->out_float && !(fout = hant_arena_floats(&r->act, cnt))) {
        rc = hant__error(HANT_ENOMEM, "int8 evaluation: no memory for node %d", i);
        break;
      }
      rc = run_int(q, i, buf, n, buf[i], qn->out_float ? fout : NULL);
      hant_arena_reset(&r->tmp);
      break;
    case HANT_QK_ADD: {
      const hant_qnode *qb = &q->nodes[q->nodes[nd->in[1]].src];
      hant__qadd_lookup(r->add_lut[i], xi, buf[qb - q->nodes], buf[i], cnt, false);
      break;
    }
    case HANT_QK_GAP:
      run_gap(qi, qn, xi, n, in->c, in->h * in->w, buf[i]);
      break;
    case HANT_QK_MAXPOOL:
      run_maxpool(&nd->pool, xi, n, in->c, in->h, in->w, buf[i]);
      break;
    case HANT_QK_FLATTEN: { /* channels last -> channels first */
      int c = in->c, hw = in->h * in->w;
      for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
          for (int p = 0; p < hw; p++)
            buf[i][((size_t)b * c + ch) * hw + p] = xi[((size_t)b * hw + p) * c + ch];
      break;
    }
    case HANT_QK_FLOAT:
      rc = run_float(q, i, buf, n, buf[i]);
      break;
    default:
      break;
    }
  }
  if (!rc) {
    const hant_node *o = &net->nodes[last];
    const hant_qnode *qs = &q->nodes[q->nodes[last].src];
    size_t cnt = numel(o, n);
    if (qs->out_float) {
      memcpy(y, fout, cnt * sizeof(float));
    } else {
      const uint8_t *u = buf[qs - q->nodes];
      for (size_t e = 0; e < cnt; e++)
        y[e] = (float)((int32_t)u[e] - qs->zp) * qs->scale;
    }
  }
  hant_arena_reset(&r->act);
  hant_arena_reset(&r->tmp);
  return rc;
}

int hant_qnet_accuracy(hant_qnet *q, const hant_dataset *ds, int batch, double *acc) {
  return hant_qnet_accuracy_marks(q, ds, batch, NULL, acc);
}

int hant_qnet_accuracy_marks(hant_qnet *q, const hant_dataset *ds, int batch, unsigned char *correct, double *acc) {
  if (!q || !ds || !acc || batch <= 0)
    return hant__error(HANT_EINVAL, "int8 evaluation: no network, data or batch size");
  const hant_node *in = &q->net->nodes[0], *o = &q->net->nodes[hant_net_output(q->net)];
  if (ds->c != in->c || ds->h != in->h || ds->w != in->w)
    return hant__error(HANT_ESHAPE, "int8 evaluation: images are %dx%dx%d, the network takes %dx%dx%d", ds->c, ds->h,
                       ds->w, in->c, in->h, in->w);
  int k = o->c * o->h * o->w;
  size_t per = (size_t)in->c * in->h * in->w;
  float *x = hant_alloc(per * (size_t)batch * sizeof(float)), *y = hant_alloc(sizeof(float) * (size_t)batch * k);
  int *idx = malloc(sizeof(int) * (size_t)batch), *lab = malloc(sizeof(int) * (size_t)batch);
  int rc = 0;
  long right = 0;
  if (!x || !y || !idx || !lab)
    rc = hant__error(HANT_ENOMEM, "int8 evaluation: no memory for a batch of %d", batch);
  for (int b0 = 0; b0 < ds->n && !rc; b0 += batch) {
    int bn = ds->n - b0 < batch ? ds->n - b0 : batch;
    for (int j = 0; j < bn; j++)
      idx[j] = b0 + j;
    hant_dataset_batch(ds, idx, bn, false, 0, NULL, x, lab);
    if ((rc = hant_qnet_run(q, x, bn, y)))
      break;
    for (int j = 0; j < bn; j++) {
      int best = 0;
      for (int c = 1; c < k; c++)
        if (y[(size_t)j * k + c] > y[(size_t)j * k + best])
          best = c;
      right += best == lab[j];
      if (correct)
        correct[b0 + j] = best == lab[j];
    }
  }
  hant_free(x);
  hant_free(y);
  free(idx);
  free(lab);
  if (!rc)
    *acc = (double)right / ds->n;
  return rc;
}
