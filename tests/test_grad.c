/* SPDX-License-Identifier: MIT */
/* test_grad.c: every operator's backward against central finite differences of its forward and against the reference kernels. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "net.h"
#include "oracle/net_ref.h"
#include "test_util.h"

/* L = sum(out * r) in double, so dL/dout = r. */
static double loss_of(hant_net *net, hant_pass *p, const float *x, int n, const float *r) {
  int rc = hant_net_forward(net, p, x, n, true);
  HANT_ASSERT(rc == 0);
  int o = hant_net_output(net);
  size_t cnt = (size_t)n * net->nodes[o].c * net->nodes[o].h * net->nodes[o].w;
  double s = 0.0;
  for (size_t i = 0; i < cnt; i++)
    s += (double)p->out[o][i] * r[i];
  return s;
}


/* The same forward and backward through the reference kernels (tests/oracle,
 * hant's former hand-written ones) must give the library's output, input
 * gradient and parameter gradients to 1e-4 of each tensor's scale: both sum
 * in float32, in different orders, and differ by about 1e-6. The library's
 * gradients are left in place for the finite-difference checks. */
static void oracle_check(const char *what, hant_net *net, const hant_pass *p, const float *x, int n, const float *r,
                         const float *dx) {
  int o = hant_net_output(net);
  const hant_node *in = &net->nodes[0];
  size_t nx = (size_t)n * in->c * in->h * in->w;
  size_t ny = (size_t)n * net->nodes[o].c * net->nodes[o].h * net->nodes[o].w;
  float **keep = calloc((size_t)net->n_params, sizeof(float *));
  float *y = malloc(ny * sizeof(float)), *rdx = malloc(nx * sizeof(float));
  HANT_ASSERT(keep && y && rdx);
  memcpy(y, p->out[o], ny * sizeof(float));
  for (int k = 0; k < net->n_params; k++) {
    hant_param *q = &net->params[k];
    HANT_ASSERT((keep[k] = malloc(q->n * sizeof(float))));
    memcpy(keep[k], q->g, q->n * sizeof(float));
  }
  hant_net_zero_grad(net);
  ref_pass rp;
  ref_pass_init(&rp);
  int rc = ref_net_forward(net, &rp, x, n, true);
  if (!rc)
    rc = ref_net_backward(net, &rp, r, rdx);
  CHECK(rc == 0, "%s: reference pass failed: %s", what, hant_errmsg());
  double e = fmax(t_rel_diff(y, rp.out[o], ny), t_rel_diff(dx, rdx, nx));
  for (int k = 0; k < net->n_params; k++) {
    hant_param *q = &net->params[k];
    if (q->trainable)
      e = fmax(e, t_rel_diff(keep[k], q->g, q->n));
    memcpy(q->g, keep[k], q->n * sizeof(float));
    free(keep[k]);
  }
  CHECK(e <= 1e-4, "%s: library and reference kernels differ by %.3g", what, e);
  ref_pass_free(&rp);
  free(keep);
  free(y);
  free(rdx);
}

static void gradcheck_eps(const char *what, hant_net *net, int n, uint64_t seed, float eps) {
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  hant_net_init_params(net, &rng);
  /* Non-trivial BN affine parameters and biases. */
  for (int i = 0; i < net->n_params; i++) {
    hant_param *q = &net->params[i];
    if (strstr(q->name, "gamma") || strstr(q->name, "beta") || strstr(q->name, "bias"))
      for (size_t j = 0; j < q->n; j++)
        q->w[j] = (strstr(q->name, "gamma") ? 1.0f : 0.0f) + 0.5f * hant_rng_normal(&rng);
  }
  const hant_node *in = &net->nodes[0];
  int o = hant_net_output(net);
  size_t nx = (size_t)n * in->c * in->h * in->w;
  size_t ny = (size_t)n * net->nodes[o].c * net->nodes[o].h * net->nodes[o].w;
  float *x = malloc(nx * sizeof(float)), *r = malloc(ny * sizeof(float)), *dx = malloc(nx * sizeof(float));
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_normal(&rng);
  for (size_t i = 0; i < ny; i++)
    r[i] = hant_rng_normal(&rng);
  hant_pass p;
  hant_pass_init(&p);
  hant_net_zero_grad(net);
  loss_of(net, &p, x, n, r);
  int rc = hant_net_backward(net, &p, r, dx);
  CHECK(rc == 0, "%s: backward failed: %s", what, hant_errmsg());
  oracle_check(what, net, &p, x, n, r, dx);

  int bad = 0, checked = 0;
  /* Input gradient. */
  for (int t = 0; t < 24; t++) {
    size_t i = hant_rng_below(&rng, (uint32_t)nx);
    float keep = x[i];
    x[i] = keep + eps;
    double lp = loss_of(net, &p, x, n, r);
    x[i] = keep - eps;
    double lm = loss_of(net, &p, x, n, r);
    x[i] = keep;
    double fd = (lp - lm) / (2.0 * eps);
    checked++;
    if (!t_near(dx[i], fd, 2e-2, 3e-2)) {
      if (bad++ < 3)
        fprintf(stderr, "  %s: dx[%zu] analytic %.6f, finite difference %.6f\n", what, i, (double)dx[i], fd);
    }
  }
  /* Parameter gradients (trainable only). */
  for (int k = 0; k < net->n_params; k++) {
    hant_param *q = &net->params[k];
    if (!q->trainable)
      continue;
    float *g = malloc(q->n * sizeof(float));
    memcpy(g, q->g, q->n * sizeof(float));
    for (int t = 0; t < 12; t++) {
      size_t i = hant_rng_below(&rng, (uint32_t)q->n);
      float keep = q->w[i];
      q->w[i] = keep + eps;
      double lp = loss_of(net, &p, x, n, r);
      q->w[i] = keep - eps;
      double lm = loss_of(net, &p, x, n, r);
      q->w[i] = keep;
      double fd = (lp - lm) / (2.0 * eps);
      checked++;
      if (!t_near(g[i], fd, 2e-2, 3e-2)) {
        if (bad++ < 3)
          fprintf(stderr, "  %s: %s[%zu] analytic %.6f, finite difference %.6f\n", what, q->name, i, (double)g[i], fd);
      }
    }
    free(g);
  }
  /* ReLU-like kinks can make a rare central difference straddle a corner;
   * allow at most one miss in the ~100 checks, and none for smooth ops. */
  CHECK(bad <= 1, "%s: %d of %d gradient entries disagree with finite differences", what, bad, checked);
  hant_pass_free(&p);
  free(x);
  free(r);
  free(dx);
}

/* Central differences with a 1e-2 step suit smooth ops; ops with kinks
 * (ReLU, ReLU6, max) use a smaller step so fewer points straddle a kink. */
static void gradcheck(const char *what, hant_net *net, int n, uint64_t seed) {
  gradcheck_eps(what, net, n, seed, 1e-2f);
}

static hant_net *conv_net(int c, int h, int w, hant_conv_desc d, bool bias) {
  hant_net *net = hant_net_new(c, h, w);
  d.c_in = c;
  HANT_ASSERT(hant_net_conv(net, 0, &d, bias) > 0);
  return net;
}

int main(void) {
  struct {
    const char *name;
    hant_conv_desc d;
  } convs[] = {
      {"conv 3x3 s1 p1", {.c_out = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1}},
      {"conv 3x3 s2 p1", {.c_out = 5, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 1}},
      {"conv 5x5 p2", {.c_out = 3, .kh = 5, .kw = 5, .sh = 1, .sw = 1, .ph = 2, .pw = 2, .groups = 1}},
      {"conv 1x1", {.c_out = 6, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .ph = 0, .pw = 0, .groups = 1}},
      {"conv 3x3 groups 2", {.c_out = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 2}},
      {"conv depthwise 3x3 s2", {.c_out = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 4}},
      {"conv 3x1 (low rank)", {.c_out = 4, .kh = 3, .kw = 1, .sh = 1, .sw = 1, .ph = 1, .pw = 0, .groups = 1}},
  };
  for (size_t i = 0; i < sizeof(convs) / sizeof(convs[0]); i++) {
    hant_net *net = conv_net(4, 7, 6, convs[i].d, true);
    gradcheck(convs[i].name, net, 3, 100 + i);
    hant_net_destroy(net);
  }
  {
    hant_net *net = hant_net_new(3, 5, 5);
    hant_net_bn(net, 0);
    gradcheck("batch norm (train)", net, 4, 7);
    hant_net_destroy(net);
  }
  const hant_act acts[] = {HANT_ACT_RELU,    HANT_ACT_RELU6, HANT_ACT_HSWISH,
                           HANT_ACT_SIGMOID, HANT_ACT_SILU,  HANT_ACT_HSIGMOID};
  for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
    hant_net *net = hant_net_new(2, 4, 4);
    /* Scale inputs up through a conv so ReLU6's upper kink is exercised. */
    hant_conv_desc d = {.c_in = 2, .c_out = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
    int y = hant_net_conv(net, 0, &d, true);
    hant_net_act(net, y, acts[i]);
    gradcheck_eps(hant_act_name(acts[i]), net, 3, 20 + i, 1e-3f);
    hant_net_destroy(net);
  }
  {
    hant_net *net = hant_net_new(3, 6, 6);
    hant_conv_desc d = {.c_in = 3, .c_out = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
    int y = hant_net_conv(net, 0, &d, true);
    y = hant_net_add(net, y, 0);
    hant_net_conv(net, y, &d, false);
    gradcheck("residual add", net, 2, 31);
    hant_net_destroy(net);
  }
  /* Squeeze-and-excitation: the multiply (same shape, and a [C, 1, 1]
   * gate broadcast over the plane), then whole SE blocks with batch norm in
   * training mode, as arch.h builds them. */
  {
    hant_conv_desc d = {.c_in = 3, .c_out = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
    hant_net *net = hant_net_new(3, 5, 5);
    int y = hant_net_conv(net, 0, &d, true);
    hant_net_mul(net, y, 0);
    gradcheck("mul, same shape", net, 2, 32);
    hant_net_destroy(net);
    net = hant_net_new(3, 5, 5);
    int g = hant_net_act(net, hant_net_gap(net, 0), HANT_ACT_SIGMOID);
    y = hant_net_conv(net, 0, &d, true);
    CHECK(hant_net_mul(net, g, y) == HANT_ESHAPE, "mul: a [C, 1, 1] first operand times a plane must be refused");
    hant_errmsg_clear();
    hant_net_mul(net, y, g);
    gradcheck("mul, [C, 1, 1] gate broadcast", net, 2, 33);
    hant_net_destroy(net);
  }
  {
    static const struct {
      const char *name, *arch;
    } blocks[] = {
        {"se_ir (MobileNetV3: hswish, SE relu/hsigmoid, residual)",
         "input 8x6x6; se_ir 8 e=3 k=3 act=hswish se=8 sa=relu gate=hsigmoid"},
        {"se_ir (EfficientNet: no expansion, SiLU, SE silu/sigmoid, stride 2)",
         "input 8x6x6; se_ir 12 e=1 k=5 s=2 act=silu se=2 sa=silu gate=sigmoid"},
        {"se_bottleneck (RegNetY: groups, SE, projection shortcut)",
         "input 8x6x6; se_bottleneck 16 mid=16 g=2 s=2 se=4"},
    };
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
      hant_net *net = hant_arch_build(blocks[i].arch, blocks[i].name);
      CHECK(net != NULL, "%s: %s", blocks[i].name, hant_errmsg());
      if (net)
        gradcheck_eps(blocks[i].name, net, 3, 34 + i, 1e-3f);
      hant_net_destroy(net);
    }
  }
  {
    hant_pool_desc pd = {.k = 3, .s = 2, .p = 1, .count_include_pad = true};
    hant_net *net = hant_net_new(2, 7, 7);
    hant_net_maxpool(net, 0, &pd);
    gradcheck("max pool 3x3 s2 p1", net, 2, 41);
    hant_net_destroy(net);
    net = hant_net_new(2, 7, 7);
    hant_net_avgpool(net, 0, &pd);
    gradcheck("avg pool 3x3 s2 p1 (count pad)", net, 2, 42);
    hant_net_destroy(net);
    /* Ceil mode: 3x3 windows of stride 2 over 8x8 round up to 4x4, the
     * last hanging over the edge (GoogLeNet's pools), and a 2x2 window over
     * a 1x1 input. */
    hant_pool_desc pc = {.k = 3, .s = 2, .p = 0, .ceil_mode = true};
    net = hant_net_new(2, 8, 8);
    int mp = hant_net_maxpool(net, 0, &pc);
    CHECK(mp > 0 && net->nodes[mp].h == 4 && net->nodes[mp].w == 4, "ceil mode rounds 8x8 up to 4x4");
    gradcheck("max pool 3x3 s2 ceil mode", net, 2, 44);
    hant_net_destroy(net);
    pc = (hant_pool_desc){.k = 2, .s = 2, .p = 0, .ceil_mode = true};
    net = hant_net_new(3, 1, 1);
    mp = hant_net_maxpool(net, 0, &pc);
    CHECK(mp > 0 && net->nodes[mp].h == 1, "ceil mode: a 2x2 window over a 1x1 input gives 1x1");
    gradcheck("max pool 2x2 ceil mode over 1x1", net, 2, 45);
    hant_net_destroy(net);
    net = hant_net_new(2, 8, 8);
    CHECK(hant_net_avgpool(net, 0, &(hant_pool_desc){.k = 3, .s = 2, .ceil_mode = true}) < 0,
          "ceil mode on an average pool is refused");
    hant_net_destroy(net);
    pd.count_include_pad = false;
    net = hant_net_new(2, 7, 7);
    hant_net_avgpool(net, 0, &pd);
    gradcheck("avg pool 3x3 s2 p1 (exclude pad)", net, 2, 43);
    hant_net_destroy(net);
  }
  {
    hant_net *net = hant_net_new(4, 3, 3);
    int y = hant_net_gap(net, 0);
    hant_net_linear(net, y, 5, true);
    gradcheck("global average pool + linear", net, 3, 51);
    hant_net_destroy(net);
    net = hant_net_new(2, 3, 3);
    y = hant_net_flatten(net, 0);
    hant_net_linear(net, y, 4, false);
    gradcheck("flatten + linear", net, 3, 52);
    hant_net_destroy(net);
  }
  {
    /* ShuffleNet's unit in miniature: split the channels, convolve one
     * half, concatenate, shuffle; and a concat of two branches. */
    hant_net *net = hant_net_new(6, 4, 4);
    hant_conv_desc d = {.c_in = 3, .c_out = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
    int a = hant_net_chslice(net, 0, 0, 3), b = hant_net_chslice(net, 0, 3, 3);
    b = hant_net_conv(net, b, &d, true);
    int y = hant_net_shuffle(net, hant_net_concat(net, a, b), 2);
    d.c_in = 6;
    hant_net_conv(net, y, &d, false);
    CHECK(y > 0 && net->nodes[y].c == 6, "split, conv, concat, shuffle builds");
    gradcheck("channel split + concat + shuffle", net, 2, 71);
    hant_net_destroy(net);
    net = hant_net_new(4, 5, 5);
    d.c_in = 4, d.c_out = 2;
    a = hant_net_conv(net, 0, &d, true);
    d.c_out = 3;
    b = hant_net_conv(net, 0, &d, true);
    y = hant_net_shuffle(net, hant_net_concat(net, b, a), 5);
    CHECK(y > 0 && net->nodes[y].c == 5, "concat of two branches, shuffle in 5 groups of 1");
    hant_net *s3 = hant_net_new(6, 2, 2);
    hant_net_shuffle(s3, hant_net_chslice(s3, 0, 1, 4), 2);
    gradcheck("concat of two convs + shuffle", net, 2, 72);
    gradcheck("slice of the middle channels + shuffle", s3, 3, 73);
    CHECK(hant_net_chslice(s3, 0, 4, 3) < 0 && hant_net_shuffle(s3, 0, 4) < 0 &&
              hant_net_concat(net, 0, hant_net_gap(net, 0)) < 0,
          "a slice past the channels, groups that do not divide them and a concat of other H, W are refused");
    hant_net_destroy(net);
    hant_net_destroy(s3);
  }

  /* Losses: analytic gradient against finite differences. */
  {
    hant_rng rng;
    hant_rng_seed(&rng, 61);
    enum { N = 3, K = 5 };
    float z[N * K], t[N * K], g[N * K], tmp[N * K];
    int lab[N] = {0, 3, 4};
    for (int i = 0; i < N * K; i++) {
      z[i] = 2.0f * hant_rng_normal(&rng);
      t[i] = 2.0f * hant_rng_normal(&rng);
    }
    for (int which = 0; which < 3; which++) {
      const char *names[] = {"cross-entropy (smoothing 0.1)", "feature MSE", "KD at T=4"};
      if (which == 0)
        hant_loss_xent(z, lab, N, K, 0.1f, g);
      else if (which == 1)
        hant_loss_mse(z, t, N * K, g);
      else
        hant_loss_kd(z, t, N, K, 4.0f, g);
      int bad = 0;
      for (int i = 0; i < N * K; i++) {
        float keep = z[i];
        const float eps = 1e-2f;
        double l[2];
        for (int s = 0; s < 2; s++) {
          z[i] = keep + (s ? -eps : eps);
          l[s] = which == 0 ? hant_loss_xent(z, lab, N, K, 0.1f, tmp)
                 : which == 1 ? hant_loss_mse(z, t, N * K, tmp)
                              : hant_loss_kd(z, t, N, K, 4.0f, tmp);
        }
        z[i] = keep;
        double fd = (l[0] - l[1]) / (2.0 * eps);
        if (!t_near(g[i], fd, 1e-3, 1e-2))
          bad++;
      }
      CHECK(bad == 0, "%s: %d gradient entries disagree", names[which], bad);
    }
    /* KD of identical logits is zero; cross-entropy of a confident right answer is near zero. */
    CHECK(fabs(hant_loss_kd(z, z, N, K, 4.0f, g)) < 1e-6, "KD(z, z) should be 0");
  }
  return test_summary("test_grad");
}
