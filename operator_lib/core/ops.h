/* SPDX-License-Identifier: MIT */
/* ops.h: operator kernels, each with a forward and a backward, on raw float32 buffers, activations channels last. */
#ifndef HANT_OPS_H
#define HANT_OPS_H

#include <stdbool.h>

#include "arena.h"
#include "tensor.h"

/* Layouts. Activations (x, y and their gradients) are channels last:
 * element (n, c, h, w) of a [N, C, H, W] tensor is at ((n*H + h)*W + w)*C
 * + c, the layout oneDNN's direct kernels run fastest on (on channels-first
 * buffers it would fall back to a GEMM over an im2col copy). Shapes below
 * are written in the logical order [N, C, H, W] all the same. Parameters
 * keep PyTorch's and ONNX's plain row-major order: conv weights [K, C/g,
 * kh, kw], linear weights [out, in]. With one channel, or 1x1 planes, the
 * two activation layouts are the same bytes.
 *
 * ---- conv2d ------------------------------------------------------------
 * x: [N, C, H, W]  w: [K, C/g, kh, kw]  b: [K] or NULL  -> y: [N, K, H', W']
 * H' = (H + 2*ph - kh) / sh + 1. Depthwise is groups == C == K. */
typedef struct hant_conv_desc {
  int c_in, c_out;
  int kh, kw;
  int sh, sw;
  int ph, pw;
  int groups;
} hant_conv_desc;

static inline int hant_conv_out_h(const hant_conv_desc *d, int h) {
  return (h + 2 * d->ph - d->kh) / d->sh + 1;
}
static inline int hant_conv_out_w(const hant_conv_desc *d, int w) {
  return (w + 2 * d->pw - d->kw) / d->sw + 1;
}
/* Returns 0 or HANT_EINVAL with a message when the description is unusable. */
int hant_conv_check(const hant_conv_desc *d, int h, int w);

/* Scratch comes from the arena and is released by the caller's reset. */
int hant_conv_forward(const hant_conv_desc *d, const float *x, int n, int h,
                      int w, const float *wt, const float *bias, float *y,
                      hant_arena *scratch);
/* Accumulates into dw and db (db may be NULL); writes dx when non-NULL
 * (overwrites, does not accumulate). */
int hant_conv_backward(const hant_conv_desc *d, const float *x, int n, int h,
                       int w, const float *wt, const float *dy, float *dx,
                       float *dw, float *db, hant_arena *scratch);

/* ---- batch norm over N, H, W per channel ---------------------------------
 * Training mode uses batch statistics, stores mean and 1/sqrt(var + eps) in
 * save_mean/save_invstd ([C]) and updates the running statistics with
 * running = (1 - momentum) * running + momentum * batch (unbiased var),
 * which is PyTorch's convention. */
void hant_bn_forward_train(const float *x, int n, int c, int hw,
                           const float *gamma, const float *beta,
                           float *run_mean, float *run_var, float momentum,
                           float eps, float *y, float *save_mean,
                           float *save_invstd);
void hant_bn_forward_eval(const float *x, int n, int c, int hw,
                          const float *gamma, const float *beta,
                          const float *run_mean, const float *run_var,
                          float eps, float *y);
/* Backward of the training-mode forward. Accumulates dgamma and dbeta. */
void hant_bn_backward(const float *x, const float *dy, int n, int c, int hw,
                      const float *gamma, const float *save_mean,
                      const float *save_invstd, float *dx, float *dgamma,
                      float *dbeta);
/* Folds an eval-mode BN into the preceding conv: w[K, ...] and b[K] are
 * rewritten in place so conv(x) alone equals bn(conv(x)). b must exist. */
void hant_bn_fold(int k, int per_k, float *w, float *b, const float *gamma,
                  const float *beta, const float *run_mean,
                  const float *run_var, float eps);

/* ---- element-wise activations ------------------------------------------ */
typedef enum hant_act {
  HANT_ACT_NONE,
  HANT_ACT_RELU,
  HANT_ACT_RELU6,
  HANT_ACT_HSWISH,
  /* squeeze-and-excitation activations (MobileNetV3, EfficientNet, RegNetY) */
  HANT_ACT_SIGMOID,  /* 1 / (1 + exp(-x)) */
  HANT_ACT_SILU,     /* x * sigmoid(x), also called swish */
  HANT_ACT_HSIGMOID, /* relu6(x + 3) / 6, PyTorch's Hardsigmoid (ONNX HardSigmoid alpha 1/6, beta 1/2) */
  HANT_ACT_COUNT
} hant_act;

/* Name as written in architecture descriptions ("relu", ...), or NULL. */
const char *hant_act_name(hant_act a);
/* Returns HANT_ACT_COUNT when the name is unknown. */
hant_act hant_act_from_name(const char *s);

void hant_act_forward(hant_act a, const float *x, float *y, size_t n);
/* dx = dy * act'(x). x is the activation's input. */
void hant_act_backward(hant_act a, const float *x, const float *dy, float *dx,
                       size_t n);

/* ---- element-wise multiply with broadcast --------------------------------
 * a: [N, C, H, W]  b: [N, C, H, W] or [N, C, 1, 1] (bhw is H*W or 1)
 * -> y: [N, C, H, W], y = a * b, b broadcast over H and W when bhw is 1:
 * the channel gate of squeeze-and-excitation. */
void hant_mul_forward(const float *a, const float *b, int n, int c, int hw, int bhw, float *y);
/* Writes da = dy * b and db = sum over H, W of dy * a (overwrites; either
 * may be NULL when not wanted). */
void hant_mul_backward(const float *a, const float *b, const float *dy, int n, int c, int hw, int bhw, float *da,
                       float *db);

/* ---- inference convolution with packed weights --------------------------
 * For a network that only infers: the weights are copied once into the
 * layout the kernel runs fastest on (rather than reordered on every call),
 * and what follows the convolution in the network is fused into its output
 * pass: y = act(conv(x) + b + r), where r, the residual, is what y held
 * before the call when post->sum, and act is post->act (or none). The
 * packed convolution serves batches of exactly n samples of h x w, on the
 * thread count set when it was packed. It copies wt and bias; the caller
 * keeps its own. */
typedef struct hant_conv_post {
  bool sum;     /* add y's previous contents (a residual) before act */
  hant_act act; /* HANT_ACT_NONE for none; not HANT_ACT_HSIGMOID (HANT_EINVAL) */
} hant_conv_post;

typedef struct hant_conv_packed hant_conv_packed;

int hant_conv_pack(const hant_conv_desc *d, int n, int h, int w, const float *wt, const float *bias,
                   const hant_conv_post *post, hant_conv_packed **out);
int hant_conv_packed_forward(const hant_conv_packed *pk, const float *x, float *y, hant_arena *scratch);
void hant_conv_packed_free(hant_conv_packed *pk);

/* ---- pooling ------------------------------------------------------------ */
typedef struct hant_pool_desc {
  int k, s, p;
  bool count_include_pad; /* average pool only; PyTorch's default is true */
  /* Max pool only: the output size rounds up, so a last window may hang
   * over the right and bottom edges (PyTorch's and ONNX's ceil_mode; a
   * window that would start in the right padding is dropped). GoogLeNet's
   * and SqueezeNet's pools use it. */
  bool ceil_mode;
} hant_pool_desc;

static inline int hant_pool_out(const hant_pool_desc *d, int h) {
  int span = h + 2 * d->p - d->k;
  if (!d->ceil_mode || span < 0)
    return span / d->s + 1;
  int o = (span + d->s - 1) / d->s + 1;
  return (o - 1) * d->s >= h + d->p ? o - 1 : o;
}
/* idx: [N, C, H', W'], channels last as y: argmax positions within each
 * input plane (ih * W + iw). */
void hant_maxpool_forward(const hant_pool_desc *d, const float *x, int n,
                          int c, int h, int w, float *y, int *idx);
void hant_maxpool_backward(const hant_pool_desc *d, const float *dy,
                           const int *idx, int n, int c, int h, int w,
                           float *dx);
void hant_avgpool_forward(const hant_pool_desc *d, const float *x, int n,
                          int c, int h, int w, float *y);
void hant_avgpool_backward(const hant_pool_desc *d, const float *dy, int n,
                           int c, int h, int w, float *dx);
/* [N, C, H, W] -> [N, C] */
void hant_gap_forward(const float *x, int n, int c, int hw, float *y);
void hant_gap_backward(const float *dy, int n, int c, int hw, float *dx);

/* ---- linear -------------------------------------------------------------
 * x: [N, in] (a flattened activation: channels first, see net.c)  w: [out, in]  b: [out] or NULL  -> y: [N, out] */
void hant_linear_forward(const float *x, int n, int in, int out,
                         const float *w, const float *b, float *y);
/* Accumulates dw, db; writes dx when non-NULL. */
void hant_linear_backward(const float *x, const float *dy, int n, int in,
                          int out, const float *w, float *dx, float *dw,
                          float *db);

/* ---- channel moves: concatenation, slices, shuffles ----------------------
 * Pure data movement along C, so per pixel (channels last) each is a copy
 * of contiguous runs. ShuffleNet's units split, concatenate and shuffle;
 * SqueezeNet's and GoogLeNet's modules concatenate. */
/* a: [N, ca, H, W], b: [N, cb, H, W] -> y: [N, ca + cb, H, W] */
void hant_concat_forward(const float *a, int ca, const float *b, int cb, int n, int hw, float *y);
/* da and db are written (not accumulated); either may be NULL. */
void hant_concat_backward(const float *dy, int ca, int cb, int n, int hw, float *da, float *db);
/* x: [N, c, H, W] -> y: [N, cy, H, W], channels [first, first + cy) */
void hant_chslice_forward(const float *x, int c, int first, int cy, int n, int hw, float *y);
/* dx is written in full: zero outside the slice. */
void hant_chslice_backward(const float *dy, int c, int first, int cy, int n, int hw, float *dx);
/* ShuffleNet's channel shuffle with g groups of c/g: x viewed as [N, g,
 * c/g, H, W], transposed to [N, c/g, g, H, W]; output channel j*g + i is
 * input channel i*(c/g) + j. The backward is the inverse permutation. */
void hant_shuffle_forward(const float *x, int c, int groups, int n, int hw, float *y);
void hant_shuffle_backward(const float *dy, int c, int groups, int n, int hw, float *dx);

/* ---- losses -------------------------------------------------------------
 * Each returns the mean loss over the batch and writes d(loss)/d(input). */
/* logits: [N, K], labels in [0, K). smoothing in [0, 1). */
float hant_loss_xent(const float *logits, const int *labels, int n, int k,
                     float smoothing, float *dlogits);
/* Mean over all elements of (y - t)^2. */
float hant_loss_mse(const float *y, const float *t, size_t count, float *dy);
/* T^2 * KL(softmax(t/T) || softmax(s/T)), mean over the batch (Hinton et al.
 * 2015 scaling, so gradients keep their size across temperatures). */
float hant_loss_kd(const float *student, const float *teacher, int n, int k,
                   float temperature, float *dstudent);
/* KL(softmax(teacher) || softmax(student)) of one row of k logits, in nats,
 * computed in double precision (0 when the rows are equal). */
double hant_kl_logits(const float *teacher, const float *student, int k);

#endif
