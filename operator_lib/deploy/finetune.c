/* SPDX-License-Identifier: MIT */
/* finetune.c: knowledge-distillation fine-tuning (soft teacher targets plus hard labels) on train.c's loop. */
#include "finetune.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "bn_restore.h"
#include "qat.h"
#include "quant.h"

void hant_finetune_opts_default(hant_finetune_opts *o) {
  memset(o, 0, sizeof(*o));
  o->epochs = 1;
  o->batch = 128;
  o->lr = 0.01f;
  o->weight_decay = 5e-4f;
  o->temperature = 4.0f;
  o->alpha = 0.5f;
  o->augment = true;
  o->clip_norm = 0.0f;
  o->retry_clip_norm = 1.0f;
  o->qat_epochs = 1;
  o->qat_lr_scale = 0.1f;
  o->restore_bn = true;
  o->bn_images = 2048;
  o->ema_horizon = 0.4f;
  o->seed = 1;
}

int hant_finetune_auto_epochs(double loss_points) {
  if (!(loss_points > HANT_FINETUNE_AUTO_SHORT_LOSS))
    return HANT_FINETUNE_AUTO_SHORT_EPOCHS;
  if (!(loss_points > HANT_FINETUNE_AUTO_LONG_LOSS))
    return HANT_FINETUNE_AUTO_MID_EPOCHS;
  return loss_points > HANT_FINETUNE_AUTO_LONGEST_LOSS ? HANT_FINETUNE_AUTO_LONGEST_EPOCHS
                                                       : HANT_FINETUNE_AUTO_LONG_EPOCHS;
}

/* The KD objective as a loss hook of the training loop: the teacher, in
 * eval mode, sees the same augmented batch as the student. */
typedef struct kd_loss {
  hant_net *teacher;
  hant_pass pass; /* the teacher's */
  float *g_ce;    /* cross-entropy gradient [batch, k] */
  float *g_mix;   /* with mixup: the partners' labels' cross-entropy gradient [batch, k] */
  float temperature, alpha;
} kd_loss;

static int kd_step(void *user, const hant_train_batch *b, float *dz, float *loss) {
  kd_loss *kd = user;
  int rc = hant_net_forward(kd->teacher, &kd->pass, b->x, b->n, false);
  if (rc)
    return rc;
  const float *zt = kd->pass.out[hant_net_output(kd->teacher)];
  float l_kd = hant_loss_kd(b->z, zt, b->n, b->k, kd->temperature, dz);
  float ce = hant_loss_xent(b->z, b->labels, b->n, b->k, 0.0f, kd->g_ce);
  if (b->labels_mix)
    ce = hant_train_mix_loss(b->z, b->labels_mix, b->n, b->k, 0.0f, b->mix, ce, kd->g_ce, kd->g_mix);
  float l = kd->alpha * l_kd + (1.0f - kd->alpha) * ce;
  /* Said here rather than by the loop: fine-tuning's message names the step only. */
  if (!isfinite(l))
    return hant__error(HANT_ERANGE, "fine-tuning diverged at step %ld (loss %g); lower the learning rate", b->step,
                       (double)l);
  for (size_t j = 0; j < (size_t)b->k * b->n; j++)
    dz[j] = kd->alpha * dz[j] + (1.0f - kd->alpha) * kd->g_ce[j];
  *loss = l;
  return 0;
}

static int finetune_once(hant_net *student, hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
                         const hant_finetune_opts *o, hant_train_result *res);

/* Each step's forward and backward run at the quantised weights; the
 * update is applied to the master weights (straight-through). */
static int qat_begin(void *user) { return hant_qat_weights_fake(user); }

static int qat_end(void *user) {
  hant_qat_weights_master(user);
  return 0;
}

/* The fake quantisation of student at the ranges hant_quantise calibrates
 * for it now, which are those transform --out quantises it with when
 * given the same images. */
static int qat_prepare(hant_net *student, const hant_dataset *train, const hant_dataset *val, hant_qat **qat) {
  hant_quant_opts qo = {.choose = val && val->n > 0};
  hant_qnet *q = NULL;
  int rc = hant_quantise(student, train, qo.choose ? val : NULL, &qo, &q);
  if (!rc)
    rc = hant_qat_new(student, q, qat);
  hant_qnet_destroy(q);
  return rc;
}

/* The student's parameter values (running statistics included), to start
 * again from after a divergence; NULL when out of memory. */
static float *snapshot(const hant_net *n) {
  size_t total = 0;
  for (int i = 0; i < n->n_params; i++)
    total += n->params[i].n;
  float *v = malloc(sizeof(float) * (total ? total : 1));
  for (int i = 0, o = 0; v && i < n->n_params; o += (int)n->params[i].n, i++)
    memcpy(v + o, n->params[i].w, sizeof(float) * n->params[i].n);
  return v;
}

static void restore(hant_net *n, const float *v) {
  for (int i = 0, o = 0; i < n->n_params; o += (int)n->params[i].n, i++)
    memcpy(n->params[i].w, v + o, sizeof(float) * n->params[i].n);
}

/* The checkpoint files of a fine-tuning beside its path (finetune.h). */
#define CKPT_CLIPPED ".clipped"
#define CKPT_QAT ".qat"

/* base followed by suffix, malloc'd; NULL when out of memory. */
static char *path_with(const char *base, const char *suffix) {
  size_t nb = strlen(base), ns = strlen(suffix);
  char *p = malloc(nb + ns + 1);
  if (p) {
    memcpy(p, base, nb);
    memcpy(p + nb, suffix, ns + 1);
  }
  return p;
}

static int remove_checkpoint(const char *path) {
  if (remove(path) == 0 || errno == ENOENT)
    return 0;
  return hant__error(HANT_EIO, "%s: cannot remove the fine-tuning checkpoint: %s", path, strerror(errno));
}

int hant_finetune_checkpoint_remove(const char *checkpoint) {
  if (!checkpoint)
    return 0;
  static const char *const suffixes[] = {"", CKPT_CLIPPED, CKPT_QAT};
  int first = 0;
  for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
    char *p = path_with(checkpoint, suffixes[i]);
    int rc = p ? remove_checkpoint(p) : hant__error(HANT_ENOMEM, "%s: no memory for its name", checkpoint);
    first = first ? first : rc;
    free(p);
  }
  return first;
}

bool hant_finetune_checkpoint_found(const char *checkpoint) {
  if (!checkpoint)
    return false;
  static const char *const suffixes[] = {"", CKPT_CLIPPED, CKPT_QAT};
  bool found = false;
  for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && !found; i++) {
    char *p = path_with(checkpoint, suffixes[i]);
    found = p && access(p, F_OK) == 0;
    free(p);
  }
  return found;
}

int hant_finetune_kd(hant_net *student, hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
                     const hant_finetune_opts *o, hant_train_result *res) {
  if (o->qat) {
    /* the float32 recipe, then the quantisation-aware phase from where it
     * ended (finetune.h); each phase has its own checkpoint, and a resumed
     * call replays the finished float32 phase's end from its file */
    char *qat_path = o->checkpoint ? path_with(o->checkpoint, CKPT_QAT) : NULL;
    if (o->checkpoint && !qat_path)
      return HANT_ENOMEM;
    hant_finetune_opts f = *o;
    f.qat = false;
    int rc = hant_finetune_kd(student, teacher, train, val, &f, res);
    if (rc) {
      free(qat_path);
      return rc;
    }
    hant_finetune_opts q = *o;
    q.epochs = o->qat_epochs > 0 ? o->qat_epochs : 1;
    q.lr = o->lr * (o->qat_lr_scale > 0 ? o->qat_lr_scale : 0.1f);
    q.ema_horizon = 0; /* one short epoch at a tenth of the rate: nothing to average, and never measured */
    q.checkpoint = qat_path;
    hant_train_result r1 = *res;
    rc = finetune_once(student, teacher, train, val, &q, res);
    res->seconds += r1.seconds;
    res->steps += r1.steps;
    res->retried_clipped = r1.retried_clipped;
    res->epochs_resumed += r1.epochs_resumed;
    res->seconds_resumed += r1.seconds_resumed;
    free(qat_path);
    return rc;
  }
  bool retry = !(o->clip_norm > 0) && o->retry_clip_norm > 0;
  char *clipped_path = retry && o->checkpoint ? path_with(o->checkpoint, CKPT_CLIPPED) : NULL;
  float *start = retry ? snapshot(student) : NULL;
  if (retry && (!start || (o->checkpoint && !clipped_path))) {
    free(start);
    free(clipped_path);
    return HANT_ENOMEM;
  }
  memset(res, 0, sizeof(*res));
  /* The clipped run's checkpoint exists only once the unclipped run has
   * diverged: a resumed call need not diverge again to know it. */
  int rc = clipped_path && access(clipped_path, F_OK) == 0 ? HANT_ERANGE
                                                           : finetune_once(student, teacher, train, val, o, res);
  if (rc == HANT_ERANGE && retry) {
    /* Without a clip the restored networks recover more (docs/results.md),
     * but a network with large folded weights can diverge in a few steps:
     * start again from where it was, clipped. The diverged run's
     * checkpoint is removed: its trajectory leads to the divergence. */
    restore(student, start);
    hant_finetune_opts c = *o;
    c.clip_norm = o->retry_clip_norm;
    c.checkpoint = clipped_path;
    rc = o->checkpoint ? remove_checkpoint(o->checkpoint) : 0;
    if (!rc)
      rc = finetune_once(student, teacher, train, val, &c, res);
    res->retried_clipped = true;
  }
  free(start);
  free(clipped_path);
  return rc;
}

static int finetune_once(hant_net *student, hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
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
  /* Batch norms come back for training and are folded again after it,
   * so the student keeps its structure (bn_restore.h). */
  hant_bn_restored br = {0};
  hant_net *trained = student;
  hant_qat *qat = NULL;
  if (o->qat) {
    int rc = qat_prepare(student, train, val, &qat);
    if (rc) {
      memset(res, 0, sizeof(*res));
      return rc;
    }
  } else if (o->restore_bn) {
    int rc = hant_bn_restore(student, train, o->bn_images, &br);
    if (rc) {
      memset(res, 0, sizeof(*res));
      return rc;
    }
    trained = br.net;
  }
  kd_loss kd = {.teacher = teacher, .temperature = o->temperature, .alpha = o->alpha};
  hant_pass_init(&kd.pass);
  kd.g_ce = hant_alloc((size_t)k * o->batch * sizeof(float));
  kd.g_mix = o->mixup > 0 ? hant_alloc((size_t)k * o->batch * sizeof(float)) : NULL;
  if (!kd.g_ce || (o->mixup > 0 && !kd.g_mix)) {
    hant_free(kd.g_ce);
    hant_free(kd.g_mix);
    memset(res, 0, sizeof(*res));
    hant_bn_restored_free(&br);
    hant_qat_destroy(qat);
    return HANT_ENOMEM;
  }
  /* SGD with Nesterov momentum on a cosine schedule without warm-up, and
   * the teacher's augmentation (pad-2 crop + flip). */
  hant_train_opts t;
  hant_train_opts_default(&t);
  t.epochs = o->epochs;
  t.batch = o->batch;
  t.lr = o->lr;
  t.optim = HANT_OPTIM_SGD;
  t.momentum = 0.9f;
  t.nesterov = true;
  t.weight_decay = o->weight_decay;
  t.sched = HANT_SCHED_COSINE;
  t.warmup_epochs = 0;
  t.label_smoothing = 0.0f;
  t.augment = o->augment;
  t.pad = 2;
  t.seed = o->seed;
  t.max_steps = o->max_steps;
  t.clip_norm = o->clip_norm;
  t.ema_horizon = o->ema_horizon;
  t.mixup = o->mixup;
  /* Quantisation-aware training runs the folded network, with no batch
   * norm to steady it, and unclipped it collapsed to chance at full size
   * (docs/results.md, int8): it keeps the clip the folded recipe had. */
  if (qat && !(t.clip_norm > 0))
    t.clip_norm = o->retry_clip_norm > 0 ? o->retry_clip_norm : 1.0f;
  t.progress = o->progress;
  t.user = o->user;
  t.stop = o->stop;
  t.loss = kd_step;
  t.loss_user = &kd;
  t.name = "fine-tuning";
  t.checkpoint = o->checkpoint;
  if (qat) {
    t.pass_hook = hant_qat_hook;
    t.step_begin = qat_begin;
    t.step_end = qat_end;
    t.hook_user = qat;
  }
  int rc = hant_train_classifier(trained, train, val, &t, res);
  /* the master weights, also when a step failed between its two calls */
  hant_qat_destroy(qat);
  res->clip_norm = t.clip_norm;
  /* A canceled run still leaves the student as its last step made it. */
  if (br.net && (!rc || rc == HANT_ECANCELED)) {
    int rc2 = hant_bn_refold(&br, student);
    rc = rc ? rc : rc2;
  }
  hant_bn_restored_free(&br);
  hant_pass_free(&kd.pass);
  hant_free(kd.g_ce);
  hant_free(kd.g_mix);
  return rc;
}
