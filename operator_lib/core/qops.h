/* SPDX-License-Identifier: MIT */
/* qops.h: int8 operator kernels for quantised inference: convolutions of uint8 activations by int8 weights into int32 sums. */
#ifndef HANT_QOPS_H
#define HANT_QOPS_H

#include <stdint.h>

#include "arena.h"
#include "ops.h"

/* ---- int8 convolution with packed weights --------------------------------
 * x: [N, C, H, W] uint8, channels last as every activation (ops.h)
 * w: [K, C/g, kh, kw] int8  -> acc: [N, K, H', W'] int32, channels last.
 * acc is the exact sum of x * w over each window, padding counting as 0;
 * the caller adds its bias and zero-point terms and requantises, so the
 * result is the same integer whichever kernel oneDNN picks (on this CPU,
 * AVX-512 VNNI). The packed convolution serves batches of exactly n samples
 * of h x w on the thread count set when it was packed; it copies wt. */
typedef struct hant_qconv_packed hant_qconv_packed;

int hant_qconv_pack(const hant_conv_desc *d, int n, int h, int w, const int8_t *wt, hant_qconv_packed **out);
int hant_qconv_packed_forward(const hant_qconv_packed *pk, const uint8_t *x, int32_t *acc, hant_arena *scratch);
void hant_qconv_packed_free(hant_qconv_packed *pk);

#endif
