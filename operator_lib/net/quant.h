/* SPDX-License-Identifier: MIT */
/* quant.h: post-training int8 quantisation of a network, and its evaluation in integer arithmetic as ONNX Runtime runs the exported QDQ model. */
#ifndef HANT_QUANT_H
#define HANT_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset.h"
#include "net.h"

/*
 * The scheme (docs/int8.md has the table of what runs in which precision):
 *
 *   - weights of convolutions and linear layers: int8, symmetric (zero
 *     point 0), one scale per output channel, max |w| / 127;
 *   - biases: int32 in units of (input scale * weight scale of the channel),
 *     so they add straight into the int32 accumulator;
 *   - activations: uint8 per tensor with a zero point, the range calibrated
 *     on training images (min-max or a percentile, see hant_qcalib) and
 *     widened to include 0 so that zero (padding, ReLU) is exact;
 *   - a ReLU whose input only it reads is not a separate step: the
 *     producer's output is quantised with the ReLU's range, whose zero point
 *     is 0, and the uint8 saturation is the ReLU.
 *
 * A convolution's or linear layer's output is requantised as ONNX Runtime's
 * QLinearConv does: q = clamp(rne(float(acc) * m[k]) + zp), with acc the
 * int32 sum including the bias and m[k] = in_scale * w_scale[k] / out_scale
 * in float32, rne rounding half to even. The last node's output is not
 * requantised but dequantised, float(acc) * in_scale * w_scale[k]: the logits
 * stay float32.
 */

/* How activation ranges are calibrated. */
typedef enum hant_qcalib {
  HANT_QCALIB_MINMAX,     /* the smallest and largest value seen */
  HANT_QCALIB_PERCENTILE, /* the 0.01 % tails clipped (hant_quant_opts.percentile) */
  HANT_QCALIB_COUNT
} hant_qcalib;

/* "minmax" or "percentile". */
const char *hant_qcalib_name(hant_qcalib c);
/* HANT_QCALIB_COUNT when the name is unknown. */
hant_qcalib hant_qcalib_from_name(const char *s);

/* What the integer evaluation does at each node of the network. */
typedef enum hant_qkind {
  HANT_QK_INPUT,   /* the image, quantised */
  HANT_QK_INT,     /* conv or linear: uint8 x int8 -> int32, requantised (or dequantised at the end) */
  HANT_QK_ADD,     /* two uint8 tensors added into a third (QLinearAdd) */
  HANT_QK_GAP,     /* integer sum per channel, requantised (QLinearGlobalAveragePool) */
  HANT_QK_MAXPOOL, /* on the uint8 values, same scale and zero point */
  HANT_QK_FLATTEN, /* the uint8 values reordered, same scale and zero point */
  HANT_QK_ALIAS,   /* the same tensor as node `src`: identity, folded BN, a ReLU absorbed by its producer */
  HANT_QK_FLOAT,   /* dequantised, run in float32, quantised again (other activations, BN, average pool) */
  HANT_QK_COUNT
} hant_qkind;

/* "input", "int", "add", ... */
const char *hant_qkind_name(hant_qkind k);

typedef struct hant_qnode {
  hant_qkind kind;
  int src;        /* the node whose tensor this output is: itself unless an alias */
  float scale;    /* of the uint8 output (of src for an alias) */
  int32_t zp;     /* its zero point, in [0, 255] */
  bool out_float; /* the network's output, from an integer op: dequantised, never requantised */
  int relu;       /* node of a ReLU this node's saturation absorbs, or -1 */
  /* HANT_QK_INT only; arrays of [K], K the output channels */
  int per_k;      /* weights per output channel */
  int8_t *wq;     /* [K, per_k], the layout of the float weights */
  float *wscale;  /* weight scale per channel */
  int32_t *bq;    /* bias in units of in_scale * wscale[k] (0 without a bias) */
  float *mult;    /* in_scale * wscale[k] / scale, or in_scale * wscale[k] when out_float */
} hant_qnode;

/* A quantised network: parameters for every node of net, which it borrows
 * (the caller keeps net alive and unchanged while the quantised network
 * is used). */
typedef struct hant_qnet {
  hant_net *net;
  hant_qnode *nodes; /* [net->n_nodes] */
  hant_qcalib calib; /* how the ranges were calibrated */
  double percentile; /* for HANT_QCALIB_PERCENTILE, e.g. 99.99 */
  double val_accuracy; /* int8 accuracy on the validation images used to choose, or -1 */
  double val_accuracy_by[HANT_QCALIB_COUNT]; /* each method's, when hant_quantise chose; else -1 */
  int calib_images;  /* images the ranges were calibrated on */
  struct hant_qrun *run; /* evaluation state (packed kernels, buffers), owned */
} hant_qnet;

typedef struct hant_quant_opts {
  int calib_images;  /* training images to calibrate on, spread over the split; 0: 1000 */
  double percentile; /* 0: 99.99 */
  int batch;         /* images per forward; 0: 128 */
  bool choose;       /* try every method and keep the best on validation; else use `calib` */
  hant_qcalib calib;
} hant_quant_opts;

/* Quantises net, whose batch norms must already be folded into its
 * convolutions where they can be (hant_net_fold_bn; others run in float32
 * as HANT_QK_FLOAT), calibrating activation ranges on the first images of
 * x ([n, C, H, W] channels last, as hant_net_forward takes it).
 * Returns 0 and a new quantised network in *out (hant_qnet_destroy), or a
 * negative HANT_E* code: HANT_ENOTSUP naming the node whose operator has
 * no int8 form. */
int hant_qnet_calibrate(hant_net *net, const float *x, int n, hant_qcalib calib, double percentile,
                        hant_qnet **out);

/* Quantises net on its own as a user with a trained model wants it: folds
 * its batch norms (net is changed, its eval output is not), calibrates on
 * opts->calib_images images of `train` and, with opts->choose, keeps the
 * method whose int8 accuracy on all of `val` (the validation split, or its
 * first images) is highest, ties to min-max. The test split never enters.
 * val may be NULL when not choosing. */
int hant_quantise(hant_net *net, const hant_dataset *train, const hant_dataset *val, const hant_quant_opts *opts,
                  hant_qnet **out);

void hant_qnet_destroy(hant_qnet *q);

/* Runs the quantised network in integer arithmetic on x ([n, C, H, W]
 * float32, channels last) and writes the float32 output of the last node
 * ([n, outputs]) to y. Convolutions run on oneDNN's int8 kernels (uint8 x
 * int8 -> int32), their sums corrected for the input's zero point when it
 * is not 0 (exact: the sums are those of (x - zx) x w). Not for concurrent use
 * of one qnet from several threads. */
int hant_qnet_run(hant_qnet *q, const float *x, int n, float *y);

/* Top-1 accuracy of the quantised network on ds (all its images), in
 * batches of `batch`. */
int hant_qnet_accuracy(hant_qnet *q, const hant_dataset *ds, int batch, double *acc);
/* The same, also setting correct[i] to 1 if image i is classified right,
 * else 0 (correct has ds->n entries; may be NULL), as
 * hant_eval_classifier_marks does in float32. */
int hant_qnet_accuracy_marks(hant_qnet *q, const hant_dataset *ds, int batch, unsigned char *correct, double *acc);

/* The ONNX Runtime kernels the integer evaluation mirrors are fixed for a
 * given model, so hant's int8 logits equal ORT's up to the rounding of
 * float32 sums in the last layer; docs/int8.md states the bound. */

#endif
