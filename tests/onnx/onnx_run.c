/* SPDX-License-Identifier: MIT */
/* onnx_run.c: test helper that builds, converts and runs models so scripts can compare hant with PyTorch and ONNX Runtime. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "family.h"
#include "hant.h"
#include "net.h"
#include "netfile.h"
#include "onnx.h"
#include "rng.h"
#include "slots.h"

static void usage(void) {
  fprintf(stderr, "usage:\n"
                  "  onnx_run run MODEL IN.f32 OUT.f32   eval-mode forward of the [N, C, H, W] float32 input\n"
                  "  onnx_run export MODEL OUT.onnx      read a native or ONNX model, write it as ONNX\n"
                  "  onnx_run make ARCH SEED OUT.hant    random network (batch norms with random statistics)\n"
                  "  onnx_run slots MODEL                print kind, first, last, desc of each slot\n"
                  "  onnx_run rebuild MODEL              per slot: max |teacher - rebuilt block| / max |teacher|\n"
                  "  onnx_run candidates MODEL           build and initialise every candidate of every family\n");
}

static int fail(const char *what) {
  fprintf(stderr, "onnx_run: %s: %s\n", what, hant_errmsg());
  return 1;
}

static int cmd_run(const char *model, const char *in_path, const char *out_path) {
  hant_net *net = NULL;
  if (hant_onnx_load_any(model, &net, NULL))
    return fail(model);
  const hant_node *in = &net->nodes[0];
  size_t per = (size_t)in->c * in->h * in->w;
  FILE *f = fopen(in_path, "rb");
  if (!f) {
    hant_net_destroy(net);
    fprintf(stderr, "onnx_run: cannot open %s\n", in_path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  int n = (int)((size_t)bytes / (per * 4));
  if (n <= 0 || (size_t)bytes != (size_t)n * per * 4) {
    fclose(f);
    hant_net_destroy(net);
    fprintf(stderr, "onnx_run: %s has %ld bytes, not a whole number of %dx%dx%d float32 samples\n", in_path, bytes,
            in->c, in->h, in->w);
    return 1;
  }
  float *x = hant_alloc((size_t)bytes);
  size_t got = fread(x, 1, (size_t)bytes, f);
  fclose(f);
  hant_pass p;
  hant_pass_init(&p);
  int rc = got != (size_t)bytes || hant_net_forward(net, &p, x, n, false);
  if (rc) {
    fail("forward");
  } else {
    const hant_node *o = &net->nodes[hant_net_output(net)];
    size_t cnt = (size_t)n * o->c * o->h * o->w;
    FILE *g = fopen(out_path, "wb");
    rc = !g || fwrite(p.out[hant_net_output(net)], sizeof(float), cnt, g) != cnt;
    if (g)
      rc |= fclose(g) != 0;
    if (rc)
      fprintf(stderr, "onnx_run: cannot write %s\n", out_path);
  }
  hant_pass_free(&p);
  hant_free(x);
  hant_net_destroy(net);
  return rc;
}

static int cmd_export(const char *model, const char *out) {
  hant_net *net = NULL;
  if (hant_onnx_load_any(model, &net, NULL))
    return fail(model);
  int rc = hant_onnx_save(net, out, NULL);
  hant_net_destroy(net);
  return rc ? fail(out) : 0;
}

static int cmd_make(const char *arch, const char *seed, const char *out) {
  const char *desc = hant_arch_preset(arch);
  hant_net *net = hant_arch_build(desc ? desc : arch, "arch");
  if (!net)
    return fail("arch");
  hant_rng r;
  hant_rng_seed(&r, strtoull(seed, NULL, 10));
  hant_net_init_params(net, &r);
  for (int i = 0; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i];
    if (nd->op == HANT_OP_BN)
      for (int j = 0; j < nd->c; j++) {
        net->params[nd->param[0]].w[j] = 0.5f + hant_rng_uniform(&r);
        net->params[nd->param[1]].w[j] = 0.2f * hant_rng_normal(&r);
        net->params[nd->param[2]].w[j] = 0.2f * hant_rng_normal(&r);
        net->params[nd->param[3]].w[j] = 0.5f + hant_rng_uniform(&r);
      }
    if ((nd->op == HANT_OP_CONV || nd->op == HANT_OP_LINEAR) && nd->param[1] >= 0)
      for (size_t j = 0; j < net->params[nd->param[1]].n; j++)
        net->params[nd->param[1]].w[j] = 0.1f * hant_rng_normal(&r);
  }
  int rc = hant_netfile_save(net, NULL, out);
  hant_net_destroy(net);
  return rc ? fail(out) : 0;
}

static int cmd_slots(const char *model) {
  hant_net *net = NULL;
  if (hant_onnx_load_any(model, &net, NULL))
    return fail(model);
  for (int i = 0; i < net->n_slots; i++) {
    const hant_slot *s = &net->slots[i];
    printf("%s %d %d %s\n", s->kind, s->first, s->last, s->desc);
  }
  hant_net_destroy(net);
  return 0;
}

/* The check of an exact rebuild: each slot's teacher candidate (its
 * architecture line built and given the teacher's folded weights, as a
 * build's "teacher" family does) must give the slot's output from the
 * slot's input. Prints "name kind rel_err desc" per slot; exits 1 when
 * a slot cannot be built or differs by more than 1e-4 of its scale. */
static int cmd_rebuild(const char *model) {
  hant_net *t = NULL;
  if (hant_onnx_load_any(model, &t, NULL))
    return fail(model);
  if (hant_teacher_prepare(t, model)) {
    hant_net_destroy(t);
    return fail("teacher");
  }
  const hant_node *in = &t->nodes[0];
  int n = 2, bad = 0;
  size_t nx = (size_t)n * in->c * in->h * in->w;
  float *x = hant_alloc(nx * sizeof(float));
  hant_rng r;
  hant_rng_seed(&r, 7);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_uniform(&r);
  hant_pass p;
  hant_pass_init(&p);
  if (hant_net_forward(t, &p, x, n, false)) {
    bad = fail("forward");
    goto out;
  }
  for (int s = 0; s < t->n_slots; s++) {
    const hant_slot *sl = &t->slots[s];
    hant_cand_spec *specs = NULL;
    int ns = 0;
    hant_net *c = NULL;
    if (hant_family_generate(t, s, 1u << HANT_FAMILY_TEACHER, &specs, &ns) || ns < 1 ||
        hant_candidate_build(t, s, &specs[0], 1, &c)) {
      printf("%s %s build-failed %s\n", sl->name, sl->kind, sl->desc);
      fprintf(stderr, "onnx_run: %s (%s): %s\n", sl->name, sl->desc, hant_errmsg());
      free(specs);
      bad = 1;
      continue;
    }
    hant_pass q;
    hant_pass_init(&q);
    double d = INFINITY, scale = 0;
    if (!hant_net_forward(c, &q, p.out[sl->in], n, false)) {
      size_t ny = (size_t)n * sl->out_c * sl->out_h * sl->out_w;
      const float *want = p.out[sl->last], *got = q.out[hant_net_output(c)];
      d = 0;
      for (size_t i = 0; i < ny; i++) {
        d = fmax(d, fabs(want[i] - got[i]));
        scale = fmax(scale, fabs(want[i]));
      }
      d /= scale > 0 ? scale : 1;
    }
    printf("%s %s %.3g %s\n", sl->name, sl->kind, d, sl->desc);
    bad |= !(d <= 1e-4);
    hant_pass_free(&q);
    hant_net_destroy(c);
    free(specs);
  }
out:
  hant_pass_free(&p);
  hant_free(x);
  hant_net_destroy(t);
  return bad;
}

/* Every candidate a build would train must build and take its
 * initialisation from the teacher; a dry run only lists them. Prints the
 * ones that fail and "candidates N built, M failed". */
static int cmd_candidates(const char *model) {
  hant_net *t = NULL;
  if (hant_onnx_load_any(model, &t, NULL))
    return fail(model);
  if (hant_teacher_prepare(t, model)) {
    hant_net_destroy(t);
    return fail("teacher");
  }
  int built = 0, failed = 0;
  for (int s = 0; s < t->n_slots; s++) {
    hant_cand_spec *specs = NULL;
    int ns = 0;
    if (hant_family_generate(t, s, (1u << HANT_FAMILY_COUNT) - 1, &specs, &ns)) {
      printf("%s generate: %s\n", t->slots[s].name, hant_errmsg());
      failed++;
      continue;
    }
    for (int j = 0; j < ns; j++) {
      hant_net *c = NULL;
      if (hant_candidate_build(t, s, &specs[j], 1, &c)) {
        printf("%s %s (%s): %s\n", t->slots[s].name, specs[j].key, specs[j].block, hant_errmsg());
        failed++;
      } else {
        built++;
      }
      hant_net_destroy(c);
    }
    free(specs);
  }
  printf("candidates %d built, %d failed\n", built, failed);
  hant_net_destroy(t);
  return failed != 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "run"))
    return cmd_run(argv[2], argv[3], argv[4]);
  if (argc == 4 && !strcmp(argv[1], "export"))
    return cmd_export(argv[2], argv[3]);
  if (argc == 5 && !strcmp(argv[1], "make"))
    return cmd_make(argv[2], argv[3], argv[4]);
  if (argc == 3 && !strcmp(argv[1], "slots"))
    return cmd_slots(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "rebuild"))
    return cmd_rebuild(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "candidates"))
    return cmd_candidates(argv[2]);
  usage();
  return 2;
}
