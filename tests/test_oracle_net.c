/* SPDX-License-Identifier: MIT */
/* test_oracle_net.c: a small network with grouped, depthwise, strided and residual layers, forward and backward through libhant and through the reference kernels. */
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "net.h"
#include "oracle/net_ref.h"
#include "test_util.h"

/* Tolerance: max |hant - reference| <= TOL * max |reference|, per tensor.
 * Both sides compute in float32 but sum in different orders (oneDNN splits
 * reductions into blocks and across threads; the reference sums row by
 * row, batch norm in double). A sum of K terms then differs by about
 * sqrt(K) * 2^-24 of its scale; through this network's layers, batch
 * norm's divisions by the batch deviation included, the largest difference
 * is about 2e-6 of a tensor's scale. 1e-4 leaves a wide margin, while a
 * wrong tap, group, stride or statistic, or a gradient that overwrites
 * instead of accumulating, shows up at 1e-2 or more. */
#define TOL 1e-4

enum { N = 6, C = 3, H = 16, W = 16 };

/* input 3x16x16
 * -> maxpool 3 s2 p1 (8x8)        first, so its argmax sees identical inputs
 * -> conv 3->16 3x3 + BN + relu
 * -> res: conv 16->16 3x3 groups 4 + BN + relu6, conv 1x1 + BN, + input, hswish
 * -> dws: depthwise 3x3 s2 + BN + relu, pointwise 16->32 + BN + relu (4x4)
 * -> avgpool 3 s1 p1 excluding padding, then 3x1 and 1x3 convs 32->24
 * -> avgpool 3 s1 p1 counting padding -> gap -> linear 24->10 */
static hant_net *build(void) {
  hant_net *net = hant_net_new(C, H, W);
  hant_pool_desc mp = {.k = 3, .s = 2, .p = 1};
  int y = hant_net_maxpool(net, 0, &mp);
  hant_conv_desc c0 = {.c_in = 3, .c_out = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
  y = hant_net_act(net, hant_net_bn(net, hant_net_conv(net, y, &c0, false)), HANT_ACT_RELU);
  int skip = y;
  hant_conv_desc cg = {.c_in = 16, .c_out = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 4};
  y = hant_net_act(net, hant_net_bn(net, hant_net_conv(net, y, &cg, false)), HANT_ACT_RELU6);
  hant_conv_desc pw = {.c_in = 16, .c_out = 16, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
  y = hant_net_bn(net, hant_net_conv(net, y, &pw, false));
  y = hant_net_act(net, hant_net_add(net, y, skip), HANT_ACT_HSWISH);
  hant_conv_desc dw = {.c_in = 16, .c_out = 16, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 16};
  y = hant_net_act(net, hant_net_bn(net, hant_net_conv(net, y, &dw, false)), HANT_ACT_RELU);
  hant_conv_desc pw2 = {.c_in = 16, .c_out = 32, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
  y = hant_net_act(net, hant_net_bn(net, hant_net_conv(net, y, &pw2, false)), HANT_ACT_RELU);
  hant_pool_desc ap = {.k = 3, .s = 1, .p = 1, .count_include_pad = false};
  y = hant_net_avgpool(net, y, &ap);
  hant_conv_desc kx1 = {.c_in = 32, .c_out = 24, .kh = 3, .kw = 1, .sh = 1, .sw = 1, .ph = 1, .groups = 1};
  hant_conv_desc k1x = {.c_in = 24, .c_out = 24, .kh = 1, .kw = 3, .sh = 1, .sw = 1, .pw = 1, .groups = 1};
  y = hant_net_conv(net, hant_net_conv(net, y, &kx1, false), &k1x, true);
  ap.count_include_pad = true;
  y = hant_net_gap(net, hant_net_avgpool(net, y, &ap));
  y = hant_net_linear(net, y, 10, true);
  HANT_ASSERT(y > 0);
  return net;
}

/* Random parameters, including BN's affine and running statistics, the
 * same for every call with the same seed. */
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


static void compare(const char *what, int threads, const float *got, const float *ref, size_t n, double *worst) {
  double e = t_rel_diff(got, ref, n);
  *worst = fmax(*worst, e);
  CHECK(e <= TOL, "%s at %d thread(s): relative difference %.3g", what, threads, e);
}

/* The library keeps max-pool argmax positions channels last, as its
 * activations; the reference kernels channels first. */
static bool same_argmax(const int *lib, const int *ref, int n, int c, int hw) {
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (int s = 0; s < hw; s++)
        if (lib[((size_t)b * hw + s) * c + ch] != ref[((size_t)b * c + ch) * hw + s])
          return false;
  return true;
}

static void run(int threads) {
  hant_threads_set(threads);
  hant_net *lib = build(), *ref = build();
  init(lib, 7);
  init(ref, 7);
  hant_rng rng;
  hant_rng_seed(&rng, 11);
  size_t nx = (size_t)N * C * H * W, ny = (size_t)N * 10;
  float *x = malloc(nx * sizeof(float)), *dy = malloc(ny * sizeof(float));
  float *dx_lib = malloc(nx * sizeof(float)), *dx_ref = malloc(nx * sizeof(float));
  HANT_ASSERT(x && dy && dx_lib && dx_ref);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_normal(&rng);
  for (size_t i = 0; i < ny; i++)
    dy[i] = hant_rng_normal(&rng);
  double worst = 0.0;

  hant_pass p;
  ref_pass r;
  hant_pass_init(&p);
  ref_pass_init(&r);
  /* Training step: forward with batch statistics, then backward. */
  int rc = hant_net_forward(lib, &p, x, N, true);
  CHECK(rc == 0, "library forward: %s", hant_errmsg());
  rc = ref_net_forward(ref, &r, x, N, true);
  CHECK(rc == 0, "reference forward: %s", hant_errmsg());
  int o = hant_net_output(lib);
  for (int i = 1; i < lib->n_nodes; i++) {
    const hant_node *nd = &lib->nodes[i];
    char what[64];
    snprintf(what, sizeof(what), "node %d (%s) output", i, hant_op_name(nd->op));
    compare(what, threads, p.out[i], r.out[i], (size_t)N * nd->c * nd->h * nd->w, &worst);
    if (nd->op == HANT_OP_MAXPOOL)
      CHECK(same_argmax(p.aux[i], r.aux[i], N, nd->c, nd->h * nd->w),
            "max-pool argmax positions differ at %d thread(s)", threads);
    if (nd->op == HANT_OP_BN) {
      snprintf(what, sizeof(what), "node %d (bn) saved statistics", i);
      compare(what, threads, p.aux[i], r.aux[i], 2 * (size_t)nd->c, &worst);
    }
  }
  hant_net_zero_grad(lib);
  hant_net_zero_grad(ref);
  rc = hant_net_backward(lib, &p, dy, dx_lib);
  CHECK(rc == 0, "library backward: %s", hant_errmsg());
  rc = ref_net_backward(ref, &r, dy, dx_ref);
  CHECK(rc == 0, "reference backward: %s", hant_errmsg());
  compare("input gradient", threads, dx_lib, dx_ref, nx, &worst);
  for (int k = 0; k < lib->n_params; k++) {
    const hant_param *a = &lib->params[k], *b = &ref->params[k];
    char what[96];
    /* Running statistics were updated by the forward; the rest have gradients. */
    snprintf(what, sizeof(what), "%s %s", a->name, a->trainable ? "gradient" : "after the update");
    compare(what, threads, a->trainable ? a->g : a->w, a->trainable ? b->g : b->w, a->n, &worst);
  }

  /* Inference: running statistics instead of batch statistics. */
  rc = hant_net_forward(lib, &p, x, N, false);
  CHECK(rc == 0, "library eval forward: %s", hant_errmsg());
  rc = ref_net_forward(ref, &r, x, N, false);
  CHECK(rc == 0, "reference eval forward: %s", hant_errmsg());
  compare("eval-mode output", threads, p.out[o], r.out[o], ny, &worst);
  printf("%d thread(s): largest relative difference %.2g (tolerance %.0e)\n", threads, worst, TOL);

  hant_pass_free(&p);
  ref_pass_free(&r);
  hant_net_destroy(lib);
  hant_net_destroy(ref);
  free(x), free(dy), free(dx_lib), free(dx_ref);
}

int main(void) {
  run(1);
  if (hant_cpu_count() > 1)
    run(hant_cpu_count());
  return test_summary("test_oracle_net");
}
