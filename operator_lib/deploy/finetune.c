/* SPDX-License-Identifier: MIT */
/* finetune.c: knowledge-distillation fine-tuning: soft teacher targets plus hard labels. */
#include "finetune.h"

#include <math.h>
#include <string.h>

#include "base.h"

void hant_finetune_opts_default(hant_finetune_opts *o) {
  memset(o, 0, sizeof(*o));
  o->epochs = 1;
  o->batch = 128;
  o->lr = 0.01f;
  o->weight_decay = 5e-4f;
  o->temperature = 4.0f;
  o->alpha = 0.9f;
  o->augment = true;
  o->clip_norm = 1.0f;
  o->seed = 1;
}

/* Scales every trainable gradient so that their global L2 norm is at most
 * max_norm. Assembled networks are BN-free (folded), and a candidate whose
 * batch norm was folded from small running variances has large weights:
 * without a bound one step can throw the whole network off. */
static void clip_grad_norm(hant_net *net, float max_norm) {
  double sq = 0;
  for (int i = 0; i < net->n_params; i++) {
    const hant_param *p = &net->params[i];
    if (p->trainable && p->g)
      for (size_t j = 0; j < p->n; j++)
        sq += (double)p->g[j] * p->g[j];
  }
  double norm = sqrt(sq);
  if (!(norm > max_norm))
    return;
  float k = (float)(max_norm / norm);
  for (int i = 0; i < net->n_params; i++) {
    hant_param *p = &net->params[i];
    if (p->trainable && p->g)
      for (size_t j = 0; j < p->n; j++)
        p->g[j] *= k;
  }
}

int hant_finetune_kd(hant_net *student, hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
                     const hant_finetune_opts *o, hant_train_result *res) {
  const hant_node *so = &student->nodes[hant_net_output(student)], *to = &teacher->nodes[hant_net_output(teacher)];
  int k = so->c * so->h * so->w;
  if (k != to->c * to->h * to->w || k != train->classes)
    return hant__error(HANT_ESHAPE, "fine-tuning: student has %d outputs, teacher %d, data %d classes", k,
                       to->c * to->h * to->w, train->classes);
  if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || !(o->temperature > 0) || o->alpha < 0 || o->alpha > 1)
    return hant__error(HANT_EINVAL, "fine-tuning: epochs %d, batch %d, lr %g, T %g, alpha %g are not valid", o->epochs,
                       o->batch, (double)o->lr, (double)o->temperature, (double)o->alpha);
  if (train->n < o->batch)
    return hant__error(HANT_EINVAL, "%d training images are fewer than one batch of %d", train->n, o->batch);
  memset(res, 0, sizeof(*res));
  int B = o->batch;
  size_t per = (size_t)train->c * train->h * train->w;
  long spe = train->n / B, total = spe * o->epochs;
  if (o->max_steps > 0 && o->max_steps < total)
    total = o->max_steps;
  float *x = hant_alloc(per * (size_t)B * sizeof(float));
  float *g_kd = hant_alloc((size_t)k * B * sizeof(float)), *g_ce = hant_alloc((size_t)k * B * sizeof(float));
  int *order = malloc(sizeof(int) * (size_t)train->n), *lab = malloc(sizeof(int) * (size_t)B);
  hant_pass sp, tp;
  hant_pass_init(&sp);
  hant_pass_init(&tp);
  hant_rng rng;
  hant_rng_seed(&rng, o->seed);
  hant_optim opt;
  hant_optim_init(&opt, HANT_OPTIM_SGD);
  opt.nesterov = true;
  opt.weight_decay = o->weight_decay;
  int rc = 0;
  long step = 0;
  double t0 = hant_now_s();
  if (!x || !g_kd || !g_ce || !order || !lab) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 0; i < train->n; i++)
    order[i] = i;
  for (int ep = 1; ep <= o->epochs && step < total; ep++) {
    hant_rng_shuffle(&rng, order, train->n);
    double lsum = 0, te = hant_now_s();
    long ns = 0;
    for (long b = 0; b < spe && step < total; b++, step++) {
      if (o->stop && *o->stop) {
        rc = hant__error(HANT_ECANCELED, "fine-tuning canceled at step %ld of %ld", step, total);
        goto out;
      }
      hant_dataset_batch(train, order + b * B, B, o->augment, 2, &rng, x, lab);
      if ((rc = hant_net_forward(teacher, &tp, x, B, false)) || (rc = hant_net_forward(student, &sp, x, B, true)))
        goto out;
      const float *zs = sp.out[hant_net_output(student)], *zt = tp.out[hant_net_output(teacher)];
      float kd = hant_loss_kd(zs, zt, B, k, o->temperature, g_kd);
      float ce = hant_loss_xent(zs, lab, B, k, 0.0f, g_ce);
      float l = o->alpha * kd + (1.0f - o->alpha) * ce;
      if (!isfinite(l)) {
        rc = hant__error(HANT_ERANGE, "fine-tuning diverged at step %ld (loss %g); lower the learning rate", step,
                         (double)l);
        goto out;
      }
      for (size_t j = 0; j < (size_t)k * B; j++)
        g_kd[j] = o->alpha * g_kd[j] + (1.0f - o->alpha) * g_ce[j];
      hant_net_zero_grad(student);
      if ((rc = hant_net_backward(student, &sp, g_kd, NULL)))
        goto out;
      if (o->clip_norm > 0)
        clip_grad_norm(student, o->clip_norm);
      float lr = hant_sched_lr(HANT_SCHED_COSINE, o->lr, step, total, 0);
      if ((rc = hant_optim_step(&opt, student->params, student->n_params, lr)))
        goto out;
      lsum += l;
      ns++;
      if (o->progress && (ns % 10 == 0 || b + 1 == spe)) {
        double dt = hant_now_s() - te;
        hant_train_progress pr = {.epoch = ep, .epochs = o->epochs, .step = step + 1, .steps = total,
                                  .loss = (float)(lsum / ns), .lr = lr,
                                  .samples_per_s = dt > 0 ? (double)ns * B / dt : 0, .val_accuracy = -1};
        o->progress(o->user, &pr);
      }
    }
    res->train_loss = ns ? lsum / ns : 0;
    res->val_accuracy = -1;
    if (val && (rc = hant_eval_classifier(student, val, 256, &res->val_accuracy, &res->val_loss)))
      goto out;
    if (o->progress) {
      hant_train_progress pr = {.epoch = ep, .epochs = o->epochs, .step = step, .steps = total,
                                .loss = (float)res->train_loss, .epoch_done = true,
                                .val_accuracy = res->val_accuracy, .val_loss = res->val_loss,
                                .epoch_s = hant_now_s() - te};
      o->progress(o->user, &pr);
    }
  }
out:
  res->steps = step;
  res->seconds = hant_now_s() - t0;
  res->samples_per_s = res->seconds > 0 ? (double)step * B / res->seconds : 0;
  hant_optim_reset_state(student->params, student->n_params);
  hant_pass_free(&sp);
  hant_pass_free(&tp);
  hant_free(x);
  hant_free(g_kd);
  hant_free(g_ce);
  free(order);
  free(lab);
  return rc;
}
