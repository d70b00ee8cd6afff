/* SPDX-License-Identifier: MIT */
/* qdq_run.c: test helper that quantises a network to int8, writes its QDQ ONNX model and runs hant's int8 evaluation, so scripts can compare it with ONNX Runtime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"

static int fail(const char *what) {
  fprintf(stderr, "qdq_run: %s: %s\n", what, hant_errmsg());
  return 1;
}

/* Reads a whole little-endian float32 file of [n, C, H, W] samples. */
static float *read_f32(const char *path, size_t per, int *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  *n = (int)((size_t)bytes / (per * 4));
  float *x = *n > 0 && (size_t)bytes == (size_t)*n * per * 4 ? malloc((size_t)bytes) : NULL;
  if (x && fread(x, 1, (size_t)bytes, f) != (size_t)bytes) {
    free(x);
    x = NULL;
  }
  fclose(f);
  return x;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: qdq_run MODEL|arch:TEXT CALIB_IMAGES minmax|percentile OUT.onnx IN.f32 OUT.f32\n"
                    "  quantises the model (arch:TEXT: a random network of that architecture, seed 1) on the first\n"
                    "  training images, writes the QDQ model, runs hant's int8 evaluation of IN into OUT, prints\n"
                    "  the kinds of the quantised nodes as JSON\n");
    return 2;
  }
  hant_net *net = NULL;
  if (!strncmp(argv[1], "arch:", 5)) {
    if (!(net = hant_arch_build(argv[1] + 5, "qdq_run")))
      return fail(argv[1]);
    hant_rng r;
    hant_rng_seed(&r, 1);
    hant_net_init_params(net, &r);
    /* random batch-norm statistics, so that folding changes the weights */
    for (int i = 0; i < net->n_nodes; i++) {
      const hant_node *nd = &net->nodes[i];
      if (nd->op != HANT_OP_BN)
        continue;
      for (int c = 0; c < nd->c; c++) {
        net->params[nd->param[0]].w[c] = 0.5f + hant_rng_uniform(&r);
        net->params[nd->param[1]].w[c] = hant_rng_uniform(&r) - 0.5f;
        net->params[nd->param[2]].w[c] = 0.2f * (hant_rng_uniform(&r) - 0.5f);
        net->params[nd->param[3]].w[c] = 0.5f + hant_rng_uniform(&r);
      }
    }
  } else if (hant_onnx_load_any(argv[1], &net, NULL)) {
    return fail(argv[1]);
  }
  hant_dataset train;
  if (hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TRAIN, 0, &train))
    return fail("training images");
  hant_quant_opts o = {.calib_images = atoi(argv[2]), .calib = hant_qcalib_from_name(argv[3])};
  hant_qnet *q = NULL;
  if (hant_quantise(net, &train, NULL, &o, &q))
    return fail("quantise");
  if (hant_onnx_save_qdq(q, argv[4], NULL))
    return fail(argv[4]);
  const hant_node *in = &net->nodes[0], *out = &net->nodes[hant_net_output(net)];
  int n = 0;
  float *x = read_f32(argv[5], (size_t)in->c * in->h * in->w, &n);
  if (!x) {
    fprintf(stderr, "qdq_run: %s is not a whole number of %dx%dx%d float32 samples\n", argv[5], in->c, in->h, in->w);
    return 1;
  }
  size_t k = (size_t)out->c * out->h * out->w;
  float *y = malloc(sizeof(float) * k * (size_t)n);
  if (!y || hant_qnet_run(q, x, n, y))
    return fail("int8 evaluation");
  FILE *f = fopen(argv[6], "wb");
  if (!f || fwrite(y, sizeof(float), k * (size_t)n, f) != k * (size_t)n || fclose(f))
    return fail(argv[6]);
  int kinds[HANT_QK_COUNT] = {0};
  for (int i = 0; i < net->n_nodes; i++)
    kinds[q->nodes[i].kind]++;
  printf("{");
  for (int c = 0; c < HANT_QK_COUNT; c++)
    printf("%s\"%s\":%d", c ? "," : "", hant_qkind_name((hant_qkind)c), kinds[c]);
  printf("}\n");
  free(x);
  free(y);
  hant_qnet_destroy(q);
  hant_net_destroy(net);
  hant_dataset_free(&train);
  return 0;
}
