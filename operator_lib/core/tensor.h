/* SPDX-License-Identifier: MIT */
/* tensor.h: float32 NCHW tensor views. */
#ifndef HANT_TENSOR_H
#define HANT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* A view of float32 data laid out NCHW (row-major, W fastest). A tensor does
 * not own its data: weights belong to a network's parameters, activations to
 * a pass's arena. A 2-D tensor [N, F] is stored as [N, F, 1, 1]. */
typedef struct hant_tensor {
  float *data;
  int n, c, h, w;
} hant_tensor;

static inline size_t hant_tensor_numel(const hant_tensor *t) {
  return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

#endif
