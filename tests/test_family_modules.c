/* SPDX-License-Identifier: MIT */
/* test_family_modules.c: ShuffleNet units, fire and Inception modules rebuild exactly, and their pruned candidates keep the teacher's strongest inner channels. */
#include <string.h>

#include "arch.h"
#include "family.h"
#include "hant.h"
#include "net.h"
#include "rng.h"
#include "slots.h"
#include "family_fixture.h"
#include "test_util.h"


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
  hant_net *t = family_teacher("input 8x8x8; shuffle 16 s=2 mid=8; shuffle 16; fire 16 sq=4 e1=8; "
                             "inception 16 c1=4 r3=4 c3=4 r5=2 c5=4 pool=4 k5=3; gap; linear 3", 11);
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
        CHECK(c && family_slot_diff(t, s, c) < 1e-5, "slot %d (%s): %s padded from the teacher differs by %g", s, kind,
              kv[i].block, c ? family_slot_diff(t, s, c) : -1.0);
        hant_net_destroy(c);
        c = NULL;
        kkey = NULL;
        break;
      }
    CHECK(!kkey, "slot %d (%s): a kernel-5 candidate planned", s, kind);
    free(kv);
    if (teach) {
      CHECK(hant_candidate_build(t, s, teach, 1, &c) == 0 && family_slot_diff(t, s, c) < 1e-5,
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
    CHECK(c && family_slot_diff(t, s, c) < 1e-5, "slot %d (%s): pruning the silent channels (%s) differs by %g", s, kind,
          p50->block, c ? family_slot_diff(t, s, c) : -1.0);
    hant_net_destroy(c);
    free(v);
  }
  hant_net_destroy(t);
  return test_summary("family_modules");
}
