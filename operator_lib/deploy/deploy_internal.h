/* SPDX-License-Identifier: MIT */
/* deploy_internal.h: helpers shared by the deploy area's files. */
#ifndef HANT_DEPLOY_INTERNAL_H
#define HANT_DEPLOY_INTERNAL_H

#include "net.h"

/* Appends a copy of src's node i to dst, its inputs renamed through map
 * (map[j]: dst's node for src's node j), and copies its parameters with
 * their trainable and decay flags. Returns the new node or an error. */
int hant__copy_node(hant_net *dst, const hant_net *src, int i, const int *map);

#endif
