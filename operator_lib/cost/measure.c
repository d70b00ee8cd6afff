/* SPDX-License-Identifier: MIT */
/* measure.c: warm-up, repeated timed samples, median and spread, retries, and sensor energy for one workload. */
#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "base.h"
#include "infer.h"
#include "rng.h"
#include "sensor.h"

#define MAX_REPS 100000

void hant_measure_opts_default(hant_measure_opts *o) {
  memset(o, 0, sizeof(*o));
  o->batch = 1;
  o->warmup = 5;
  o->warmup_ms = 20.0;
  o->sample_ms = 1.0;
  o->min_samples = 15;
  o->max_samples = 100;
  o->max_spread = 0.10;
  o->attempts = 3;
  o->max_ms = 3000.0;
  o->reject_preempted = true;
  o->energy_s = 0.0;
  o->seed = 1;
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Linear interpolation between order statistics of sorted v. */
static double quantile(const double *v, int n, double q) {
  if (n == 1)
    return v[0];
  double pos = q * (n - 1);
  int i = (int)pos;
  if (i >= n - 1)
    return v[n - 1];
  double f = pos - i;
  return v[i] * (1 - f) + v[i + 1] * f;
}

typedef struct attempt {
  double median, p10, p90, min, spread;
  int samples;
} attempt;

static void summarise(double *v, int n, double *sorted, attempt *a) {
  memcpy(sorted, v, sizeof(double) * (size_t)n);
  qsort(sorted, (size_t)n, sizeof(double), cmp_double);
  a->median = quantile(sorted, n, 0.5);
  a->p10 = quantile(sorted, n, 0.1);
  a->p90 = quantile(sorted, n, 0.9);
  a->min = sorted[0];
  a->spread = a->median > 0 ? (a->p90 - a->p10) / a->median : 0.0;
  a->samples = n;
}

int hant_measure_run(hant_measure_fn fn, void *user, const hant_measure_opts *o, hant_measure_result *r) {
  memset(r, 0, sizeof(*r));
  r->energy_mj = -1;
  r->power_w = -1;
  if (!fn || !o || o->min_samples < 3 || o->max_samples < o->min_samples || o->attempts < 1 || o->sample_ms <= 0 ||
      o->max_spread <= 0)
    return hant__error(HANT_EINVAL, "measure: invalid options (need min_samples >= 3, max_samples >= min_samples, "
                                    "attempts >= 1, sample_ms > 0, max_spread > 0)");
  r->threads = hant_threads_get();
  /* Other threads' CPU time is invisible to this thread's clock, so the
   * preemption test only works single-threaded. */
  bool reject = o->reject_preempted && r->threads <= 1;
  double *v = malloc(sizeof(double) * (size_t)o->max_samples * 2);
  if (!v)
    return HANT_ENOMEM;
  double *sorted = v + o->max_samples;
  int rc = 0;

  /* Warm-up: caches, page faults, BLAS buffers, CPU frequency. */
  double t0 = hant_now_s(), single = INFINITY;
  for (int i = 0; i < o->warmup || (hant_now_s() - t0) * 1e3 < o->warmup_ms; i++) {
    double a = hant_now_s();
    if ((rc = fn(user)))
      goto out;
    double d = hant_now_s() - a;
    single = d < single ? d : single;
    if (i > 100000 || (hant_now_s() - t0) > 10.0)
      break;
  }
  int reps = (int)ceil(o->sample_ms * 1e-3 / fmax(single, 1e-7));
  reps = reps < 1 ? 1 : reps > MAX_REPS ? MAX_REPS : reps;
  r->reps = reps;

  attempt best = {.spread = INFINITY};
  for (int at = 0; at < o->attempts; at++) {
    r->attempts = at + 1;
    int n = 0, tries = 0;
    double start = hant_now_s();
    attempt cur = {.spread = INFINITY};
    while (n < o->max_samples) {
      double w0 = hant_now_s(), c0 = thread_cpu_s();
      for (int k = 0; k < reps; k++)
        if ((rc = fn(user)))
          goto out;
      double w1 = hant_now_s(), c1 = thread_cpu_s();
      double wall = w1 - w0, cpu = c1 - c0;
      tries++;
      bool over = (w1 - start) * 1e3 > o->max_ms;
      /* A sample during which the thread waited for the CPU measures the
       * machine's load, not the operator; drop it while we can afford to. */
      if (reject && wall - cpu > 0.02 * wall + 20e-6 && tries < 20 * o->max_samples && !over) {
        r->rejected++;
        continue;
      }
      v[n++] = wall / reps * 1e3;
      if (n >= o->min_samples) {
        summarise(v, n, sorted, &cur);
        if (cur.spread <= o->max_spread || over)
          break;
      }
      if (over)
        break;
    }
    if (n < o->min_samples)
      summarise(v, n, sorted, &cur);
    if (cur.spread < best.spread)
      best = cur;
    if (best.spread <= o->max_spread)
      break;
  }
  r->latency_ms = best.median;
  r->p10_ms = best.p10;
  r->p90_ms = best.p90;
  r->min_ms = best.min;
  r->spread = best.spread;
  r->samples = best.samples;
  r->stable = best.spread <= o->max_spread;

  if (o->energy_s > 0) {
    hant_sensor s;
    if (hant_sensor_init(&s) == 0) {
      long count = 0;
      double joules = 0, e0 = hant_now_s(), el = 0;
      if ((rc = hant_sensor_start(&s))) {
        hant_sensor_free(&s);
        goto out;
      }
      do {
        if ((rc = fn(user)))
          break;
        count++;
        el = hant_now_s() - e0;
      } while (el < o->energy_s);
      int src = hant_sensor_stop(&s, &joules);
      if (!rc && !src && count > 0 && el > 0) {
        r->energy_mj = joules / (double)count * 1e3;
        r->power_w = joules / el;
        snprintf(r->energy_source, sizeof(r->energy_source), "%s", s.source);
      }
      hant_sensor_free(&s);
      if (rc)
        goto out;
    }
  }
out:
  free(v);
  return rc;
}

/* Latency is measured as a deployed network runs: through an inference
 * plan (infer.h), batch norm folded and weights packed before timing. */
typedef struct net_work {
  hant_infer *inf;
  float *x;
  int batch;
} net_work;

static int run_net(void *user) {
  net_work *w = user;
  const float *y;
  return hant_infer_run(w->inf, w->x, w->batch, &y);
}

int hant_measure_net(hant_net *net, const hant_measure_opts *o, hant_measure_result *r) {
  if (!net || !o || o->batch < 1)
    return hant__error(HANT_EINVAL, "measure: need a network and a batch size >= 1");
  const hant_node *in = &net->nodes[0];
  size_t nx = (size_t)o->batch * in->c * in->h * in->w;
  net_work w = {.batch = o->batch};
  int rc = hant_infer_new(net, &w.inf);
  if (rc)
    return rc;
  w.x = hant_alloc(nx * sizeof(float));
  if (!w.x) {
    hant_infer_free(w.inf);
    return HANT_ENOMEM;
  }
  hant_rng rng;
  hant_rng_seed(&rng, o->seed);
  for (size_t i = 0; i < nx; i++)
    w.x[i] = hant_rng_uniform(&rng);
  rc = hant_measure_run(run_net, &w, o, r);
  hant_infer_free(w.inf);
  hant_free(w.x);
  return rc;
}

void hant_measure_cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[512];
  static const char *const keys[] = {"model name", "Hardware", "Model", "cpu model"};
  int best = 99;
  while (fgets(line, sizeof(line), f)) {
    for (int k = 0; k < 4 && k < best; k++) {
      size_t kl = strlen(keys[k]);
      if (strncmp(line, keys[k], kl) || (line[kl] != ' ' && line[kl] != '\t' && line[kl] != ':'))
        continue;
      char *c = strchr(line, ':');
      if (!c)
        continue;
      c++;
      while (*c == ' ' || *c == '\t')
        c++;
      c[strcspn(c, "\n")] = '\0';
      if (*c) {
        snprintf(buf, n, "%s", c);
        best = k;
      }
    }
  }
  fclose(f);
}
