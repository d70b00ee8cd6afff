/* SPDX-License-Identifier: MIT */
/* test_family_se.c: the squeeze-and-excitation candidates start where they should: width and prune keep the right hidden channels, drop-SE the rest of the block. */
#include <math.h>
#include <string.h>

#include "hant.h"
#include "test_util.h"

enum { N = 2 };

/* A single-block teacher with random weights and batch-norm statistics,
 * folded as a build folds it. */
static hant_net *teacher(const char *arch) {
  hant_net *t = hant_arch_build(arch, "teacher");
  HANT_ASSERT(t);
  hant_rng rng;
  hant_rng_seed(&rng, 9);
  hant_net_init_params(t, &rng);
  for (int i = 0; i < t->n_params; i++) {
    hant_param *q = &t->params[i];
    bool scale = strstr(q->name, "gamma") || strstr(q->name, "var");
    if (scale || strstr(q->name, "beta") || strstr(q->name, "mean") || strstr(q->name, "bias"))
      for (size_t j = 0; j < q->n; j++)
        q->w[j] = (scale ? 1.0f : 0.0f) + 0.3f * (scale ? fabsf(hant_rng_normal(&rng)) : hant_rng_normal(&rng));
  }
  int rc = hant_teacher_prepare(t, arch);
  CHECK(rc == 0, "%s: prepare: %s", arch, hant_errmsg());
  return t;
}

/* Zeroes hidden channel j of the teacher: its rows (weights and bias) in
 * weight layers 0 .. upto-1, so the channel is 0 after every activation
 * (each is 0 at 0) and adds nothing downstream. */
static void zero_channel(hant_net *t, int upto, int j) {
  int w[8];
  int n = hant_slot_weight_nodes(t, 0, w, 8);
  HANT_ASSERT(upto <= n);
  for (int k = 0; k < upto; k++) {
    hant_param *p = &t->params[t->nodes[w[k]].param[0]];
    size_t per = p->n / (size_t)p->shape[0];
    memset(p->w + (size_t)j * per, 0, per * sizeof(float));
    if (t->nodes[w[k]].param[1] >= 0)
      t->params[t->nodes[w[k]].param[1]].w[j] = 0.0f;
  }
}

/* Makes the SE gate exactly 1: its expansion layer (weight layer `se2`)
 * outputs a constant bias that saturates the gate. */
static void open_gate(hant_net *t, int se2, float bias) {
  int w[8];
  hant_slot_weight_nodes(t, 0, w, 8);
  hant_param *p = &t->params[t->nodes[w[se2]].param[0]], *b = &t->params[t->nodes[w[se2]].param[1]];
  memset(p->w, 0, p->n * sizeof(float));
  for (size_t j = 0; j < b->n; j++)
    b->w[j] = bias;
}

/* The candidate `key` of the teacher's one slot must compute exactly what
 * the (edited) teacher does. */
static void same_function(const char *what, hant_net *t, const char *key) {
  unsigned mask;
  hant_family_mask("all", &mask);
  hant_cand_spec *specs = NULL;
  int n = 0, rc = hant_family_generate(t, 0, mask, &specs, &n);
  CHECK(rc == 0, "%s: generate: %s", what, hant_errmsg());
  const hant_cand_spec *spec = NULL;
  for (int i = 0; i < n; i++)
    if (!strcmp(specs[i].key, key))
      spec = &specs[i];
  CHECK(spec != NULL, "%s: the slot has a '%s' candidate", what, key);
  hant_net *c = NULL;
  if (spec && (rc = hant_candidate_build(t, 0, spec, 3, &c)))
    CHECK(false, "%s: build '%s': %s", what, key, hant_errmsg());
  if (c) {
    const hant_node *in = &t->nodes[0];
    size_t nx = (size_t)N * in->c * in->h * in->w, ny = (size_t)N * t->slots[0].out_c * t->slots[0].out_h * t->slots[0].out_w;
    float *x = malloc(nx * sizeof(float));
    hant_rng rng;
    hant_rng_seed(&rng, 4);
    for (size_t i = 0; i < nx; i++)
      x[i] = hant_rng_normal(&rng);
    hant_pass a, b;
    hant_pass_init(&a), hant_pass_init(&b);
    rc = hant_net_forward(t, &a, x, N, false) || hant_net_forward(c, &b, x, N, false);
    CHECK(rc == 0, "%s: forward: %s", what, hant_errmsg());
    double e = rc ? INFINITY : t_rel_diff(b.out[hant_net_output(c)], a.out[t->slots[0].last], ny);
    CHECK(e <= 1e-5, "%s: '%s' (%s) differs from the teacher by %.3g", what, key, spec->block, e);
    printf("ok   %-40s '%s' = %s, difference %.2g\n", what, key, spec->block, e);
    hant_pass_free(&a), hant_pass_free(&b);
    free(x);
    hant_net_destroy(c);
  }
  free(specs);
}

int main(void) {
  /* se_ir: expand (layer 0) and depthwise (1) write the hidden channels;
   * the SE is layers 2 (reduce) and 3 (expand). */
  static const char *IR = "input 8x6x6; se_ir 12 e=4 k=3 act=hswish se=8 sa=relu gate=hsigmoid";
  hant_net *t = teacher(IR);
  for (int j = 16; j < 32; j++)
    zero_channel(t, 2, j);
  same_function("se_ir width keeps the first channels", t, "width mid=16");
  hant_net_destroy(t);

  t = teacher(IR);
  for (int j = 0, z = 0; j < 32 && z < 10; j += 3, z++) /* 10 of 32 scattered: keep 70% is 22 */
    zero_channel(t, 2, j);
  same_function("se_ir prune keeps the largest L1", t, "prune keep=70%");
  hant_net_destroy(t);

  t = teacher(IR);
  open_gate(t, 3, 3.0f); /* hard-sigmoid(3) = 1 */
  same_function("se_ir drop-se keeps the other layers", t, "drop-se");
  hant_net_destroy(t);

  /* se_bottleneck, 4 groups of 8, strided with a projection shortcut that
   * the weight order puts last: layers 0 (1x1) and 1 (grouped) write the
   * hidden channels, 2 and 3 are the SE. */
  static const char *BOT = "input 8x6x6; se_bottleneck 16 mid=32 g=4 s=2 se=4";
  t = teacher(BOT);
  for (int j = 16; j < 32; j++)
    zero_channel(t, 2, j);
  same_function("se_bottleneck width keeps whole groups", t, "width mid=16");
  hant_net_destroy(t);

  t = teacher(BOT);
  for (int j = 0; j < 32; j++)
    if (j / 8 == 0 || j / 8 == 2)
      zero_channel(t, 2, j);
  same_function("se_bottleneck prune keeps the largest groups", t, "prune keep=50%");
  hant_net_destroy(t);

  t = teacher(BOT);
  open_gate(t, 3, 40.0f); /* sigmoid(40) is 1 in float32 */
  same_function("se_bottleneck drop-se keeps the other layers", t, "drop-se");
  hant_net_destroy(t);
  return test_summary("test_family_se");
}
