/* SPDX-License-Identifier: MIT */
/* net_ref.h: runs a hant_net forward and backward through the reference kernels of ops_ref.h. */
#ifndef HANT_NET_REF_H
#define HANT_NET_REF_H

#include <stdbool.h>

#include "hant.h"

/* One pass's buffers, like hant_pass: out[i] is node i's output after a
 * forward, grad[i] its gradient after a backward (NULL when none reached
 * it), both channels last as the library has them. The reference kernels
 * run channels first, on cf_out and cf_grad; the pass converts at its
 * edges. It owns everything in its arena; the caller allocates the struct
 * (init/free). */
typedef struct ref_pass {
  hant_arena arena;
  float **out, **grad;       /* channels last */
  float **cf_out, **cf_grad; /* channels first, as the reference kernels run */
  void **aux; /* BN statistics, max-pool indices */
  int n_nodes, n;
} ref_pass;

void ref_pass_init(ref_pass *p);
void ref_pass_free(ref_pass *p);

/* Converts [n, c, hw] channels first to [n, hw, c] channels last, and back. */
void ref_channels_last(const float *x, int n, int c, int hw, float *y);
void ref_channels_first(const float *x, int n, int c, int hw, float *y);

/* Same contract as hant_net_forward: in train mode BN uses batch statistics
 * and updates the net's running statistics. x is [n, C, H, W], channels
 * last. */
int ref_net_forward(hant_net *net, ref_pass *p, const float *x, int n, bool train);
/* Same contract as hant_net_backward after a training-mode forward:
 * accumulates into each parameter's g, and writes the input gradient to dx
 * when it is non-NULL; dout and dx channels last. */
int ref_net_backward(hant_net *net, ref_pass *p, const float *dout, float *dx);

#endif
