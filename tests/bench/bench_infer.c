/* SPDX-License-Identifier: MIT */
/* bench_infer.c: inference latency of hant's runtime (an inference plan, infer.h) on a model, the median of many runs after warm-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "hant.h"
#include "net.h"
#include "onnx.h"
#include "rng.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* usage: bench_infer MODEL BATCH THREADS RUNS WARMUP
 * Prints one JSON line: {"runtime": "hant", "batch", "threads", "runs",
 * "median_ms", "p10_ms", "p90_ms"}. MODEL is an ONNX or native file. */
int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: bench_infer MODEL BATCH THREADS RUNS WARMUP\n");
    return 2;
  }
  int batch = atoi(argv[2]), threads = atoi(argv[3]), runs = atoi(argv[4]), warmup = atoi(argv[5]);
  if (batch < 1 || threads < 1 || runs < 1 || warmup < 0) {
    fprintf(stderr, "bench_infer: BATCH, THREADS and RUNS must be positive\n");
    return 2;
  }
  hant_net *net = NULL;
  if (hant_onnx_load_any(argv[1], &net, NULL)) {
    fprintf(stderr, "bench_infer: %s\n", hant_errmsg());
    return 1;
  }
  hant_threads_set(threads);
  const hant_node *in = &net->nodes[0];
  size_t n = (size_t)batch * in->c * in->h * in->w;
  float *x = hant_alloc(n * sizeof(float));
  double *ms = malloc(sizeof(double) * (size_t)runs);
  if (!x || !ms)
    return 1;
  hant_rng r;
  hant_rng_seed(&r, 1);
  for (size_t i = 0; i < n; i++)
    x[i] = hant_rng_uniform(&r);
  hant_infer *inf = NULL;
  if (hant_infer_new(net, &inf)) {
    fprintf(stderr, "bench_infer: %s\n", hant_errmsg());
    return 1;
  }
  for (int i = 0; i < warmup + runs; i++) {
    double t0 = hant_now_s();
    const float *y;
    if (hant_infer_run(inf, x, batch, &y)) {
      fprintf(stderr, "bench_infer: %s\n", hant_errmsg());
      return 1;
    }
    if (i >= warmup)
      ms[i - warmup] = (hant_now_s() - t0) * 1e3;
  }
  qsort(ms, (size_t)runs, sizeof(double), cmp_double);
  printf("{\"runtime\": \"hant\", \"batch\": %d, \"threads\": %d, \"runs\": %d, \"median_ms\": %.4f, "
         "\"p10_ms\": %.4f, \"p90_ms\": %.4f}\n",
         batch, threads, runs, ms[runs / 2], ms[runs / 10], ms[runs * 9 / 10]);
  hant_infer_free(inf);
  hant_free(x);
  free(ms);
  hant_net_destroy(net);
  return 0;
}
