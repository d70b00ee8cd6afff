/* SPDX-License-Identifier: MIT */
/* test_finetune.c: knowledge-distillation fine-tuning raises a student's validation accuracy and its agreement
 * with the teacher, and resumes from its checkpoints bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "finetune.h"
#include "kernels.h"
#include "hant.h"
#include "test_util.h"

/* Fraction of val images where student and teacher predict the same class. */
static double agreement(hant_net *s, hant_net *t, const hant_dataset *val) {
  hant_pass ps, pt;
  hant_pass_init(&ps);
  hant_pass_init(&pt);
  float *x = malloc(sizeof(float) * 784 * (size_t)val->n);
  int *lab = malloc(sizeof(int) * (size_t)val->n), *idx = malloc(sizeof(int) * (size_t)val->n);
  for (int i = 0; i < val->n; i++)
    idx[i] = i;
  hant_dataset_batch(val, idx, val->n, false, 0, NULL, x, lab);
  HANT_ASSERT(hant_net_forward(s, &ps, x, val->n, false) == 0 && hant_net_forward(t, &pt, x, val->n, false) == 0);
  const float *zs = ps.out[hant_net_output(s)], *zt = pt.out[hant_net_output(t)];
  int same = 0;
  for (int i = 0; i < val->n; i++) {
    int bs = 0, bt = 0;
    for (int j = 1; j < 10; j++) {
      bs = zs[i * 10 + j] > zs[i * 10 + bs] ? j : bs;
      bt = zt[i * 10 + j] > zt[i * 10 + bt] ? j : bt;
    }
    same += bs == bt;
  }
  hant_pass_free(&ps);
  hant_pass_free(&pt);
  free(x);
  free(lab);
  free(idx);
  return (double)same / val->n;
}

/* The auto schedule: the further a network starts from its teacher, the longer it is fine-tuned. */
static void check_auto_epochs(void) {
  static const struct {
    double loss;
    int epochs;
  } cases[] = {{-0.5, HANT_FINETUNE_AUTO_SHORT_EPOCHS},
               {0, HANT_FINETUNE_AUTO_SHORT_EPOCHS},
               {HANT_FINETUNE_AUTO_SHORT_LOSS, HANT_FINETUNE_AUTO_SHORT_EPOCHS},
               {HANT_FINETUNE_AUTO_SHORT_LOSS + 0.01, HANT_FINETUNE_AUTO_MID_EPOCHS},
               {HANT_FINETUNE_AUTO_LONG_LOSS, HANT_FINETUNE_AUTO_MID_EPOCHS},
               {HANT_FINETUNE_AUTO_LONG_LOSS + 0.01, HANT_FINETUNE_AUTO_LONG_EPOCHS},
               {HANT_FINETUNE_AUTO_LONGEST_LOSS, HANT_FINETUNE_AUTO_LONG_EPOCHS},
               {HANT_FINETUNE_AUTO_LONGEST_LOSS + 0.01, HANT_FINETUNE_AUTO_LONGEST_EPOCHS},
               {90, HANT_FINETUNE_AUTO_LONGEST_EPOCHS},
               {NAN, HANT_FINETUNE_AUTO_SHORT_EPOCHS}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    CHECK(hant_finetune_auto_epochs(cases[i].loss) == cases[i].epochs, "auto epochs for a loss of %g: %d, want %d",
          cases[i].loss, hant_finetune_auto_epochs(cases[i].loss), cases[i].epochs);
  CHECK(HANT_FINETUNE_AUTO_SHORT_EPOCHS < HANT_FINETUNE_AUTO_MID_EPOCHS &&
            HANT_FINETUNE_AUTO_MID_EPOCHS < HANT_FINETUNE_AUTO_LONG_EPOCHS &&
            HANT_FINETUNE_AUTO_LONG_EPOCHS < HANT_FINETUNE_AUTO_LONGEST_EPOCHS &&
            HANT_FINETUNE_AUTO_SHORT_LOSS < HANT_FINETUNE_AUTO_LONG_LOSS &&
            HANT_FINETUNE_AUTO_LONG_LOSS < HANT_FINETUNE_AUTO_LONGEST_LOSS,
        "the schedule grows with the loss");
}

/* Stops fine-tuning at its first step report after `after` finished
 * epochs (the float32 phase's one, then the quantisation-aware one's). */
typedef struct stop_in_phase {
  int stop, after, epochs_done;
} stop_in_phase;

static void stop_progress(void *user, const hant_train_progress *p) {
  stop_in_phase *s = user;
  if (p->epoch_done)
    s->epochs_done++;
  else if (s->after >= 0 && s->epochs_done == s->after)
    s->stop = 1;
}

static hant_net *resume_student(void) {
  hant_net *s = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10", "resume");
  hant_rng rng;
  hant_rng_seed(&rng, 9);
  hant_net_init_params(s, &rng);
  HANT_ASSERT(hant_net_fold_bn(s) == 0); /* as assembled: batch norms are restored for the float32 phase */
  return s;
}

static bool same_params(const hant_net *a, const hant_net *b) {
  for (int i = 0; i < a->n_params; i++)
    if (a->params[i].n != b->params[i].n || memcmp(a->params[i].w, b->params[i].w, a->params[i].n * sizeof(float)))
      return false;
  return a->n_params == b->n_params;
}

static bool exists(const char *dir, const char *name) {
  char p[128];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

/* Quantisation-aware fine-tuning (a float32 epoch with batch norm
 * restored, then a quantisation-aware one) stopped inside its second
 * phase and resumed from its checkpoints ends with the student of a run
 * never stopped, bit for bit; so does a call after both phases finished;
 * and removing the checkpoint leaves none of its files. */
static void check_resume(hant_net *teacher, const hant_dataset *tr, const hant_dataset *va) {
  hant_finetune_opts fo;
  hant_finetune_opts_default(&fo);
  fo.epochs = 1;
  fo.batch = 64;
  fo.lr = 0.05f;
  fo.qat = true;
  fo.qat_epochs = 1;
  fo.mixup = 0.4f;
  hant_net *a = resume_student(), *b = resume_student();
  hant_train_result ra, rb;
  int rc = hant_finetune_kd(a, teacher, tr, va, &fo, &ra);
  CHECK(rc == 0, "uninterrupted quantisation-aware fine-tuning: %s", hant_errmsg());
  CHECK(!same_params(a, b), "fine-tuning did not change the student");

  char dir[] = "/tmp/hant-ft-ckpt-XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL, "no temporary directory");
  snprintf(path, sizeof(path), "%s/ft", dir);
  stop_in_phase st = {.after = 1};
  fo.checkpoint = path;
  fo.stop = &st.stop;
  fo.progress = stop_progress;
  fo.user = &st;
  rc = hant_finetune_kd(b, teacher, tr, va, &fo, &rb);
  CHECK(rc == HANT_ECANCELED && exists(dir, "ft") && !exists(dir, "ft.qat"),
        "stopped in the quantisation-aware phase: %s, checkpoints %s and %s", hant_err_name(rc),
        exists(dir, "ft") ? "ft" : "-", exists(dir, "ft.qat") ? "ft.qat" : "-");
  /* a new session: the student as assembled, the float32 phase replayed
   * from its checkpoint, the quantisation-aware one run */
  hant_net_destroy(b);
  b = resume_student();
  st = (stop_in_phase){.after = -1};
  rc = hant_finetune_kd(b, teacher, tr, va, &fo, &rb);
  CHECK(rc == 0 && exists(dir, "ft.qat"), "resumed fine-tuning: %s", hant_errmsg());
  CHECK(st.epochs_done == 1, "the resumed fine-tuning ran %d epochs, only the quantisation-aware one is due",
        st.epochs_done);
  CHECK(same_params(a, b), "the resumed student differs from the uninterrupted one");
  CHECK(rb.train_loss == ra.train_loss && rb.val_accuracy == ra.val_accuracy && rb.steps == ra.steps &&
            rb.retried_clipped == ra.retried_clipped,
        "resumed: loss %.9g, val %.9g, %ld steps; uninterrupted: %.9g, %.9g, %ld steps", rb.train_loss,
        rb.val_accuracy, rb.steps, ra.train_loss, ra.val_accuracy, ra.steps);
  /* both phases finished: nothing trains, the same student comes out */
  hant_net_destroy(b);
  b = resume_student();
  st = (stop_in_phase){.after = -1};
  rc = hant_finetune_kd(b, teacher, tr, va, &fo, &rb);
  CHECK(rc == 0 && st.epochs_done == 0 && same_params(a, b) && rb.steps == ra.steps &&
            rb.val_accuracy == ra.val_accuracy,
        "fine-tuning resumed after both phases: rc %d, %d epochs run, student %s", rc, st.epochs_done,
        same_params(a, b) ? "the same" : "different");

  CHECK(hant_finetune_checkpoint_remove(path) == 0 && !exists(dir, "ft") && !exists(dir, "ft.qat") &&
            !exists(dir, "ft.clipped"),
        "removing the checkpoint: %s", hant_errmsg());
  CHECK(hant_finetune_checkpoint_remove(path) == 0 && hant_finetune_checkpoint_remove(NULL) == 0,
        "removing checkpoints that are not there: %s", hant_errmsg());
  CHECK(rmdir(dir) == 0, "%s holds files fine-tuning left", dir);
  hant_net_destroy(a);
  hant_net_destroy(b);
}

/* A folded student with huge weights that diverges unclipped (as in
 * main's divergence check below). */
static hant_net *diverging_student(void) {
  hant_net *s = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10", "diverging");
  hant_rng rng;
  hant_rng_seed(&rng, 13);
  hant_net_init_params(s, &rng);
  for (int i = 0; i < s->n_params; i++)
    if (strstr(s->params[i].name, "running_var"))
      for (size_t j = 0; j < s->params[i].n; j++)
        s->params[i].w[j] = 1e-6f;
  HANT_ASSERT(hant_net_fold_bn(s) == 0);
  for (size_t j = 0; j < s->params[0].n; j++)
    s->params[0].w[j] *= 1e12f;
  return s;
}

/* After a divergence the clipped second run checkpoints on its own file
 * and the diverged run's is removed; a resumed call goes straight to the
 * second run and ends with the same student. */
static void check_resume_clipped(hant_net *teacher, const hant_dataset *tr) {
  char dir[] = "/tmp/hant-ft-clip-XXXXXX", path[64];
  CHECK(mkdtemp(dir) != NULL, "no temporary directory");
  snprintf(path, sizeof(path), "%s/ft", dir);
  hant_finetune_opts fo;
  hant_finetune_opts_default(&fo);
  fo.restore_bn = false;
  fo.checkpoint = path;
  stop_in_phase st = {.after = -1};
  fo.progress = stop_progress;
  fo.user = &st;
  hant_net *a = diverging_student(), *b = diverging_student();
  hant_train_result ra, rb;
  int rc = hant_finetune_kd(a, teacher, tr, NULL, &fo, &ra);
  CHECK(rc == 0 && ra.retried_clipped && !exists(dir, "ft") && exists(dir, "ft.clipped"),
        "the diverging run with a checkpoint: %s, retried %d, checkpoints %s and %s", hant_err_name(rc),
        (int)ra.retried_clipped, exists(dir, "ft") ? "ft" : "-", exists(dir, "ft.clipped") ? "ft.clipped" : "-");
  st = (stop_in_phase){.after = -1};
  rc = hant_finetune_kd(b, teacher, tr, NULL, &fo, &rb);
  CHECK(rc == 0 && rb.retried_clipped && st.epochs_done == 0 && same_params(a, b) && rb.steps == ra.steps &&
            rb.train_loss == ra.train_loss,
        "resumed after the clipped run: %s, retried %d, %d epochs run, student %s", hant_err_name(rc),
        (int)rb.retried_clipped, st.epochs_done, same_params(a, b) ? "the same" : "different");
  CHECK(hant_finetune_checkpoint_remove(path) == 0 && rmdir(dir) == 0, "removing %s: %s", path, hant_errmsg());
  hant_net_destroy(a);
  hant_net_destroy(b);
}

int main(void) {
  hant_threads_set(1);
  check_auto_epochs();
  hant_dataset tr, va;
  if (hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TRAIN, 3000, &tr) ||
      hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_VAL, 1000, &va)) {
    CHECK(0, "Fashion-MNIST is needed: %s", hant_errmsg());
    return test_summary("test_finetune");
  }
  hant_net *teacher = hant_arch_build(hant_arch_preset("tiny"), "teacher");
  hant_rng rng;
  hant_rng_seed(&rng, 1);
  hant_net_init_params(teacher, &rng);
  hant_train_opts to;
  hant_train_opts_default(&to);
  to.epochs = 2;
  to.batch = 64;
  to.lr = 0.05f;
  hant_train_result tres;
  CHECK(hant_train_classifier(teacher, &tr, &va, &to, &tres) == 0, "teacher training: %s", hant_errmsg());

  /* A narrower student, started from scratch, then fine-tuned with KD. */
  hant_net *student = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10", "student");
  hant_net_init_params(student, &rng);
  double acc0, loss0, acc1, loss1;
  hant_eval_classifier(student, &va, 256, &acc0, &loss0);
  double agree0 = agreement(student, teacher, &va);
  hant_finetune_opts fo;
  hant_finetune_opts_default(&fo);
  fo.epochs = 2;
  fo.batch = 64;
  fo.lr = 0.05f;
  hant_train_result res;
  int rc = hant_finetune_kd(student, teacher, &tr, &va, &fo, &res);
  CHECK(rc == 0, "fine-tuning failed: %s", hant_errmsg());
  hant_eval_classifier(student, &va, 256, &acc1, &loss1);
  double agree1 = agreement(student, teacher, &va);
  CHECK(acc1 > acc0 + 0.15, "validation accuracy %.3f -> %.3f: fine-tuning did not help", acc0, acc1);
  CHECK(agree1 > agree0 + 0.2, "agreement with the teacher %.3f -> %.3f", agree0, agree1);
  CHECK(res.val_accuracy == acc1, "reported validation accuracy %.4f differs from a fresh evaluation %.4f",
        res.val_accuracy, acc1);
  printf("teacher val %.3f; student val %.3f -> %.3f, agreement %.3f -> %.3f\n", tres.val_accuracy, acc0, acc1,
         agree0, agree1);

  /* A folded student whose batch norms had small running variances has
   * large weights, like the library's folded random-init candidates: the
   * default settings still fine-tune it without diverging. */
  {
    hant_net *big = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10", "big");
    hant_net_init_params(big, &rng);
    for (int i = 0; i < big->n_params; i++)
      if (strstr(big->params[i].name, "running_var"))
        for (size_t j = 0; j < big->params[i].n; j++)
          big->params[i].w[j] = 1e-4f;
    HANT_ASSERT(hant_net_fold_bn(big) == 0);
    hant_finetune_opts bo;
    hant_finetune_opts_default(&bo);
    hant_train_result br;
    double b0, bl0, b1, bl1;
    hant_eval_classifier(big, &va, 256, &b0, &bl0);
    rc = hant_finetune_kd(big, teacher, &tr, NULL, &bo, &br);
    CHECK(rc == 0, "fine-tuning a large-weight student failed: %s", hant_errmsg());
    hant_eval_classifier(big, &va, 256, &b1, &bl1);
    CHECK(isfinite(bl1) && b1 > b0, "large-weight student: val accuracy %.3f -> %.3f, loss %g", b0, b1, bl1);
    hant_net_destroy(big);
  }
  /* A divergence without the clip (a folded student with large weights
   * at a high learning rate: the loss leaves the floats) is run again from
   * the student as it was, clipped; without the second run it is an
   * error. */
  {
    hant_train_result dr[2];
    int drc[2];
    double acc[2];
    for (int pass = 0; pass < 2; pass++) {
      hant_net *big = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10", "big");
      hant_net_init_params(big, &rng);
      for (int i = 0; i < big->n_params; i++)
        if (strstr(big->params[i].name, "running_var"))
          for (size_t j = 0; j < big->params[i].n; j++)
            big->params[i].w[j] = 1e-6f;
      HANT_ASSERT(hant_net_fold_bn(big) == 0);
      for (size_t j = 0; j < big->params[0].n; j++) /* the first convolution's weights, far out */
        big->params[0].w[j] *= 1e12f;
      hant_finetune_opts bo;
      hant_finetune_opts_default(&bo);
      bo.retry_clip_norm = pass ? 1.0f : 0.0f;
      bo.restore_bn = false; /* a restored batch norm would take the scale back out */
      drc[pass] = hant_finetune_kd(big, teacher, &tr, NULL, &bo, &dr[pass]);
      double l;
      hant_eval_classifier(big, &va, 256, &acc[pass], &l);
      hant_net_destroy(big);
    }
    CHECK(drc[0] == HANT_ERANGE, "unclipped, no second run: rc %d, want HANT_ERANGE", drc[0]);
    CHECK(drc[1] == 0 && dr[1].retried_clipped && dr[1].clip_norm == 1.0f && isfinite(acc[1]),
          "with the second run: rc %d, retried %d, clip %g, val accuracy %.3f", drc[1], (int)dr[1].retried_clipped,
          (double)dr[1].clip_norm, acc[1]);
  }
  /* The clip bounds the step: one SGD step with Nesterov momentum 0.9 and
   * no weight decay moves the weights by lr x 1.9 x the clipped norm. */
  {
    hant_net *one = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10", "one");
    hant_net_init_params(one, &rng);
    size_t total = 0;
    for (int i = 0; i < one->n_params; i++)
      total += one->params[i].n;
    float *before = malloc(sizeof(float) * total);
    for (int i = 0, o = 0; i < one->n_params; o += (int)one->params[i].n, i++)
      memcpy(before + o, one->params[i].w, sizeof(float) * one->params[i].n);
    hant_finetune_opts co;
    hant_finetune_opts_default(&co);
    co.weight_decay = 0;
    co.clip_norm = 1e-3f;
    co.max_steps = 1;
    co.restore_bn = false; /* the bound is on the network's own weights */
    hant_train_result cr;
    CHECK(hant_finetune_kd(one, teacher, &tr, NULL, &co, &cr) == 0, "one clipped step: %s", hant_errmsg());
    double moved = 0;
    for (int i = 0, o = 0; i < one->n_params; o += (int)one->params[i].n, i++)
      if (one->params[i].trainable)
        for (size_t j = 0; j < one->params[i].n; j++)
          moved += pow(one->params[i].w[j] - before[o + j], 2);
    moved = sqrt(moved);
    double want = co.lr * 1.9 * co.clip_norm;
    CHECK(fabs(moved - want) < 0.02 * want, "one clipped step moved the weights by %g, expected %g", moved, want);
    free(before);
    hant_net_destroy(one);
  }

  /* With mixup the teacher sees the student's mixed images: a student
   * computing the teacher's function (its folded copy) has nothing to
   * learn from pure distillation, mixed or not. */
  {
    hant_net *copy = hant_arch_build(hant_arch_preset("tiny"), "copy");
    HANT_ASSERT(copy->n_params == teacher->n_params);
    for (int i = 0; i < copy->n_params; i++)
      memcpy(copy->params[i].w, teacher->params[i].w, sizeof(float) * copy->params[i].n);
    HANT_ASSERT(hant_net_fold_bn(copy) == 0);
    hant_finetune_opts mo;
    hant_finetune_opts_default(&mo);
    mo.alpha = 1.0f;
    mo.mixup = 1.0f;
    mo.lr = 1e-9f;
    mo.max_steps = 8;
    mo.restore_bn = false; /* batch statistics would change the function */
    mo.ema_horizon = 0;
    hant_train_result mr;
    CHECK(hant_finetune_kd(copy, teacher, &tr, NULL, &mo, &mr) == 0, "fine-tuning with mixup: %s", hant_errmsg());
    CHECK(mr.steps == 8 && fabs(mr.train_loss) < 1e-4, "the teacher's copy under mixup: %ld steps, KD loss %g",
          mr.steps, mr.train_loss);
    hant_net_destroy(copy);
  }

  check_resume(teacher, &tr, &va);
  check_resume_clipped(teacher, &tr);

  /* Bad options are refused. */
  fo.alpha = 1.5f;
  CHECK(hant_finetune_kd(student, teacher, &tr, &va, &fo, &res) == HANT_EINVAL, "alpha 1.5 accepted");
  hant_net_destroy(student);
  hant_net_destroy(teacher);
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  return test_summary("test_finetune");
}
