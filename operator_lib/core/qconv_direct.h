/* SPDX-License-Identifier: MIT */
/* qconv_direct.h: the exact int8 convolution that runs without oneDNN, for CPUs where oneDNN's int8 kernels saturate (qconv.c chooses). */
#ifndef HANT_QCONV_DIRECT_H
#define HANT_QCONV_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "ops.h"

/* Which kernel a direct convolution may use. FASTEST takes the AVX2 one
 * when the CPU has AVX2 (checked once, at pack time) and the plain C loop
 * otherwise; PORTABLE always takes the plain C loop, so that tests can hold
 * both against a reference on any machine. */
typedef enum hant__qdirect_kernel {
  HANT__QDIRECT_FASTEST,
  HANT__QDIRECT_PORTABLE,
  HANT__QDIRECT_COUNT
} hant__qdirect_kernel;

typedef struct hant__qdirect hant__qdirect;

/* x: [N, H, W, C] uint8   wt: [K, C/g, kh, kw] int8   -> acc: [N, H', W', K] int32
 * acc is the exact sum of x * wt over each window, a tap outside the input
 * adding 0, whichever kernel runs: the sums are the same integers as those
 * of an int64 reference as long as they fit int32. The packed convolution
 * serves batches of exactly n samples of h x w and copies wt. Returns 0, or
 * HANT_EINVAL for an unusable description, HANT_ENOMEM; *out is then NULL. */
int hant__qdirect_pack(const hant_conv_desc *d, int n, int h, int w, const int8_t *wt, hant__qdirect_kernel kernel,
                       hant__qdirect **out);
/* The SIMD kernels need one sample's input widened to int16 and padded,
 * about (h + 2ph) * (w + 2pw) * C * 2 bytes (more where channels are
 * padded: odd C/g, depthwise C not a multiple of 16). It comes from scratch
 * and is released by the caller's reset; with scratch NULL it is malloc'ed
 * and freed before returning. Returns 0 or HANT_ENOMEM. */
int hant__qdirect_run(const hant__qdirect *q, const uint8_t *x, int32_t *acc, hant_arena *scratch);
/* Whether q runs a SIMD kernel rather than the plain C loop. */
bool hant__qdirect_simd(const hant__qdirect *q);
void hant__qdirect_free(hant__qdirect *q);

#endif
