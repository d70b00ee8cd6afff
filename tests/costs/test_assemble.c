/* SPDX-License-Identifier: MIT */
/* test_assemble.c: assembling every slot's teacher-copy candidate reproduces the teacher; other choices fit and run; misfits are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "assemble.h"
#include "distill.h"
#include "family.h"
#include "hant.h"
#include "rng.h"
#include "test_util.h"

static const char *ARCH = "input 1x28x28; conv 8 s=2; res 8; maxpool k=2; res 16 s=2 g=2; ir 16 e=2; gap; linear 10";

static hant_net *teacher(void) {
  hant_net *t = hant_arch_build(ARCH, "teacher");
  HANT_ASSERT(t);
  hant_rng rng;
  hant_rng_seed(&rng, 11);
  hant_net_init_params(t, &rng);
  for (int i = 0; i < t->n_params; i++) /* non-trivial batch norms, so folding matters */
    for (size_t j = 0; j < t->params[i].n; j++) {
      if (strstr(t->params[i].name, "gamma") || strstr(t->params[i].name, "running_var"))
        t->params[i].w[j] = 0.5f + hant_rng_uniform(&rng);
      else if (strstr(t->params[i].name, "beta") || strstr(t->params[i].name, "running_mean"))
        t->params[i].w[j] = 0.2f * hant_rng_normal(&rng);
    }
  HANT_ASSERT(hant_teacher_prepare(t, "teacher") == 0);
  return t;
}

/* max |a(x) - b(x)| / max |a(x)| over a random batch. */
static double out_diff(hant_net *a, hant_net *b) {
  int n = 4;
  size_t nx = (size_t)n * 28 * 28;
  float *x = malloc(nx * sizeof(float));
  hant_rng rng;
  hant_rng_seed(&rng, 5);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_uniform(&rng);
  hant_pass p, q;
  hant_pass_init(&p);
  hant_pass_init(&q);
  HANT_ASSERT(hant_net_forward(a, &p, x, n, false) == 0);
  HANT_ASSERT(hant_net_forward(b, &q, x, n, false) == 0);
  double d = 0, s = 0;
  for (int i = 0; i < n * 10; i++) {
    d = fmax(d, fabs(p.out[hant_net_output(a)][i] - q.out[hant_net_output(b)][i]));
    s = fmax(s, fabs(p.out[hant_net_output(a)][i]));
  }
  hant_pass_free(&p);
  hant_pass_free(&q);
  free(x);
  return d / (s > 0 ? s : 1);
}

/* The candidate of `family` (and key containing `key`) for a slot, or NULL. */
static hant_net *candidate(const hant_net *t, int slot, hant_family family, const char *key) {
  hant_cand_spec *specs;
  int n;
  HANT_ASSERT(hant_family_generate(t, slot, 1u << family | 1u << HANT_FAMILY_TEACHER, &specs, &n) == 0);
  hant_net *c = NULL;
  for (int i = 0; i < n && !c; i++)
    if (specs[i].family == family && (!key || strstr(specs[i].key, key)))
      HANT_ASSERT(hant_candidate_build(t, slot, &specs[i], 7, &c) == 0);
  free(specs);
  return c;
}

int main(void) {
  hant_net *t = teacher();
  int ns = t->n_slots;
  hant_net **c = calloc((size_t)ns, sizeof(*c));

  /* Every slot replaced by the teacher's own block (a copy of its weights). */
  for (int s = 0; s < ns; s++) {
    c[s] = candidate(t, s, HANT_FAMILY_TEACHER, NULL);
    CHECK(c[s] != NULL, "slot %d: no teacher-copy candidate", s);
  }
  hant_net *a = NULL;
  CHECK(hant_assemble(t, c, &a) == 0, "assemble teacher copies: %s", hant_errmsg());
  if (a) {
    CHECK(a->n_slots == ns, "slots kept");
    for (int s = 0; s < ns; s++)
      CHECK(!strcmp(a->slots[s].name, t->slots[s].name), "slot %d renamed", s);
    double d = out_diff(t, a);
    CHECK(d < 1e-5, "teacher-copy assembly differs from the teacher by %g", d);
    CHECK(hant_net_macs(a) == hant_net_macs(t), "MACs");
    /* The copy owns its weights: changing the teacher does not change it. */
    t->params[0].w[0] += 1.0f;
    CHECK(out_diff(t, a) > 0, "assembled network shares the teacher's weights");
    t->params[0].w[0] -= 1.0f;
  }
  hant_net_destroy(a);

  /* No candidates at all: a copy of the teacher. */
  CHECK(hant_assemble(t, NULL, &a) == 0 && out_diff(t, a) < 1e-6, "assemble with no candidates");
  hant_net_destroy(a);

  /* Function-preserving inits from other families also reproduce it: a 3x3
   * kernel zero-padded to 5x5. */
  hant_net *k5 = candidate(t, 1, HANT_FAMILY_KERNEL, "k=5");
  CHECK(k5 != NULL, "no k=5 candidate for slot 1");
  if (k5) {
    hant_net *save = c[1];
    c[1] = k5;
    CHECK(hant_assemble(t, c, &a) == 0, "assemble with k=5: %s", hant_errmsg());
    if (a) {
      CHECK(out_diff(t, a) < 1e-5, "zero-padded 5x5 block changes the output by %g", out_diff(t, a));
      CHECK(hant_net_macs(a) > hant_net_macs(t), "the 5x5 block should cost more MACs");
    }
    hant_net_destroy(a);
    c[1] = save;
    hant_net_destroy(k5);
  }

  /* Random candidates (different shapes inside) assemble and run. */
  for (int s = 0; s < ns; s++) {
    hant_net *r = candidate(t, s, HANT_FAMILY_DWS, NULL);
    if (!r)
      r = candidate(t, s, HANT_FAMILY_LOWRANK, NULL);
    if (r) {
      hant_net_destroy(c[s]);
      c[s] = r;
    }
  }
  CHECK(hant_assemble(t, c, &a) == 0, "assemble mixed: %s", hant_errmsg());
  if (a) {
    CHECK(hant_net_macs(a) < hant_net_macs(t), "cheaper blocks, fewer MACs");
    CHECK(out_diff(t, a) >= 0, "runs");
  }
  hant_net_destroy(a);

  /* A candidate for another slot does not fit. */
  hant_net *save = c[0];
  c[0] = c[2];
  CHECK(hant_assemble(t, c, &a) == HANT_ESHAPE && strstr(hant_errmsg(), t->slots[0].name) && !a,
        "misfit refused: %s", hant_errmsg());
  c[0] = save;

  /* Networks built without batch norm keep architecture text that rebuilds them. */
  hant_net *plain = hant_arch_build("input 1x28x28; conv 8 s=2 bn=0; res 8 bn=0; gap; linear 10", "plain");
  HANT_ASSERT(plain);
  hant_rng rng;
  hant_rng_seed(&rng, 2);
  hant_net_init_params(plain, &rng);
  hant_net *pc[3] = {NULL, NULL, NULL};
  pc[1] = hant_arch_build("input 8x14x14; dws 8 k=5 bn=0", "cand");
  HANT_ASSERT(pc[1]);
  hant_net_init_params(pc[1], &rng);
  CHECK(hant_assemble(plain, pc, &a) == 0, "assemble plain: %s", hant_errmsg());
  if (a) {
    CHECK(a->arch && strstr(a->arch, "dws 8 k=5 bn=0") && strstr(a->arch, "conv 8 s=2 bn=0"), "arch text: %s",
          a->arch ? a->arch : "(none)");
    hant_net *re = a->arch ? hant_arch_build(a->arch, "rebuilt") : NULL;
    CHECK(re && re->n_nodes == a->n_nodes && re->n_params == a->n_params, "arch text rebuilds the same operators");
    hant_net_destroy(re);
  }
  hant_net_destroy(a);
  hant_net_destroy(pc[1]);
  hant_net_destroy(plain);

  for (int s = 0; s < ns; s++)
    hant_net_destroy(c[s]);
  free(c);
  hant_net_destroy(t);
  return test_summary("assemble");
}
