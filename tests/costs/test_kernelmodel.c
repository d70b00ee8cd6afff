/* SPDX-License-Identifier: MIT */
/* test_kernelmodel.c: the kernel-level host model: plan kernel extraction, the fit's arithmetic on synthetic tables, the host_kernel migration, and the foreign-CPU warning. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "test_util.h"

static hant_net *build(const char *arch) {
  hant_net *n = hant_arch_build(arch, "kernels");
  HANT_ASSERT(n);
  hant_rng rng;
  hant_rng_seed(&rng, 3);
  hant_net_init_params(n, &rng);
  return n;
}

/* The kernel list of a plan matches the plan's own grouping: one kernel per
 * fused convolution, in node order, with the convolution's shapes and the
 * post-ops the plan counted; pooling and linear nodes alone; identities
 * nowhere. */
static void test_extraction(void) {
  hant_net *net = build("input 16x28x28; res 16; ir 24 e=3 s=2 act=hswish; dws 32 k=5; res 32 k=3 g=4; identity; gap; "
                        "linear 10");
  hant_infer *inf = NULL;
  CHECK(hant_infer_new(net, &inf) == 0, "plan: %s", hant_errmsg());
  const hant_infer_kernel *k;
  int n;
  hant_infer_kernels(inf, &k, &n);
  hant_infer_stats s;
  hant_infer_stats_get(inf, &s);
  int convs = 0, bn = 0, sum = 0, act = 0, gap = 0, lin = 0, last = 0;
  for (int i = 0; i < n; i++) {
    CHECK(k[i].node > last, "kernel %d writes node %d after node %d: not in run order", i, k[i].node, last);
    last = k[i].node;
    CHECK(net->nodes[k[i].node].op != HANT_OP_IDENTITY, "kernel %d is an identity", i);
    CHECK(k[i].c_out == net->nodes[k[i].node].c && k[i].h_out == net->nodes[k[i].node].h,
          "kernel %d: output shape differs from node %d's", i, k[i].node);
    if (k[i].op == HANT_OP_CONV) {
      convs++, bn += k[i].bn, sum += k[i].sum, act += k[i].act != HANT_ACT_NONE;
      /* the convolution is the node the group starts from: same description, and its input's shape */
      int c = -1;
      for (int j = k[i].node; j > 0 && c < 0; j--)
        if (net->nodes[j].op == HANT_OP_CONV)
          c = j;
      CHECK(c > 0 && !memcmp(&net->nodes[c].conv, &k[i].conv, sizeof(hant_conv_desc)),
            "kernel %d: convolution description differs from node %d's", i, c);
      const hant_node *in = &net->nodes[net->nodes[c].in[0]];
      CHECK(k[i].c_in == in->c && k[i].h_in == in->h && k[i].w_in == in->w, "kernel %d: input shape", i);
    }
    gap += k[i].op == HANT_OP_GAP, lin += k[i].op == HANT_OP_LINEAR;
  }
  CHECK(convs == s.convs && bn == s.folded_bn && sum == s.fused_sum && act == s.fused_act,
        "kernels: %d convs (%d bn, %d sum, %d act); plan: %d (%d, %d, %d)", convs, bn, sum, act, s.convs, s.folded_bn,
        s.fused_sum, s.fused_act);
  CHECK(convs >= 9 && sum >= 2 && gap == 1 && lin == 1 && n == convs + 2, "%d kernels: %d convs, %d gap, %d linear", n,
        convs, gap, lin);
  hant_infer_free(inf);
  hant_net_destroy(net);

  /* Every configuration of the sweep builds a network whose plan is exactly
   * that one kernel, so the table measures what a candidate's plan runs. */
  hant_kernel_sweep_opts so;
  hant_kernel_sweep_opts_default(&so);
  hant_infer_kernel *ks = NULL;
  int nk = 0, bad = 0, classes[HANT_KCLASS_COUNT] = {0};
  CHECK(hant_kernel_sweep(&so, &ks, &nk) == 0 && nk == 660, "sweep: %d kernels: %s", nk, hant_errmsg());
  for (int i = 0; i < nk; i++) {
    hant_net *kn = NULL;
    hant_infer *ki = NULL;
    const hant_infer_kernel *got;
    int ng = 0;
    classes[hant_kclass_of(&ks[i])]++;
    if (hant_kernel_net(&ks[i], &kn) || hant_infer_new(kn, &ki)) {
      bad++;
      fprintf(stderr, "sweep kernel %d: %s\n", i, hant_errmsg());
    } else {
      hant_infer_kernels(ki, &got, &ng);
      hant_infer_kernel want = ks[i];
      if (ng == 1)
        want.node = got[0].node;
      if (ng != 1 || memcmp(&want, &got[0], sizeof(want))) {
        bad++;
        fprintf(stderr, "sweep kernel %d (%s %s): plan has %d kernels or another one\n", i,
                hant_kclass_name(hant_kclass_of(&ks[i])), hant_op_name(ks[i].op), ng);
      }
    }
    hant_infer_free(ki);
    hant_net_destroy(kn);
  }
  CHECK(bad == 0, "%d of %d sweep kernels do not build a one-kernel plan equal to themselves", bad, nk);
  for (int c = 0; c < HANT_KCLASS_COUNT; c++)
    CHECK(classes[c] > 0, "the sweep has no %s kernel", hant_kclass_name((hant_kclass)c));
  free(ks);
}

static hant_kernel_rec conv_rec(int c_in, int c_out, int h, int k, int s, int g, double us) {
  hant_kernel_rec r = {.threads = 1, .batch = 1, .latency_us = us, .spread = 0.01, .samples = 15};
  snprintf(r.cpu, sizeof(r.cpu), "Synthetic CPU (1 logical CPU)");
  hant_conv_desc d = {.c_in = c_in, .c_out = c_out, .kh = k, .kw = k, .sh = s, .sw = s, .ph = k / 2, .pw = k / 2,
                      .groups = g};
  r.k = (hant_infer_kernel){.op = HANT_OP_CONV, .c_in = c_in, .h_in = h, .w_in = h, .c_out = c_out,
                            .h_out = hant_conv_out_h(&d, h), .w_out = hant_conv_out_w(&d, h), .conv = d};
  return r;
}

static double macs_of(const hant_kernel_rec *r) {
  const hant_infer_kernel *k = &r->k;
  return (double)k->c_out * k->h_out * k->w_out * (k->c_in / k->conv.groups) * k->conv.kh * k->conv.kw;
}

/* A table that follows t = 0.5 us * MACs^0.7 exactly is predicted exactly
 * (to the fit's tiny ridge),
 * away from its rows too; the fixed cost is the closed form of relative
 * least squares; networks of exact kernels plus a constant are predicted
 * held-out without error. */
static void test_fit_arithmetic(void) {
  enum { N = 60 };
  hant_kernel_rec recs[N];
  hant_rng r;
  hant_rng_seed(&r, 11);
  for (int i = 0; i < N; i++) {
    recs[i] = conv_rec(4 + (int)hant_rng_below(&r, 60), 4 + (int)hant_rng_below(&r, 60), 7 + 7 * (int)hant_rng_below(&r, 3),
                       3 + 2 * (int)hant_rng_below(&r, 2), 1 + (int)hant_rng_below(&r, 2), 1, 1);
    recs[i].latency_us = 0.5 * pow(macs_of(&recs[i]), 0.7);
  }
  hant_kernelmodel m;
  CHECK(hant_kernelmodel_fit(recs, N, &m) == 0, "fit: %s", hant_errmsg());
  CHECK(m.cls[HANT_KCLASS_CONV].n == N && m.cls[HANT_KCLASS_DEPTHWISE].n == 0, "rows by class: %d conv",
        m.cls[HANT_KCLASS_CONV].n);
  CHECK(m.cls[HANT_KCLASS_CONV].loo.within10 == 1.0 && m.cls[HANT_KCLASS_CONV].loo.median < 1e-3,
        "leave-one-out on an exact power law: within 10%% %.3f, median %.2g", m.cls[HANT_KCLASS_CONV].loo.within10,
        m.cls[HANT_KCLASS_CONV].loo.median);
  hant_kernel_rec q = conv_rec(33, 47, 20, 5, 1, 1, 1);
  double us = 0;
  CHECK(hant_kernelmodel_kernel_us(&m, &q.k, &us) == 0 && t_near(us, 0.5 * pow(macs_of(&q), 0.7), 0, 1e-3),
        "unseen shape: %g us, want %g", us, 0.5 * pow(macs_of(&q), 0.7));
  q.k.conv.groups = q.k.c_in = q.k.c_out = q.k.conv.c_in = q.k.conv.c_out = 32;
  CHECK(hant_kernelmodel_kernel_us(&m, &q.k, &us) == HANT_ENOENT && strstr(hant_errmsg(), "depthwise"),
        "a class without rows: %s", hant_errmsg());

  /* Equal kernel counts: f = sum (m - s) / m^2 / sum 1 / m^2, no per-kernel term. */
  double s2[] = {1, 10, 5}, m2[] = {2, 10, 4}, f, pk;
  int k1[] = {1, 1, 1};
  bool use[] = {true, true, false};
  double want = (1.0 / 4) / (1.0 / 4 + 1.0 / 100);
  hant_kernelmodel_fixed_fit(s2, k1, m2, use, 3, &f, &pk);
  CHECK(t_near(f, want, 1e-12, 0) && pk == 0, "fixed cost %.12g, want %.12g; per kernel %g, want 0", f, want, pk);
  /* m = s + 2.5 - 0.75 K exactly is recovered. */
  double s3[] = {3, 7, 20, 41}, m3[4];
  int k3[] = {1, 2, 3, 5};
  for (int i = 0; i < 4; i++)
    m3[i] = s3[i] + 2.5 - 0.75 * k3[i];
  hant_kernelmodel_fixed_fit(s3, k3, m3, NULL, 4, &f, &pk);
  CHECK(t_near(f, 2.5, 1e-9, 0) && t_near(pk, -0.75, 1e-9, 0), "fixed %.12g (want 2.5), per kernel %.12g (want -0.75)",
        f, pk);

  /* The composition fit recovers factors, a constant and a per-kernel
   * term from networks that mix two classes (the ridge towards factor 1
   * costs a little accuracy only). */
  enum { NS = 400 };
  static double cu[NS][HANT_KCLASS_COUNT], mc[NS];
  int kc[NS];
  for (int i = 0; i < NS; i++) {
    memset(cu[i], 0, sizeof(cu[i]));
    kc[i] = 1 + (int)hant_rng_below(&r, 4);
    cu[i][HANT_KCLASS_CONV] = 5 + 50 * hant_rng_uniform(&r);
    cu[i][HANT_KCLASS_DEPTHWISE] = kc[i] > 1 ? 3 + 20 * hant_rng_uniform(&r) : 0;
    mc[i] = 2.0 - 0.5 * kc[i] + 1.2 * cu[i][HANT_KCLASS_CONV] + 0.8 * cu[i][HANT_KCLASS_DEPTHWISE];
  }
  double fc, pc, ac[HANT_KCLASS_COUNT];
  hant_kernelmodel_compose_fit((const double(*)[HANT_KCLASS_COUNT])cu, kc, mc, NULL, NS, &fc, &pc, ac);
  CHECK(t_near(ac[HANT_KCLASS_CONV], 1.2, 0.03, 0) && t_near(ac[HANT_KCLASS_DEPTHWISE], 0.8, 0.03, 0) &&
            t_near(fc, 2.0, 0.2, 0) && t_near(pc, -0.5, 0.1, 0) && ac[HANT_KCLASS_LINEAR] == 1.0,
        "composition: conv x%.4f (1.2), depthwise x%.4f (0.8), fixed %.4f (2), per kernel %.4f (-0.5), linear x%g (1)",
        ac[HANT_KCLASS_CONV], ac[HANT_KCLASS_DEPTHWISE], fc, pc, ac[HANT_KCLASS_LINEAR]);

  /* Networks of single conv kernels: measured = prediction + 1.5 us. */
  enum { NN = 12 };
  hant_net *nets[NN];
  double meas[NN], pred[NN];
  for (int i = 0; i < NN; i++) {
    hant_kernel_rec c = conv_rec(8 + i, 16, 14, 3, 1, 1, 1);
    CHECK(hant_kernel_net(&c.k, &nets[i]) == 0, "net %d", i);
    double sum = 0;
    CHECK(hant_kernelmodel_net_us(&m, nets[i], &sum, NULL) == 0, "predict net %d: %s", i, hant_errmsg());
    meas[i] = (sum + 1.5) * 1e-3;
  }
  hant_kernelmodel_report rep;
  CHECK(hant_kernelmodel_evaluate(&m, nets, meas, NN, 5, pred, &rep) == 0, "evaluate: %s", hant_errmsg());
  /* One kernel each: the constant and the per-kernel term add up to the
   * 1.5 us (to the ridge's pull on the factor). */
  CHECK(rep.samples == NN && rep.folds == 5 && rep.held.within10 == 1.0 && rep.held.median < 1e-6 &&
            t_near(m.fixed_us + m.per_kernel_us, 1.5, 0.05, 0) && t_near(m.compose[HANT_KCLASS_CONV], 1, 1e-3, 0) &&
            t_near(pred[3], meas[3], 1e-12, 1e-6),
        "held-out: %d networks, median %.3g, fixed %.6g + %.6g us, conv factor %.6g", rep.samples, rep.held.median,
        m.fixed_us, m.per_kernel_us, m.compose[HANT_KCLASS_CONV]);
  for (int i = 0; i < NN; i++)
    hant_net_destroy(nets[i]);
  hant_kernelmodel_free(&m);

  /* Residual neighbours: a table whose odd-sized channel counts run 1.5x
   * slower than the trend (a kernel the line cannot see) is fitted with
   * neighbours, and predicts both kinds within 10 %. */
  enum { M = 120 };
  hant_kernel_rec t[M];
  for (int i = 0; i < M; i++) {
    int c = 8 * (1 + (int)hant_rng_below(&r, 8)) + (i % 2 ? 3 : 0);
    t[i] = conv_rec(c, c, 14, 3, 1, 1, 1);
    t[i].latency_us = 0.5 * pow(macs_of(&t[i]), 0.7) * (i % 2 ? 1.5 : 1.0);
  }
  CHECK(hant_kernelmodel_fit(t, M, &m) == 0, "fit with a shape effect: %s", hant_errmsg());
  CHECK(m.cls[HANT_KCLASS_CONV].k > 0 && m.cls[HANT_KCLASS_CONV].loo.within10 > 0.9,
        "neighbours chosen: k = %d, leave-one-out within 10%% %.2f", m.cls[HANT_KCLASS_CONV].k,
        m.cls[HANT_KCLASS_CONV].loo.within10);
  hant_kernel_rec a = conv_rec(35, 35, 14, 3, 1, 1, 1), b = conv_rec(32, 32, 14, 3, 1, 1, 1);
  double ua, ub;
  hant_kernelmodel_kernel_us(&m, &a.k, &ua);
  hant_kernelmodel_kernel_us(&m, &b.k, &ub);
  CHECK(fabs(ua / (0.75 * pow(macs_of(&a), 0.7)) - 1) < 0.1 && fabs(ub / (0.5 * pow(macs_of(&b), 0.7)) - 1) < 0.1,
        "odd 35 channels: %.3f us (want %.3f); 32: %.3f (want %.3f)", ua, 0.75 * pow(macs_of(&a), 0.7), ub,
        0.5 * pow(macs_of(&b), 0.7));
  hant_kernelmodel_free(&m);
  CHECK(hant_kernelmodel_fit(t, 0, &m) == HANT_EINVAL, "an empty table is refused");
  t[5].latency_us = -1;
  CHECK(hant_kernelmodel_fit(t, M, &m) == HANT_EINVAL && strstr(hant_errmsg(), "row 5"), "a bad row is named: %s",
        hant_errmsg());
}

/* A new library carries migration 006; a table round-trips; a new sweep of
 * the same key replaces the old rows; a table of another CPU is reported
 * as foreign and not used. */
static void test_store_and_foreign(void) {
  char dir[] = "/tmp/hant-kernels-XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(path, sizeof(path), "%s/lib.db", dir);
  hant_store *st = NULL;
  CHECK(hant_store_open(path, HANT_STORE_CREATE, &st) == 0, "open: %s", hant_errmsg());
  CHECK(hant_store_schema_version(st) >= 6, "schema version %d, want migration 006 applied",
        hant_store_schema_version(st));
  hant_kernel_rec recs[8];
  for (int i = 0; i < 8; i++)
    recs[i] = conv_rec(8 + i, 16, 14, 3, 1 + i % 2, 1, 2.0 + i);
  recs[2].k.bn = true, recs[2].k.act = HANT_ACT_HSWISH, recs[2].k.sum = recs[2].k.sum_copy = true;
  recs[3].k = (hant_infer_kernel){.op = HANT_OP_MAXPOOL, .c_in = 8, .h_in = 14, .w_in = 14, .c_out = 8, .h_out = 7,
                                  .w_out = 7, .pool = {.k = 2, .s = 2, .p = 0, .count_include_pad = true}};
  const char *other = "Other CPU 9000 (64 logical CPUs)";
  CHECK(hant_store_kernels_put(st, other, 1, 1, recs, 8) == 0, "put: %s", hant_errmsg());
  CHECK(hant_store_kernels_put(st, other, 1, 1, recs, 6) == 0, "replace: %s", hant_errmsg());
  hant_kernel_rec *got = NULL;
  int n = 0;
  CHECK(hant_store_kernels(st, other, 1, 1, &got, &n) == 0 && n == 6, "read back %d rows, want 6 (replaced)", n);
  for (int i = 0; i < n && i < 6; i++)
    CHECK(!memcmp(&got[i].k, &recs[i].k, sizeof(hant_infer_kernel)) && got[i].latency_us == recs[i].latency_us &&
              !strcmp(got[i].cpu, other) && got[i].threads == 1 && got[i].batch == 1,
          "row %d round-trips", i);
  free(got);
  recs[0].latency_us = 0;
  CHECK(hant_store_kernels_put(st, other, 1, 1, recs, 1) == HANT_EINVAL && strstr(hant_errmsg(), "latency_us"),
        "a non-positive latency is refused: %s", hant_errmsg());
  CHECK(hant_store_kernels(st, other, 1, 1, &got, &n) == 0 && n == 6, "a refused put changes nothing (%d rows)", n);
  free(got);

  char here[160], foreign[768];
  hant_kernelmodel_cpu_key(here, sizeof(here));
  CHECK(strstr(here, "logical CPU") != NULL, "CPU key '%s'", here);
  hant_kernelmodel m;
  CHECK(hant_kernelmodel_load(st, here, 1, 1, &m, foreign, sizeof(foreign)) == HANT_ENOENT,
        "this CPU has no table yet");
  CHECK(strstr(foreign, other) && strstr(foreign, "foreign") && strstr(foreign, here) && strstr(foreign, path),
        "the warning names the library, its table's CPU and this one: '%s'", foreign);
  CHECK(hant_kernelmodel_load(st, other, 2, 1, &m, foreign, sizeof(foreign)) == HANT_ENOENT &&
            strstr(foreign, "other thread counts") && strstr(foreign, "2 threads"),
        "another thread count is another key: '%s'", foreign);
  CHECK(hant_kernelmodel_load(st, other, 1, 1, &m, foreign, sizeof(foreign)) == 0 && !foreign[0] &&
            m.cls[HANT_KCLASS_CONV].n == 5 && m.cls[HANT_KCLASS_POOL].n == 1 && !strcmp(m.cpu, other),
        "the table of its own key loads and fits: %s", hant_errmsg());
  hant_kernelmodel_free(&m);
  hant_store_close(st);

  /* A library without any table: no warning. */
  snprintf(path, sizeof(path), "%s/empty.db", dir);
  CHECK(hant_store_open(path, HANT_STORE_CREATE, &st) == 0, "open empty");
  CHECK(hant_kernelmodel_load(st, here, 1, 1, &m, foreign, sizeof(foreign)) == HANT_ENOENT && !foreign[0],
        "no table, no foreign warning: '%s'", foreign);
  hant_store_close(st);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  CHECK(system(cmd) == 0, "clean up");
}

/* The library's own kernel shapes in the table: a measured shape is looked
 * up, not predicted; hant_kernels_of_nets lists each distinct shape once
 * (and leaves out a residual whose operand's shape differs from the
 * input's); and a held-out network is never predicted from a row that
 * only its own fold runs. Table: conv rows on the trend t = 0.5 us x
 * MACs^0.7, plus two shapes A and B that run twice the trend (what only a
 * measurement can know). Network X alone runs A; networks Y1 and Y2, in
 * different folds, both run B. */
static void test_library_shapes(void) {
  enum { M = 200, NN = 12 };
  hant_kernel_rec t[M + 2];
  hant_rng r;
  hant_rng_seed(&r, 11);
  for (int i = 0; i < M; i++) {
    int c = 8 * (1 + (int)hant_rng_below(&r, 8));
    t[i] = conv_rec(c, c, 7 + (int)hant_rng_below(&r, 8), 3, 1, 1, 1);
    t[i].latency_us = 0.5 * pow(macs_of(&t[i]), 0.7);
  }
  hant_kernel_rec a = conv_rec(20, 20, 14, 3, 1, 1, 1), b = conv_rec(44, 44, 14, 3, 1, 1, 1);
  a.latency_us = 2 * 0.5 * pow(macs_of(&a), 0.7);
  b.latency_us = 2 * 0.5 * pow(macs_of(&b), 0.7);
  t[M] = a, t[M + 1] = b;
  hant_kernelmodel m;
  CHECK(hant_kernelmodel_fit(t, M + 2, &m) == 0, "fit: %s", hant_errmsg());
  double us;
  CHECK(hant_kernelmodel_kernel_us(&m, &b.k, &us) == 0 && us == b.latency_us, "a measured shape is looked up: %g us, "
        "measured %g", us, b.latency_us);

  /* B with a residual summed in, a shape the table holds only without the
   * sum (as for a projection shortcut's, which cannot run alone): B's
   * measurement times what the sum adds, not the trend's half of it */
  hant_infer_kernel bs = b.k;
  bs.sum = true;
  CHECK(hant_kernelmodel_kernel_us(&m, &bs, &us) == 0 && us > b.latency_us && us < 1.5 * b.latency_us,
        "B with a sum: %g us, B measured %g us", us, b.latency_us);

  /* networks: 0 = X (A), 1 = Y1 (B), 2 = Y2 (B; fold 2 of 5), the rest on the trend at unmeasured shapes */
  hant_net *nets[NN];
  double meas[NN], pred[NN];
  for (int i = 0; i < NN; i++) {
    hant_kernel_rec c = i == 0 ? a : i <= 2 ? b : conv_rec(13 + 2 * i, 13 + 2 * i, 10, 3, 1, 1, 1);
    double truth = i <= 2 ? c.latency_us : 0.5 * pow(macs_of(&c), 0.7);
    CHECK(hant_kernel_net(&c.k, &nets[i]) == 0, "net %d", i);
    meas[i] = (truth + 1.5) * 1e-3;
  }
  hant_infer_kernel *ks = NULL;
  int nks = 0;
  CHECK(hant_kernels_of_nets(nets, NN, &ks, &nks) == 0 && nks == NN - 1 && hant_infer_kernel_same(&ks[0], &a.k) &&
            hant_infer_kernel_same(&ks[1], &b.k),
        "distinct shapes: %d (want %d), first A then B", nks, NN - 1);
  free(ks);
  hant_net *res = build("input 16x14x14; res 32 s=2");
  CHECK(hant_kernels_of_nets(&res, 1, &ks, &nks) == 0, "kernels of a projection block: %s", hant_errmsg());
  for (int i = 0; i < nks; i++)
    CHECK(!ks[i].sum || (ks[i].c_in == ks[i].c_out && ks[i].h_in == ks[i].h_out),
          "kernel %d sums an operand of another shape: not measurable alone", i);
  free(ks);
  hant_net_destroy(res);

  hant_kernelmodel_report rep;
  CHECK(hant_kernelmodel_evaluate(&m, nets, meas, NN, 5, pred, &rep) == 0, "evaluate: %s", hant_errmsg());
  CHECK(rep.shared_rows == 2 && fabs(rep.held_rows - 1.0 / 5) < 1e-12, "rows shared with networks: %d (want 2), "
        "left out per fold %.3f (want 0.2: A in one fold of five)", rep.shared_rows, rep.held_rows);
  /* X is predicted from the trend (its own row left out): about half its
   * latency; Y1 and Y2 from B's row, measured for the other */
  CHECK(pred[0] < 0.8 * meas[0], "X held out from its own row: predicted %.4g ms, measured %.4g", pred[0], meas[0]);
  CHECK(fabs(pred[1] / meas[1] - 1) < 0.1 && fabs(pred[2] / meas[2] - 1) < 0.1,
        "Y1, Y2 from the row the other brought: %.4g / %.4g, %.4g / %.4g ms", pred[1], meas[1], pred[2], meas[2]);
  for (int i = 0; i < NN; i++)
    hant_net_destroy(nets[i]);
  hant_kernelmodel_free(&m);
}

/* Grouped kernels whose time is a call cost plus work over cpg x pad16(opg)
 * (oneDNN's direct kernel for few input channels per group keeps output
 * channels in the vector lanes and loops over the input ones) are fitted
 * with only output channels padded (block -16), exactly, and a shape the
 * table lacks is predicted; padding both or neither cannot fit them. */
static void test_output_padding(void) {
  enum { N = 48 };
  hant_kernel_rec recs[N];
  hant_rng r;
  hant_rng_seed(&r, 5);
  for (int i = 0; i < N; i++) {
    int g = 2 << hant_rng_below(&r, 3), cpg = 1 + (int)hant_rng_below(&r, 12), opg = 1 + (int)hant_rng_below(&r, 40);
    recs[i] = conv_rec(g * cpg, g * opg, 7 + 7 * (int)hant_rng_below(&r, 3), 3, 1, g, 1);
    const hant_infer_kernel *k = &recs[i].k;
    recs[i].latency_us = 3 + 1e-3 * g * cpg * (ceil(opg / 16.0) * 16) * k->h_out * k->w_out * 9;
  }
  hant_kernelmodel m;
  CHECK(hant_kernelmodel_fit(recs, N, &m) == 0, "fit: %s", hant_errmsg());
  const hant_kclass_fit *cf = &m.cls[HANT_KCLASS_GROUPED];
  CHECK(cf->n == N && cf->block == -16 && cf->form == HANT_KFORM_ADDITIVE,
        "grouped: %d rows, block %d (want -16), form %d (want additive)", cf->n, cf->block, cf->form);
  CHECK(cf->loo.within10 == 1.0 && cf->loo.median < 1e-3, "leave-one-out: within 10%% %.3f, median %.2g",
        cf->loo.within10, cf->loo.median);
  hant_kernel_rec q = conv_rec(4 * 5, 4 * 21, 12, 3, 1, 4, 1);
  double us = 0, want = 3 + 1e-3 * 4 * 5 * 32 * q.k.h_out * q.k.w_out * 9;
  CHECK(hant_kernelmodel_kernel_us(&m, &q.k, &us) == 0 && t_near(us, want, 0, 1e-2),
        "an unseen grouped shape: %.4g us, want %.4g", us, want);
  hant_kernelmodel_free(&m);
}

int main(void) {
  test_extraction();
  test_fit_arithmetic();
  test_output_padding();
  test_library_shapes();
  test_store_and_foreign();
  printf("%d passed, %d failed\n", t_pass, t_fail);
  return t_fail ? 1 : 0;
}
