/* SPDX-License-Identifier: MIT */
/* test_bn_fold.c: folding eval-mode batch norm into convolutions leaves a network's outputs unchanged. */
#include <stdbool.h>
#include <string.h>

#include "arch.h"
#include "hant.h"
#include "net.h"
#include "test_util.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* He-normal weights, then batch-norm parameters and statistics far from
 * the identity so that a wrong fold shows. */
static void init_nontrivial(hant_net *net, uint64_t seed) {
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  hant_net_init_params(net, &rng);
  for (int i = 0; i < net->n_params; i++) {
    hant_param *p = &net->params[i];
    for (size_t j = 0; j < p->n; j++) {
      if (ends_with(p->name, ".gamma"))
        p->w[j] = 0.5f + hant_rng_uniform(&rng);
      else if (ends_with(p->name, ".beta") || ends_with(p->name, ".bias"))
        p->w[j] = 0.5f * hant_rng_normal(&rng);
      else if (ends_with(p->name, ".running_mean"))
        p->w[j] = 0.5f * hant_rng_normal(&rng);
      else if (ends_with(p->name, ".running_var"))
        p->w[j] = 0.25f + 2.0f * hant_rng_uniform(&rng);
    }
  }
}

static int count_ops(const hant_net *net, hant_op op) {
  int k = 0;
  for (int i = 0; i < net->n_nodes; i++)
    k += net->nodes[i].op == op;
  return k;
}

/* Runs an eval forward on x and returns a malloc'd copy of the output. */
static float *eval_out(hant_net *net, const float *x, int n, size_t *count) {
  hant_pass p;
  hant_pass_init(&p);
  int rc = hant_net_forward(net, &p, x, n, false);
  CHECK(rc == 0, "eval forward failed: %s", hant_errmsg());
  const hant_node *o = &net->nodes[hant_net_output(net)];
  *count = (size_t)n * o->c * o->h * o->w;
  float *y = malloc(*count * sizeof(float));
  HANT_ASSERT(y);
  if (rc == 0)
    memcpy(y, p.out[hant_net_output(net)], *count * sizeof(float));
  else
    memset(y, 0, *count * sizeof(float));
  hant_pass_free(&p);
  return y;
}

static double rel_diff(const float *a, const float *b, size_t n) {
  double md = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    double dv = fabs((double)a[i] - b[i]);
    if (!(dv <= md))
      md = dv;
    scale = fmax(scale, fabs((double)a[i]));
  }
  return md / (scale > 1e-12 ? scale : 1e-12);
}

static float *random_input(const hant_net *net, int n, uint64_t seed) {
  const hant_node *in = &net->nodes[0];
  size_t nx = (size_t)n * in->c * in->h * in->w;
  float *x = malloc(nx * sizeof(float));
  HANT_ASSERT(x);
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_normal(&rng);
  return x;
}

static void test_arch_fold(const char *desc) {
  hant_net *net = hant_arch_build(desc, "bn_fold");
  CHECK(net != NULL, "build '%s': %s", desc, hant_errmsg());
  if (!net)
    return;
  init_nontrivial(net, 7);
  int n = 5;
  float *x = random_input(net, n, 11);
  size_t cnt, cnt2;
  float *before = eval_out(net, x, n, &cnt);
  int bn_before = count_ops(net, HANT_OP_BN), conv_count = count_ops(net, HANT_OP_CONV);
  CHECK(bn_before > 0, "'%s' has no batch norm to fold", desc);

  int rc = hant_net_fold_bn(net);
  CHECK(rc == 0, "fold_bn returned %s: %s", hant_err_name(rc), hant_errmsg());
  float *after = eval_out(net, x, n, &cnt2);
  CHECK(cnt == cnt2, "output size changed from %zu to %zu", cnt, cnt2);
  double e = rel_diff(before, after, cnt);
  CHECK(e <= 1e-4, "'%s': folded output differs by %.3g relative", desc, e);

  /* Every BN here follows a conv that feeds only it: none may remain. */
  int left = 0;
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    if (nd->op == HANT_OP_BN && net->nodes[nd->in[0]].op == HANT_OP_CONV)
      left++;
  }
  CHECK(left == 0, "'%s': %d batch norms still follow convolutions", desc, left);
  CHECK(count_ops(net, HANT_OP_BN) == 0, "'%s': %d batch norms left", desc, count_ops(net, HANT_OP_BN));
  CHECK(count_ops(net, HANT_OP_CONV) == conv_count, "conv count changed");
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    if (nd->op == HANT_OP_CONV)
      CHECK(nd->param[1] >= 0 && nd->param[1] < net->n_params && net->params[nd->param[1]].n == (size_t)nd->c,
            "conv node %d has no bias of %d values after folding", i, nd->c);
  }

  /* Folding again changes nothing. */
  rc = hant_net_fold_bn(net);
  float *again = eval_out(net, x, n, &cnt2);
  CHECK(rc == 0 && rel_diff(after, again, cnt) == 0.0, "a second fold changed the output");

  free(x), free(before), free(after), free(again);
  hant_net_destroy(net);
}

/* A conv whose output also feeds an add must keep its BN: folding would
 * change what the add sees. */
static void test_shared_conv_not_folded(void) {
  hant_net *net = hant_net_new(3, 6, 5);
  hant_conv_desc d = {.c_in = 3, .c_out = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
  int c = hant_net_conv(net, 0, &d, false);
  int b = hant_net_bn(net, c);
  int a = hant_net_add(net, b, c);
  CHECK(c > 0 && b > 0 && a > 0, "building conv-bn-add failed: %s", hant_errmsg());
  init_nontrivial(net, 3);
  float *x = random_input(net, 2, 5);
  size_t cnt;
  float *before = eval_out(net, x, 2, &cnt);
  int rc = hant_net_fold_bn(net);
  float *after = eval_out(net, x, 2, &cnt);
  CHECK(rc == 0, "fold_bn returned %s", hant_err_name(rc));
  CHECK(net->nodes[b].op == HANT_OP_BN, "BN after a shared conv was folded");
  CHECK(rel_diff(before, after, cnt) <= 1e-6, "output changed when nothing should fold");
  free(x), free(before), free(after);
  hant_net_destroy(net);
}

int main(void) {
  test_arch_fold("input 3x8x8; conv 8; res 8; res 16 s=2; ir 16 e=2; dws 24; gap; linear 5");
  test_arch_fold("input 2x9x7; conv 6 k=5 g=2; ir 12 e=3 s=2 act=hswish; res 12 k=1; conv 10 k=1 act=relu6; gap; linear 3");
  test_shared_conv_not_folded();
  return test_summary("bn_fold");
}
