/* SPDX-License-Identifier: MIT */
/* test_family_bottleneck.c: grouped bottlenecks (RegNet, ResNeXt) rebuild exactly, and their group and prune candidates start from the teacher's weights. */
#include <string.h>

#include "arch.h"
#include "family.h"
#include "hant.h"
#include "net.h"
#include "rng.h"
#include "slots.h"
#include "family_fixture.h"
#include "test_util.h"


static const hant_cand_spec *find(const hant_cand_spec *v, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(v[i].key, key))
      return &v[i];
  return NULL;
}

/* The slot's weight layers in the teacher's order: a, b, c, shortcut. */
static hant_param *layer(hant_net *t, int slot, int i, int k) {
  int ids[8];
  HANT_ASSERT(hant_slot_weight_nodes(t, slot, ids, 8) > i);
  return &t->params[t->nodes[ids[i]].param[k]];
}

int main(void) {
  /* A strided grouped bottleneck with a projection, then one with an identity shortcut. */
  hant_net *t = family_teacher("input 8x8x8; bottleneck 32 mid=32 s=2 g=4; bottleneck 32 mid=32 g=4; gap; linear 5", 3);
  CHECK(t->n_slots == 3 && !strcmp(t->slots[0].kind, "bottleneck") && strstr(t->slots[0].desc, " g=4"),
        "a grouped bottleneck is one slot that says its groups: %s", t->n_slots ? t->slots[0].desc : "(none)");
  for (int s = 0; s < 2; s++) {
    hant_cand_spec *v = NULL;
    int n = 0;
    CHECK(hant_family_generate(t, s, (1u << HANT_FAMILY_GROUP) | (1u << HANT_FAMILY_PRUNE), &v, &n) == 0, "%s",
          hant_errmsg());
    const hant_cand_spec *teach = find(v, n, "teacher"), *g8 = find(v, n, "group g=8"), *g32 = find(v, n, "group g=32");
    const hant_cand_spec *p50 = find(v, n, "prune keep=50%");
    CHECK(teach && g8 && g32 && p50 && !find(v, n, "group g=2"), "slot %d: teacher, groups 8 to 32, prune by groups",
          s);
    if (!teach || !g8 || !p50) {
      free(v);
      continue;
    }
    CHECK(strstr(p50->block, "mid=16") && strstr(p50->block, " g=2"), "prune keeps whole groups: %s", p50->block);
    hant_net *c = NULL;
    CHECK(hant_candidate_build(t, s, teach, 1, &c) == 0 && family_slot_diff(t, s, c) < 1e-5,
          "slot %d: the teacher's own block rebuilds exactly", s);
    hant_net_destroy(c);
    /* Make the teacher's kxk conv block-diagonal over 8 groups: the g=8
     * candidate, sliced from it, is then the same function. */
    hant_param *b = layer(t, s, 1, 0);
    int ct = b->shape[1], kk = b->shape[2] * b->shape[3];
    float *keep = malloc(sizeof(float) * b->n);
    memcpy(keep, b->w, sizeof(float) * b->n);
    for (int k = 0; k < b->shape[0]; k++)
      for (int j = 0; j < ct; j++)
        if (j / 4 != (k % 8) / 4) /* teacher groups of 8 channels, candidate groups of 4 */
          memset(b->w + ((size_t)k * ct + j) * kk, 0, sizeof(float) * (size_t)kk);
    CHECK(hant_candidate_build(t, s, g8, 1, &c) == 0, "%s", hant_errmsg());
    CHECK(c && family_slot_diff(t, s, c) < 1e-5, "slot %d: g=8 sliced from a block-diagonal g=4 teacher differs by %g", s,
          c ? family_slot_diff(t, s, c) : -1.0);
    hant_net_destroy(c);
    memcpy(b->w, keep, sizeof(float) * b->n);
    free(keep);
    /* Silence groups 1 and 2 of 4: a's rows and biases, b's biases. The
     * 50% prune must keep groups 0 and 3 by L1 and compute the same. */
    hant_param *aw = layer(t, s, 0, 0), *ab = layer(t, s, 0, 1), *bb = layer(t, s, 1, 1);
    size_t per = aw->n / (size_t)aw->shape[0];
    float *a_saved = malloc(sizeof(float) * aw->n), ab_saved[64], bb_saved[64];
    memcpy(a_saved, aw->w, sizeof(float) * aw->n);
    memcpy(ab_saved, ab->w, sizeof(float) * ab->n);
    memcpy(bb_saved, bb->w, sizeof(float) * bb->n);
    for (int ch = 8; ch < 24; ch++) {
      memset(aw->w + (size_t)ch * per, 0, sizeof(float) * per);
      ab->w[ch] = 0, bb->w[ch] = 0;
    }
    CHECK(hant_candidate_build(t, s, p50, 1, &c) == 0, "%s", hant_errmsg());
    CHECK(c && family_slot_diff(t, s, c) < 1e-5, "slot %d: pruning the two silent groups differs by %g", s,
          c ? family_slot_diff(t, s, c) : -1.0);
    hant_net_destroy(c);
    memcpy(aw->w, a_saved, sizeof(float) * aw->n);
    memcpy(ab->w, ab_saved, sizeof(float) * ab->n);
    memcpy(bb->w, bb_saved, sizeof(float) * bb->n);
    free(a_saved);
    free(v);
  }
  hant_net_destroy(t);

  /* A dense bottleneck (ResNet-50's) prunes channel by channel: the kxk
   * conv loses the same channels as rows and as columns. Silence half of
   * them and prune them. */
  t = family_teacher("input 16x8x8; bottleneck 16 mid=10; gap; linear 5", 3);
  hant_cand_spec *v = NULL;
  int n = 0;
  CHECK(hant_family_generate(t, 0, 1u << HANT_FAMILY_PRUNE, &v, &n) == 0, "%s", hant_errmsg());
  const hant_cand_spec *p50 = find(v, n, "prune keep=50%");
  CHECK(p50 && strstr(p50->block, "mid=5") && !strstr(p50->block, " g="), "dense prune: %s", p50 ? p50->block : "-");
  if (p50) {
    hant_param *aw = layer(t, 0, 0, 0), *ab = layer(t, 0, 0, 1), *bw = layer(t, 0, 1, 0), *bb = layer(t, 0, 1, 1);
    size_t pa = aw->n / (size_t)aw->shape[0], pb = bw->n / (size_t)bw->shape[0];
    for (int ch = 1; ch < 10; ch += 2) {
      memset(aw->w + (size_t)ch * pa, 0, sizeof(float) * pa);
      memset(bw->w + (size_t)ch * pb, 0, sizeof(float) * pb);
      ab->w[ch] = 0, bb->w[ch] = 0;
    }
    hant_net *c = NULL;
    CHECK(hant_candidate_build(t, 0, p50, 1, &c) == 0, "%s", hant_errmsg());
    CHECK(c && family_slot_diff(t, 0, c) < 1e-5, "dense: pruning the silent channels differs by %g",
          c ? family_slot_diff(t, 0, c) : -1.0);
    hant_net_destroy(c);
  }
  free(v);
  hant_net_destroy(t);

  /* The shortcut first in node order (RegNet's proj(x) + f(x)) still maps
   * onto the rebuilt block, whose shortcut comes last. */
  hant_net *r = hant_net_new(8, 8, 8);
  hant_conv_desc sc = {.c_in = 8, .c_out = 16, .kh = 1, .kw = 1, .sh = 2, .sw = 2, .groups = 1};
  hant_conv_desc a = {.c_in = 8, .c_out = 16, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
  hant_conv_desc b = {.c_in = 16, .c_out = 16, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 2};
  hant_conv_desc cc = {.c_in = 16, .c_out = 16, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .groups = 1};
  int y0 = hant_net_conv(r, 0, &sc, true);
  int y = hant_net_act(r, hant_net_conv(r, 0, &a, true), HANT_ACT_RELU);
  y = hant_net_act(r, hant_net_conv(r, y, &b, true), HANT_ACT_RELU);
  y = hant_net_act(r, hant_net_add(r, y0, hant_net_conv(r, y, &cc, true)), HANT_ACT_RELU);
  hant_net_linear(r, hant_net_flatten(r, hant_net_gap(r, y)), 3, true);
  hant_rng rng;
  hant_rng_seed(&rng, 4);
  hant_net_init_params(r, &rng);
  CHECK(hant_slots_discover(r) == 2 && !strcmp(r->slots[0].desc, "bottleneck 16 mid=16 k=3 s=2 g=2") &&
            hant_teacher_prepare(r, "proj-first") == 0,
        "shortcut-first bottleneck is one slot: %s", r->n_slots ? r->slots[0].desc : hant_errmsg());
  if (r->n_slots == 2) {
    hant_cand_spec *w = NULL;
    int m = 0;
    hant_net *c = NULL;
    CHECK(hant_family_generate(r, 0, 0, &w, &m) == 0 && m == 1 && hant_candidate_build(r, 0, &w[0], 1, &c) == 0,
          "teacher copy builds: %s", hant_errmsg());
    CHECK(c && family_slot_diff(r, 0, c) < 1e-5, "shortcut-first teacher copy differs by %g", c ? family_slot_diff(r, 0, c) : -1.0);
    hant_net_destroy(c);
    free(w);
  }
  hant_net_destroy(r);
  return test_summary("family_bottleneck");
}
