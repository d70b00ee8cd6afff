/* SPDX-License-Identifier: MIT */
/* test_baseline.c: the quality benchmark's baselines: greedy and random selections stay feasible and never beat the exact optimum; uniform width slices the teacher faithfully. */
#include <string.h>

#include "arch.h"
#include "baseline.h"
#include "hant.h"
#include "rng.h"
#include "test_util.h"

static double total_cost(const struct hant_select_problem *p, const size_t *choice) {
  double t = 0;
  size_t o = 0;
  for (size_t g = 0; g < p->n_groups; g++) {
    t += p->cost[o + choice[g]];
    o += p->group_size[g];
  }
  return t;
}

static void hand_instance(void) {
  /* Greedy's classic trap: the cheap, steep upgrade in group 1 uses the
   * room the better upgrade in group 0 needed. */
  size_t gs[2] = {2, 3}, ch[2];
  double v[5] = {0, 10, 0, 2, 9}, c[5] = {0, 10, 0, 1, 10}, b = 10, val;
  struct hant_select_problem p = {2, gs, 1, v, c, &b, 0};
  CHECK(hant_baseline_greedy(&p, ch, &val) == 0, "greedy: %s", hant_errmsg());
  CHECK(ch[0] == 0 && ch[1] == 2 && val == 9, "greedy chose (%zu, %zu) = %g, expected (0, 2) = 9", ch[0], ch[1], val);
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL && r.objective == 10,
        "the exact optimum is 10, solver says %g", r.objective);
  hant_select_result_free(&r);
  /* Random draws: 6 choices, 2 of them over the budget; 200 draws find the optimum. */
  CHECK(hant_baseline_random(&p, 200, 7, ch, &val) == 0 && val == 10, "best of 200 random draws is %g, not 10", val);
  /* Infeasible and malformed problems. */
  double tight = -1;
  p.budget = &tight;
  CHECK(hant_baseline_greedy(&p, ch, &val) == HANT_EINFEASIBLE, "greedy under an impossible budget");
  CHECK(hant_baseline_random(&p, 5, 1, ch, &val) == HANT_EINFEASIBLE, "random under an impossible budget");
  p.budget = &b;
  CHECK(hant_baseline_random(&p, 0, 1, ch, &val) == HANT_EINVAL, "zero draws accepted");
  p.n_dims = 0;
  CHECK(hant_baseline_greedy(&p, ch, &val) == HANT_EINVAL, "greedy without a budget accepted");
}

static void random_instances(void) {
  enum { G = 6, J = 7, N = G * J };
  hant_rng rng;
  hant_rng_seed(&rng, 42);
  int below = 0;
  for (int inst = 0; inst < 40; inst++) {
    size_t gs[G], ch[G];
    double v[N], c[N], minsum = 0, maxsum = 0;
    for (int g = 0; g < G; g++) {
      gs[g] = J;
      double mn = 1e9, mx = 0;
      for (int j = 0; j < J; j++) {
        c[g * J + j] = 1 + hant_rng_below(&rng, 1000) / 10.0;
        v[g * J + j] = -(double)hant_rng_below(&rng, 1000) / 1000.0 + c[g * J + j] / 200.0;
        mn = mn < c[g * J + j] ? mn : c[g * J + j];
        mx = mx > c[g * J + j] ? mx : c[g * J + j];
      }
      minsum += mn;
      maxsum += mx;
    }
    double b = minsum + (maxsum - minsum) * (inst % 8 + 1) / 9.0, val;
    struct hant_select_problem p = {G, gs, 1, v, c, &b, 0};
    struct hant_select_result r;
    hant_select_result_init(&r);
    CHECK(hant_select_solve(&p, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "instance %d not solved", inst);
    CHECK(hant_baseline_greedy(&p, ch, &val) == 0, "greedy on instance %d: %s", inst, hant_errmsg());
    CHECK(total_cost(&p, ch) <= b + 1e-9, "greedy over budget on instance %d", inst);
    CHECK(val <= r.objective + 1e-9, "greedy %g beats the optimum %g on instance %d", val, r.objective, inst);
    below += val < r.objective - 1e-9;
    CHECK(hant_baseline_random(&p, 20, (uint64_t)inst, ch, &val) == 0, "random on instance %d", inst);
    CHECK(total_cost(&p, ch) <= b + 1e-9, "random over budget on instance %d", inst);
    CHECK(val <= r.objective + 1e-9, "random %g beats the optimum %g on instance %d", val, r.objective, inst);
    hant_select_result_free(&r);
  }
  /* Not a property, but if greedy were always optimal these instances would test nothing. */
  CHECK(below > 0, "greedy matched the optimum on all 40 instances");
}

static void uniform(void) {
  char buf[128];
  CHECK(hant_baseline_scale_line("res 32 k=3 s=2", 0.5, 0, buf, sizeof(buf)) == 0 &&
            !strcmp(buf, "res 16 k=3 s=2 bn=0"),
        "scaled res line: '%s'", buf);
  CHECK(hant_baseline_scale_line("conv 16 k=3 s=1 act=relu bn=0", 0.25, 0, buf, sizeof(buf)) == 0 &&
            !strcmp(buf, "conv 4 k=3 s=1 act=relu bn=0"),
        "scaled conv line: '%s'", buf);
  CHECK(hant_baseline_scale_line("res 16 mid=8", 0.5, 0, buf, sizeof(buf)) == 0 && !strcmp(buf, "res 8 mid=4 bn=0"),
        "scaled mid: '%s'", buf);
  CHECK(hant_baseline_scale_line("linear 10", 0.5, 1, buf, sizeof(buf)) == 0 && !strcmp(buf, "linear 10"),
        "classifier line: '%s'", buf);
  CHECK(hant_baseline_scale_line("res 16 g=2", 0.5, 0, buf, sizeof(buf)) == HANT_EINVAL, "grouped slot scaled");

  hant_net *t = hant_arch_build("input 1x28x28; conv 8 bn=0; res 8 bn=0; res 16 s=2 bn=0; gap; linear 10", "t");
  HANT_ASSERT(t);
  hant_rng rng;
  hant_rng_seed(&rng, 3);
  hant_net_init_params(t, &rng);
  float x[2 * 784];
  for (int i = 0; i < 2 * 784; i++)
    x[i] = (float)hant_rng_below(&rng, 1000) / 1000.0f;
  hant_net *same = NULL, *half = NULL;
  CHECK(hant_baseline_uniform(t, 1.0, HANT_UNIFORM_FIRST, &same) == 0, "width 1: %s", hant_errmsg());
  CHECK(hant_baseline_uniform(t, 1.5, HANT_UNIFORM_FIRST, &half) == HANT_EINVAL && !half, "width 1.5 accepted");
  CHECK(hant_baseline_uniform(t, 0.5, HANT_UNIFORM_FIRST, &half) == 0, "width 0.5: %s", hant_errmsg());
  if (same && half) {
    hant_pass pt, ps, ph;
    hant_pass_init(&pt);
    hant_pass_init(&ps);
    hant_pass_init(&ph);
    HANT_ASSERT(hant_net_forward(t, &pt, x, 2, false) == 0 && hant_net_forward(same, &ps, x, 2, false) == 0);
    const float *a = pt.out[hant_net_output(t)], *b = ps.out[hant_net_output(same)];
    double diff = 0;
    for (int i = 0; i < 20; i++)
      diff = fmax(diff, fabs(a[i] - b[i]));
    CHECK(diff == 0, "width 1 differs from the teacher by %g", diff);
    CHECK(hant_net_forward(half, &ph, x, 2, false) == 0, "width 0.5 forward: %s", hant_errmsg());
    CHECK(half->slots[0].out_c == 4 && half->slots[2].out_c == 8 && half->slots[3].out_c == 10,
          "width 0.5 widths %d, %d, %d", half->slots[0].out_c, half->slots[2].out_c, half->slots[3].out_c);
    /* Slicing: the student's first conv is the teacher's first 4 filters. */
    const hant_param *tw = &t->params[t->nodes[t->slots[0].first].param[0]];
    const hant_param *hw = &half->params[half->nodes[half->slots[0].first].param[0]];
    CHECK(hw->n * 2 == tw->n && !memcmp(hw->w, tw->w, sizeof(float) * hw->n), "first conv not sliced from the teacher");
    hant_pass_free(&pt);
    hant_pass_free(&ps);
    hant_pass_free(&ph);
  }
  hant_net_destroy(same);
  hant_net_destroy(half);

  /* Importance: with the odd channels of every layer dead (their filters
   * and biases zero, in every layer writing into them, so also across the
   * residual additions), half the width chosen by L1 keeps exactly the
   * live channels and computes the teacher's function; the first half
   * does not. */
  for (int i = 0; i < t->n_nodes; i++) {
    const hant_node *n = &t->nodes[i];
    if ((n->op != HANT_OP_CONV && n->op != HANT_OP_LINEAR) || i == hant_net_output(t))
      continue;
    hant_param *w = &t->params[n->param[0]];
    size_t per = w->n / (size_t)n->c;
    for (int k = 1; k < n->c; k += 2) {
      memset(w->w + (size_t)k * per, 0, sizeof(float) * per);
      if (n->param[1] >= 0)
        t->params[n->param[1]].w[k] = 0;
    }
  }
  hant_net *l1 = NULL, *first = NULL;
  CHECK(hant_baseline_uniform(t, 0.5, HANT_UNIFORM_L1, &l1) == 0, "width 0.5 by L1: %s", hant_errmsg());
  CHECK(hant_baseline_uniform(t, 0.5, HANT_UNIFORM_FIRST, &first) == 0, "width 0.5: %s", hant_errmsg());
  if (l1 && first) {
    hant_pass pt, pl, pf;
    hant_pass_init(&pt);
    hant_pass_init(&pl);
    hant_pass_init(&pf);
    HANT_ASSERT(hant_net_forward(t, &pt, x, 2, false) == 0 && hant_net_forward(l1, &pl, x, 2, false) == 0 &&
                hant_net_forward(first, &pf, x, 2, false) == 0);
    const float *zt = pt.out[hant_net_output(t)];
    double dl = t_rel_diff(pl.out[hant_net_output(l1)], zt, 20), df = t_rel_diff(pf.out[hant_net_output(first)], zt, 20);
    CHECK(dl < 1e-5, "half width by L1 differs from the teacher by %g", dl);
    CHECK(df > 1e-2, "half width by first channels matches the teacher (%g): the test cannot tell them apart", df);
    hant_pass_free(&pt);
    hant_pass_free(&pl);
    hant_pass_free(&pf);
  }
  hant_net_destroy(l1);
  hant_net_destroy(first);
  hant_net_destroy(t);
}

int main(void) {
  hand_instance();
  random_instances();
  uniform();
  return test_summary("test_baseline");
}
