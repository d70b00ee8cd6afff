/* SPDX-License-Identifier: MIT */
/* test_family_modules.c: ShuffleNet units, fire and Inception modules rebuild exactly, and their pruned candidates keep the teacher's strongest inner channels. */
#include <string.h>

#include "arch.h"
#include "family.h"
#include "hant.h"
#include "net.h"
#include "rng.h"
#include "slots.h"
#include "test_util.h"

static hant_net *make_teacher(const char *arch) {
  hant_net *t = hant_arch_build(arch, "teacher");
  HANT_ASSERT(t);
  hant_rng rng;
  hant_rng_seed(&rng, 11);
  hant_net_init_params(t, &rng);
  HANT_ASSERT(hant_net_fold_bn(t) == 0);
  for (int i = 0; i < t->n_nodes; i++)
    if (t->nodes[i].op == HANT_OP_CONV && t->nodes[i].param[1] >= 0) {
      hant_param *b = &t->params[t->nodes[i].param[1]];
      for (size_t j = 0; j < b->n; j++)
        b->w[j] = 0.1f * hant_rng_normal(&rng);
    }
  HANT_ASSERT(hant_slots_discover(t) > 0 && hant_teacher_prepare(t, "teacher") == 0);
  return t;
}

static double slot_diff(hant_net *t, int slot, hant_net *c) {
  const hant_node *in = &t->nodes[0];
  int n = 2;
  size_t nx = (size_t)n * in->c * in->h * in->w;
  float *x = malloc(nx * sizeof(float));
  hant_rng rng;
  hant_rng_seed(&rng, 9);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_uniform(&rng);
  hant_pass p, q;
  hant_pass_init(&p);
  hant_pass_init(&q);
  const hant_slot *s = &t->slots[slot];
  HANT_ASSERT(hant_net_forward_to(t, &p, x, n, s->last, false) == 0);
  HANT_ASSERT(hant_net_forward(c, &q, p.out[s->in], n, false) == 0);
  double d = t_rel_diff(q.out[hant_net_output(c)], p.out[s->last], (size_t)n * s->out_c * s->out_h * s->out_w);
  hant_pass_free(&p);
  hant_pass_free(&q);
  free(x);
  return d;
}

/* Zeroes output channel ch of weight layer i of the slot (rows and bias). */
static void silence(hant_net *t, int slot, int i, int ch) {
  int ids[16];
  HANT_ASSERT(hant_slot_weight_nodes(t, slot, ids, 16) > i);
  hant_param *w = &t->params[t->nodes[ids[i]].param[0]], *b = &t->params[t->nodes[ids[i]].param[1]];
  size_t per = w->n / (size_t)w->shape[0];
  memset(w->w + (size_t)ch * per, 0, sizeof(float) * per);
  b->w[ch] = 0;
}

int main(void) {
  hant_net *t = make_teacher("input 8x8x8; shuffle 16 s=2 mid=8; shuffle 16; fire 16 sq=4 e1=8; "
                             "inception 16 c1=4 r3=4 c3=4 r5=2 c5=4 pool=4 k5=3; gap; linear 3");
  static const char *const kinds[] = {"shuffle", "shuffle", "fire", "inception", "linear"};
  CHECK(t->n_slots == 5, "five slots found, %d", t->n_slots);
  for (int s = 0; s < 4 && s < t->n_slots; s++) {
    const char *kind = t->slots[s].kind;
    CHECK(!strcmp(kind, kinds[s]), "slot %d is a %s: %s", s, kinds[s], t->slots[s].desc);
    hant_cand_spec *v = NULL;
    int n = 0;
    CHECK(hant_family_generate(t, s, 1u << HANT_FAMILY_PRUNE, &v, &n) == 0, "%s", hant_errmsg());
    const hant_cand_spec *teach = NULL, *p50 = NULL;
    for (int i = 0; i < n; i++)
      if (v[i].family == HANT_FAMILY_TEACHER)
        teach = &v[i];
      else if (!strcmp(v[i].key, "prune keep=50%"))
        p50 = &v[i];
    CHECK(teach && p50, "slot %d (%s): teacher and a 50%% prune planned", s, kind);
    hant_net *c = NULL;
    /* A larger kernel, zero-padded from the teacher's, is the same function. */
    hant_cand_spec *kv = NULL;
    int kn = 0;
    CHECK(hant_family_generate(t, s, 1u << HANT_FAMILY_KERNEL, &kv, &kn) == 0, "%s", hant_errmsg());
    const char *kkey = !strcmp(kind, "inception") ? "kernel k5=5" : "kernel k=5";
    for (int i = 0; i < kn; i++)
      if (!strcmp(kv[i].key, kkey)) {
        CHECK(hant_candidate_build(t, s, &kv[i], 1, &c) == 0, "slot %d (%s): %s", s, kind, hant_errmsg());
        CHECK(c && slot_diff(t, s, c) < 1e-5, "slot %d (%s): %s padded from the teacher differs by %g", s, kind,
              kv[i].block, c ? slot_diff(t, s, c) : -1.0);
        hant_net_destroy(c);
        c = NULL;
        kkey = NULL;
        break;
      }
    CHECK(!kkey, "slot %d (%s): a kernel-5 candidate planned", s, kind);
    free(kv);
    if (teach) {
      CHECK(hant_candidate_build(t, s, teach, 1, &c) == 0 && slot_diff(t, s, c) < 1e-5,
            "slot %d (%s): the teacher's block rebuilds exactly", s, kind);
      hant_net_destroy(c);
    }
    if (!p50) {
      free(v);
      continue;
    }
    /* Silence the odd inner channels: the L1 prune must drop exactly them
     * and compute the same function. */
    if (!strcmp(kind, "shuffle")) {
      int o = s == 0 ? 2 : 0; /* stride 2: the first branch's two layers come first */
      for (int ch = 1; ch < 8; ch += 2)
        silence(t, s, o, ch), silence(t, s, o + 1, ch);
    } else if (!strcmp(kind, "fire")) {
      for (int ch = 1; ch < 4; ch += 2)
        silence(t, s, 0, ch);
    } else {
      for (int ch = 1; ch < 4; ch += 2)
        silence(t, s, 1, ch);
      silence(t, s, 3, 1);
    }
    c = NULL;
    CHECK(hant_candidate_build(t, s, p50, 1, &c) == 0, "slot %d (%s): %s", s, kind, hant_errmsg());
    CHECK(c && slot_diff(t, s, c) < 1e-5, "slot %d (%s): pruning the silent channels (%s) differs by %g", s, kind,
          p50->block, c ? slot_diff(t, s, c) : -1.0);
    hant_net_destroy(c);
    free(v);
  }
  hant_net_destroy(t);
  return test_summary("family_modules");
}
