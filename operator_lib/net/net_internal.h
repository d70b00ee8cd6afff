/* SPDX-License-Identifier: MIT */
/* net_internal.h: what net.c shares with the net area's other executors (infer.c). */
#ifndef HANT_NET_INTERNAL_H
#define HANT_NET_INTERNAL_H

#include "net.h"

/* How many nodes read node x's output (a node reading it twice counts twice). */
int hant__net_consumers(const hant_net *net, int x);
/* Sizes p's per-node arrays for n_nodes nodes and clears them. */
int hant__pass_prepare(hant_pass *p, int n_nodes);
/* Runs node i of a pass whose batch size (p->n), mode (p->train) and
 * inputs are set, writing p->out[i]. */
int hant__net_forward_node(hant_net *net, hant_pass *p, int i);

#endif
