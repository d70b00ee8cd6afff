/* SPDX-License-Identifier: MIT */
/* infer.h: a network prepared for inference only: weights packed once, batch norm folded, activations and residual adds fused into the convolutions. */
#ifndef HANT_INFER_H
#define HANT_INFER_H

#include "net.h"

/*
 * hant_net_forward runs every node on its own, as training needs: each
 * convolution reorders its weights into the kernel's layout on every call,
 * and batch norm, activations and residual adds are separate passes over
 * memory. An inference plan does what an inference runtime does instead:
 *
 *   - a convolution followed by an eval-mode batch norm that only it feeds
 *     gets the batch norm folded into a copy of its weights and bias;
 *   - a residual add that only that convolution (or its batch norm) feeds
 *     becomes a sum into the convolution's output, and an activation (ReLU,
 *     ReLU6, hard-swish) that only the result feeds becomes part of the
 *     same output pass;
 *   - the resulting weights are packed once into the layout the kernel runs
 *     fastest on.
 *
 * The plan reads the network's parameters when it prepares a batch size
 * (at the first run with that size) and keeps its own packed copies: a
 * network whose parameters change afterwards needs a new plan. It never
 * changes the network. Outputs equal hant_net_forward's in eval mode to
 * float32 rounding (the folded batch norm and the fused sum change the
 * order of operations). Not for concurrent use: one plan per thread.
 */
typedef struct hant_infer hant_infer;

/* Prepares a plan for net, which must outlive it. Returns 0 or HANT_ENOMEM. */
int hant_infer_new(hant_net *net, hant_infer **out);
void hant_infer_free(hant_infer *inf);

/* Runs the network on x ([n, C, H, W] of the input node, channels last as
 * hant_net_forward takes it) and points *y at the output node's [n, ...]
 * values, which the plan owns until its next run. Packs the weights for
 * batch size n on the first run with that size (the plan keeps the packs
 * of the two sizes used last, e.g. full batches and the last partial one),
 * for the calling thread's thread count (kernels.h). */
int hant_infer_run(hant_infer *inf, const float *x, int n, const float **y);

/* How many convolutions absorbed a batch norm, a residual add and an
 * activation, for tests and reports. */
typedef struct hant_infer_stats {
  int convs, folded_bn, fused_sum, fused_act;
} hant_infer_stats;
void hant_infer_stats_get(const hant_infer *inf, hant_infer_stats *s);

/* One kernel of a plan: what a run calls, in the order it calls them. A
 * fused convolution group (its batch norm, residual sum and activation
 * included) is one kernel of op HANT_OP_CONV; every other node that does
 * work runs alone as a kernel of its own op (pooling, global average
 * pooling, linear, a batch norm, activation or add that could not be
 * fused, a flatten that reorders). Identities, and flattens of a [C, 1, 1]
 * or [1, H, W] activation, alias their input and are not kernels. Shapes
 * are of one sample; a run at batch n scales them by n. */
typedef struct hant_infer_kernel {
  hant_op op;
  int node;                 /* the node whose output the kernel writes */
  int c_in, h_in, w_in;     /* its (first) input */
  int c_out, h_out, w_out;  /* its output */
  hant_conv_desc conv;      /* HANT_OP_CONV: the convolution */
  hant_pool_desc pool;      /* HANT_OP_MAXPOOL, HANT_OP_AVGPOOL */
  bool bn;                  /* HANT_OP_CONV: a batch norm folded into the weights */
  bool sum;                 /* HANT_OP_CONV: a residual summed into the output */
  bool sum_copy;            /* ... whose operand is first copied to a new buffer (not in place) */
  hant_act act;             /* HANT_OP_CONV: the fused activation; HANT_OP_ACT: its function */
} hant_infer_kernel;

/* The plan's kernels without running anything: *k points at *n kernels
 * the plan owns (valid until hant_infer_free). */
void hant_infer_kernels(const hant_infer *inf, const hant_infer_kernel **k, int *n);

#endif
