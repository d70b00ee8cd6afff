/* SPDX-License-Identifier: MIT */
/* test_quant.c: int8 post-training quantisation of a small network: the scheme's invariants, the integer evaluation against float32, and refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "quant_internal.h"
#include "rng.h"
#include "test_util.h"

/* The residual add's table lookup on the CPU's vector unit gives the plain
 * loop's bytes, for every length around the 16-byte blocks, unaligned
 * inputs, and the table's last entries (its 32-bit gathers read past them). */
static void test_add_lookup(void) {
  uint8_t *lut = malloc(256 * 256 + 4), *a = malloc(1100), *b = malloc(1100), *c1 = malloc(1100),
          *c2 = malloc(1100);
  hant_rng rng;
  hant_rng_seed(&rng, 7);
  for (int i = 0; i < 256 * 256 + 4; i++)
    lut[i] = (uint8_t)(hant_rng_next(&rng) >> 24);
  for (int i = 0; i < 1100; i++)
    a[i] = (uint8_t)(hant_rng_next(&rng) >> 24), b[i] = (uint8_t)(hant_rng_next(&rng) >> 24);
  memset(a + 40, 255, 20), memset(b + 40, 255, 20), memset(b + 60, 0, 20); /* the last and first entries */
  static const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 1099};
  bool same = true;
  for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
    for (int off = 0; off < 2; off++) {
      memset(c1, 0xaa, 1100), memset(c2, 0x55, 1100);
      hant__qadd_lookup(lut, a + off, b + off, c1, lens[li], false);
      hant__qadd_lookup(lut, a + off, b + off, c2, lens[li], true);
      same = same && !memcmp(c1, c2, lens[li]) && c1[lens[li]] == 0xaa;
      for (size_t e = 0; e < lens[li]; e++)
        same = same && c2[e] == lut[(size_t)a[off + e] << 8 | b[off + e]];
    }
  CHECK(same, "the vector table lookup of the add gives the plain loop's bytes, and writes no further");
  free(lut), free(a), free(b), free(c1), free(c2);
}

/* A network with every kind the teacher has (conv, BN, ReLU, residual adds,
 * a strided shortcut, GAP, linear) and a max pool, its BN statistics far
 * from the identity, folded. */
static hant_net *small_net(void) {
  hant_net *net = hant_arch_build("input 1x12x12; conv 8; res 8; maxpool k=2 s=2; res 16 s=2; gap; linear 5", "q");
  if (!net)
    return NULL;
  hant_rng r;
  hant_rng_seed(&r, 7);
  hant_net_init_params(net, &r);
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    if (nd->op != HANT_OP_BN)
      continue;
    for (int c = 0; c < nd->c; c++) {
      net->params[nd->param[0]].w[c] = 0.5f + hant_rng_uniform(&r);
      net->params[nd->param[1]].w[c] = hant_rng_uniform(&r) - 0.5f;
      net->params[nd->param[2]].w[c] = 0.2f * (hant_rng_uniform(&r) - 0.5f);
      net->params[nd->param[3]].w[c] = 0.5f + hant_rng_uniform(&r);
    }
  }
  if (hant_net_fold_bn(net)) {
    hant_net_destroy(net);
    return NULL;
  }
  return net;
}

int main(void) {
  test_add_lookup();
  hant_net *net = small_net();
  CHECK(net != NULL, "building the network: %s", hant_errmsg());
  if (!net)
    return test_summary("quant");
  const int n = 64;
  size_t per = 144;
  float *x = malloc(sizeof(float) * per * n);
  hant_rng r;
  hant_rng_seed(&r, 1);
  for (size_t i = 0; i < per * n; i++) /* pixels k/255, as images are */
    x[i] = (float)hant_rng_below(&r, 256) / 255.0f;

  hant_qnet *q = NULL, *qp = NULL;
  int rc = hant_qnet_calibrate(net, x, n, HANT_QCALIB_MINMAX, 0, &q);
  CHECK(rc == 0, "calibrate (min-max): %s", hant_errmsg());
  rc = hant_qnet_calibrate(net, x, n, HANT_QCALIB_PERCENTILE, 99.0, &qp);
  CHECK(rc == 0, "calibrate (percentile): %s", hant_errmsg());
  if (!q || !qp)
    return test_summary("quant");

  int last = hant_net_output(net), convs = 0, adds = 0, absorbed = 0;
  CHECK(q->nodes[0].kind == HANT_QK_INPUT && q->nodes[0].zp == 0 && fabsf(q->nodes[0].scale * 255 - 1) < 1e-6,
        "the input is uint8 with scale 1/255 and zero point 0 (scale %g, zp %d)", q->nodes[0].scale, q->nodes[0].zp);
  for (int i = 1; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    const hant_qnode *qn = &q->nodes[i];
    if (nd->op == HANT_OP_ADD) {
      adds++;
      CHECK(qn->kind == HANT_QK_ADD, "node %d: an add runs as QLinearAdd", i);
    }
    if (nd->op == HANT_OP_ACT && nd->act == HANT_ACT_RELU) {
      const hant_qnode *p = &q->nodes[qn->src];
      absorbed += qn->kind == HANT_QK_ALIAS && p->relu == i;
      CHECK(qn->kind == HANT_QK_ALIAS && p->relu == i && p->zp == 0,
            "node %d: the ReLU is its producer's saturation at zero point 0 (kind %s, zp %d)", i,
            hant_qkind_name(qn->kind), p->zp);
    }
    if (nd->op == HANT_OP_MAXPOOL)
      CHECK(qn->kind == HANT_QK_MAXPOOL && qn->scale == q->nodes[q->nodes[nd->in[0]].src].scale,
            "node %d: max pool keeps its input's scale", i);
    if (qn->kind != HANT_QK_INT)
      continue;
    convs++;
    int k = nd->c;
    const float *w = net->params[nd->param[0]].w;
    bool ok = true;
    for (int o = 0; o < k; o++) {
      float m = 0;
      int top = 0;
      for (int j = 0; j < qn->per_k; j++)
        if (fabsf(w[(size_t)o * qn->per_k + j]) > m)
          m = fabsf(w[(size_t)o * qn->per_k + j]), top = j;
      ok = ok && fabsf(qn->wscale[o] - m / 127) <= 1e-7f * m && abs(qn->wq[(size_t)o * qn->per_k + top]) == 127;
      for (int j = 0; j < qn->per_k; j++)
        ok = ok && fabsf(qn->wq[(size_t)o * qn->per_k + j] * qn->wscale[o] - w[(size_t)o * qn->per_k + j]) <=
                       0.5f * qn->wscale[o] + 1e-7f;
    }
    CHECK(ok, "node %d: weights symmetric per output channel, max |w| at 127, within half a step", i);
    CHECK(qn->out_float == (i == last), "node %d: only the last layer stays float32", i);
  }
  CHECK(convs == 7 && adds == 2 && absorbed == 5, "%d integer nodes, %d adds, %d ReLUs absorbed", convs, adds,
        absorbed);
  for (int i = 1; i < net->n_nodes; i++)
    if (q->nodes[i].src == i && !q->nodes[i].out_float && q->nodes[i].kind != HANT_QK_MAXPOOL)
      CHECK(qp->nodes[i].scale <= q->nodes[i].scale * (1 + 1e-6f),
            "node %d: the percentile range is within the min-max one (%g > %g)", i, qp->nodes[i].scale,
            q->nodes[i].scale);

  /* the integer evaluation against float32: close, and the same classes */
  float *y8 = malloc(sizeof(float) * 5 * n);
  rc = hant_qnet_run(q, x, n, y8);
  CHECK(rc == 0, "int8 run: %s", hant_errmsg());
  hant_pass p;
  hant_pass_init(&p);
  CHECK(hant_net_forward(net, &p, x, n, false) == 0, "float forward");
  const float *y32 = p.out[last];
  double scale = 0, diff = 0;
  int agree = 0;
  for (int b = 0; b < n; b++) {
    int a8 = 0, a32 = 0;
    for (int c = 0; c < 5; c++) {
      scale = fmax(scale, fabs(y32[b * 5 + c]));
      diff = fmax(diff, fabs(y32[b * 5 + c] - y8[b * 5 + c]));
      a8 = y8[b * 5 + c] > y8[b * 5 + a8] ? c : a8;
      a32 = y32[b * 5 + c] > y32[b * 5 + a32] ? c : a32;
    }
    agree += a8 == a32;
  }
  CHECK(diff <= 0.1 * scale, "int8 logits within 10 %% of the float scale (%g of %g)", diff, scale);
  CHECK(agree >= n * 9 / 10, "int8 and float32 agree on %d of %d classes", agree, n);
  /* the same batch twice, and split in two, gives the same bits */
  float *y8b = malloc(sizeof(float) * 5 * n);
  CHECK(hant_qnet_run(q, x, n / 2, y8b) == 0 && hant_qnet_run(q, x + per * (n / 2), n / 2, y8b + 5 * (n / 2)) == 0 &&
            !memcmp(y8, y8b, sizeof(float) * 5 * n),
        "int8 results do not depend on the batch size");
  hant_pass_free(&p);

  /* refusals */
  hant_qnet *bad = NULL;
  CHECK(hant_qnet_calibrate(net, x, n, HANT_QCALIB_PERCENTILE, 40.0, &bad) == HANT_EINVAL && !bad &&
            strstr(hant_errmsg(), "percentile"),
        "a percentile of 40 is refused: %s", hant_errmsg());
  CHECK(hant_qnet_calibrate(net, x, 0, HANT_QCALIB_MINMAX, 0, &bad) == HANT_EINVAL && !bad,
        "no calibration images is refused");

  free(x), free(y8), free(y8b);
  hant_qnet_destroy(q);
  hant_qnet_destroy(qp);
  hant_net_destroy(net);
  return test_summary("quant");
}
