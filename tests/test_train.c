/* SPDX-License-Identifier: MIT */
/* test_train.c: optimiser steps and schedules against hand-computed values, a short real training run that learns,
 * and a run resumed from its checkpoint. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "dataset.h"
#include "kernels.h"
#include "hant.h"
#include "net.h"
#include "optim.h"
#include "train.h"
#include "test_util.h"

/* ---- optimisers ------------------------------------------------------- */

/* Two parameters: a decayed weight [2] and an undecayed bias [1], plus a
 * frozen statistic [1] that no optimiser may touch. */
typedef struct toy {
  hant_param p[3];
  float w[2], b[1], s[1];
  float gw[2], gb[1], gs[1];
} toy;

static void toy_init(toy *t) {
  memset(t, 0, sizeof(*t));
  t->w[0] = 1.0f, t->w[1] = -2.0f, t->b[0] = 0.5f, t->s[0] = 3.0f;
  t->gw[0] = 0.5f, t->gw[1] = 0.25f, t->gb[0] = -1.0f, t->gs[0] = 100.0f;
  hant_param *p = t->p;
  snprintf(p[0].name, sizeof(p[0].name), "w");
  p[0].n = 2, p[0].w = t->w, p[0].g = t->gw, p[0].trainable = true, p[0].decay = true;
  snprintf(p[1].name, sizeof(p[1].name), "b");
  p[1].n = 1, p[1].w = t->b, p[1].g = t->gb, p[1].trainable = true, p[1].decay = false;
  snprintf(p[2].name, sizeof(p[2].name), "running");
  p[2].n = 1, p[2].w = t->s, p[2].g = t->gs, p[2].trainable = false, p[2].decay = false;
}

#define NEAR(got, want, what) \
  CHECK(t_near((got), (want), 1e-7, 1e-5), "%s: got %.9g, expected %.9g", (what), (double)(got), (double)(want))

static void test_sgd(void) {
  toy t;
  hant_optim o;
  /* Plain momentum 0.9, weight decay 0.1, lr 0.1, same gradient twice.
   * w: g' = g + 0.1 w; m = 0.9 m + g'; w -= 0.1 m.
   *   step 1: g' = [0.6, 0.05], w = [0.94, -2.005]
   *   step 2: g' = [0.594, 0.0495], m = [1.134, 0.0945], w = [0.8266, -2.01445]
   * b (no decay): m = -1, then -1.9: b = 0.6, then 0.79. */
  toy_init(&t);
  hant_optim_init(&o, HANT_OPTIM_SGD);
  CHECK(o.momentum == 0.9f && !o.nesterov && o.step == 0, "SGD defaults");
  o.weight_decay = 0.1f;
  CHECK(hant_optim_step(&o, t.p, 3, 0.1f) == 0, "SGD step 1 failed");
  NEAR(t.w[0], 0.94, "SGD step 1 w[0]");
  NEAR(t.w[1], -2.005, "SGD step 1 w[1]");
  NEAR(t.b[0], 0.6, "SGD step 1 bias (no decay)");
  CHECK(hant_optim_step(&o, t.p, 3, 0.1f) == 0, "SGD step 2 failed");
  NEAR(t.w[0], 0.8266, "SGD step 2 w[0]");
  NEAR(t.w[1], -2.01445, "SGD step 2 w[1]");
  NEAR(t.b[0], 0.79, "SGD step 2 bias");
  CHECK(t.s[0] == 3.0f && t.p[2].m == NULL, "SGD changed a frozen parameter or gave it state");
  CHECK(t.gw[0] == 0.5f && t.gb[0] == -1.0f, "SGD changed the gradients");
  CHECK(o.step == 2, "SGD step count %ld", o.step);
  hant_optim_reset_state(t.p, 3);
  CHECK(t.p[0].m == NULL && t.p[1].m == NULL, "reset_state left state");

  /* Nesterov: d = g' + 0.9 m. Step 1: m = g' = [0.6, 0.05], d = [1.14, 0.095], w = [0.886, -2.0095]. */
  toy_init(&t);
  hant_optim_init(&o, HANT_OPTIM_SGD);
  o.nesterov = true;
  o.weight_decay = 0.1f;
  hant_optim_step(&o, t.p, 3, 0.1f);
  NEAR(t.w[0], 0.886, "Nesterov step 1 w[0]");
  NEAR(t.w[1], -2.0095, "Nesterov step 1 w[1]");
  NEAR(t.b[0], 0.69, "Nesterov step 1 bias"); /* d = -1 - 0.9 = -1.9 */
  hant_optim_reset_state(t.p, 3);
}

static void test_adam(void) {
  toy t;
  hant_optim o;
  /* w[0] = 1 with gradient 0.5 then -1, lr 0.01, betas 0.9/0.999, eps 1e-8.
   * Bias-corrected step 1 is lr * sign(g) exactly: w = 0.99. Step 2:
   * m = -0.055, v = 0.00124975, m^ = -0.28947, v^ = 0.62519: w = 0.99366104. */
  static const struct {
    hant_optim_kind kind;
    float wd;
    double w1, w2;
    const char *what;
  } cases[] = {
      {HANT_OPTIM_ADAM, 0.0f, 0.9900000002, 0.9936610354240566, "Adam"},
      {HANT_OPTIM_ADAM, 0.1f, 0.9900000001666667, 0.9924819887658624, "Adam + L2 0.1"},
      {HANT_OPTIM_ADAMW, 0.1f, 0.9890000002, 0.9916720354238566, "AdamW 0.1"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char what[64];
    toy_init(&t);
    hant_optim_init(&o, cases[i].kind);
    CHECK(o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f, "%s defaults", cases[i].what);
    o.weight_decay = cases[i].wd;
    CHECK(hant_optim_step(&o, t.p, 3, 0.01f) == 0, "%s step 1 failed", cases[i].what);
    snprintf(what, sizeof(what), "%s step 1", cases[i].what);
    NEAR(t.w[0], cases[i].w1, what);
    /* The bias never decays: its first step is exactly lr * sign(g). */
    snprintf(what, sizeof(what), "%s step 1 bias", cases[i].what);
    NEAR(t.b[0], 0.51, what);
    t.gw[0] = -1.0f;
    hant_optim_step(&o, t.p, 3, 0.01f);
    snprintf(what, sizeof(what), "%s step 2", cases[i].what);
    NEAR(t.w[0], cases[i].w2, what);
    CHECK(t.s[0] == 3.0f, "%s changed a frozen parameter", cases[i].what);
    hant_optim_reset_state(t.p, 3);
  }
}

static void test_schedules(void) {
  /* Cosine, base 0.1, 100 steps, 10 warm-up steps. */
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 0, 100, 10), 0.01, "cosine warm-up step 0");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 4, 100, 10), 0.05, "cosine warm-up step 4");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 9, 100, 10), 0.1, "cosine end of warm-up");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 10, 100, 10), 0.1, "cosine peak");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 55, 100, 10), 0.05, "cosine half-way");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 99, 100, 10), 3.0458649045211895e-05, "cosine last step");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 500, 100, 10), 3.0458649045211895e-05, "cosine past the end");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 50, 100, 0), 0.05, "cosine without warm-up, middle");
  NEAR(hant_sched_lr(HANT_SCHED_COSINE, 0.1f, 3, 0, 0), 0.1, "no total steps: base rate");
  /* One-cycle, base 0.1, 100 steps: 30 steps up from 0.004, then down to 4e-7. */
  NEAR(hant_sched_lr(HANT_SCHED_ONECYCLE, 0.1f, 0, 100, 0), 0.004, "onecycle start");
  NEAR(hant_sched_lr(HANT_SCHED_ONECYCLE, 0.1f, 15, 100, 0), 0.052, "onecycle half-way up");
  NEAR(hant_sched_lr(HANT_SCHED_ONECYCLE, 0.1f, 30, 100, 0), 0.1, "onecycle peak");
  NEAR(hant_sched_lr(HANT_SCHED_ONECYCLE, 0.1f, 65, 100, 0), 0.0500002, "onecycle half-way down");
  NEAR(hant_sched_lr(HANT_SCHED_ONECYCLE, 0.1f, 99, 100, 0), 5.07464715475788e-05, "onecycle last step");
  NEAR(hant_sched_lr(HANT_SCHED_CONSTANT, 0.1f, 77, 100, 10), 0.1, "constant");
  for (int s = 0; s < HANT_SCHED_COUNT; s++)
    CHECK(hant_sched_from_name(hant_sched_name((hant_sched)s)) == s, "schedule name %d does not round-trip", s);
  CHECK(hant_sched_from_name("linear") == HANT_SCHED_COUNT, "unknown schedule name accepted");
}

/* ---- a real training run ---------------------------------------------- */

typedef struct epoch_log {
  double loss[16];
  double val_acc[16];
  int epochs;
} epoch_log;

static void on_progress(void *user, const hant_train_progress *p) {
  epoch_log *log = user;
  if (p->epoch_done && p->epoch >= 1 && p->epoch <= 16) {
    log->loss[p->epoch - 1] = p->loss;
    log->val_acc[p->epoch - 1] = p->val_accuracy;
    log->epochs = p->epoch;
  }
}

static void test_training(void) {
  const char *fdir = hant_fmnist_dir();
  if (access(fdir, R_OK) != 0) {
    printf("train: %s not present, training run skipped\n", fdir);
    return;
  }
  hant_dataset train, val;
  int rc = hant_fmnist_load(fdir, HANT_SPLIT_TRAIN, 2000, &train);
  CHECK(rc == 0 && train.n == 2000, "loading 2000 training images: %s", hant_errmsg());
  if (rc)
    return;
  rc = hant_fmnist_load(fdir, HANT_SPLIT_VAL, 1000, &val);
  CHECK(rc == 0 && val.n == 1000, "loading 1000 validation images: %s", hant_errmsg());
  if (rc) {
    hant_dataset_free(&train);
    return;
  }
  hant_net *net = hant_arch_build(hant_arch_preset("tiny"), "tiny");
  CHECK(net != NULL, "building tiny: %s", hant_errmsg());
  hant_rng rng;
  hant_rng_seed(&rng, 1);
  hant_net_init_params(net, &rng);

  double acc0 = 0, loss0 = 0;
  rc = hant_eval_classifier(net, &val, 256, &acc0, &loss0);
  CHECK(rc == 0, "eval before training: %s", hant_errmsg());

  hant_train_opts o;
  hant_train_opts_default(&o);
  o.epochs = 8; /* 31 steps of 64 per epoch: 248 steps */
  o.batch = 64;
  o.augment = false; /* a convergence check, not a generalisation one */
  epoch_log log = {.epochs = 0};
  o.progress = on_progress;
  o.user = &log;
  hant_train_result res;
  /* Tiny GEMMs gain nothing from BLAS threads; one keeps the test fast on a
   * busy machine. */
  hant_threads_set(1);
  double t0 = hant_now_s();
  rc = hant_train_classifier(net, &train, &val, &o, &res);
  double dt = hant_now_s() - t0;
  CHECK(rc == 0, "training failed: %s", hant_errmsg());
  CHECK(res.steps == 8 * (2000 / 64), "took %ld steps, expected %d", res.steps, 8 * (2000 / 64));
  CHECK(log.epochs == 8, "progress reported %d finished epochs", log.epochs);
  printf("train: tiny on 2000 images, %ld steps in %.1f s: loss %.3f (epoch 1) -> %.3f (epoch %d), "
         "val accuracy %.3f -> %.3f\n",
         res.steps, dt, log.loss[0], res.train_loss, log.epochs, acc0, res.val_accuracy);
  CHECK(res.train_loss < 0.7 * log.loss[0], "training loss fell only from %.3f to %.3f", log.loss[0],
        res.train_loss);
  CHECK(res.val_accuracy >= 0.6, "validation accuracy %.3f after training (chance is 0.1)", res.val_accuracy);
  CHECK(res.val_accuracy > acc0 + 0.3, "validation accuracy rose only from %.3f to %.3f", acc0, res.val_accuracy);
  double acc = 0, loss = 0;
  rc = hant_eval_classifier(net, &val, 100, &acc, &loss);
  CHECK(rc == 0 && fabs(acc - res.val_accuracy) < 1e-12 && t_near(loss, res.val_loss, 1e-6, 1e-4),
        "re-evaluation gives accuracy %.4f loss %.4f, training reported %.4f %.4f", acc, loss, res.val_accuracy,
        res.val_loss);
  CHECK(loss < loss0, "validation loss did not fall (%.3f -> %.3f)", loss0, loss);

  /* max_steps stops early; invalid options are refused. */
  o.max_steps = 5;
  o.progress = NULL;
  rc = hant_train_classifier(net, &train, NULL, &o, &res);
  CHECK(rc == 0 && res.steps == 5 && res.val_accuracy == -1.0, "max_steps 5: rc %d, %ld steps, val %.2f", rc,
        res.steps, res.val_accuracy);
  /* Polyak averaging: after one step the average is 0.1 w0 + 0.9 w1 (the
   * decay's warm-up, min(1 - 1/1000, 1/10) for a horizon of 1000 x the
   * one step), batch-norm statistics included; w1 is the same step
   * without averaging. */
  o.max_steps = 1;
  size_t total = 0;
  for (int i = 0; i < net->n_params; i++)
    total += net->params[i].n;
  float *w0 = malloc(total * sizeof(float)), *w1 = malloc(total * sizeof(float));
  CHECK(w0 && w1, "no memory");
  if (w0 && w1) {
    for (int i = 0, o0 = 0; i < net->n_params; o0 += (int)net->params[i].n, i++)
      memcpy(w0 + o0, net->params[i].w, net->params[i].n * sizeof(float));
    rc = hant_train_classifier(net, &train, NULL, &o, &res);
    for (int i = 0, o0 = 0; i < net->n_params; o0 += (int)net->params[i].n, i++) {
      memcpy(w1 + o0, net->params[i].w, net->params[i].n * sizeof(float));
      memcpy(net->params[i].w, w0 + o0, net->params[i].n * sizeof(float));
    }
    o.ema_horizon = 1000;
    rc |= hant_train_classifier(net, &train, NULL, &o, &res);
    o.ema_horizon = 0;
    CHECK(rc == 0, "one step with and without averaging: %s", hant_errmsg());
    int bad = 0, moved = 0, stats = 0;
    for (int i = 0, o0 = 0; i < net->n_params; o0 += (int)net->params[i].n, i++)
      for (size_t j = 0; j < net->params[i].n; j++) {
        float a = w0[o0 + j], b = w1[o0 + j], got = net->params[i].w[j], want = 0.1f * a + 0.9f * b;
        bad += !t_near(got, want, 1e-6, 1e-5);
        moved += a != b;
        stats += !net->params[i].trainable && a != b;
      }
    CHECK(moved > 0 && stats > 0, "the step moved %d values, %d of them batch-norm statistics", moved, stats);
    CHECK(bad == 0, "%d of %zu averaged values are not 0.1 w0 + 0.9 w1", bad, total);
  }
  free(w0);
  free(w1);

  o.batch = 4000;
  rc = hant_train_classifier(net, &train, NULL, &o, &res);
  CHECK(rc == HANT_EINVAL && strstr(hant_errmsg(), "batch"), "a batch larger than the data: %s '%s'",
        hant_err_name(rc), hant_errmsg());
  hant_net_destroy(net);
  hant_dataset_free(&train);
  hant_dataset_free(&val);
}

/* ---- mixup ------------------------------------------------------------ */

/* Beta(a, b) draws have the distribution's mean a / (a + b) and variance
 * ab / ((a + b)^2 (a + b + 1)), below and above a shape of 1 (the two
 * branches of the gamma sampler), and stay in [0, 1]. */
static void test_beta(void) {
  static const float shapes[][2] = {{0.4f, 0.4f}, {1.0f, 1.0f}, {2.0f, 5.0f}, {0.2f, 3.0f}};
  hant_rng rng;
  hant_rng_seed(&rng, 7);
  const int n = 200000;
  for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
    double a = shapes[s][0], b = shapes[s][1], sum = 0, sq = 0;
    bool inside = true;
    for (int i = 0; i < n; i++) {
      double v = hant_rng_beta(&rng, (float)a, (float)b);
      inside = inside && v >= 0 && v <= 1;
      sum += v;
      sq += v * v;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    double want_mean = a / (a + b), want_var = a * b / ((a + b) * (a + b) * (a + b + 1));
    CHECK(inside, "Beta(%g, %g): a draw outside [0, 1]", a, b);
    /* the mean's standard error is sqrt(var / n) <= 0.0012 here */
    CHECK(fabs(mean - want_mean) < 0.005, "Beta(%g, %g): mean %.4f, want %.4f", a, b, mean, want_mean);
    CHECK(fabs(var - want_var) < 0.05 * want_var + 0.001, "Beta(%g, %g): variance %.4f, want %.4f", a, b, var,
          want_var);
  }
}

/* What the loss hook saw of each batch: every image of the toy data is
 * flat at its label's grey level, so a mixed image is flat at
 * mix x its label's level + (1 - mix) x its partner's. */
typedef struct mix_seen {
  int steps, mixed_steps, bad_pixels, bad_pairs;
  double min_mix, max_mix;
} mix_seen;

static int mix_probe(void *user, const hant_train_batch *b, float *dz, float *loss) {
  mix_seen *m = user;
  m->steps++;
  int have[10] = {0};
  for (int i = 0; i < b->n; i++) {
    int partner = b->labels_mix ? b->labels_mix[i] : b->labels[i];
    float want = (b->mix * (float)b->labels[i] + (1.0f - b->mix) * (float)partner) * 25.0f / 255.0f;
    for (int j = 0; j < 16; j++)
      m->bad_pixels += fabsf(b->x[i * 16 + j] - want) > 1e-5f;
    have[b->labels[i]]++;
    have[partner]--;
  }
  for (int c = 0; c < 10; c++) /* the partners are a pairing of the batch's own images */
    m->bad_pairs += have[c] != 0;
  if (b->labels_mix) {
    m->mixed_steps++;
    m->min_mix = fmin(m->min_mix, b->mix);
    m->max_mix = fmax(m->max_mix, b->mix);
  }
  *loss = hant_loss_xent(b->z, b->labels, b->n, b->k, 0.0f, dz);
  return 0;
}

static void test_mixup(void) {
  /* 64 flat 4x4 images, image i at grey level 25 x (i mod 10) */
  hant_dataset ds = {.n = 64, .c = 1, .h = 4, .w = 4, .classes = 10};
  ds.images = malloc(64 * 16);
  ds.labels = malloc(64);
  for (int i = 0; i < 64; i++) {
    ds.labels[i] = (uint8_t)(i % 10);
    memset(ds.images + i * 16, 25 * (i % 10), 16);
  }
  hant_rng rng;
  hant_rng_seed(&rng, 3);
  for (int with = 0; with < 2; with++) {
    hant_net *net = hant_arch_build("input 1x4x4; conv 4; gap; linear 10", "mix");
    hant_net_init_params(net, &rng);
    hant_train_opts o;
    hant_train_opts_default(&o);
    o.epochs = 5;
    o.batch = 16;
    o.lr = 0.01f;
    o.augment = false;
    o.mixup = with ? 0.4f : 0.0f;
    mix_seen m = {.min_mix = 2, .max_mix = -1};
    o.loss = mix_probe;
    o.loss_user = &m;
    hant_train_result res;
    CHECK(hant_train_classifier(net, &ds, NULL, &o, &res) == 0, "training with mixup %g: %s", (double)o.mixup,
          hant_errmsg());
    CHECK(m.steps == 20 && m.bad_pixels == 0 && m.bad_pairs == 0,
          "mixup %g: %d steps, %d pixels not the mix of their image and its partner, %d batches whose partners "
          "are not their own images", (double)o.mixup, m.steps, m.bad_pixels, m.bad_pairs);
    if (with)
      CHECK(m.mixed_steps == 20 && m.min_mix >= 0 && m.max_mix <= 1 && m.max_mix - m.min_mix > 0.3,
            "mixup: %d of 20 steps mixed, proportions %.3f-%.3f", m.mixed_steps, m.min_mix, m.max_mix);
    else
      CHECK(m.mixed_steps == 0, "without mixup %d steps saw mixed labels", m.mixed_steps);
    hant_net_destroy(net);
  }
  hant_dataset_free(&ds);

  /* The mixed loss and its gradient are the mixture of the two labels'. */
  float z[2 * 3] = {1, 2, 0.5f, -1, 0, 3};
  int la[2] = {0, 2}, lb[2] = {1, 1};
  float da[6], db[6], dz[6], scratch[6];
  float l_a = hant_loss_xent(z, la, 2, 3, 0.1f, da), l_b = hant_loss_xent(z, lb, 2, 3, 0.1f, db);
  memcpy(dz, da, sizeof(dz));
  float l = hant_train_mix_loss(z, lb, 2, 3, 0.1f, 0.3f, l_a, dz, scratch);
  NEAR(l, 0.3f * l_a + 0.7f * l_b, "mixed loss");
  for (int j = 0; j < 6; j++)
    NEAR(dz[j], 0.3f * da[j] + 0.7f * db[j], "mixed gradient");
}

/* ---- checkpoints -------------------------------------------------------- */

/* Sets *stop at the end of epoch at_epoch, as a session that ends there;
 * counts every report. */
typedef struct stop_at {
  int stop, at_epoch, reports, epochs_reported, last_epoch_done;
} stop_at;

static void stop_progress(void *user, const hant_train_progress *p) {
  stop_at *s = user;
  s->reports++;
  if (p->epoch_done) {
    s->epochs_reported++;
    s->last_epoch_done = p->epoch;
    if (p->epoch == s->at_epoch)
      s->stop = 1;
  }
}

static size_t param_total(const hant_net *net) {
  size_t total = 0;
  for (int i = 0; i < net->n_params; i++)
    total += net->params[i].n;
  return total;
}

static void params_get(const hant_net *net, float *v) {
  for (int i = 0; i < net->n_params; v += net->params[i].n, i++)
    memcpy(v, net->params[i].w, net->params[i].n * sizeof(float));
}

static void params_set(hant_net *net, const float *v) {
  for (int i = 0; i < net->n_params; v += net->params[i].n, i++)
    memcpy(net->params[i].w, v, net->params[i].n * sizeof(float));
}

/* Bit for bit, not to a tolerance: a resumed run must be the same run. */
static bool params_same(const hant_net *net, const float *v) {
  for (int i = 0; i < net->n_params; v += net->params[i].n, i++)
    if (memcmp(net->params[i].w, v, net->params[i].n * sizeof(float)))
      return false;
  return true;
}

static bool file_get(const char *path, unsigned char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return false;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  *data = malloc(n > 0 ? (size_t)n : 1);
  *len = *data && n >= 0 ? fread(*data, 1, (size_t)n, f) : 0;
  fclose(f);
  return *data && *len == (size_t)n;
}

static bool file_put(const char *path, const unsigned char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return false;
  bool ok = fwrite(data, 1, len, f) == len;
  return fclose(f) == 0 && ok;
}

/* A toy data set of n images 1x8x8: random pixels, brighter in the
 * quarter its label (of 4) names, so there is something to learn. */
static void toy_images(hant_dataset *ds, int n, uint64_t seed) {
  *ds = (hant_dataset){.n = n, .c = 1, .h = 8, .w = 8, .classes = 4};
  ds->images = malloc((size_t)n * 64);
  ds->labels = malloc((size_t)n);
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  for (int i = 0; i < n; i++) {
    int label = (int)hant_rng_below(&rng, 4);
    ds->labels[i] = (uint8_t)label;
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        int quarter = (y / 4) * 2 + x / 4;
        ds->images[i * 64 + y * 8 + x] = (uint8_t)(hant_rng_below(&rng, 128) + (quarter == label ? 120 : 0));
      }
  }
}

/* A run stopped after its first epoch and resumed from its checkpoint ends
 * with the uninterrupted run's weights, bit for bit, with augmentation,
 * mixup, averaging and momentum all drawing on or carrying state; a
 * finished run's checkpoint makes no steps; another run's, a damaged and a
 * truncated one are refused, naming the file. */
static void test_checkpoint(void) {
  hant_dataset train, val;
  toy_images(&train, 160, 11);
  toy_images(&val, 48, 12);
  hant_net *net = hant_arch_build("input 1x8x8; conv 4; res 8 s=2; gap; linear 4", "ckpt");
  CHECK(net != NULL, "building the checkpoint test's network: %s", hant_errmsg());
  if (!net)
    return;
  hant_rng rng;
  hant_rng_seed(&rng, 5);
  hant_net_init_params(net, &rng);
  size_t total = param_total(net);
  float *w0 = malloc(total * sizeof(float)), *wa = malloc(total * sizeof(float));
  char dir[] = "/tmp/hant-ckpt-XXXXXX";
  CHECK(w0 && wa && mkdtemp(dir), "no memory or no temporary directory");
  params_get(net, w0);

  hant_train_opts o;
  hant_train_opts_default(&o); /* SGD, Nesterov momentum 0.9, cosine with warm-up */
  o.epochs = 3;
  o.batch = 32; /* 5 steps an epoch */
  o.lr = 0.05f;
  o.augment = true;
  o.pad = 2;
  o.mixup = 0.4f;
  o.ema_horizon = 0.4f;
  hant_train_result ra, rb;
  int rc = hant_train_classifier(net, &train, &val, &o, &ra);
  CHECK(rc == 0 && ra.steps == 15, "the uninterrupted run: rc %d, %ld steps: %s", rc, ra.steps, hant_errmsg());
  params_get(net, wa);
  CHECK(!params_same(net, w0), "the uninterrupted run did not change the weights");

  char path[64];
  snprintf(path, sizeof(path), "%s/run.ckpt", dir);
  params_set(net, w0);
  stop_at st = {.at_epoch = 1};
  o.checkpoint = path;
  o.stop = &st.stop;
  o.progress = stop_progress;
  o.user = &st;
  rc = hant_train_classifier(net, &train, &val, &o, &rb);
  CHECK(rc == HANT_ECANCELED && rb.steps == 5 && access(path, R_OK) == 0,
        "stopped after epoch 1: rc %d after %ld steps, checkpoint %s", rc, rb.steps,
        access(path, R_OK) == 0 ? "written" : "missing");
  /* resumed as a new session would: the network built again as the run
   * began, every later value of it to come from the file; the network as
   * the stop left it is not where the run began, and is refused */
  st = (stop_at){0};
  rc = hant_train_classifier(net, &train, &val, &o, &rb);
  CHECK(rc == HANT_EINVAL && strstr(hant_errmsg(), "start weights") && st.reports == 0,
        "resuming from other start weights: %s '%s'", hant_err_name(rc), hant_errmsg());
  params_set(net, w0);
  rc = hant_train_classifier(net, &train, &val, &o, &rb);
  CHECK(rc == 0, "resuming after epoch 1: %s", hant_errmsg());
  CHECK(params_same(net, wa), "the resumed run's weights differ from the uninterrupted run's");
  CHECK(rb.train_loss == ra.train_loss && rb.val_accuracy == ra.val_accuracy && rb.val_loss == ra.val_loss &&
            rb.steps == ra.steps,
        "resumed: loss %.9g, val %.9g / %.9g, %ld steps; uninterrupted: %.9g, %.9g / %.9g, %ld steps",
        rb.train_loss, rb.val_accuracy, rb.val_loss, rb.steps, ra.train_loss, ra.val_accuracy, ra.val_loss,
        ra.steps);
  CHECK(st.epochs_reported == 2 && st.last_epoch_done == 3, "the resumed run reported %d epochs, the last %d",
        st.epochs_reported, st.last_epoch_done);
  /* its time counts the first call's epoch too */
  CHECK(rb.epochs_resumed == 1 && rb.seconds_resumed > 0 && rb.seconds > rb.seconds_resumed,
        "resumed after %d epochs, %g s of %g s before resuming", rb.epochs_resumed, rb.seconds_resumed, rb.seconds);

  /* A finished run's checkpoint: no step, only the average and validation,
   * whatever the network held before. */
  params_set(net, w0);
  st.reports = 0;
  rc = hant_train_classifier(net, &train, &val, &o, &rb);
  CHECK(rc == 0 && st.reports == 0 && rb.steps == ra.steps && params_same(net, wa) &&
            rb.train_loss == ra.train_loss && rb.val_accuracy == ra.val_accuracy && rb.epochs_resumed == 3 &&
            rb.seconds >= rb.seconds_resumed && rb.seconds_resumed > 0,
        "resuming a finished run: rc %d, %d progress reports, %ld steps, weights %s", rc, st.reports, rb.steps,
        params_same(net, wa) ? "the same" : "different");

  unsigned char *data = NULL;
  size_t len = 0;
  CHECK(file_get(path, &data, &len) && len > 100, "reading the checkpoint back");
  /* another run's checkpoint: refused, and left as it was */
  hant_train_opts other = o;
  other.lr = 0.1f;
  rc = hant_train_classifier(net, &train, &val, &other, &rb);
  CHECK(rc == HANT_EINVAL && strstr(hant_errmsg(), path) && strstr(hant_errmsg(), "lr"),
        "a checkpoint of a run at another lr: %s '%s'", hant_err_name(rc), hant_errmsg());
  unsigned char *after = NULL;
  size_t after_len = 0;
  CHECK(file_get(path, &after, &after_len) && after_len == len && !memcmp(after, data, len),
        "a refused checkpoint was changed");
  free(after);
  other = o;
  other.epochs = 4;
  rc = hant_train_classifier(net, &train, &val, &other, &rb);
  CHECK(rc == HANT_EINVAL && strstr(hant_errmsg(), "epochs"), "a checkpoint of a 3-epoch run for 4 epochs: %s '%s'",
        hant_err_name(rc), hant_errmsg());
  /* the same number of other images (one pixel, one label), or the same
   * images normalised otherwise: another run */
  params_set(net, w0);
  for (int k = 0; k < 3; k++) {
    hant_dataset changed = train;
    size_t px = (size_t)train.n * (size_t)train.c * (size_t)train.h * (size_t)train.w;
    changed.images = malloc(px);
    changed.labels = malloc((size_t)train.n);
    if (!changed.images || !changed.labels)
      break;
    memcpy(changed.images, train.images, px);
    memcpy(changed.labels, train.labels, (size_t)train.n);
    if (k == 0)
      changed.images[px / 2] ^= 1;
    else if (k == 1)
      changed.labels[7] = (uint8_t)((changed.labels[7] + 1) % 4);
    else
      changed.std[0] *= 1.01f, changed.normalised = true;
    rc = hant_train_classifier(net, &changed, &val, &o, &rb);
    CHECK(rc == HANT_EINVAL && strstr(hant_errmsg(), "training images"), "other images (%s): %s '%s'",
          k == 0 ? "a pixel" : k == 1 ? "a label" : "normalisation", hant_err_name(rc), hant_errmsg());
    free(changed.images);
    free(changed.labels);
  }

  /* one byte flipped, in the state and in the header: damage, not another run */
  char bad[64];
  snprintf(bad, sizeof(bad), "%s/bad.ckpt", dir);
  size_t at[2] = {len / 2, 16};
  for (int i = 0; i < 2 && data; i++) {
    data[at[i]] ^= 0x20;
    CHECK(file_put(bad, data, len), "writing %s", bad);
    data[at[i]] ^= 0x20;
    other = o;
    other.checkpoint = bad;
    rc = hant_train_classifier(net, &train, &val, &other, &rb);
    CHECK(rc == HANT_EIO && strstr(hant_errmsg(), bad), "byte %zu of %zu flipped: %s '%s'", at[i], len,
          hant_err_name(rc), hant_errmsg());
  }
  /* truncated: a little and nearly all of it */
  size_t keep[2] = {len - 3, 10};
  for (int i = 0; i < 2 && data; i++) {
    CHECK(file_put(bad, data, keep[i]), "writing %s", bad);
    other = o;
    other.checkpoint = bad;
    rc = hant_train_classifier(net, &train, &val, &other, &rb);
    CHECK(rc == HANT_EIO && strstr(hant_errmsg(), bad), "truncated to %zu of %zu bytes: %s '%s'", keep[i], len,
          hant_err_name(rc), hant_errmsg());
  }
  free(data);
  /* a checkpoint that could never be written is refused before training */
  char nowhere[96];
  snprintf(nowhere, sizeof(nowhere), "%s/missing/run.ckpt", dir);
  other = o;
  other.checkpoint = nowhere;
  st.reports = 0;
  rc = hant_train_classifier(net, &train, &val, &other, &rb);
  CHECK(rc == HANT_EIO && st.reports == 0 && strstr(hant_errmsg(), nowhere),
        "a checkpoint in a missing directory: %s after %d reports '%s'", hant_err_name(rc), st.reports,
        hant_errmsg());

  remove(bad);
  remove(path);
  rmdir(dir);
  free(w0);
  free(wa);
  hant_net_destroy(net);
  hant_dataset_free(&train);
  hant_dataset_free(&val);
}

int main(void) {
  test_sgd();
  test_beta();
  test_mixup();
  test_adam();
  test_schedules();
  test_training();
  test_checkpoint();
  return test_summary("train");
}
