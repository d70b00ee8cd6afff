/* SPDX-License-Identifier: MIT */
/* test_onnx_roundtrip.c: networks written as ONNX read back into networks that compute the same outputs. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "../test_util.h"
#include "arch.h"
#include "hant.h"
#include "net.h"
#include "onnx.h"
#include "rng.h"

/* Random weights, and batch norms with random statistics so folding them
 * changes the convolutions. */
static void randomize(hant_net *net, uint64_t seed) {
  hant_rng r;
  hant_rng_seed(&r, seed);
  hant_net_init_params(net, &r);
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    if (nd->op == HANT_OP_BN)
      for (int j = 0; j < nd->c; j++) {
        net->params[nd->param[0]].w[j] = 0.5f + hant_rng_uniform(&r);
        net->params[nd->param[1]].w[j] = 0.2f * hant_rng_normal(&r);
        net->params[nd->param[2]].w[j] = 0.2f * hant_rng_normal(&r);
        net->params[nd->param[3]].w[j] = 0.5f + hant_rng_uniform(&r);
      }
  }
}

/* Serialises net, reads it back, and compares eval outputs on a batch of 3. */
static void same_outputs(const char *name, hant_net *net) {
  uint8_t *buf = NULL;
  size_t len = 0;
  hant_net *back = NULL;
  int rc = hant_onnx_serialize(net, NULL, &buf, &len);
  CHECK(rc == 0, "%s: serialize: %s", name, hant_errmsg());
  if (!rc)
    rc = hant_onnx_parse(buf, len, name, NULL, &back, NULL);
  CHECK(rc == 0, "%s: read back: %s", name, hant_errmsg());
  free(buf);
  if (rc)
    return;
  const hant_node *in = &net->nodes[0];
  size_t per = (size_t)in->c * in->h * in->w;
  float *x = malloc(3 * per * sizeof(float));
  hant_rng r;
  hant_rng_seed(&r, 3);
  for (size_t i = 0; i < 3 * per; i++)
    x[i] = hant_rng_uniform(&r);
  hant_pass pa, pb;
  hant_pass_init(&pa);
  hant_pass_init(&pb);
  rc = hant_net_forward(net, &pa, x, 3, false) || hant_net_forward(back, &pb, x, 3, false);
  CHECK(rc == 0, "%s: forward: %s", name, hant_errmsg());
  const hant_node *oa = &net->nodes[hant_net_output(net)], *ob = &back->nodes[hant_net_output(back)];
  size_t na = (size_t)oa->c * oa->h * oa->w, nb = (size_t)ob->c * ob->h * ob->w;
  CHECK(na == nb, "%s: output sizes %zu and %zu", name, na, nb);
  if (!rc && na == nb) {
    double diff = 0, scale = 1e-6;
    for (size_t i = 0; i < 3 * na; i++) {
      diff = fmax(diff, fabs((double)pa.out[hant_net_output(net)][i] - pb.out[hant_net_output(back)][i]));
      scale = fmax(scale, fabs((double)pa.out[hant_net_output(net)][i]));
    }
    CHECK(diff <= 1e-5 * scale, "%s: max |diff| %g at scale %g", name, diff, scale);
    printf("ok   %-12s %2d slots, max |diff| %.2g at scale %.3g\n", name, back->n_slots, diff, scale);
  }
  hant_pass_free(&pa);
  hant_pass_free(&pb);
  free(x);
  hant_net_destroy(back);
}

int main(void) {
  uint64_t seed = 1;
  for (const char *const *p = hant_arch_preset_names(); *p; p++) {
    hant_net *net = hant_arch_build(hant_arch_preset(*p), *p);
    randomize(net, seed++);
    same_outputs(*p, net);
    hant_net_fold_bn(net); /* folded batch norms are identity nodes now */
    same_outputs(*p, net);
    hant_net_destroy(net);
  }
  static const char *const archs[] = {
      "input 3x17x13; conv 8 k=5 s=2 act=hswish; dws 12 k=3 act=relu6; maxpool k=3 s=2 p=1; conv 12 g=4 bn=0 act=none;"
      "avgpool k=2; flatten; linear 20 act=hswish; linear 7",
      "input 2x9x9; conv 4 k=1 act=relu6 bn=0; avgpool k=3 s=1 p=1; ir 6 mid=10 k=5; gap; linear 3 act=relu",
      "input 3x15x15; conv 8 s=2; maxpool k=3 s=2 ceil=1; conv 8; maxpool k=2 ceil=1; gap; linear 4",
  };
  for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++) {
    hant_net *net = hant_arch_build(archs[i], "mixed");
    CHECK(net != NULL, "mixed %zu: %s", i, hant_errmsg());
    if (!net)
      continue;
    for (int j = 0; j < net->n_nodes; j++) /* exclude padding from averages */
      if (net->nodes[j].op == HANT_OP_AVGPOOL)
        net->nodes[j].pool.count_include_pad = false;
    randomize(net, seed++);
    same_outputs("mixed", net);
    hant_net_destroy(net);
  }
  /* Built by hand: a batch norm after an add (written as BatchNormalization,
   * not folded), a conv read twice (its batch norm cannot fold), and a
   * network that ends in an identity. */
  hant_net *net = hant_net_new(2, 6, 6);
  hant_conv_desc d = {.c_in = 2, .c_out = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
  int c1 = hant_net_conv(net, 0, &d, true);
  int b1 = hant_net_bn(net, c1);
  int a1 = hant_net_add(net, b1, c1);
  int b2 = hant_net_bn(net, a1);
  int g = hant_net_gap(net, b2);
  int l = hant_net_linear(net, g, 5, false);
  int id = hant_net_identity(net, l);
  CHECK(id > 0, "hand-built network: %s", hant_errmsg());
  randomize(net, seed++);
  same_outputs("hand-built", net);
  hant_net_destroy(net);
  /* Channel moves: a ShuffleNet unit (split, branch, concat, shuffle) and
   * a concatenation of two branches with three channels of a slice. */
  net = hant_net_new(8, 6, 6);
  d = (hant_conv_desc){.c_in = 4, .c_out = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
  int s0 = hant_net_chslice(net, 0, 0, 4), s1 = hant_net_chslice(net, 0, 4, 4);
  int br = hant_net_act(net, hant_net_conv(net, s1, &d, true), HANT_ACT_RELU);
  int sh = hant_net_shuffle(net, hant_net_concat(net, s0, br), 2);
  d.c_in = 8, d.c_out = 3;
  int cat = hant_net_concat(net, hant_net_conv(net, sh, &d, true), hant_net_chslice(net, sh, 2, 3));
  l = hant_net_linear(net, hant_net_gap(net, hant_net_shuffle(net, cat, 3)), 4, true);
  CHECK(l > 0, "channel moves: %s", hant_errmsg());
  randomize(net, seed++);
  same_outputs("channels", net);
  hant_net_destroy(net);
  return test_summary("onnx_roundtrip");
}
