/* SPDX-License-Identifier: MIT */
/* test_kernel_threads.c: the kernels' thread setting, their primitive cache, and cached primitives run by several threads at once. */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "hant.h"
#include "net.h"
#include "test_util.h"

enum { N = 8, C = 4, H = 12, W = 12, WORKERS = 4, STEPS = 6 };

/* conv 4->8 3x3 + BN + relu, grouped conv s2, maxpool, depthwise + hswish,
 * avgpool, gap, linear: one primitive of each kind forward and backward. */
static hant_net *build(void) {
  hant_net *net = hant_net_new(C, H, W);
  hant_conv_desc c0 = {.c_in = 4, .c_out = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
  int y = hant_net_act(net, hant_net_bn(net, hant_net_conv(net, 0, &c0, true)), HANT_ACT_RELU);
  hant_conv_desc cg = {.c_in = 8, .c_out = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 2};
  y = hant_net_conv(net, y, &cg, false);
  hant_pool_desc mp = {.k = 2, .s = 1, .p = 0};
  y = hant_net_maxpool(net, y, &mp);
  hant_conv_desc dw = {.c_in = 8, .c_out = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 8};
  y = hant_net_act(net, hant_net_conv(net, y, &dw, true), HANT_ACT_HSWISH);
  hant_pool_desc ap = {.k = 3, .s = 1, .p = 1, .count_include_pad = true};
  y = hant_net_gap(net, hant_net_avgpool(net, y, &ap));
  y = hant_net_linear(net, y, 5, true);
  HANT_ASSERT(y > 0);
  hant_rng rng;
  hant_rng_seed(&rng, 3);
  hant_net_init_params(net, &rng);
  return net;
}

static float x_in[N * C * H * W], dy_out[N * 5];

/* What one run of STEPS training steps leaves: the output of the last
 * forward and every parameter's values and last gradient, concatenated. */
typedef struct result {
  float *v;
  size_t n;
} result;

/* STEPS forward/backward passes with a plain SGD update in between, so
 * each step depends on the previous one's gradients. */
static int train(int threads, result *out) {
  hant_threads_set_local(threads);
  hant_net *net = build();
  hant_pass p;
  hant_pass_init(&p);
  int rc = 0;
  for (int s = 0; s < STEPS && !rc; s++) {
    hant_net_zero_grad(net);
    if (!(rc = hant_net_forward(net, &p, x_in, N, true)))
      rc = hant_net_backward(net, &p, dy_out, NULL);
    for (int k = 0; k < net->n_params && !rc; k++)
      for (size_t j = 0; net->params[k].trainable && j < net->params[k].n; j++)
        net->params[k].w[j] -= 0.01f * net->params[k].g[j];
  }
  size_t n = N * 5;
  for (int k = 0; k < net->n_params; k++)
    n += 2 * net->params[k].n;
  out->v = malloc(n * sizeof(float));
  out->n = n;
  HANT_ASSERT(out->v);
  memcpy(out->v, p.out[hant_net_output(net)], N * 5 * sizeof(float));
  float *q = out->v + N * 5;
  for (int k = 0; k < net->n_params; k++) {
    memcpy(q, net->params[k].w, net->params[k].n * sizeof(float));
    memcpy(q + net->params[k].n, net->params[k].g, net->params[k].n * sizeof(float));
    q += 2 * net->params[k].n;
  }
  hant_pass_free(&p);
  hant_net_destroy(net);
  hant_threads_set_local(0);
  return rc;
}

typedef struct worker {
  int threads;
  result r;
  int rc;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  w->rc = train(w->threads, &w->r);
  return NULL;
}

/* WORKERS threads train their own copy of the network at once, sharing
 * the cached primitives; each must get exactly what one thread alone gets
 * with the same thread count, since oneDNN is deterministic at a fixed
 * count. */
static void check_concurrent(int threads) {
  result alone;
  CHECK(train(threads, &alone) == 0, "training alone at %d thread(s): %s", threads, hant_errmsg());
  worker w[WORKERS];
  pthread_t th[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    w[i] = (worker){.threads = threads};
    HANT_ASSERT(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
  }
  for (int i = 0; i < WORKERS; i++) {
    pthread_join(th[i], NULL);
    CHECK(w[i].rc == 0, "worker %d at %d thread(s) failed", i, threads);
    CHECK(w[i].r.n == alone.n && !memcmp(w[i].r.v, alone.v, alone.n * sizeof(float)),
          "worker %d at %d thread(s) differs from a run alone", i, threads);
    free(w[i].r.v);
  }
  free(alone.v);
}

static void *read_threads(void *arg) {
  *(int *)arg = hant_threads_get();
  return NULL;
}

static void check_settings(void) {
  int max = hant_cpu_count();
  CHECK(hant_threads_get() == 1, "a process starts at 1 thread, not %d", hant_threads_get());
  CHECK(hant_threads_set(0) == 1, "0 threads is clamped to 1");
  CHECK(hant_threads_set(max + 100) == max, "more threads than cores is clamped to %d", max);
  CHECK(hant_threads_get() == max, "the process-wide count applies to the calling thread");
  CHECK(hant_threads_set_local(1) == 1 && hant_threads_get() == 1, "a thread's own count applies to it");
  int other = 0;
  pthread_t th;
  HANT_ASSERT(pthread_create(&th, NULL, read_threads, &other) == 0);
  pthread_join(th, NULL);
  CHECK(other == max, "another thread sees the process-wide %d, not %d", max, other);
  CHECK(hant_threads_set_local(0) == max, "a thread follows the process again after set_local(0)");
  hant_threads_set(1);
}

/* After the first training step has prepared its primitives, later steps
 * of the same shapes prepare none. */
static void check_cache(void) {
  hant_net *net = build();
  hant_pass p;
  hant_pass_init(&p);
  hant_kernel_stats s0, s1, s2;
  hant_kernel_stats_get(&s0);
  for (int step = 0; step < 3; step++) {
    hant_net_zero_grad(net);
    int rc = hant_net_forward(net, &p, x_in, N, true);
    if (!rc)
      rc = hant_net_backward(net, &p, dy_out, NULL);
    CHECK(rc == 0, "training step %d: %s", step, hant_errmsg());
    hant_kernel_stats_get(step == 0 ? &s1 : &s2);
  }
  CHECK(s1.created > s0.created, "the first step prepared no primitive");
  CHECK(s2.created == s1.created, "steps 2 and 3 prepared %llu primitives", (unsigned long long)(s2.created - s1.created));
  CHECK(s2.hits > s1.hits, "later steps did not use the cache");
  hant_pass_free(&p);
  hant_net_destroy(net);
}

/* More distinct shapes than the cache holds: the least recently used
 * primitives are dropped, and a dropped one is prepared again and still
 * computes the right thing. */
static void check_eviction(void) {
  enum { SHAPES = 1100, MAX_N = SHAPES + 1 };
  float *x = malloc(MAX_N * sizeof(float)), *y = malloc(MAX_N * sizeof(float));
  HANT_ASSERT(x && y);
  for (int i = 0; i < MAX_N; i++)
    x[i] = (float)(i % 7) - 3.0f;
  hant_kernel_stats s0, s1, s2;
  hant_kernel_stats_get(&s0);
  for (int n = 1; n <= SHAPES; n++)
    hant_act_forward(HANT_ACT_RELU, x, y, (size_t)n);
  hant_kernel_stats_get(&s1);
  CHECK(s1.created - s0.created >= SHAPES, "%d shapes prepared only %llu primitives", SHAPES,
        (unsigned long long)(s1.created - s0.created));
  CHECK(s1.cached < s0.cached + SHAPES, "the cache kept all %zu primitives", s1.cached);
  memset(y, 0, MAX_N * sizeof(float));
  hant_act_forward(HANT_ACT_RELU, x, y, 1);
  hant_act_forward(HANT_ACT_RELU6, x, y + 1, 5);
  hant_kernel_stats_get(&s2);
  CHECK(s2.created == s1.created + 2, "a dropped primitive was not prepared again");
  CHECK(y[0] == 0.0f && y[1] == 0.0f && y[5] == 1.0f, "relu after eviction: %g %g %g", y[0], y[1], y[5]);
  free(x);
  free(y);
}

int main(void) {
  hant_rng rng;
  hant_rng_seed(&rng, 5);
  for (size_t i = 0; i < sizeof(x_in) / sizeof(x_in[0]); i++)
    x_in[i] = hant_rng_normal(&rng);
  for (size_t i = 0; i < sizeof(dy_out) / sizeof(dy_out[0]); i++)
    dy_out[i] = hant_rng_normal(&rng);
  check_settings();
  check_cache();
  check_eviction();
  check_concurrent(1);
  if (hant_cpu_count() > 1)
    check_concurrent(2);
  return test_summary("test_kernel_threads");
}
