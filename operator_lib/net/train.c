/* SPDX-License-Identifier: MIT */
/* train.c: the one mini-batch training loop (supervised training and fine-tuning) and evaluation of classifiers. */
#include "train.h"

#include <math.h>
#include <string.h>

#include "base.h"
#include "infer.h"
#include "train_checkpoint.h"

void hant_train_opts_default(hant_train_opts *o) {
  memset(o, 0, sizeof(*o));
  o->epochs = 10;
  o->batch = 128;
  o->lr = 0.1f;
  o->optim = HANT_OPTIM_SGD;
  o->momentum = 0.9f;
  o->nesterov = true;
  o->weight_decay = 5e-4f;
  o->sched = HANT_SCHED_COSINE;
  o->warmup_epochs = 1;
  o->augment = true;
  o->pad = 2;
  o->seed = 1;
}

int hant_eval_classifier(hant_net *net, const hant_dataset *ds, int batch, double *accuracy, double *loss) {
  return hant_eval_classifier_norm(net, ds, batch, NULL, NULL, accuracy, loss);
}

/* The evaluation loop behind the hant_eval_classifier* functions; correct
 * (may be NULL) gets each image's 1 or 0. */
static int eval_classifier(hant_net *net, const hant_dataset *ds, int batch, const float *mean, const float *std,
                           unsigned char *correct, double *accuracy, double *loss) {
  const hant_node *in = &net->nodes[0], *out = &net->nodes[hant_net_output(net)];
  if (in->c != ds->c || in->h != ds->h || in->w != ds->w)
    return hant__error(HANT_ESHAPE, "network input %dx%dx%d does not match data %dx%dx%d", in->c, in->h, in->w,
                       ds->c, ds->h, ds->w);
  int k = out->c * out->h * out->w;
  if (k != ds->classes)
    return hant__error(HANT_ESHAPE, "network has %d outputs, data has %d classes", k, ds->classes);
  if (batch <= 0)
    batch = 256;
  size_t per = (size_t)ds->c * ds->h * ds->w;
  float *x = hant_alloc(per * (size_t)batch * sizeof(float));
  float *dl = hant_alloc((size_t)k * batch * sizeof(float));
  int *idx = malloc(sizeof(int) * (size_t)batch), *lab = malloc(sizeof(int) * (size_t)batch);
  /* Evaluation only infers: an inference plan runs it with batch norm
   * folded and the weights packed once for the whole data set. */
  hant_infer *inf = NULL;
  int rc = hant_infer_new(net, &inf);
  long n_right = 0;
  double lsum = 0.0;
  if (!rc && (!x || !dl || !idx || !lab))
    rc = HANT_ENOMEM;
  if (rc)
    goto out;
  for (int b0 = 0; b0 < ds->n; b0 += batch) {
    int nb = ds->n - b0 < batch ? ds->n - b0 : batch;
    for (int i = 0; i < nb; i++)
      idx[i] = b0 + i;
    hant_dataset_batch(ds, idx, nb, false, 0, NULL, x, lab);
    if (mean || std) {
      /* Channels last: value j belongs to channel j % c. */
      size_t cnt = (size_t)nb * ds->c * ds->h * ds->w;
      for (size_t j = 0; j < cnt; j++) {
        size_t ch = j % (size_t)ds->c;
        x[j] = (x[j] - (mean ? mean[ch] : 0.0f)) / (std ? std[ch] : 1.0f);
      }
    }
    const float *z;
    if ((rc = hant_infer_run(inf, x, nb, &z)))
      goto out;
    lsum += (double)hant_loss_xent(z, lab, nb, k, 0.0f, dl) * nb;
    for (int i = 0; i < nb; i++) {
      int best = 0;
      for (int j = 1; j < k; j++)
        if (z[(size_t)i * k + j] > z[(size_t)i * k + best])
          best = j;
      n_right += best == lab[i];
      if (correct)
        correct[b0 + i] = best == lab[i];
    }
  }
  *accuracy = ds->n ? (double)n_right / ds->n : 0.0;
  *loss = ds->n ? lsum / ds->n : 0.0;
out:
  hant_infer_free(inf);
  hant_free(x);
  hant_free(dl);
  free(idx);
  free(lab);
  return rc;
}

int hant_eval_classifier_norm(hant_net *net, const hant_dataset *ds, int batch, const float *mean, const float *std,
                              double *accuracy, double *loss) {
  return eval_classifier(net, ds, batch, mean, std, NULL, accuracy, loss);
}

int hant_eval_classifier_marks(hant_net *net, const hant_dataset *ds, int batch, unsigned char *correct,
                               double *accuracy, double *loss) {
  return eval_classifier(net, ds, batch, NULL, NULL, correct, accuracy, loss);
}

/* Scales every trainable gradient so that their global L2 norm is at most
 * max_norm: one batch with a huge gradient then moves the weights by a
 * bounded step instead of throwing the whole network off. */
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

/* The moving average of every parameter's values (ema_horizon): one buffer
 * per parameter, started at the network's values. NULL on no memory. */
static float **ema_new(const hant_net *net) {
  float **a = calloc((size_t)net->n_params + 1, sizeof(*a));
  for (int i = 0; a && i < net->n_params; i++) {
    const hant_param *p = &net->params[i];
    if (!(a[i] = malloc(p->n * sizeof(float)))) {
      for (int j = 0; j < i; j++)
        free(a[j]);
      free(a);
      return NULL;
    }
    memcpy(a[i], p->w, p->n * sizeof(float));
  }
  return a;
}

static void ema_update(float **a, const hant_net *net, float decay, long step) {
  /* the warm-up keeps the first steps from being dominated by the start */
  float d = fminf(decay, (1.0f + (float)step) / (10.0f + (float)step));
  for (int i = 0; i < net->n_params; i++) {
    const hant_param *p = &net->params[i];
    for (size_t j = 0; j < p->n; j++)
      a[i][j] = d * a[i][j] + (1.0f - d) * p->w[j];
  }
}

/* The network takes the average's values: the run ends on them. */
static void ema_apply(float **a, hant_net *net) {
  for (int i = 0; i < net->n_params; i++)
    memcpy(net->params[i].w, a[i], net->params[i].n * sizeof(float));
}

static void ema_free(float **a, const hant_net *net) {
  if (!a)
    return;
  for (int i = 0; i < net->n_params; i++)
    free(a[i]);
  free(a);
}

/* Mixes the batch x of n images of `per` values in place with a random
 * pairing of its own images, mix ~ Beta(a, a) (train.h), using xm for the
 * unmixed copy; writes each image's partner's label into lab_mix and
 * returns mix. */
static float mix_batch(float *x, const int *lab, int n, size_t per, float a, hant_rng *rng, float *xm, int *partner,
                       int *lab_mix) {
  float mix = hant_rng_beta(rng, a, a);
  for (int i = 0; i < n; i++)
    partner[i] = i;
  hant_rng_shuffle(rng, partner, n);
  memcpy(xm, x, per * (size_t)n * sizeof(float));
  for (int i = 0; i < n; i++) {
    const float *y = xm + per * (size_t)partner[i];
    float *d = x + per * (size_t)i;
    for (size_t j = 0; j < per; j++)
      d[j] = mix * d[j] + (1.0f - mix) * y[j];
    lab_mix[i] = lab[partner[i]];
  }
  return mix;
}

float hant_train_mix_loss(const float *z, const int *labels_mix, int n, int k, float smoothing, float mix, float loss,
                          float *dz, float *dz_mix) {
  float l2 = hant_loss_xent(z, labels_mix, n, k, smoothing, dz_mix);
  for (size_t j = 0; j < (size_t)n * k; j++)
    dz[j] = mix * dz[j] + (1.0f - mix) * dz_mix[j];
  return mix * loss + (1.0f - mix) * l2;
}

int hant_train_classifier(hant_net *net, const hant_dataset *train, const hant_dataset *val,
                          const hant_train_opts *o, hant_train_result *res) {
  const hant_node *out = &net->nodes[hant_net_output(net)];
  int k = out->c * out->h * out->w;
  if (o->epochs <= 0 || o->batch <= 0 || !(o->lr > 0.0f))
    return hant__error(HANT_EINVAL, "training needs positive epochs (%d), batch (%d) and learning rate (%g)",
                       o->epochs, o->batch, (double)o->lr);
  if (k != train->classes)
    return hant__error(HANT_ESHAPE, "network has %d outputs, data has %d classes", k, train->classes);
  if (train->n < o->batch)
    return hant__error(HANT_EINVAL, "%d training images are fewer than one batch of %d", train->n, o->batch);
  memset(res, 0, sizeof(*res));
  size_t per = (size_t)train->c * train->h * train->w;
  int B = o->batch;
  /* Drop the last partial batch: BN statistics of a tiny batch are noise. */
  long per_epoch = train->n / B;
  long total = per_epoch * o->epochs;
  if (o->max_steps > 0 && o->max_steps < total)
    total = o->max_steps;
  float *x = hant_alloc(per * (size_t)B * sizeof(float));
  float *dl = hant_alloc((size_t)k * B * sizeof(float));
  int *order = malloc(sizeof(int) * (size_t)train->n), *lab = malloc(sizeof(int) * (size_t)B);
  /* mixup's room: the unmixed batch, the pairing, the partners' labels and their loss's gradient */
  bool mixing = o->mixup > 0;
  float *xm = mixing ? hant_alloc(per * (size_t)B * sizeof(float)) : NULL;
  float *dl_mix = mixing ? hant_alloc((size_t)k * B * sizeof(float)) : NULL;
  int *partner = mixing ? malloc(sizeof(int) * (size_t)B) : NULL, *lab_mix = mixing ? malloc(sizeof(int) * (size_t)B) : NULL;
  hant_pass p;
  hant_pass_init(&p);
  p.hook = o->pass_hook;
  p.hook_user = o->hook_user;
  hant_rng rng;
  hant_rng_seed(&rng, o->seed);
  hant_optim opt;
  hant_optim_init(&opt, o->optim);
  opt.momentum = o->momentum;
  opt.nesterov = o->nesterov;
  opt.weight_decay = o->weight_decay;
  const char *name = o->name ? o->name : "training";
  int rc = 0;
  double t_start = hant_now_s(), prior_s = 0; /* prior_s: the resumed epochs' seconds, from the checkpoint */
  long step = 0;
  /* the averaging's decay, from the run's length */
  double span = (double)o->ema_horizon * (double)total;
  float ema_decay = span > 1 ? (float)(1.0 - 1.0 / span) : 0.0f;
  float **ema = o->ema_horizon > 0 ? ema_new(net) : NULL;
  if (!x || !dl || !order || !lab || (o->ema_horizon > 0 && !ema) ||
      (mixing && (!xm || !dl_mix || !partner || !lab_mix))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 0; i < train->n; i++)
    order[i] = i;
  hant_train_state ls = {.order = order, .train_n = train->n, .opt = &opt, .ema = ema};
  int first_epoch = 1;
  if (o->checkpoint) {
    bool found;
    hant_train_checkpoint_prints(net, train, &ls);
    if ((rc = hant_train_checkpoint_load(o->checkpoint, net, o, per_epoch, total, &ls, &found)))
      goto out;
    if (found) {
      rng = ls.rng;
      step = ls.step;
      res->train_loss = ls.train_loss;
      res->epochs_resumed = ls.epochs_done;
      prior_s = res->seconds_resumed = ls.seconds;
      first_epoch = ls.epochs_done + 1;
    }
  }
  /* The average replaces the weights once the last epoch is done, before
   * its validation; a resumed run that was already done gets no epoch. */
  bool finished = false;
  for (int ep = first_epoch; ep <= o->epochs && step < total; ep++) {
    hant_rng_shuffle(&rng, order, train->n);
    double t_ep = hant_now_s(), lsum = 0.0;
    long nsteps = 0;
    for (long b = 0; b < per_epoch && step < total; b++, step++) {
      if (o->stop && *o->stop) {
        rc = hant__error(HANT_ECANCELED, "%s canceled at step %ld of %ld", name, step, total);
        goto out;
      }
      hant_dataset_batch(train, order + b * B, B, o->augment, o->pad, &rng, x, lab);
      float mix = 1.0f;
      if (o->mixup > 0)
        mix = mix_batch(x, lab, B, per, o->mixup, &rng, xm, partner, lab_mix);
      if ((o->step_begin && (rc = o->step_begin(o->hook_user))) || (rc = hant_net_forward(net, &p, x, B, true)))
        goto out;
      const float *z = p.out[hant_net_output(net)];
      float l;
      if (o->loss) {
        hant_train_batch tb = {.x = x, .labels = lab, .labels_mix = o->mixup > 0 ? lab_mix : NULL, .mix = mix,
                               .z = z, .n = B, .k = k, .step = step};
        if ((rc = o->loss(o->loss_user, &tb, dl, &l)))
          goto out;
      } else {
        l = hant_loss_xent(z, lab, B, k, o->label_smoothing, dl);
        if (o->mixup > 0)
          l = hant_train_mix_loss(z, lab_mix, B, k, o->label_smoothing, mix, l, dl, dl_mix);
      }
      if (!isfinite(l)) {
        rc = hant__error(HANT_ERANGE, "%s diverged at epoch %d step %ld (loss %g); lower the learning rate", name, ep,
                         step, (double)l);
        goto out;
      }
      hant_net_zero_grad(net);
      if ((rc = hant_net_backward(net, &p, dl, NULL)) || (o->step_end && (rc = o->step_end(o->hook_user))))
        goto out;
      if (o->clip_norm > 0)
        clip_grad_norm(net, o->clip_norm);
      float lr = hant_sched_lr(o->sched, o->lr, step, total, (long)o->warmup_epochs * per_epoch);
      if ((rc = hant_optim_step(&opt, net->params, net->n_params, lr)))
        goto out;
      if (ema)
        ema_update(ema, net, ema_decay, step);
      lsum += l;
      nsteps++;
      if (o->progress && (nsteps % 10 == 0 || b + 1 == per_epoch)) {
        double dt = hant_now_s() - t_ep;
        hant_train_progress pr = {.epoch = ep, .epochs = o->epochs, .step = step + 1, .steps = total,
                                  .loss = (float)(lsum / nsteps), .lr = lr,
                                  .samples_per_s = dt > 0 ? (double)nsteps * B / dt : 0.0, .val_accuracy = -1};
        o->progress(o->user, &pr);
      }
    }
    res->train_loss = nsteps ? lsum / nsteps : 0.0;
    res->val_accuracy = -1.0;
    double ep_s = hant_now_s() - t_ep;
    if (o->checkpoint) {
      ls.epochs_done = ep;
      ls.step = step;
      ls.rng = rng;
      ls.train_loss = res->train_loss;
      ls.seconds = prior_s + (hant_now_s() - t_start);
      if ((rc = hant_train_checkpoint_save(o->checkpoint, net, o, total, &ls)))
        goto out;
    }
    finished = ep == o->epochs || step >= total;
    if (ema && finished)
      ema_apply(ema, net);
    if (val && (rc = hant_eval_classifier(net, val, 256, &res->val_accuracy, &res->val_loss)))
      goto out;
    if (o->progress) {
      hant_train_progress pr = {.epoch = ep, .epochs = o->epochs, .step = step, .steps = total,
                                .loss = (float)res->train_loss, .samples_per_s = ep_s > 0 ? (double)nsteps * B / ep_s : 0,
                                .epoch_done = true, .val_accuracy = res->val_accuracy, .val_loss = res->val_loss,
                                .epoch_s = ep_s};
      o->progress(o->user, &pr);
    }
  }
  if (!finished) {
    res->val_accuracy = -1.0;
    if (ema)
      ema_apply(ema, net);
    if (val && (rc = hant_eval_classifier(net, val, 256, &res->val_accuracy, &res->val_loss)))
      goto out;
  }
out:
  ema_free(ema, net);
  res->steps = step;
  res->seconds = prior_s + (hant_now_s() - t_start);
  res->samples_per_s = res->seconds > 0 ? (double)step * B / res->seconds : 0.0;
  hant_optim_reset_state(net->params, net->n_params);
  hant_pass_free(&p);
  hant_free(x);
  hant_free(dl);
  hant_free(xm);
  hant_free(dl_mix);
  free(order);
  free(lab);
  free(partner);
  free(lab_mix);
  return rc;
}
