/* SPDX-License-Identifier: MIT */
/* qat.h: fake quantisation of a float32 network, for training it as its int8 form (quant.h) will compute. */
#ifndef HANT_QAT_H
#define HANT_QAT_H

#include "net.h"
#include "quant.h"

/*
 * Quantisation-aware training keeps float32 master weights and computes
 * the forward pass as the int8 network would, at the points quant.h
 * quantises:
 *
 *   - weights of every integer node (conv, linear): symmetric int8 per
 *     output channel, max |w| / 127, recomputed from the master weights at
 *     every step; biases rounded to the int32 units the int8 network adds
 *     (input scale * weight scale);
 *   - activations: every tensor the int8 network stores in uint8 (the
 *     image, each integer node's output with an absorbed ReLU's range, adds,
 *     pools, nodes run in float32) quantised and dequantised with the
 *     scale and zero point of the calibration it was made from.
 *
 * Backward is the straight-through estimator: the master weights receive
 * the gradient computed at the quantised weights unchanged, and an
 * activation's gradient passes where its value lay inside the quantised
 * range and is zero where it was clipped. The network's output (logits)
 * stays float32, as the int8 network dequantises it.
 */

typedef struct hant_qat hant_qat;

/* Fake quantisation of net with the ranges of q, a quantisation of the
 * same network (hant_quantise or hant_qnet_calibrate of net, whose batch
 * norms it folded: net is trained folded). Keeps a pointer to net, which
 * must outlive it; copies what it needs of q, which the caller may
 * destroy. Returns 0 and a new object in *out (hant_qat_destroy), or a
 * negative HANT_E* code. */
int hant_qat_new(hant_net *net, const hant_qnet *q, hant_qat **out);
void hant_qat_destroy(hant_qat *qat);

/* Saves the master weights and biases of the integer nodes and replaces
 * them in net by their quantised values; a second call without
 * hant_qat_weights_master between them quantises again from the saved
 * masters. */
int hant_qat_weights_fake(hant_qat *qat);
/* Puts the master weights back (a no-op when they are in place), keeping
 * nothing of the quantised ones. Call it after the backward pass and
 * before the optimiser's step, and before using net as a float network. */
void hant_qat_weights_master(hant_qat *qat);

/* The pass hook (hant_pass.hook, user the hant_qat) that quantises and
 * dequantises activations in the forward pass and masks their gradients
 * in the backward pass. In a pass of net only. */
int hant_qat_hook(void *user, hant_pass *p, int node, hant_pass_event ev);

#endif
