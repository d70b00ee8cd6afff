/* SPDX-License-Identifier: MIT */
/* qconv_direct.c: the exact int8 convolution without oneDNN: AVX2 kernels that never saturate, and a plain C loop for other CPUs. */
#include "qconv_direct.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define QD_X86 1
#include <immintrin.h>
#define QD_AVX2 __attribute__((target("avx2")))
#define QD_AVX2_INLINE static inline __attribute__((always_inline, target("avx2")))
#else
#define QD_X86 0
#endif

/* How the sums are computed. The SIMD paths widen the input to int16 in a
 * zero-padded copy first, so a window never needs a bounds check: a tap
 * outside the input reads a 0 and adds 0 * w = 0, as in the plain loop. */
typedef enum qd_path {
  QD_SCALAR,    /* the plain C loop */
  QD_GENERAL,   /* pairs of values along the window x packed weight pairs, 8 or 16 output channels at once */
  QD_DEPTHWISE, /* one channel in per group, fewer than 8 out: pairs of taps, 16 output channels at once */
} qd_path;

struct hant__qdirect {
  hant_conv_desc d;
  int n, h, w, oh, ow; /* batch, input and output rows and columns */
  qd_path path;
  int8_t *w8;          /* QD_SCALAR: [K][kh][kw][C/g] */
  int16_t *w16;        /* SIMD: packed by pack_general or pack_depthwise */
  ptrdiff_t *seg;      /* SIMD: where each run of a window starts, in int16 from the window's corner */
  int nseg, npair;     /* QD_GENERAL: runs per window, pairs of values per run; QD_DEPTHWISE: pairs of taps */
  int kgp;             /* QD_GENERAL: K/g rounded up to 8, the packed output channels of a group */
  int gstride;         /* QD_GENERAL: int16 between the channels of two groups in a padded pixel */
  int hp, wp, cp;      /* padded input: rows, columns, int16 per pixel */
  size_t xp_elems;     /* int16 in one sample's padded input, slack included */
};

/* The flat window runs of QD_GENERAL may read one int16 past their end
 * (the partner of an odd last value, whose weight is 0); the slack keeps
 * that read inside the buffer for the last pixel. */
enum { QD_SLACK = 16 };

/* ---- plain C ---------------------------------------------------------- */

/* x: [N][H][W][C], the weights [K][kh][kw][C/g], acc [N][H'][W'][K]. */
static void run_scalar(const hant__qdirect *q, const uint8_t *x, int32_t *acc) {
  const hant_conv_desc *d = &q->d;
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  for (int n = 0; n < q->n; n++)
    for (int oh = 0; oh < q->oh; oh++)
      for (int ow = 0; ow < q->ow; ow++) {
        int32_t *a = acc + (((size_t)n * q->oh + oh) * q->ow + ow) * d->c_out;
        for (int k = 0; k < d->c_out; k++) {
          int32_t sum = 0;
          for (int i = 0; i < d->kh; i++) {
            int ih = oh * d->sh - d->ph + i;
            if (ih < 0 || ih >= q->h)
              continue;
            for (int j = 0; j < d->kw; j++) {
              int iw = ow * d->sw - d->pw + j;
              if (iw < 0 || iw >= q->w)
                continue;
              const uint8_t *xp = x + (((size_t)n * q->h + ih) * q->w + iw) * d->c_in + (size_t)(k / kg) * cg;
              const int8_t *wp = q->w8 + (((size_t)k * d->kh + i) * d->kw + j) * cg;
              for (int c = 0; c < cg; c++)
                sum += (int32_t)xp[c] * wp[c];
            }
          }
          a[k] = sum;
        }
      }
}

static int pack_scalar(hant__qdirect *q, const int8_t *wt) {
  const hant_conv_desc *d = &q->d;
  int cg = d->c_in / d->groups;
  if (!(q->w8 = malloc((size_t)d->c_out * d->kh * d->kw * cg)))
    return HANT_ENOMEM;
  for (int k = 0; k < d->c_out; k++)
    for (int c = 0; c < cg; c++)
      for (int i = 0; i < d->kh; i++)
        for (int j = 0; j < d->kw; j++)
          q->w8[(((size_t)k * d->kh + i) * d->kw + j) * cg + c] = wt[(((size_t)k * cg + c) * d->kh + i) * d->kw + j];
  return 0;
}

/* ---- packing for the SIMD kernels ----------------------------------------
 * Packing is plain C; only running needs AVX2. */

/* Exactness: a uint8 x int8 product lies in [-32640, 32385], so it fits
 * int16, and vpmaddwd adds two of them into int32 (|sum| <= 65280) without
 * saturating. The kernels widen activations to int16 and multiply pairs of
 * adjacent values of a window by pairs of weights.
 *
 * A window is a set of runs of values contiguous in the padded input. With
 * one group a row of the window is one run, kw * C long, since the padded
 * input keeps C channels per pixel: pairs may straddle two taps, and fewer
 * are wasted than when each tap's C values are padded to even (C = 1, 3x3:
 * 3 runs of 2 pairs instead of 9 taps of 1). With several groups each tap
 * is a run of the group's C/g channels, padded to even with a 0 channel.
 *
 * Weights: group g, chunk of 16 output channels from k0 (8 for the last
 * when K/g rounds up to an odd multiple of 8): [run][pair][lane][2] int16,
 * chunks one after the other; channels past K/g and values past a run's end
 * have weight 0. */
static int pack_general(hant__qdirect *q, const int8_t *wt) {
  const hant_conv_desc *d = &q->d;
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups, kk = d->kh * d->kw;
  bool flat = d->groups == 1;
  q->kgp = (kg + 7) / 8 * 8;
  q->gstride = flat ? d->c_in : (cg + 1) / 2 * 2;
  q->cp = flat ? d->c_in : d->groups * q->gstride;
  q->nseg = flat ? d->kh : kk;
  q->npair = flat ? (d->kw * d->c_in + 1) / 2 : q->gstride / 2;
  size_t per_k = (size_t)q->nseg * q->npair * 2; /* packed int16 per output channel */
  if (!(q->seg = malloc(sizeof(*q->seg) * (size_t)q->nseg)) ||
      !(q->w16 = calloc((size_t)d->groups * q->kgp * per_k, sizeof(int16_t))))
    return HANT_ENOMEM;
  for (int s = 0; s < q->nseg; s++)
    q->seg[s] = flat ? (ptrdiff_t)s * q->wp * q->cp : ((ptrdiff_t)(s / d->kw) * q->wp + s % d->kw) * q->cp;
  for (int g = 0; g < d->groups; g++)
    for (int k0 = 0; k0 < q->kgp; k0 += 16) {
      int mw = q->kgp - k0 >= 16 ? 16 : 8;
      int16_t *chunk = q->w16 + ((size_t)g * q->kgp + k0) * per_k;
      for (int lane = 0; lane < mw && k0 + lane < kg; lane++) {
        size_t k = (size_t)g * kg + k0 + lane;
        for (int s = 0; s < q->nseg; s++)
          for (int e = 0; e < 2 * q->npair; e++) {
            int i = flat ? s : s / d->kw, j = flat ? e / d->c_in : s % d->kw, c = flat ? e % d->c_in : e;
            if (j >= d->kw || c >= cg)
              continue;
            chunk[(((size_t)s * q->npair + e / 2) * mw + lane) * 2 + e % 2] = wt[((k * cg + c) * d->kh + i) * d->kw + j];
          }
      }
    }
  return 0;
}

/* Depthwise, and other convolutions with one input channel per group and
 * a small channel multiplier (K/g < 8): each output channel reads one
 * input channel, so the 8 lanes of a vector hold 8 output channels and
 * the pair a lane multiplies is two taps of its input channel (the general
 * kernel would pad both the pair and the 8 lanes, wasting up to 15 in 16).
 * vpunpcklwd/vpunpckhwd interleave two taps' 16 channels as channels
 * {0-3, 8-11} and {4-7, 12-15} (they work within 128-bit halves); the
 * weights are packed in that order and the sums put back in channel order
 * once per pixel. Per block of 16 channels and pair of taps:
 * [lo: 8 lanes x 2][hi: 8 lanes x 2] int16. An odd last tap is paired with
 * itself and a weight of 0. Padded pixels hold K rounded up to 16
 * channels, so every load is whole. */
static int pack_depthwise(hant__qdirect *q, const int8_t *wt) {
  const hant_conv_desc *d = &q->d;
  int c_n = d->c_out, kk = d->kh * d->kw;
  q->cp = (c_n + 15) / 16 * 16;
  q->npair = (kk + 1) / 2;
  if (!(q->seg = malloc(sizeof(*q->seg) * 2 * (size_t)q->npair)) ||
      !(q->w16 = calloc((size_t)q->cp * q->npair * 2, sizeof(int16_t))))
    return HANT_ENOMEM;
  for (int t = 0; t < 2 * q->npair; t++) {
    int tap = t < kk ? t : t - 1;
    q->seg[t] = ((ptrdiff_t)(tap / d->kw) * q->wp + tap % d->kw) * q->cp;
  }
  for (int cb = 0; cb < q->cp / 16; cb++)
    for (int tp = 0; tp < q->npair; tp++) {
      int16_t *v = q->w16 + ((size_t)cb * q->npair + tp) * 32;
      for (int half = 0; half < 2; half++)
        for (int lane = 0; lane < 8; lane++)
          for (int e = 0; e < 2; e++) {
            int c = cb * 16 + lane % 4 + (lane / 4) * 8 + half * 4, t = 2 * tp + e;
            if (c < c_n && t < kk)
              v[(half * 8 + lane) * 2 + e] = wt[(size_t)c * kk + t];
          }
    }
  return 0;
}

/* ---- AVX2 ------------------------------------------------------------- */

#if QD_X86

/* Output pixels per block: each weight pair loaded is used for QD_PX
 * pixels. 4 pixels x 16 channels keep 8 sums in registers, with room for
 * the two weight vectors and the broadcast value. */
#define QD_PX 4
/* Output pixels whose windows stay in cache while every chunk of weights
 * passes over them. */
#define QD_TILE 64

QD_AVX2_INLINE __m256i bcast_pair(const int16_t *p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

QD_AVX2_INLINE __m256i lane_mask(int valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Stores the first `valid` of 8 sums (all when valid >= 8). */
QD_AVX2_INLINE void store8(int32_t *out, __m256i v, int valid) {
  if (valid >= 8)
    _mm256_storeu_si256((__m256i *)out, v);
  else if (valid > 0)
    _mm256_maskstore_epi32((int *)out, lane_mask(valid), v);
}

/* px_n pixels (at most QD_PX; a constant where inlined) x 16 output
 * channels. x[p] is pixel p's window corner, out pixel p's first sum. */
QD_AVX2_INLINE void block16(const int px_n, const int16_t *const *x, const ptrdiff_t *seg, int nseg, int npair,
                            const int16_t *w, int32_t *out, size_t k_n, int valid) {
  __m256i a[QD_PX][2];
  for (int p = 0; p < px_n; p++)
    a[p][0] = a[p][1] = _mm256_setzero_si256();
  for (int s = 0; s < nseg; s++) {
    const int16_t *r[QD_PX];
    for (int p = 0; p < px_n; p++)
      r[p] = x[p] + seg[s];
    for (int e = 0; e < npair; e++, w += 32) {
      __m256i w0 = _mm256_loadu_si256((const __m256i *)w), w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
      for (int p = 0; p < px_n; p++) {
        __m256i b = bcast_pair(r[p] + 2 * e);
        a[p][0] = _mm256_add_epi32(a[p][0], _mm256_madd_epi16(b, w0));
        a[p][1] = _mm256_add_epi32(a[p][1], _mm256_madd_epi16(b, w1));
      }
    }
  }
  for (int p = 0; p < px_n; p++) {
    store8(out + p * k_n, a[p][0], valid);
    store8(out + p * k_n + 8, a[p][1], valid - 8);
  }
}

/* The same for a chunk of 8 output channels. */
QD_AVX2_INLINE void block8(const int px_n, const int16_t *const *x, const ptrdiff_t *seg, int nseg, int npair,
                           const int16_t *w, int32_t *out, size_t k_n, int valid) {
  __m256i a[QD_PX];
  for (int p = 0; p < px_n; p++)
    a[p] = _mm256_setzero_si256();
  for (int s = 0; s < nseg; s++) {
    const int16_t *r[QD_PX];
    for (int p = 0; p < px_n; p++)
      r[p] = x[p] + seg[s];
    for (int e = 0; e < npair; e++, w += 16) {
      __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
      for (int p = 0; p < px_n; p++)
        a[p] = _mm256_add_epi32(a[p], _mm256_madd_epi16(bcast_pair(r[p] + 2 * e), w0));
    }
  }
  for (int p = 0; p < px_n; p++)
    store8(out + p * k_n, a[p], valid);
}

/* One chunk of output channels over px_n pixels: whole blocks, then the
 * 1 to QD_PX - 1 pixels left with a block of their size, since computing
 * a whole block for them would waste up to 3 in 4 of its work (rows of 7
 * output pixels at batch 1 leave 1 in 49). */
static QD_AVX2 void run_chunk(bool wide, const int16_t *const *x, int px_n, const hant__qdirect *q, const int16_t *w,
                              int32_t *out, size_t k_n, int valid) {
  int p = 0;
  if (wide) {
    for (; p + QD_PX <= px_n; p += QD_PX)
      block16(QD_PX, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid);
    switch (px_n - p) {
    case 3: block16(3, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid); break;
    case 2: block16(2, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid); break;
    case 1: block16(1, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid); break;
    }
  } else {
    for (; p + QD_PX <= px_n; p += QD_PX)
      block8(QD_PX, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid);
    switch (px_n - p) {
    case 3: block8(3, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid); break;
    case 2: block8(2, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid); break;
    case 1: block8(1, x + p, q->seg, q->nseg, q->npair, w, out + p * k_n, k_n, valid); break;
    }
  }
}

static QD_AVX2 void widen(const uint8_t *s, int16_t *t, size_t len) {
  size_t i = 0;
  for (; i + 16 <= len; i += 16)
    _mm256_storeu_si256((__m256i *)(t + i), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(s + i))));
  for (; i < len; i++)
    t[i] = s[i];
}

/* One sample, x: [H][W][C] uint8 -> xp: [H + 2ph][W + 2pw][cp] int16, zero
 * around the input, in the channels each group pads to, and in the slack.
 * For QD_DEPTHWISE with K/g > 1 each input channel is repeated K/g times,
 * so that padded channel k is the one output channel k reads.
 * Only what the input does not cover is cleared: clearing it all first
 * would write the buffer twice. */
static QD_AVX2 void widen_pad(const hant__qdirect *q, const uint8_t *x, int16_t *xp) {
  const hant_conv_desc *d = &q->d;
  int c_n = d->c_in, cg = c_n / d->groups, kg = d->c_out / d->groups;
  size_t row = (size_t)q->wp * q->cp, side = (size_t)d->pw * q->cp; /* int16 in a padded row, in its padding each side */
  memset(xp, 0, (size_t)d->ph * row * sizeof(*xp));
  memset(xp + (size_t)(d->ph + q->h) * row, 0, (size_t)d->ph * row * sizeof(*xp));
  for (int ih = 0; ih < q->h; ih++) {
    const uint8_t *s = x + (size_t)ih * q->w * c_n;
    int16_t *t = xp + (size_t)(ih + d->ph) * row;
    memset(t, 0, side * sizeof(*t));
    memset(t + row - side, 0, side * sizeof(*t));
    t += side;
    if (q->path == QD_DEPTHWISE && kg > 1) {
      for (int iw = 0; iw < q->w; iw++) {
        int16_t *tp = t + (size_t)iw * q->cp;
        const uint8_t *sp = s + (size_t)iw * c_n;
        for (int k = 0, j = 0; k < d->c_out; k++) {
          tp[k] = *sp;
          if (++j == kg)
            j = 0, sp++;
        }
        memset(tp + d->c_out, 0, (size_t)(q->cp - d->c_out) * sizeof(*t));
      }
    } else if (q->cp == c_n) {
      widen(s, t, (size_t)q->w * c_n);
    } else if (q->path == QD_DEPTHWISE) {
      for (int iw = 0; iw < q->w; iw++) {
        widen(s + (size_t)iw * c_n, t + (size_t)iw * q->cp, (size_t)c_n);
        memset(t + (size_t)iw * q->cp + c_n, 0, (size_t)(q->cp - c_n) * sizeof(*t));
      }
    } else {
      for (int iw = 0; iw < q->w; iw++)
        for (int g = 0; g < d->groups; g++) {
          int16_t *tg = t + (size_t)iw * q->cp + (size_t)g * q->gstride;
          const uint8_t *sg = s + (size_t)iw * c_n + (size_t)g * cg;
          for (int c = 0; c < cg; c++)
            tg[c] = sg[c];
          for (int c = cg; c < q->gstride; c++)
            tg[c] = 0;
        }
    }
  }
  memset(xp + q->xp_elems - QD_SLACK, 0, QD_SLACK * sizeof(*xp));
}

/* One sample: xp widened and padded, acc: [H'][W'][K]. */
static QD_AVX2 void run_general(const hant__qdirect *q, const int16_t *xp, int32_t *acc) {
  const hant_conv_desc *d = &q->d;
  int kg = d->c_out / d->groups, px_total = q->oh * q->ow;
  size_t k_n = (size_t)d->c_out, per_k = (size_t)q->nseg * q->npair * 2;
  const int16_t *x[QD_TILE], *xg[QD_TILE];
  int oh = 0, ow = 0;
  for (int p0 = 0; p0 < px_total; p0 += QD_TILE) {
    int px_n = px_total - p0 < QD_TILE ? px_total - p0 : QD_TILE;
    for (int p = 0; p < px_n; p++) {
      x[p] = xp + ((size_t)oh * d->sh * q->wp + (size_t)ow * d->sw) * q->cp;
      if (++ow == q->ow)
        ow = 0, oh++;
    }
    for (int g = 0; g < d->groups; g++) {
      for (int p = 0; p < px_n; p++)
        xg[p] = x[p] + (size_t)g * q->gstride;
      for (int k0 = 0; k0 < q->kgp; k0 += 16)
        run_chunk(q->kgp - k0 >= 16, xg, px_n, q, q->w16 + ((size_t)g * q->kgp + k0) * per_k,
                  acc + p0 * k_n + (size_t)g * kg + k0, k_n, kg - k0);
    }
  }
}

static QD_AVX2 void run_depthwise(const hant__qdirect *q, const int16_t *xp, int32_t *acc) {
  const hant_conv_desc *d = &q->d;
  int c_n = d->c_out;
  int32_t *out = acc;
  for (int oh = 0; oh < q->oh; oh++)
    for (int ow = 0; ow < q->ow; ow++, out += c_n) {
      const int16_t *x = xp + ((size_t)oh * d->sh * q->wp + (size_t)ow * d->sw) * q->cp;
      for (int cb = 0; cb < q->cp / 16; cb++) {
        const int16_t *w = q->w16 + (size_t)cb * q->npair * 32, *xc = x + cb * 16;
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (int tp = 0; tp < q->npair; tp++, w += 32) {
          __m256i t0 = _mm256_loadu_si256((const __m256i *)(xc + q->seg[2 * tp]));
          __m256i t1 = _mm256_loadu_si256((const __m256i *)(xc + q->seg[2 * tp + 1]));
          lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(t0, t1),
                                                       _mm256_loadu_si256((const __m256i *)w)));
          hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(t0, t1),
                                                       _mm256_loadu_si256((const __m256i *)(w + 16))));
        }
        store8(out + cb * 16, _mm256_permute2x128_si256(lo, hi, 0x20), c_n - cb * 16);
        store8(out + cb * 16 + 8, _mm256_permute2x128_si256(lo, hi, 0x31), c_n - cb * 16 - 8);
      }
    }
}

/* Sample by sample, so that the widened input is still in cache when the
 * kernel reads it: widening the whole batch first made 3x3 convolutions
 * 20-30% slower at batch 64 (AMD EPYC, AVX2), its int16 copy being larger
 * than L2. */
static QD_AVX2 void run_simd(const hant__qdirect *q, const uint8_t *x, int32_t *acc, int16_t *xp) {
  size_t x_per = (size_t)q->h * q->w * q->d.c_in, acc_per = (size_t)q->oh * q->ow * q->d.c_out;
  for (int n = 0; n < q->n; n++) {
    widen_pad(q, x + n * x_per, xp);
    if (q->path == QD_DEPTHWISE)
      run_depthwise(q, xp, acc + n * acc_per);
    else
      run_general(q, xp, acc + n * acc_per);
  }
}

static bool cpu_avx2(void) { return __builtin_cpu_supports("avx2"); }

#else

static bool cpu_avx2(void) { return false; }

#endif

/* ---- interface -------------------------------------------------------- */

int hant__qdirect_pack(const hant_conv_desc *d, int n, int h, int w, const int8_t *wt, hant__qdirect_kernel kernel,
                       hant__qdirect **out) {
  HANT_ASSERT(kernel >= 0 && kernel < HANT__QDIRECT_COUNT);
  *out = NULL;
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  if (n <= 0 || h <= 0 || w <= 0)
    return hant__error(HANT_EINVAL, "int8 conv: batch %d of %dx%d inputs is empty", n, h, w);
  hant__qdirect *q = calloc(1, sizeof(*q));
  if (!q)
    return hant__error(HANT_ENOMEM, "int8 conv: no memory for packed weights");
  q->d = *d, q->n = n, q->h = h, q->w = w;
  q->oh = hant_conv_out_h(d, h), q->ow = hant_conv_out_w(d, w);
  q->hp = h + 2 * d->ph, q->wp = w + 2 * d->pw;
  int cg = d->c_in / d->groups, kg = d->c_out / d->groups;
  /* With K/g >= 8 the general kernel fills its 8 lanes and wastes only
   * the second half of each pair, which beats repeating the input channel
   * K/g times (measured 4-5x faster for 1 -> 16 channels, 3x3, 28x28). */
  if (kernel != HANT__QDIRECT_FASTEST || !cpu_avx2())
    q->path = QD_SCALAR;
  else
    q->path = cg == 1 && kg < 8 ? QD_DEPTHWISE : QD_GENERAL;
  rc = q->path == QD_SCALAR ? pack_scalar(q, wt) : q->path == QD_DEPTHWISE ? pack_depthwise(q, wt) : pack_general(q, wt);
  if (rc) {
    hant__qdirect_free(q);
    return hant__error(rc, "int8 conv: no memory for packed weights");
  }
  q->xp_elems = (size_t)q->hp * q->wp * q->cp + QD_SLACK;
  *out = q;
  return 0;
}

int hant__qdirect_run(const hant__qdirect *q, const uint8_t *x, int32_t *acc, hant_arena *scratch) {
  if (q->path == QD_SCALAR) {
    run_scalar(q, x, acc);
    return 0;
  }
#if QD_X86
  size_t bytes = q->xp_elems * sizeof(int16_t);
  int16_t *owned = NULL, *xp = scratch ? hant_arena_alloc(scratch, bytes) : (owned = malloc(bytes));
  if (!xp)
    return hant__error(HANT_ENOMEM, "int8 conv: no memory for the widened input (%zu bytes)", bytes);
  run_simd(q, x, acc, xp);
  free(owned);
  return 0;
#else
  HANT_ASSERT(!"SIMD path chosen without SIMD kernels");
  return 0;
#endif
}

bool hant__qdirect_simd(const hant__qdirect *q) { return q->path != QD_SCALAR; }

void hant__qdirect_free(hant__qdirect *q) {
  if (!q)
    return;
  free(q->w8);
  free(q->w16);
  free(q->seg);
  free(q);
}
