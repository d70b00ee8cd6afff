/* SPDX-License-Identifier: MIT */
/* arch.h: the compact architecture description that builds networks and candidate blocks. */
#ifndef HANT_ARCH_H
#define HANT_ARCH_H

#include "net.h"

/* An architecture is a list of lines (newlines or ';' separate them; '#'
 * starts a comment). The first line is the input shape; every other line
 * is one layer, and block layers become slots:
 *
 *   input 1x28x28
 *   conv OUT [k=3] [s=1] [g=1] [r=0] [act=relu|relu6|hswish|sigmoid|silu|hsigmoid|none] [bn=1]  slot
 *   res OUT [s=1] [k=3] [mid=OUT] [g=1] [r=0] [bn=1]   basic residual block slot
 *   bottleneck OUT [mid=OUT/4] [k=3] [s=1] [g=1] [bn=1]  1x1, kxk (strided, g groups), 1x1  slot
 *   ir OUT [e=6 | mid=M] [k=3] [s=1] [act=relu6] [bn=1] [expand=0|1] [skip=0|1]
 *                                                   inverted residual    slot
 *   dws OUT [k=3] [s=1] [act=relu] [bn=1]   depthwise then pointwise     slot
 *   shuffle OUT [s=1] [k=3] [mid=OUT/2] [bn=1]  ShuffleNet V2 unit          slot
 *       (s=1: split in halves, 1x1 relu, depthwise, 1x1 relu on the second;
 *        s=2: depthwise, 1x1 relu | 1x1 relu, depthwise, 1x1 relu; both
 *        concatenate and shuffle in 2 groups; mid: the branch's inner width)
 *   fire OUT [sq=OUT/8] [e1=OUT/2] [k=3] [bn=0]  SqueezeNet's fire module   slot
 *       (1x1 squeeze relu, then 1x1 (e1) relu | kxk (OUT - e1) relu, concatenated)
 *   inception OUT c1= r3= c3= r5= c5= pool= [k3=3] [k5=5] [bn=1]  GoogLeNet  slot
 *       (OUT = c1 + c3 + c5 + pool)
 *       (1x1 | 1x1, k3 | 1x1, k5 | 3x3 max pool, 1x1; each conv [bn] relu; concatenated)
 *   se_ir OUT [e=6 | mid=M] [k=3] [s=1] [act=relu6] [se=0] [sa=relu] [gate=sigmoid] [bn=1]
 *        ir with squeeze-and-excitation on the depthwise output      slot
 *   se_bottleneck OUT [mid=OUT] [g=1] [k=3] [s=1] [se=0] [sa=relu] [gate=sigmoid] [bn=1]
 *        bottleneck with a grouped kxk conv and squeeze-and-excitation  slot
 *   linear OUT [r=0] [act=none]                                           slot
 *   identity                          skip (shapes must allow)       slot
 *   maxpool k=2 [s=k] [p=0] [ceil=0] | avgpool k=2 [s=k] [p=0] | gap | flatten
 *       (ceil=1: the output size rounds up, as PyTorch's ceil_mode)
 *
 * Convolutions use "same" padding (k/2). Residual blocks add a 1x1
 * projection shortcut when the stride or width changes. g sets groups
 * on the kxk convolutions; r > 0 replaces each kxk convolution by its
 * rank-r spatial factorisation (kx1 to r channels, then 1xk), and each
 * linear layer by in -> r -> out. An ir block has its 1x1 expansion
 * convolution when expand=1 (default: when mid differs from the input
 * width; expand=0 needs mid equal to it) and adds its input when skip=1
 * (default: stride 1 and equal widths, which skip=1 requires).
 * Squeeze-and-excitation (se=R > 0) is a global average pool, a 1x1 conv
 * to R channels with a bias, sa, a 1x1 conv back with a bias, gate, and
 * the block's features times that per-channel gate (MobileNetV3: sa=relu
 * gate=hsigmoid; EfficientNet: sa=silu gate=sigmoid; RegNetY: sa=relu
 * gate=sigmoid). bn=0 drops batch norm and gives every
 * convolution a bias: the form of a teacher whose BN was folded. */

/* Builds a network from a description. On error returns NULL and sets
 * hant_errmsg() to a message naming the line and the token. `name` labels
 * messages (a file name, or "arch"). The network keeps a copy of the text. */
hant_net *hant_arch_build(const char *desc, const char *name);
/* Same, with a limit on parameter floats (see hant_net_new_limited). */
hant_net *hant_arch_build_limited(const char *desc, const char *name, size_t max_param_floats);

/* Appends one block line (not "input") to net, reading node `x`, as a slot.
 * Returns the block's output node or a negative error. */
int hant_arch_add_block(hant_net *net, int x, const char *line);

/* Named architectures shipped with hant; NULL for an unknown name. */
const char *hant_arch_preset(const char *name);
/* NULL-terminated list of preset names. */
const char *const *hant_arch_preset_names(void);

#endif
