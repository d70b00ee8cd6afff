/* SPDX-License-Identifier: MIT */
/* family_fixture.h: a folded random teacher with its slots rediscovered, and the distance of a candidate from a teacher slot, for the family tests. */
#ifndef HANT_TEST_FAMILY_FIXTURE_H
#define HANT_TEST_FAMILY_FIXTURE_H

#include <stdint.h>

#include "arch.h"
#include "slots.h"
#include "test_util.h"

/* Random weights with non-trivial biases, folded; the slots are rediscovered
 * from the graph as for an imported model. */
static hant_net *family_teacher(const char *arch, uint64_t seed) {
  hant_net *t = hant_arch_build(arch, "teacher");
  HANT_ASSERT(t);
  hant_rng rng;
  hant_rng_seed(&rng, seed);
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

/* Max |teacher slot output - candidate output| relative to the teacher's. */
static double family_slot_diff(hant_net *t, int slot, hant_net *c) {
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

#endif
