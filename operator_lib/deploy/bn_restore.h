/* SPDX-License-Identifier: MIT */
/* bn_restore.h: batch normalisation put back into a folded network for fine-tuning, and folded again after. */
#ifndef HANT_BN_RESTORE_H
#define HANT_BN_RESTORE_H

#include "dataset.h"
#include "net.h"

/* A folded network trains badly: its convolutions carry the teacher's
 * batch norms in their weights, so the gradient meets layers of very
 * different scales and no normalisation keeps them in range (without a
 * gradient clip the default teacher's assembled networks diverged in a few
 * steps). Restoring a batch norm after each such convolution gives
 * training back the conditioning the teacher had (Ioffe & Szegedy 2015).
 *
 * Each restored batch norm starts as the identity of the network it was
 * restored into: running mean and variance are the convolution's output
 * statistics measured on training images, gamma = sqrt(var + eps) and
 * beta = mean. So the copy computes the same function in eval mode, and
 * nearly the same in training mode (batch statistics replace the measured
 * ones). */
typedef struct hant_bn_restored {
  hant_net *net; /* the copy to train; owned */
  int n_src;     /* nodes of the network it was made from */
  int *node;     /* [n_src]: the copy's node for each source node */
  int *bn;       /* [n_src]: the batch norm restored after a source conv, or -1 */
  int restored;  /* how many were restored */
} hant_bn_restored;

/* Copies src, adding a batch norm after every convolution that has a bias
 * and whose output feeds no batch norm (a folded one), initialised on the
 * first `images` training images of train (in order, no augmentation).
 * Convolutions without a bias (inner factors of a low-rank pair, say) are
 * left as they are: their batch norm could not be folded back into the
 * source's parameters. */
int hant_bn_restore(const hant_net *src, const hant_dataset *train, int images, hant_bn_restored *out);

/* Writes the copy's parameters back into dst, which must be the network
 * the copy was made from: every restored batch norm is folded into its
 * convolution's weights and bias, every other parameter copied. dst then
 * computes the copy's eval-mode function. */
int hant_bn_refold(const hant_bn_restored *r, hant_net *dst);

void hant_bn_restored_free(hant_bn_restored *r);

#endif
