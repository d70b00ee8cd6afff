/* SPDX-License-Identifier: MIT */
/* slots.h: finding the replaceable blocks (slots) of a network from its graph alone. */
#ifndef HANT_SLOTS_H
#define HANT_SLOTS_H

#include <stddef.h>

#include "net.h"

/* Replaces net's slots with the blocks found in its graph, scanning the
 * nodes in order from the input:
 *
 *   conv        conv [bn] [act]                                  "conv 16 k=3 s=1 act=relu bn=1"
 *   dws         depthwise conv [bn] act, 1x1 conv [bn] act        "dws 32 k=3 s=1 act=relu"
 *   ir          [1x1 conv [bn] act,] depthwise conv [bn] act,
 *               1x1 conv [bn] (no act) [+ add of the input]      "ir 24 e=6 k=3 s=2 act=relu6 expand=1 skip=0"
 *               (expand= and skip= always written: an expansion ratio of 1 may keep its 1x1 conv, and a
 *               stride-1 block of equal widths may lack the add)
 *   res         kxk conv [bn] relu, kxk conv [bn], shortcut
 *               (input, or 1x1 conv [bn]), add, relu             "res 32 k=3 s=2"
 *   bottleneck  1x1, kxk, 1x1 convs, shortcut, add, relu         "bottleneck 64 mid=16 k=3 s=2"
 *   linear      linear [act]                                     "linear 10"
 *
 * Identity nodes (folded batch norms) inside a block are skipped over.
 * Every slot is a contiguous node range [first, last] that reads only
 * node `in`, and only its last node is read from outside, as net.h
 * requires; nodes that fit no pattern (pools, flatten, unusual blocks)
 * stay outside slots. Each slot's desc is an architecture line (arch.h)
 * that builds a block with the slot's input and output shapes and MACs;
 * the finder checks this by building it, except for "bottleneck", which
 * arch.h cannot build yet. Returns the number of slots found or a
 * negative error (HANT_ENOMEM). */
int hant_slots_discover(hant_net *net);

/* Multiply-accumulates of one sample through the slot's nodes. */
double hant_slot_macs(const hant_net *net, const hant_slot *s);
/* Trainable parameter elements of the slot's nodes. */
size_t hant_slot_params(const hant_net *net, const hant_slot *s);

/* Checks that every slot of t can be swapped for a candidate: its node
 * range is valid, its nodes read only the slot's input or each other, and
 * no node after it reads anything before its output. Errors start with
 * `who` (a path or a caller's name). */
int hant_slots_check_swappable(const hant_net *t, const char *who);

/* Makes a loaded network ready to be a teacher: folds its batch norms into
 * its convolutions and checks that it has slots and that each can be
 * swapped. `path` names the network in errors. */
int hant_teacher_prepare(hant_net *teacher, const char *path);

/* Fills ids with the indices of the weight layers (convolutions and linear
 * layers) of one slot, or of the whole network, in node order, at most
 * max; returns how many were found. A slot's projection shortcut (a conv
 * reading the slot's input that feeds its add) comes last, wherever it
 * sits among the nodes, as in blocks built from architecture lines. */
int hant_slot_weight_nodes(const hant_net *net, int slot, int *ids, int max);
int hant_net_weight_nodes(const hant_net *net, int *ids, int max);

#endif
