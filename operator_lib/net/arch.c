/* SPDX-License-Identifier: MIT */
/* arch.c: parses architecture descriptions and expands each block into operators. */
#include "arch.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base.h"

#define MAX_LINE 256
#define MAX_TOKENS 16
#define MAX_DIM 65536

typedef struct line_ctx {
  const char *name; /* source label for messages */
  int lineno;
  char *tok[MAX_TOKENS];
  int ntok;
} line_ctx;

static int bad(const line_ctx *lc, const char *what) {
  return hant__error(HANT_EFORMAT, "%s:%d: %s", lc->name, lc->lineno, what);
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return -1;
  *out = (int)v;
  return 0;
}

/* Looks up key=value among the option tokens; returns def when absent. */
static int opt_int(const line_ctx *lc, const char *key, int def, int lo, int hi, int *out, unsigned *used) {
  size_t kl = strlen(key);
  *out = def;
  for (int i = 2; i < lc->ntok; i++) {
    if (strncmp(lc->tok[i], key, kl) || lc->tok[i][kl] != '=')
      continue;
    *used |= 1u << i;
    if (parse_int(lc->tok[i] + kl + 1, lo, hi, out))
      return hant__error(HANT_EFORMAT, "%s:%d: '%s' needs an integer in [%d, %d]", lc->name, lc->lineno, lc->tok[i], lo, hi);
  }
  return 0;
}

static int opt_act(const line_ctx *lc, hant_act def, hant_act *out, unsigned *used) {
  *out = def;
  for (int i = 2; i < lc->ntok; i++) {
    if (strncmp(lc->tok[i], "act=", 4))
      continue;
    *used |= 1u << i;
    hant_act a = hant_act_from_name(lc->tok[i] + 4);
    if (a == HANT_ACT_COUNT)
      return hant__error(HANT_EFORMAT, "%s:%d: unknown activation '%s' (expected relu, relu6, hswish, sigmoid, silu, hsigmoid or none)", lc->name, lc->lineno, lc->tok[i] + 4);
    *out = a;
  }
  return 0;
}

/* An activation option other than act= (sa=, gate=, post=). */
static int opt_act_named(const line_ctx *lc, const char *key, hant_act def, hant_act *out, unsigned *used) {
  size_t kl = strlen(key);
  *out = def;
  for (int i = 2; i < lc->ntok; i++) {
    if (strncmp(lc->tok[i], key, kl) || lc->tok[i][kl] != '=')
      continue;
    *used |= 1u << i;
    hant_act a = hant_act_from_name(lc->tok[i] + kl + 1);
    if (a == HANT_ACT_COUNT || a == HANT_ACT_NONE)
      return hant__error(HANT_EFORMAT,
                         "%s:%d: unknown activation '%s' for %s (expected relu, relu6, hswish, sigmoid, silu or hsigmoid)",
                         lc->name, lc->lineno, lc->tok[i] + kl + 1, key);
    *out = a;
  }
  return 0;
}

static int check_used(const line_ctx *lc, unsigned used, int first_opt) {
  for (int i = first_opt; i < lc->ntok; i++)
    if (!(used & (1u << i)))
      return hant__error(HANT_EFORMAT, "%s:%d: unexpected '%s' for %s", lc->name, lc->lineno, lc->tok[i], lc->tok[0]);
  return 0;
}

static int width_arg(const line_ctx *lc, int *out) {
  if (lc->ntok < 2 || parse_int(lc->tok[1], 1, MAX_DIM, out))
    return hant__error(HANT_EFORMAT, "%s:%d: %s needs an output width (1-%d) as its first argument", lc->name, lc->lineno, lc->tok[0], MAX_DIM);
  return 0;
}

/* A kxk convolution, or with r > 0 its rank-r spatial factorisation
 * (kx1 to r channels, then 1xk), then optional BN and activation. The
 * bias sits on the last conv when there is no BN. */
static int conv_block(hant_net *net, int x, int out, int k, int s, int g, int r, bool bn, hant_act act) {
  int y;
  int cin = net->nodes[x].c;
  if (r > 0 && k > 1) {
    hant_conv_desc a = {.c_in = cin, .c_out = r, .kh = k, .kw = 1, .sh = s, .sw = 1, .ph = k / 2, .pw = 0, .groups = 1};
    y = hant_net_conv(net, x, &a, false);
    if (y < 0)
      return y;
    hant_conv_desc b = {.c_in = r, .c_out = out, .kh = 1, .kw = k, .sh = 1, .sw = s, .ph = 0, .pw = k / 2, .groups = 1};
    y = hant_net_conv(net, y, &b, !bn);
  } else {
    hant_conv_desc d = {.c_in = cin, .c_out = out, .kh = k, .kw = k, .sh = s, .sw = s, .ph = k / 2, .pw = k / 2, .groups = g};
    y = hant_net_conv(net, x, &d, !bn);
  }
  if (y >= 0 && bn)
    y = hant_net_bn(net, y);
  if (y >= 0 && act != HANT_ACT_NONE)
    y = hant_net_act(net, y, act);
  return y;
}

static int conv_bn_act(hant_net *net, int x, int out, int k, int s, int g, bool bn, hant_act act) {
  return conv_block(net, x, out, k, s, g, 0, bn, act);
}

static int block_conv(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, k, s, g, bn, r, rc;
  unsigned used = 0;
  hant_act act;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) ||
      (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) || (rc = opt_int(lc, "g", 1, 1, MAX_DIM, &g, &used)) ||
      (rc = opt_int(lc, "r", 0, 0, MAX_DIM, &r, &used)) || (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) ||
      (rc = opt_act(lc, HANT_ACT_RELU, &act, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  return conv_block(net, x, out, k, s, g, r, bn, act);
}

/* The end of a residual block whose main path, from x, ends at y: a 1x1
 * projection shortcut when the stride or width changes, add, ReLU. */
static int residual_end(hant_net *net, int x, int y, int out, int s, bool bn) {
  if (y < 0)
    return y;
  int sc = x;
  if (s != 1 || net->nodes[x].c != out)
    sc = conv_bn_act(net, x, out, 1, s, 1, bn, HANT_ACT_NONE);
  if (sc < 0)
    return sc;
  y = hant_net_add(net, y, sc);
  return y < 0 ? y : hant_net_act(net, y, HANT_ACT_RELU);
}

static int block_res(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, k, s, mid, g, r, bn, rc;
  unsigned used = 0;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) ||
      (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) || (rc = opt_int(lc, "mid", out, 1, MAX_DIM, &mid, &used)) ||
      (rc = opt_int(lc, "g", 1, 1, MAX_DIM, &g, &used)) || (rc = opt_int(lc, "r", 0, 0, MAX_DIM, &r, &used)) ||
      (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  int y = conv_block(net, x, mid, k, s, g, r, bn, HANT_ACT_RELU);
  if (y >= 0)
    y = conv_block(net, y, out, k, 1, g, r, bn, HANT_ACT_NONE);
  return residual_end(net, x, y, out, s, bn);
}

/* ResNet-50-style: 1x1 to mid, kxk (with the stride, as torchvision's
 * v1.5 places it), 1x1 to out, shortcut, add, ReLU. */
static int block_bottleneck(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, k, s, mid, g, bn, rc;
  unsigned used = 0;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) ||
      (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) ||
      (rc = opt_int(lc, "mid", out / 4 > 0 ? out / 4 : 1, 1, MAX_DIM, &mid, &used)) ||
      (rc = opt_int(lc, "g", 1, 1, MAX_DIM, &g, &used)) || (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) ||
      (rc = check_used(lc, used, 2)))
    return rc;
  if (mid % g)
    return hant__error(HANT_EFORMAT, "%s:%d: bottleneck g=%d does not divide its inner width mid=%d", lc->name,
                       lc->lineno, g, mid);
  int y = conv_bn_act(net, x, mid, 1, 1, 1, bn, HANT_ACT_RELU);
  if (y >= 0) /* g groups on the kxk conv: ResNeXt and RegNet's bottlenecks */
    y = conv_bn_act(net, y, mid, k, s, g, bn, HANT_ACT_RELU);
  if (y >= 0)
    y = conv_bn_act(net, y, out, 1, 1, 1, bn, HANT_ACT_NONE);
  return residual_end(net, x, y, out, s, bn);
}

/* MobileNetV2's inverted residual: 1x1 expansion (unless expand=0),
 * depthwise kxk, linear 1x1 projection, the input added (skip=1).
 * post=ACT puts an activation after it all, as the residual block an ir
 * replaces ends in a ReLU. */
static int block_ir(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, e, k, s, mid, bn, expand, skip, rc;
  unsigned used = 0;
  hant_act act, post;
  int cin = net->nodes[x].c;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "e", 6, 1, 16, &e, &used)) ||
      (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) || (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) ||
      (rc = opt_int(lc, "mid", cin * e, 1, MAX_DIM, &mid, &used)) || (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) ||
      (rc = opt_act(lc, HANT_ACT_RELU6, &act, &used)) ||
      (rc = opt_act_named(lc, "post", HANT_ACT_NONE, &post, &used)))
    return rc;
  /* Widths alone cannot tell whether a block has its expansion conv or its
   * skip: MobileNetV2's first block expands 1x by a 1x1 conv and adds its
   * input, and a stride-1 block of equal widths need not add it. Lines say
   * so with expand= and skip=; without them, the usual reading holds. */
  if ((rc = opt_int(lc, "expand", mid != cin, 0, 1, &expand, &used)) ||
      (rc = opt_int(lc, "skip", s == 1 && cin == out, 0, 1, &skip, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  if (!expand && mid != cin)
    return hant__error(HANT_EFORMAT, "%s:%d: ir with expand=0 has its input width %d as inner width, not mid=%d",
                       lc->name, lc->lineno, cin, mid);
  if (skip && (s != 1 || cin != out))
    return hant__error(HANT_EFORMAT,
                       "%s:%d: ir with skip=1 needs stride 1 and output width = input width (%d), not s=%d and %d",
                       lc->name, lc->lineno, cin, s, out);
  int y = x;
  if (expand)
    y = conv_bn_act(net, y, mid, 1, 1, 1, bn, act);
  if (y >= 0)
    y = conv_bn_act(net, y, mid, k, s, mid, bn, act);
  if (y >= 0)
    y = conv_bn_act(net, y, out, 1, 1, 1, bn, HANT_ACT_NONE);
  if (y >= 0 && skip)
    y = hant_net_add(net, y, x);
  if (y >= 0 && post != HANT_ACT_NONE)
    y = hant_net_act(net, y, post);
  return y;
}

static int block_dws(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, k, s, bn, rc;
  unsigned used = 0;
  hant_act act;
  int cin = net->nodes[x].c;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) ||
      (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) || (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) ||
      (rc = opt_act(lc, HANT_ACT_RELU, &act, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  int y = conv_bn_act(net, x, cin, k, s, cin, bn, act);
  return y < 0 ? y : conv_bn_act(net, y, out, 1, 1, 1, bn, act);
}

/* ShuffleNet V2's unit. Stride 1 splits the channels in halves, keeps
 * the first and runs the second through 1x1 (to mid) relu, depthwise kxk,
 * 1x1 relu; stride 2 runs the whole input through two branches, depthwise
 * kxk then 1x1 relu, and the three-conv one. Both concatenate (kept or
 * first branch first) and shuffle in two groups. */
static int block_shuffle(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, k, s, mid, bn, rc;
  unsigned used = 0;
  int cin = net->nodes[x].c;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) ||
      (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) || (rc = opt_int(lc, "mid", out / 2 > 0 ? out / 2 : 1, 1, MAX_DIM, &mid, &used)) ||
      (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  if (out % 2 || (s == 1 && (cin != out)))
    return hant__error(HANT_EFORMAT, "%s:%d: shuffle needs an even width%s (input %d, output %d)", lc->name,
                       lc->lineno, s == 1 ? " equal to its input's at stride 1" : "", cin, out);
  int half = out / 2, keep, y;
  if (s == 1) {
    keep = hant_net_chslice(net, x, 0, half);
    y = keep < 0 ? keep : hant_net_chslice(net, x, half, half);
  } else {
    keep = conv_bn_act(net, x, cin, k, s, cin, bn, HANT_ACT_NONE);
    if (keep >= 0)
      keep = conv_bn_act(net, keep, half, 1, 1, 1, bn, HANT_ACT_RELU);
    y = keep < 0 ? keep : x;
  }
  if (y >= 0)
    y = conv_bn_act(net, y, mid, 1, 1, 1, bn, HANT_ACT_RELU);
  if (y >= 0)
    y = conv_bn_act(net, y, mid, k, s, mid, bn, HANT_ACT_NONE);
  if (y >= 0)
    y = conv_bn_act(net, y, half, 1, 1, 1, bn, HANT_ACT_RELU);
  if (y >= 0)
    y = hant_net_concat(net, keep, y);
  return y < 0 ? y : hant_net_shuffle(net, y, 2);
}

/* SqueezeNet's fire module: 1x1 squeeze (to sq) relu, then a 1x1 (e1
 * outputs) relu and a kxk (OUT - e1) relu side by side, concatenated. */
static int block_fire(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, sq, e1, k, bn, rc;
  unsigned used = 0;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "sq", out / 8 > 0 ? out / 8 : 1, 1, MAX_DIM, &sq, &used)) ||
      (rc = opt_int(lc, "e1", out / 2 > 0 ? out / 2 : 1, 1, MAX_DIM, &e1, &used)) ||
      (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) || (rc = opt_int(lc, "bn", 0, 0, 1, &bn, &used)) ||
      (rc = check_used(lc, used, 2)))
    return rc;
  if (e1 >= out)
    return hant__error(HANT_EFORMAT, "%s:%d: fire e1=%d leaves no outputs of %d for its kxk branch", lc->name,
                       lc->lineno, e1, out);
  int s = conv_bn_act(net, x, sq, 1, 1, 1, bn, HANT_ACT_RELU);
  int a = s < 0 ? s : conv_bn_act(net, s, e1, 1, 1, 1, bn, HANT_ACT_RELU);
  int b = a < 0 ? a : conv_bn_act(net, s, out - e1, k, 1, 1, bn, HANT_ACT_RELU);
  return b < 0 ? b : hant_net_concat(net, a, b);
}

/* GoogLeNet's Inception module: four branches concatenated in order: 1x1
 * (c1); 1x1 (r3) then k3 x k3 (c3); 1x1 (r5) then k5 x k5 (c5); 3x3 max
 * pool of stride 1 then 1x1 (pool). Every conv is followed by [bn] relu. */
static int block_inception(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, c1, r3, c3, r5, c5, pp, k3, k5, bn, rc;
  unsigned used = 0;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "c1", 64, 1, MAX_DIM, &c1, &used)) || (rc = opt_int(lc, "r3", 96, 1, MAX_DIM, &r3, &used)) ||
      (rc = opt_int(lc, "c3", 128, 1, MAX_DIM, &c3, &used)) || (rc = opt_int(lc, "r5", 16, 1, MAX_DIM, &r5, &used)) ||
      (rc = opt_int(lc, "c5", 32, 1, MAX_DIM, &c5, &used)) || (rc = opt_int(lc, "pool", 32, 1, MAX_DIM, &pp, &used)) ||
      (rc = opt_int(lc, "k3", 3, 1, 15, &k3, &used)) || (rc = opt_int(lc, "k5", 5, 1, 15, &k5, &used)) ||
      (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  if (c1 + c3 + c5 + pp != out)
    return hant__error(HANT_EFORMAT, "%s:%d: inception %d: c1 + c3 + c5 + pool = %d, not its width", lc->name,
                       lc->lineno, out, c1 + c3 + c5 + pp);
  int y = conv_bn_act(net, x, c1, 1, 1, 1, bn, HANT_ACT_RELU);
  int b = y < 0 ? y : conv_bn_act(net, x, r3, 1, 1, 1, bn, HANT_ACT_RELU);
  b = b < 0 ? b : conv_bn_act(net, b, c3, k3, 1, 1, bn, HANT_ACT_RELU);
  y = b < 0 ? b : hant_net_concat(net, y, b);
  b = y < 0 ? y : conv_bn_act(net, x, r5, 1, 1, 1, bn, HANT_ACT_RELU);
  b = b < 0 ? b : conv_bn_act(net, b, c5, k5, 1, 1, bn, HANT_ACT_RELU);
  y = b < 0 ? b : hant_net_concat(net, y, b);
  hant_pool_desc pd = {.k = 3, .s = 1, .p = 1, .ceil_mode = true};
  b = y < 0 ? y : hant_net_maxpool(net, x, &pd);
  b = b < 0 ? b : conv_bn_act(net, b, pp, 1, 1, 1, bn, HANT_ACT_RELU);
  return b < 0 ? b : hant_net_concat(net, y, b);
}

/* ---- squeeze-and-excitation blocks (MobileNetV3, EfficientNet, RegNetY) ---- */

/* The options every SE block shares: se=R (the reduce width, 0 for no
 * squeeze-and-excitation), sa= (the activation between its two 1x1
 * convolutions) and gate= (the activation that makes the channel gate). */
static int opt_se(const line_ctx *lc, int *se, hant_act *sa, hant_act *gate, unsigned *used) {
  int rc;
  if ((rc = opt_int(lc, "se", 0, 0, MAX_DIM, se, used)) || (rc = opt_act_named(lc, "sa", HANT_ACT_RELU, sa, used)) ||
      (rc = opt_act_named(lc, "gate", HANT_ACT_SIGMOID, gate, used)))
    return rc;
  return 0;
}

/* Squeeze-and-excitation on y: global average pool, 1x1 conv to r with a
 * bias, sa, 1x1 conv back with a bias, gate, and y times the gate. */
static int se_gate(hant_net *net, int y, int r, hant_act sa, hant_act gate) {
  if (y < 0 || r == 0)
    return y;
  int c = net->nodes[y].c;
  hant_conv_desc d1 = {.c_in = c, .c_out = r, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
  hant_conv_desc d2 = {.c_in = r, .c_out = c, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
  int g = hant_net_gap(net, y);
  if (g >= 0)
    g = hant_net_conv(net, g, &d1, true);
  if (g >= 0)
    g = hant_net_act(net, g, sa);
  if (g >= 0)
    g = hant_net_conv(net, g, &d2, true);
  if (g >= 0)
    g = hant_net_act(net, g, gate);
  return g < 0 ? g : hant_net_mul(net, y, g);
}

/* MobileNetV3's and EfficientNet's block: [1x1 expansion,] depthwise, SE
 * on the depthwise output, 1x1 projection, and the input added when the
 * shapes allow; as ir, no expansion when mid equals the input width. */
static int block_se_ir(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, e, k, s, mid, bn, se, rc;
  unsigned used = 0;
  hant_act act, sa, gate;
  int cin = net->nodes[x].c;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "e", 6, 1, 16, &e, &used)) ||
      (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) || (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) ||
      (rc = opt_int(lc, "mid", cin * e, 1, MAX_DIM, &mid, &used)) || (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) ||
      (rc = opt_act(lc, HANT_ACT_RELU6, &act, &used)) || (rc = opt_se(lc, &se, &sa, &gate, &used)) ||
      (rc = check_used(lc, used, 2)))
    return rc;
  int y = x;
  if (mid != cin)
    y = conv_bn_act(net, y, mid, 1, 1, 1, bn, act);
  if (y >= 0)
    y = conv_bn_act(net, y, mid, k, s, mid, bn, act);
  y = se_gate(net, y, se, sa, gate);
  if (y >= 0)
    y = conv_bn_act(net, y, out, 1, 1, 1, bn, HANT_ACT_NONE);
  if (y >= 0 && s == 1 && cin == out)
    y = hant_net_add(net, y, x);
  return y;
}

/* RegNetY's block: 1x1 to mid, kxk grouped (g groups, the stride), SE,
 * 1x1 to out, shortcut (a 1x1 projection when the stride or width
 * changes), add, ReLU. */
static int block_se_bottleneck(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, k, s, mid, g, bn, se, rc;
  unsigned used = 0;
  hant_act sa, gate;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "k", 3, 1, 15, &k, &used)) ||
      (rc = opt_int(lc, "s", 1, 1, 8, &s, &used)) || (rc = opt_int(lc, "mid", out, 1, MAX_DIM, &mid, &used)) ||
      (rc = opt_int(lc, "g", 1, 1, MAX_DIM, &g, &used)) || (rc = opt_int(lc, "bn", 1, 0, 1, &bn, &used)) ||
      (rc = opt_se(lc, &se, &sa, &gate, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  int y = conv_bn_act(net, x, mid, 1, 1, 1, bn, HANT_ACT_RELU);
  if (y >= 0)
    y = conv_bn_act(net, y, mid, k, s, g, bn, HANT_ACT_RELU);
  y = se_gate(net, y, se, sa, gate);
  if (y >= 0)
    y = conv_bn_act(net, y, out, 1, 1, 1, bn, HANT_ACT_NONE);
  return residual_end(net, x, y, out, s, bn);
}

static int block_linear(hant_net *net, int x, const line_ctx *lc) {
  int out = 0, r, rc;
  unsigned used = 0;
  hant_act act;
  if ((rc = width_arg(lc, &out)) || (rc = opt_int(lc, "r", 0, 0, MAX_DIM, &r, &used)) ||
      (rc = opt_act(lc, HANT_ACT_NONE, &act, &used)) || (rc = check_used(lc, used, 2)))
    return rc;
  int y = x;
  if (r > 0) /* rank-r factorisation: in -> r -> out */
    y = hant_net_linear(net, y, r, false);
  if (y >= 0)
    y = hant_net_linear(net, y, out, true);
  if (y >= 0 && act != HANT_ACT_NONE)
    y = hant_net_act(net, y, act);
  return y;
}

static int block_identity(hant_net *net, int x, const line_ctx *lc) {
  int rc = check_used(lc, 0, 1);
  return rc ? rc : hant_net_identity(net, x);
}

static int layer_pool(hant_net *net, int x, const line_ctx *lc) {
  int k, s, p, rc;
  unsigned used = 0;
  int ceil = 0;
  if ((rc = opt_int(lc, "k", 2, 1, 64, &k, &used)) || (rc = opt_int(lc, "s", k, 1, 64, &s, &used)) ||
      (rc = opt_int(lc, "p", 0, 0, 32, &p, &used)) || (rc = opt_int(lc, "ceil", 0, 0, 1, &ceil, &used)))
    return rc;
  /* options start at token 1 for pools: check them all */
  for (int i = 1; i < lc->ntok; i++)
    if (strncmp(lc->tok[i], "k=", 2) && strncmp(lc->tok[i], "s=", 2) && strncmp(lc->tok[i], "p=", 2) &&
        strncmp(lc->tok[i], "ceil=", 5))
      return hant__error(HANT_EFORMAT, "%s:%d: unexpected '%s' for %s", lc->name, lc->lineno, lc->tok[i], lc->tok[0]);
  hant_pool_desc d = {.k = k, .s = s, .p = p, .count_include_pad = true, .ceil_mode = ceil != 0};
  return !strcmp(lc->tok[0], "maxpool") ? hant_net_maxpool(net, x, &d) : hant_net_avgpool(net, x, &d);
}

static int layer_gap(hant_net *net, int x, const line_ctx *lc) {
  int rc = check_used(lc, 0, 1);
  return rc ? rc : hant_net_gap(net, x);
}

static int layer_flatten(hant_net *net, int x, const line_ctx *lc) {
  int rc = check_used(lc, 0, 1);
  return rc ? rc : hant_net_flatten(net, x);
}

struct layer_kind {
  const char *name;
  bool slot;
  int (*build)(hant_net *net, int x, const line_ctx *lc);
};

static const struct layer_kind kinds[] = {
    {"conv", true, block_conv},       {"res", true, block_res},
    {"ir", true, block_ir},           {"dws", true, block_dws},
    {"bottleneck", true, block_bottleneck}, {"shuffle", true, block_shuffle},
    {"fire", true, block_fire},       {"inception", true, block_inception},
    {"linear", true, block_linear},   {"identity", true, block_identity},
    {"se_ir", true, block_se_ir},     {"se_bottleneck", true, block_se_bottleneck},
    {"maxpool", false, layer_pool},   {"avgpool", false, layer_pool},
    {"gap", false, layer_gap},        {"flatten", false, layer_flatten},
};

static int tokenize(line_ctx *lc, char *buf) {
  lc->ntok = 0;
  char *hash = strchr(buf, '#');
  if (hash)
    *hash = '\0';
  for (char *p = buf; *p;) {
    while (*p && isspace((unsigned char)*p))
      p++;
    if (!*p)
      break;
    if (lc->ntok == MAX_TOKENS)
      return bad(lc, "too many tokens");
    lc->tok[lc->ntok++] = p;
    while (*p && !isspace((unsigned char)*p))
      p++;
    if (*p)
      *p++ = '\0';
  }
  return 0;
}

static int add_line(hant_net *net, int x, line_ctx *lc, char *text) {
  const struct layer_kind *k = NULL;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (!strcmp(kinds[i].name, lc->tok[0]))
      k = &kinds[i];
  if (!k)
    return hant__error(HANT_EFORMAT, "%s:%d: unknown layer '%s' (expected conv, res, ir, dws, bottleneck, shuffle, fire, inception, se_ir, se_bottleneck, linear, identity, maxpool, avgpool, gap or flatten)", lc->name, lc->lineno, lc->tok[0]);
  if (k->slot) {
    int rc = hant_net_slot_begin(net, k->name, text, x);
    if (rc < 0)
      return rc;
  }
  int y = k->build(net, x, lc);
  if (y < 0) {
    if (k->slot)
      net->open_slot = -1;
    /* Shape errors from the builders name no line; add it. */
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", hant_errmsg());
    if (!strstr(msg, lc->name))
      hant__error(y, "%s:%d: %s", lc->name, lc->lineno, msg);
    return y;
  }
  if (k->slot) {
    int rc = hant_net_slot_end(net);
    if (rc)
      return rc;
  }
  return y;
}

static void trim_copy(char *dst, const char *src, size_t n) {
  while (n && isspace((unsigned char)*src))
    src++, n--;
  while (n && isspace((unsigned char)src[n - 1]))
    n--;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int hant_arch_add_block(hant_net *net, int x, const char *line) {
  char buf[MAX_LINE], text[MAX_LINE];
  line_ctx lc = {.name = "block", .lineno = 1};
  size_t n = strlen(line);
  if (n >= MAX_LINE)
    return hant__error(HANT_EFORMAT, "block: line longer than %d characters", MAX_LINE - 1);
  trim_copy(text, line, n);
  memcpy(buf, text, strlen(text) + 1);
  int rc = tokenize(&lc, buf);
  if (rc)
    return rc;
  if (lc.ntok == 0)
    return hant__error(HANT_EFORMAT, "block: empty description");
  return add_line(net, x, &lc, text);
}

hant_net *hant_arch_build(const char *desc, const char *name) { return hant_arch_build_limited(desc, name, 0); }

hant_net *hant_arch_build_limited(const char *desc, const char *name, size_t max_param_floats) {
  hant_net *net = NULL;
  line_ctx lc = {.name = name ? name : "arch"};
  int x = 0;
  const char *p = desc;
  while (*p) {
    size_t n = strcspn(p, "\n;");
    lc.lineno++;
    char buf[MAX_LINE], text[MAX_LINE];
    if (n >= MAX_LINE) {
      bad(&lc, "line too long");
      goto fail;
    }
    trim_copy(text, p, n);
    memcpy(buf, text, strlen(text) + 1);
    p += n;
    if (*p)
      p++;
    if (tokenize(&lc, buf))
      goto fail;
    if (lc.ntok == 0)
      continue;
    if (!net) {
      int c, h, w;
      char extra;
      if (strcmp(lc.tok[0], "input") || lc.ntok != 2 ||
          sscanf(lc.tok[1], "%dx%dx%d%c", &c, &h, &w, &extra) != 3 || c <= 0 || h <= 0 || w <= 0 ||
          c > MAX_DIM || h > MAX_DIM || w > MAX_DIM) {
        bad(&lc, "the first line must be 'input CxHxW', e.g. 'input 1x28x28'");
        goto fail;
      }
      net = hant_net_new_limited(c, h, w, max_param_floats);
      if (!net)
        goto fail;
      continue;
    }
    if (!strcmp(lc.tok[0], "input")) {
      bad(&lc, "'input' may appear only once, first");
      goto fail;
    }
    /* Keep the text without the comment for the slot's description. */
    char *hash = strchr(text, '#');
    if (hash) {
      *hash = '\0';
      trim_copy(text, text, strlen(text));
    }
    x = add_line(net, x, &lc, text);
    if (x < 0)
      goto fail;
  }
  if (!net) {
    hant__error(HANT_EFORMAT, "%s: empty architecture (expected 'input CxHxW' first)", lc.name);
    return NULL;
  }
  if (!(net->arch = strdup(desc)))
    goto fail;
  return net;
fail:
  hant_net_destroy(net);
  return NULL;
}

/* Presets. "tiny" is test-sized; the resnets are Fashion-MNIST teachers. */
static const struct {
  const char *name, *desc;
} presets[] = {
    {"tiny", "input 1x28x28; conv 8 s=2; res 16 s=2; gap; linear 10"},
    {"resnet8", "input 1x28x28; conv 16; res 16; res 32 s=2; res 64 s=2; gap; linear 10"},
    {"resnet8w", "input 1x28x28; conv 32; res 32; res 64 s=2; res 128 s=2; gap; linear 10"},
    {"resnet10", "input 1x28x28; conv 16; res 16; res 32 s=2; res 32; res 64 s=2; res 64; gap; linear 10"},
    {"resnet14", "input 1x28x28; conv 16; res 16; res 16; res 32 s=2; res 32; res 64 s=2; res 64; gap; linear 10"},
    {"mbv2", "input 1x28x28; conv 16; ir 16 e=1; ir 24 s=2; ir 24; ir 32 s=2; ir 32; conv 128 k=1 act=relu6; gap; linear 10"},
};
static const char *const preset_names[] = {"tiny", "resnet8", "resnet8w", "resnet10", "resnet14", "mbv2", NULL};
_Static_assert(sizeof(presets) / sizeof(presets[0]) + 1 == sizeof(preset_names) / sizeof(preset_names[0]),
               "every preset needs a name entry");

const char *hant_arch_preset(const char *name) {
  for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
    if (!strcmp(presets[i].name, name))
      return presets[i].desc;
  return NULL;
}

const char *const *hant_arch_preset_names(void) { return preset_names; }
