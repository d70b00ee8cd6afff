/* SPDX-License-Identifier: MIT */
/* optim.h: trainable parameters, optimisers and learning-rate schedules. */
#ifndef HANT_OPTIM_H
#define HANT_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

/* One named parameter tensor of a network. Values and gradients are owned
 * by the network; optimiser state (m, v) is allocated on first use. */
typedef struct hant_param {
  char name[64];
  size_t n;       /* element count */
  int shape[4];   /* as exported: e.g. conv [K, C/g, kh, kw]; unused dims 0 */
  float *w;       /* values */
  float *g;       /* gradient, accumulated by backward */
  float *m, *v;   /* optimiser state, NULL until the first step */
  bool trainable; /* false for batch-norm running statistics */
  bool decay;     /* weight decay applies: conv and linear weights only */
} hant_param;

typedef enum hant_optim_kind {
  HANT_OPTIM_SGD,   /* momentum, optional Nesterov, L2 weight decay */
  HANT_OPTIM_ADAM,  /* L2 weight decay added to the gradient */
  HANT_OPTIM_ADAMW, /* decoupled weight decay (Loshchilov & Hutter 2019) */
  HANT_OPTIM_COUNT
} hant_optim_kind;

typedef struct hant_optim {
  hant_optim_kind kind;
  float momentum;     /* SGD */
  bool nesterov;      /* SGD */
  float beta1, beta2; /* Adam */
  float eps;          /* Adam */
  float weight_decay;
  long step;          /* steps taken so far */
} hant_optim;

/* Defaults: SGD momentum 0.9; Adam betas 0.9/0.999, eps 1e-8. */
void hant_optim_init(hant_optim *o, hant_optim_kind kind);
/* Applies one update with learning rate lr to every trainable parameter
 * and leaves gradients untouched (call zero_grad before the next step).
 * Returns HANT_ENOMEM if optimiser state cannot be allocated. */
int hant_optim_step(hant_optim *o, hant_param *params, int n_params, float lr);
/* Releases optimiser state held in params. */
void hant_optim_reset_state(hant_param *params, int n_params);

typedef enum hant_sched {
  HANT_SCHED_CONSTANT,
  HANT_SCHED_COSINE,   /* linear warm-up, then cosine decay to 0 */
  HANT_SCHED_ONECYCLE, /* Smith & Topin 2019: up from lr/25 over 30%, then
                          cosine down to lr/25e4 */
  HANT_SCHED_COUNT
} hant_sched;

/* Learning rate at step (0-based) of total_steps. */
float hant_sched_lr(hant_sched s, float base_lr, long step, long total_steps,
                    long warmup_steps);
const char *hant_sched_name(hant_sched s);
hant_sched hant_sched_from_name(const char *s);

#endif
