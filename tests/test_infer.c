/* SPDX-License-Identifier: MIT */
/* test_infer.c: inference plans (folded batch norm, fused residual adds and activations, packed weights) against the network's own eval-mode forward. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "test_util.h"

/* Folding batch norm and summing into the convolution's output change the
 * order of float32 operations, by about 1e-6 of a tensor's scale; a wrong
 * fold, residual or activation shows up at 1e-2 or more. */
#define TOL 1e-4

/* Random parameters, batch norm's running statistics and affine included,
 * so that folding them is visible. */
static void init(hant_net *net, uint64_t seed) {
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  hant_net_init_params(net, &rng);
  for (int i = 0; i < net->n_params; i++) {
    hant_param *q = &net->params[i];
    bool gamma = strstr(q->name, "gamma") != NULL, var = strstr(q->name, "var") != NULL;
    if (gamma || var || strstr(q->name, "beta") || strstr(q->name, "mean") || strstr(q->name, "bias"))
      for (size_t j = 0; j < q->n; j++)
        q->w[j] = (gamma || var ? 1.0f : 0.0f) + 0.3f * (var ? fabsf(hant_rng_normal(&rng)) : hant_rng_normal(&rng));
  }
}


/* Runs the plan at several batch sizes (so it packs, reuses and drops
 * stages) and thread counts, each against hant_net_forward in eval mode. */
static void check_net(const char *what, hant_net *net, hant_infer_stats *stats) {
  static const int sizes[] = {1, 5, 5, 3, 1, 8};
  const hant_node *in = &net->nodes[0], *out = &net->nodes[net->n_nodes - 1];
  size_t per_in = (size_t)in->c * in->h * in->w, per_out = (size_t)out->c * out->h * out->w;
  float *x = malloc(per_in * 8 * sizeof(float));
  HANT_ASSERT(x);
  hant_rng rng;
  hant_rng_seed(&rng, 7);
  for (size_t i = 0; i < per_in * 8; i++)
    x[i] = hant_rng_normal(&rng);
  hant_infer *inf = NULL;
  CHECK(hant_infer_new(net, &inf) == 0, "%s: plan: %s", what, hant_errmsg());
  hant_pass p;
  hant_pass_init(&p);
  for (int t = 1; t <= (hant_cpu_count() > 1 ? 2 : 1); t++) {
    hant_threads_set(t);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
      int n = sizes[k];
      const float *y = NULL;
      int rc = hant_infer_run(inf, x, n, &y);
      CHECK(rc == 0 && y, "%s: plan run at batch %d: %s", what, n, hant_errmsg());
      rc = hant_net_forward(net, &p, x, n, false);
      CHECK(rc == 0, "%s: forward: %s", what, hant_errmsg());
      if (y && !rc) {
        double e = t_rel_diff(y, p.out[net->n_nodes - 1], per_out * (size_t)n);
        CHECK(e <= TOL, "%s: batch %d, %d thread(s): plan and forward differ by %.3g", what, n, t, e);
      }
    }
  }
  hant_infer_stats_get(inf, stats);
  hant_threads_set(1);
  hant_pass_free(&p);
  hant_infer_free(inf);
  free(x);
}

static void check_arch(const char *desc, int convs, int folded, int sums, int acts) {
  hant_net *net = hant_arch_build(desc, "test");
  CHECK(net != NULL, "%s: %s", desc, hant_errmsg());
  if (!net)
    return;
  init(net, 3);
  hant_infer_stats s;
  check_net(desc, net, &s);
  CHECK(s.convs == convs && s.folded_bn == folded && s.fused_sum == sums && s.fused_act == acts,
        "%s: plan fused %d convolutions, %d batch norms, %d sums, %d activations; expected %d, %d, %d, %d", desc,
        s.convs, s.folded_bn, s.fused_sum, s.fused_act, convs, folded, sums, acts);
  /* The same network with batch norm folded into it (identities left in
   * the graph, as exported networks have them) plans the same fusions. */
  CHECK(hant_net_fold_bn(net) == 0, "%s: fold: %s", desc, hant_errmsg());
  check_net(desc, net, &s);
  CHECK(s.convs == convs && s.folded_bn == 0 && s.fused_sum == sums && s.fused_act == acts,
        "%s, folded: plan fused %d sums and %d activations over %d convolutions; expected %d and %d over %d", desc,
        s.fused_sum, s.fused_act, s.convs, sums, acts, convs);
  hant_net_destroy(net);
}

int main(void) {
  /* The default teacher's shape: in each res block the second convolution
   * takes the add (identity shortcut, or the projection's batch norm) and
   * the ReLU; a projection shortcut's convolution folds its own. */
  check_arch("input 1x28x28; conv 16; res 16; res 32 s=2; res 32; res 64 s=2; res 64; gap; linear 10", 13, 13, 5,
             11);
  /* Three channels in, depthwise, grouped, ReLU6 and hard-swish, an
   * inverted residual with its add, and a flatten that moves values. */
  check_arch("input 3x12x10; conv 16 k=5 s=2; dws 24 act=relu6; conv 24 g=4 act=hswish; ir 24 e=2; "
             "ir 32 e=3 s=2 act=hswish; conv 8 k=1 bn=0 act=none; flatten; linear 7",
             11, 10, 1, 8);
  /* A max-pool stem and two branches meeting without batch norm. */
  check_arch("input 2x16x16; conv 8 bn=0; maxpool k=3 s=2 p=1; res 8 bn=0; avgpool k=3 s=1 p=1; gap; linear 4", 3, 0,
             1, 3);
  {
    /* Channel moves: a ShuffleNet unit (split, a branch whose ReLUs fuse
     * into its convolutions, concat, shuffle), then a residual add onto a
     * concatenation, so a fused sum reads a channel move's output. */
    hant_net *net = hant_net_new(8, 9, 9);
    hant_conv_desc d = {.c_in = 4, .c_out = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
    int a = hant_net_chslice(net, 0, 0, 4), b = hant_net_chslice(net, 0, 4, 4);
    b = hant_net_act(net, hant_net_conv(net, b, &d, true), HANT_ACT_RELU);
    int y = hant_net_shuffle(net, hant_net_concat(net, a, b), 4);
    d.c_in = 8, d.c_out = 8;
    int c = hant_net_conv(net, y, &d, true);
    y = hant_net_act(net, hant_net_add(net, c, y), HANT_ACT_RELU);
    int l = hant_net_linear(net, hant_net_gap(net, y), 3, true);
    CHECK(l > 0, "channel-move network builds: %s", hant_errmsg());
    init(net, 5);
    hant_infer_stats s;
    check_net("channel moves", net, &s);
    CHECK(s.convs == 2 && s.fused_sum == 1 && s.fused_act == 2, "channel moves: %d convs, %d sums, %d activations fused",
          s.convs, s.fused_sum, s.fused_act);
    hant_net_destroy(net);
  }
  /* Squeeze-and-excitation: the gate's hard-sigmoid has no oneDNN post-op
   * and runs on its own; sigmoid, SiLU and the rest fuse; the multiply
   * runs between convolutions. */
  check_arch("input 1x16x16; conv 8 s=2 act=hswish; se_ir 8 e=3 act=hswish se=8 sa=relu gate=hsigmoid; "
             "se_ir 16 e=4 k=5 s=2 act=silu se=4 sa=silu gate=sigmoid; se_bottleneck 16 mid=16 g=2 se=4; gap; "
             "linear 10",
             16, 10, 2, 13);
  return test_summary("test_infer");
}
