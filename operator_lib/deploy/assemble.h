/* SPDX-License-Identifier: MIT */
/* assemble.h: builds a network from a teacher and one chosen candidate per slot, copying weights. */
#ifndef HANT_ASSEMBLE_H
#define HANT_ASSEMBLE_H

#include "net.h"

/* Builds a new network in *out: the teacher's nodes in order, except that
 * each slot i with cands[i] != NULL is replaced by that candidate's nodes
 * (its input node is the slot's input). Every parameter (weights, biases,
 * batch-norm statistics) is copied, so the result does not share memory
 * with the teacher or the candidates, which are not modified. Slots keep
 * the teacher's names; their kind and description come from the
 * candidate's block when replaced.
 *
 * cands has teacher->n_slots entries (NULL keeps the teacher's block); a
 * NULL cands keeps every block. A candidate must be a network with one
 * slot ("input CxHxW; <block>") whose input and output shapes are the
 * slot's. The teacher's slots must be swappable (see
 * hant_teacher_prepare). The result carries architecture text
 * when the parts can be written as one (arch.h) and rebuilt to the same
 * operators; otherwise net->arch is NULL (save it as ONNX). Returns 0,
 * HANT_ESHAPE naming the slot when a candidate does not fit, HANT_EINVAL
 * or HANT_ENOMEM. */
int hant_assemble(const hant_net *teacher, hant_net *const *cands, hant_net **out);

#endif
