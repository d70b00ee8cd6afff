/* SPDX-License-Identifier: MIT */
/* family_lsq.h: least-squares initialisation of a candidate's last convolution from the teacher's features. */
#ifndef HANT_FAMILY_LSQ_H
#define HANT_FAMILY_LSQ_H

#include "net.h"

/* A ridge regression of a candidate's last convolution onto the teacher's
 * slot output. The candidate (randomly initialised, as dws and ir are, or
 * sliced from the teacher, as group is) is run on the teacher's slot
 * inputs; the receptive fields H of its last convolution (for a 1x1 conv,
 * the hidden features themselves; for a grouped conv, one regression per
 * group over that group's input channels) are collected with the target
 * T, and
 *
 *   W = argmin ||(H - mean H) W^T - (T - mean T)||^2 + lambda ||W||^2
 *
 * becomes the convolution's weights, with the offset mean T - W mean H
 * carried by the BN that follows it (set so that it passes W h through
 * unchanged: gamma = std, beta = offset, running statistics those of
 * W h) or by the conv's bias. The target is what the last linear map must
 * produce: the teacher's output minus what the candidate adds to it (its
 * input, as ir's skip, or its shortcut's output, as a residual block's
 * projection), and the teacher's pre-activation when the candidate ends
 * in an activation and the teacher's slot ends in a ReLU (a perfect fit
 * of it gives the teacher's output exactly through a ReLU, where a fit of
 * the post-ReLU output would spend the map's freedom on pulling negative
 * values to zero, which no linear map can do). */
typedef struct hant_lsq hant_lsq;

/* Inputs per output (input channels per group x kernel taps) a fit takes
 * at most: the regression solves a square system of that size per group. */
#define HANT_LSQ_MAX_FEATURES 1024

/* Prepares a fit for `cand`, which must end in a convolution of at most
 * HANT_LSQ_MAX_FEATURES inputs per output, then optionally a BN, then
 * optionally an add of the block's input (node 0) or of a shortcut that
 * reads it (a conv, optionally with BN), then optionally an activation.
 * HANT_ENOTSUP naming the candidate's ending when it does not. The fit refers to cand, which must outlive it and
 * keep its shape; *out is the caller's, freed by hant_lsq_destroy. */
int hant_lsq_new(hant_net *cand, hant_lsq **out);
void hant_lsq_destroy(hant_lsq *q);

/* Runs the candidate on one batch and accumulates its features.
 * x: [n, slot input], y: [n, slot output] (the teacher's), z: the
 * teacher's pre-activation of y ([n, slot output]) when its slot ends in
 * a ReLU, or NULL; all channels last. The candidate runs in train mode
 * (BN on batch statistics, as distillation trains it), and every BN's
 * running statistics become the exact mean over the batches added so far
 * (the k-th call weighs its batch 1/k), so that the initialised candidate
 * also evaluates on the statistics it was fitted with. p is the
 * candidate's pass, reused. */
int hant_lsq_add(hant_lsq *q, hant_pass *p, const float *x, const float *y, const float *z, int n);

/* Solves the regression with ridge lambda = ridge x the mean eigenvalue of
 * the features' covariance (1e-3 is a light touch) and writes the weights
 * into the candidate. HANT_EINVAL when no batch was added;
 * HANT_ENOTSUP when built without LAPACKE (the solve uses hant_svd). */
int hant_lsq_solve(hant_lsq *q, double ridge);

#endif
