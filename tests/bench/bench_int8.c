/* SPDX-License-Identifier: MIT */
/* bench_int8.c: int8 against float32 inference of one model on this host, side by side with the same kernel library (oneDNN), median of many interleaved runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hant.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void pct(double *v, int n, double *p10, double *p50, double *p90) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  *p10 = v[n / 10], *p50 = v[n / 2], *p90 = v[n * 9 / 10];
}

/* usage: bench_int8 MODEL BATCH THREADS RUNS
 * Quantises MODEL (min-max on 1000 training images; the timing does not
 * depend on the ranges), then times float32 (an inference plan, infer.h:
 * BN folded, adds and ReLUs fused into oneDNN's convolutions) and int8
 * (hant_qnet_run: oneDNN's u8 x s8 -> s32 convolutions, requantised as ONNX
 * Runtime does) on the same test images, alternating one run of each so
 * both see the same load. Prints one JSON line. */
int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: bench_int8 MODEL BATCH THREADS RUNS\n");
    return 2;
  }
  int batch = atoi(argv[2]), threads = atoi(argv[3]), runs = atoi(argv[4]);
  if (batch < 1 || threads < 1 || runs < 10) {
    fprintf(stderr, "bench_int8: BATCH and THREADS must be positive, RUNS at least 10\n");
    return 2;
  }
  hant_net *net = NULL;
  hant_dataset train, test;
  if (hant_onnx_load_any(argv[1], &net, NULL) || hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TRAIN, 0, &train) ||
      hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TEST, 0, &test)) {
    fprintf(stderr, "bench_int8: %s\n", hant_errmsg());
    return 1;
  }
  hant_threads_set(threads);
  hant_quant_opts qo = {.calib_images = 1000, .calib = HANT_QCALIB_MINMAX};
  hant_qnet *q = NULL;
  hant_infer *inf = NULL;
  if (hant_quantise(net, &train, NULL, &qo, &q) || hant_infer_new(net, &inf)) {
    fprintf(stderr, "bench_int8: %s\n", hant_errmsg());
    return 1;
  }
  const hant_node *in = &net->nodes[0], *o = &net->nodes[hant_net_output(net)];
  size_t per = (size_t)in->c * in->h * in->w;
  int images = 256 / batch * batch;
  float *x = hant_alloc(per * (size_t)images * sizeof(float));
  float *y = malloc(sizeof(float) * (size_t)batch * o->c * o->h * o->w);
  int *idx = malloc(sizeof(int) * (size_t)images), *lab = malloc(sizeof(int) * (size_t)images);
  double *t32 = malloc(sizeof(double) * (size_t)runs), *t8 = malloc(sizeof(double) * (size_t)runs);
  if (!x || !y || !idx || !lab || !t32 || !t8)
    return 1;
  for (int i = 0; i < images; i++)
    idx[i] = i;
  hant_dataset_batch(&test, idx, images, false, 0, NULL, x, lab);
  const float *yf;
  for (int w = 0; w < 50; w++) /* warm-up: primitives prepared, weights packed */
    if (hant_infer_run(inf, x, batch, &yf) || hant_qnet_run(q, x, batch, y)) {
      fprintf(stderr, "bench_int8: %s\n", hant_errmsg());
      return 1;
    }
  for (int r = 0; r < runs; r++) {
    const float *xb = x + per * (size_t)((r * batch) % images);
    double t0 = now_ms();
    hant_infer_run(inf, xb, batch, &yf);
    double t1 = now_ms();
    hant_qnet_run(q, xb, batch, y);
    t8[r] = now_ms() - t1;
    t32[r] = t1 - t0;
  }
  double a10, a50, a90, b10, b50, b90, load[3] = {0};
  pct(t32, runs, &a10, &a50, &a90);
  pct(t8, runs, &b10, &b50, &b90);
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
      load[0] = load[1] = load[2] = -1;
    fclose(f);
  }
  char cpu[128] = "?";
  f = fopen("/proc/cpuinfo", "r");
  for (char line[256]; f && fgets(line, sizeof(line), f);)
    if (!strncmp(line, "model name", 10)) {
      char *c = strchr(line, ':');
      snprintf(cpu, sizeof(cpu), "%.100s", c ? c + 2 : line);
      cpu[strcspn(cpu, "\n")] = 0;
      break;
    }
  if (f)
    fclose(f);
  printf("{\"model\":\"%s\",\"cpu\":\"%s\",\"batch\":%d,\"threads\":%d,\"runs\":%d,"
         "\"fp32_ms\":{\"p10\":%.4f,\"median\":%.4f,\"p90\":%.4f},\"int8_ms\":{\"p10\":%.4f,\"median\":%.4f,\"p90\":%.4f},"
         "\"speedup\":%.3f,\"loadavg\":[%.2f,%.2f,%.2f]}\n",
         argv[1], cpu, batch, threads, runs, a10, a50, a90, b10, b50, b90, a50 / b50, load[0], load[1], load[2]);
  hant_infer_free(inf);
  hant_qnet_destroy(q);
  hant_net_destroy(net);
  return 0;
}
