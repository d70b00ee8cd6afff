/* SPDX-License-Identifier: MIT */
/* slot_rebuild.c: test helper that rebuilds every slot of a teacher from its architecture line and checks that the teacher candidate computes what the teacher's block does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"

/* Largest |a - b| over the largest |b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
  double md = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    md = fmax(md, fabs((double)a[i] - b[i]));
    scale = fmax(scale, fabs((double)b[i]));
  }
  return md / (scale > 1e-12 ? scale : 1e-12);
}

/* Whether a candidate starts at exactly the teacher block's function: the
 * teacher's own block, and a kernel zero-padded to a larger size. */
static bool exact_start(const hant_net *t, int slot, const hant_cand_spec *c) {
  if (c->family == HANT_FAMILY_TEACHER)
    return true;
  int k;
  return c->family == HANT_FAMILY_KERNEL && sscanf(c->key, "kernel k=%d", &k) == 1 &&
         strstr(t->slots[slot].desc, " k=") && k > atoi(strstr(t->slots[slot].desc, " k=") + 3);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: slot_rebuild MODEL\n"
                    "  prints, per slot: name, kind, the teacher candidate's largest relative difference from the\n"
                    "  teacher's block, and how many candidates of every family were built; exits 1 on a failure\n");
    return 2;
  }
  hant_net *t = NULL;
  if (hant_onnx_load_any(argv[1], &t, NULL) || hant_teacher_prepare(t, argv[1])) {
    fprintf(stderr, "slot_rebuild: %s\n", hant_errmsg());
    hant_net_destroy(t);
    return 1;
  }
  enum { N = 2 };
  const hant_node *in = &t->nodes[0];
  size_t nx = (size_t)N * in->c * in->h * in->w;
  float *x = malloc(nx * sizeof(float));
  hant_rng rng;
  hant_rng_seed(&rng, 5);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_normal(&rng);
  hant_pass tp, cp;
  hant_pass_init(&tp);
  hant_pass_init(&cp);
  int bad = 0;
  if (hant_net_forward(t, &tp, x, N, false)) {
    fprintf(stderr, "slot_rebuild: teacher forward: %s\n", hant_errmsg());
    return 1;
  }
  unsigned mask;
  hant_family_mask("all", &mask);
  for (int s = 0; s < t->n_slots; s++) {
    const hant_slot *sl = &t->slots[s];
    hant_cand_spec *specs = NULL;
    int n = 0, built = 0;
    double worst = 0.0;
    if (hant_family_generate(t, s, mask, &specs, &n)) {
      fprintf(stderr, "slot_rebuild: %s: %s\n", sl->name, hant_errmsg());
      bad++;
      continue;
    }
    for (int i = 0; i < n; i++) {
      hant_net *c = NULL;
      if (hant_candidate_build(t, s, &specs[i], 1, &c)) {
        fprintf(stderr, "slot_rebuild: %s candidate '%s' (%s): %s\n", sl->name, specs[i].key, specs[i].block,
                hant_errmsg());
        bad++;
        continue;
      }
      built++;
      if (exact_start(t, s, &specs[i])) {
        size_t ny = (size_t)N * sl->out_c * sl->out_h * sl->out_w;
        if (hant_net_forward(c, &cp, tp.out[sl->in], N, false)) {
          fprintf(stderr, "slot_rebuild: %s '%s' forward: %s\n", sl->name, specs[i].key, hant_errmsg());
          bad++;
        } else {
          double e = rel_diff(cp.out[hant_net_output(c)], tp.out[sl->last], ny);
          worst = fmax(worst, e);
          if (!(e <= 1e-5)) {
            fprintf(stderr, "slot_rebuild: %s '%s' (%s) differs from the teacher's block by %.3g\n", sl->name,
                    specs[i].key, specs[i].block, e);
            bad++;
          }
        }
      }
      hant_net_destroy(c);
    }
    printf("%s %s %.3g %d/%d %s\n", sl->name, sl->kind, worst, built, n, sl->desc);
    free(specs);
  }
  hant_pass_free(&tp);
  hant_pass_free(&cp);
  hant_net_destroy(t);
  free(x);
  return bad ? 1 : 0;
}
