/* SPDX-License-Identifier: MIT */
/* ops_ref.h: the reference kernels tests check libhant's operators against, one per function of ops.h. */
#ifndef HANT_OPS_REF_H
#define HANT_OPS_REF_H

#include "hant.h"

/* These are hant's own hand-written kernels as they were before the library
 * moved to oneDNN: im2col + hant_gemm convolution with a direct depthwise
 * path, two-pass batch norm in double, and plain loops for the rest. Each
 * function keeps the contract of its namesake in ops.h (shapes, units,
 * accumulate versus overwrite, saved statistics), so a test can call both on
 * the same buffers and compare. They are single-threaded and deterministic. */

/* x: [N, C, H, W]  w: [K, C/g, kh, kw]  b: [K] or NULL  -> y: [N, K, H', W']
 * Scratch comes from the arena; the caller resets it. */
int ref_conv_forward(const hant_conv_desc *d, const float *x, int n, int h, int w, const float *wt,
                     const float *bias, float *y, hant_arena *scratch);
/* Accumulates into dw and db (db may be NULL); overwrites dx when non-NULL. */
int ref_conv_backward(const hant_conv_desc *d, const float *x, int n, int h, int w, const float *wt,
                      const float *dy, float *dx, float *dw, float *db, hant_arena *scratch);

/* Saves mean and 1/sqrt(var + eps) per channel; updates the running
 * statistics with the unbiased variance when run_mean is non-NULL. */
void ref_bn_forward_train(const float *x, int n, int c, int hw, const float *gamma, const float *beta,
                          float *run_mean, float *run_var, float momentum, float eps, float *y, float *save_mean,
                          float *save_invstd);
void ref_bn_forward_eval(const float *x, int n, int c, int hw, const float *gamma, const float *beta,
                         const float *run_mean, const float *run_var, float eps, float *y);
/* Accumulates dgamma and dbeta; overwrites dx when non-NULL. */
void ref_bn_backward(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                     const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta);

void ref_act_forward(hant_act a, const float *x, float *y, size_t n);
void ref_act_backward(hant_act a, const float *x, const float *dy, float *dx, size_t n);

/* idx: [N, C, H', W'] argmax positions within each input plane (first
 * maximum in row-major window order), -1 for a window with no input. */
void ref_maxpool_forward(const hant_pool_desc *d, const float *x, int n, int c, int h, int w, float *y, int *idx);
void ref_maxpool_backward(const hant_pool_desc *d, const float *dy, const int *idx, int n, int c, int h, int w,
                          float *dx);
void ref_avgpool_forward(const hant_pool_desc *d, const float *x, int n, int c, int h, int w, float *y);
void ref_avgpool_backward(const hant_pool_desc *d, const float *dy, int n, int c, int h, int w, float *dx);
void ref_gap_forward(const float *x, int n, int c, int hw, float *y);
void ref_gap_backward(const float *dy, int n, int c, int hw, float *dx);

/* x: [N, in]  w: [out, in]  b: [out] or NULL  -> y: [N, out].
 * Backward accumulates dw and db and overwrites dx when non-NULL. */
void ref_linear_forward(const float *x, int n, int in, int out, const float *w, const float *b, float *y);
void ref_linear_backward(const float *x, const float *dy, int n, int in, int out, const float *w, float *dx,
                         float *dw, float *db);

/* Channel moves in the channels-first layout, written from their
 * definitions: Concat on axis 1, a Slice of axis 1, and ShuffleNet's
 * reshape [N, g, C/g, H, W], transpose (0, 2, 1, 3, 4), reshape back.
 * Backward overwrites da, db, dx (da or db may be NULL). */
void ref_concat_forward(const float *a, int ca, const float *b, int cb, int n, int hw, float *y);
void ref_concat_backward(const float *dy, int ca, int cb, int n, int hw, float *da, float *db);
void ref_chslice_forward(const float *x, int c, int first, int cy, int n, int hw, float *y);
void ref_chslice_backward(const float *dy, int c, int first, int cy, int n, int hw, float *dx);
void ref_shuffle_forward(const float *x, int c, int groups, int n, int hw, float *y);
void ref_shuffle_backward(const float *dy, int c, int groups, int n, int hw, float *dx);
/* a: [N, C, H, W] channels first; b: the same shape (bhw == H*W) or
 * [N, C, 1, 1] (bhw == 1), broadcast.  y = a * b. Backward overwrites da
 * and db (either may be NULL). */
void ref_mul_forward(const float *a, const float *b, int n, int c, int hw, int bhw, float *y);
void ref_mul_backward(const float *a, const float *b, const float *dy, int n, int c, int hw, int bhw, float *da,
                      float *db);

#endif
