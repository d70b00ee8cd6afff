/* SPDX-License-Identifier: MIT */
/* optim.c: SGD with (Nesterov) momentum, Adam and AdamW, and the learning-rate schedules. */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "base.h"

void hant_optim_init(hant_optim *o, hant_optim_kind kind) {
  memset(o, 0, sizeof(*o));
  o->kind = kind;
  o->momentum = 0.9f;
  o->beta1 = 0.9f;
  o->beta2 = 0.999f;
  o->eps = 1e-8f;
}

static int ensure_state(hant_param *p, bool two) {
  if (!p->m && !(p->m = hant_alloc(p->n * sizeof(float))))
    return HANT_ENOMEM;
  if (two && !p->v && !(p->v = hant_alloc(p->n * sizeof(float))))
    return HANT_ENOMEM;
  return 0;
}

int hant_optim_step(hant_optim *o, hant_param *params, int n_params, float lr) {
  o->step++;
  float b1t = 1.0f - powf(o->beta1, (float)o->step);
  float b2t = 1.0f - powf(o->beta2, (float)o->step);
  for (int i = 0; i < n_params; i++) {
    hant_param *p = &params[i];
    if (!p->trainable)
      continue;
    float wd = p->decay ? o->weight_decay : 0.0f;
    int rc = ensure_state(p, o->kind != HANT_OPTIM_SGD);
    if (rc)
      return rc;
    float *w = p->w, *g = p->g, *m = p->m, *v = p->v;
    switch (o->kind) {
    case HANT_OPTIM_SGD:
      for (size_t j = 0; j < p->n; j++) {
        float gj = g[j] + wd * w[j];
        m[j] = o->momentum * m[j] + gj;
        float d = o->nesterov ? gj + o->momentum * m[j] : m[j];
        w[j] -= lr * d;
      }
      break;
    case HANT_OPTIM_ADAM:
    case HANT_OPTIM_ADAMW: {
      bool decoupled = o->kind == HANT_OPTIM_ADAMW;
      for (size_t j = 0; j < p->n; j++) {
        float gj = g[j] + (decoupled ? 0.0f : wd * w[j]);
        m[j] = o->beta1 * m[j] + (1.0f - o->beta1) * gj;
        v[j] = o->beta2 * v[j] + (1.0f - o->beta2) * gj * gj;
        float upd = (m[j] / b1t) / (sqrtf(v[j] / b2t) + o->eps);
        if (decoupled)
          w[j] -= lr * wd * w[j];
        w[j] -= lr * upd;
      }
      break;
    }
    case HANT_OPTIM_COUNT:
      HANT_ASSERT(!"bad optimiser kind");
    }
  }
  return 0;
}

void hant_optim_reset_state(hant_param *params, int n_params) {
  for (int i = 0; i < n_params; i++) {
    hant_free(params[i].m);
    hant_free(params[i].v);
    params[i].m = params[i].v = NULL;
  }
}

static const char *const sched_names[] = {
    [HANT_SCHED_CONSTANT] = "constant",
    [HANT_SCHED_COSINE] = "cosine",
    [HANT_SCHED_ONECYCLE] = "onecycle",
};
_Static_assert(sizeof(sched_names) / sizeof(sched_names[0]) == HANT_SCHED_COUNT,
               "sched_names must cover every schedule");

const char *hant_sched_name(hant_sched s) {
  return (unsigned)s < HANT_SCHED_COUNT ? sched_names[s] : NULL;
}

hant_sched hant_sched_from_name(const char *s) {
  for (int i = 0; i < HANT_SCHED_COUNT; i++)
    if (!strcmp(s, sched_names[i]))
      return (hant_sched)i;
  return HANT_SCHED_COUNT;
}

float hant_sched_lr(hant_sched s, float base_lr, long step, long total_steps,
                    long warmup_steps) {
  if (total_steps <= 0)
    return base_lr;
  if (step >= total_steps)
    step = total_steps - 1;
  const double pi = 3.14159265358979323846;
  switch (s) {
  case HANT_SCHED_CONSTANT:
    return base_lr;
  case HANT_SCHED_COSINE: {
    if (step < warmup_steps)
      return base_lr * (float)(step + 1) / (float)warmup_steps;
    double t = (double)(step - warmup_steps) / (double)(total_steps - warmup_steps);
    return (float)(base_lr * 0.5 * (1.0 + cos(pi * t)));
  }
  case HANT_SCHED_ONECYCLE: {
    double lo = base_lr / 25.0, end = lo / 1e4;
    long up = (long)(0.3 * (double)total_steps);
    if (up < 1)
      up = 1;
    if (step < up) {
      double t = (double)step / (double)up;
      return (float)(base_lr + (lo - base_lr) * 0.5 * (1.0 + cos(pi * t)));
    }
    double t = (double)(step - up) / (double)(total_steps - up > 0 ? total_steps - up : 1);
    return (float)(end + (base_lr - end) * 0.5 * (1.0 + cos(pi * t)));
  }
  case HANT_SCHED_COUNT:
    break;
  }
  return base_lr;
}
