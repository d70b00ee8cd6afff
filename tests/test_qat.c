/* SPDX-License-Identifier: MIT */
/* test_qat.c: quantisation-aware fine-tuning on Fashion-MNIST: the fake-quantised forward against hant's int8 evaluation of the same weights, the master weights kept, and a student fine-tuned with it measured in int8. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "test_util.h"

#define STUDENT "input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; gap; linear 10"

static float *params_copy(const hant_net *n) {
  size_t total = 0;
  for (int i = 0; i < n->n_params; i++)
    total += n->params[i].n;
  float *v = malloc(sizeof(float) * total);
  for (int i = 0, o = 0; v && i < n->n_params; o += (int)n->params[i].n, i++)
    memcpy(v + o, n->params[i].w, sizeof(float) * n->params[i].n);
  return v;
}

static bool params_equal(const hant_net *n, const float *v) {
  for (int i = 0, o = 0; i < n->n_params; o += (int)n->params[i].n, i++)
    if (memcmp(v + o, n->params[i].w, sizeof(float) * n->params[i].n))
      return false;
  return true;
}

static void params_set(hant_net *n, const float *v) {
  for (int i = 0, o = 0; i < n->n_params; o += (int)n->params[i].n, i++)
    memcpy(n->params[i].w, v + o, sizeof(float) * n->params[i].n);
}

/* The student as trained on its own and folded, as an assembled network
 * arrives at fine-tuning. */
static hant_net *student_folded(const float *start) {
  hant_net *s = hant_arch_build(STUDENT, "student");
  CHECK(s && hant_net_fold_bn(s) == 0, "folding the student: %s", hant_errmsg());
  if (start)
    params_set(s, start);
  return s;
}

/* The student fine-tuned by KD from start, with or without QAT; its
 * float32 and int8 accuracy on test, quantised as transform --out does
 * (hant_quantise on the training images, chosen on validation). */
static void finetuned(hant_net *teacher, const float *start, const hant_dataset *tr, const hant_dataset *va,
                      const hant_dataset *te, bool qat, double *acc32, double *acc8) {
  hant_net *s = student_folded(start);
  hant_finetune_opts fo;
  hant_finetune_opts_default(&fo);
  fo.epochs = 2;
  fo.batch = 64;
  fo.lr = 0.05f;
  fo.restore_bn = false; /* what qat trains anyway: the two differ only in the quantisation */
  fo.qat = qat;
  hant_train_result res;
  int rc = hant_finetune_kd(s, teacher, tr, va, &fo, &res);
  CHECK(rc == 0, "fine-tuning (qat %d): %s", qat, hant_errmsg());
  double loss;
  hant_qnet *q = NULL;
  hant_quant_opts qo = {.choose = true};
  *acc32 = *acc8 = -1;
  if (!rc && !hant_eval_classifier(s, te, 256, acc32, &loss) && !hant_quantise(s, tr, va, &qo, &q))
    hant_qnet_accuracy(q, te, 128, acc8);
  hant_qnet_destroy(q);
  hant_net_destroy(s);
}

int main(void) {
  hant_threads_set(1);
  hant_dataset tr, va, te;
  if (hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TRAIN, 3000, &tr) ||
      hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_VAL, 500, &va) ||
      hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TEST, 1000, &te)) {
    CHECK(0, "Fashion-MNIST is needed: %s", hant_errmsg());
    return test_summary("qat");
  }
  hant_rng rng;
  hant_rng_seed(&rng, 1);
  hant_net *teacher = hant_arch_build(hant_arch_preset("tiny"), "teacher");
  hant_net_init_params(teacher, &rng);
  hant_train_opts to;
  hant_train_opts_default(&to);
  to.epochs = 2;
  to.batch = 64;
  to.lr = 0.05f;
  hant_train_result tres;
  CHECK(hant_train_classifier(teacher, &tr, &va, &to, &tres) == 0, "teacher training: %s", hant_errmsg());

  /* The fake-quantised forward of a trained network against the integer
   * evaluation of its quantisation: the teacher, as quantised for int8. */
  hant_qnet *q = NULL;
  hant_quant_opts qo = {.choose = true};
  CHECK(hant_quantise(teacher, &tr, &va, &qo, &q) == 0, "quantising: %s", hant_errmsg());
  hant_qat *qat = NULL;
  CHECK(q && hant_qat_new(teacher, q, &qat) == 0, "fake quantisation: %s", hant_errmsg());
  if (!q || !qat)
    return test_summary("qat");
  float *master = params_copy(teacher);
  int n = te.n, k = 10;
  size_t per = (size_t)te.c * te.h * te.w;
  float *x = malloc(sizeof(float) * per * (size_t)n), *x0 = malloc(sizeof(float) * per * (size_t)n);
  float *y8 = malloc(sizeof(float) * (size_t)k * n);
  int *idx = malloc(sizeof(int) * (size_t)n), *lab = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++)
    idx[i] = i;
  hant_dataset_batch(&te, idx, n, false, 0, NULL, x, lab);
  memcpy(x0, x, sizeof(float) * per * (size_t)n);
  CHECK(hant_qnet_run(q, x, n, y8) == 0, "int8 run: %s", hant_errmsg());
  hant_pass p;
  hant_pass_init(&p);
  p.hook = hant_qat_hook;
  p.hook_user = qat;
  CHECK(hant_qat_weights_fake(qat) == 0 && !params_equal(teacher, master), "the weights are replaced by quantised ones");
  CHECK(hant_qat_weights_fake(qat) == 0, "quantising twice");
  int rc = hant_net_forward(teacher, &p, x, n, false);
  CHECK(rc == 0, "fake-quantised forward: %s", hant_errmsg());
  CHECK(!memcmp(x, x0, sizeof(float) * per * (size_t)n), "the caller's images are left as they were");
  hant_qat_weights_master(qat);
  CHECK(params_equal(teacher, master), "the master weights are back, bit for bit, after quantising twice");
  /* Stated tolerance: the two differ only where a value lies within
   * float32 rounding of a rounding boundary (the integer path scales int32
   * sums by one float multiplier, the fake path divides float sums by the
   * output scale) or where float sums and the GAP's integer division round
   * differently, a step of one activation now and then: the same top-1 on
   * 99 % of images, logits within 1 % of their scale at worst and 0.01 %
   * on average (measured: identical top-1, 2e-7 of the scale). */
  const float *yf = p.out[hant_net_output(teacher)];
  int agree = 0;
  double scale = 0, md = 0, sum = 0;
  for (int i = 0; i < n; i++) {
    int a = 0, b = 0;
    for (int j = 0; j < k; j++) {
      float u = yf[(size_t)i * k + j], v = y8[(size_t)i * k + j];
      a = u > yf[(size_t)i * k + a] ? j : a;
      b = v > y8[(size_t)i * k + b] ? j : b;
      scale = fmax(scale, fabs(v));
      md = fmax(md, fabs(u - v));
      sum += fabs(u - v);
    }
    agree += a == b;
  }
  printf("qat: fake-quantised forward against int8: top-1 agreement %d/%d, max |logit diff| %.4g, mean %.4g, "
         "logit scale %.4g\n", agree, n, md, sum / ((double)n * k), scale);
  CHECK(agree >= n * 99 / 100, "top-1 of the fake-quantised forward agrees with int8 on %d of %d images", agree, n);
  CHECK(sum / ((double)n * k) <= 1e-4 * scale, "mean logit difference %.4g above 0.01%% of the scale %.4g",
        sum / ((double)n * k), scale);
  CHECK(md <= 1e-2 * scale, "largest logit difference %.4g above 1%% of the scale %.4g", md, scale);
  hant_pass_free(&p);
  hant_qat_destroy(qat);
  hant_qnet_destroy(q);

  /* Fine-tuning with and without quantisation-aware training, from the
   * same trained and folded student: both measured in int8 as deployed. */
  hant_net *s0 = hant_arch_build(STUDENT, "student");
  hant_net_init_params(s0, &rng);
  to.epochs = 1;
  CHECK(hant_train_classifier(s0, &tr, NULL, &to, &tres) == 0 && hant_net_fold_bn(s0) == 0, "student: %s",
        hant_errmsg());
  float *start = params_copy(s0);
  hant_net *check_layout = student_folded(NULL);
  CHECK(check_layout && check_layout->n_params == s0->n_params, "the folded students have one layout");
  hant_net_destroy(check_layout);
  hant_net_destroy(s0);
  double a32, a8, q32, q8;
  finetuned(teacher, start, &tr, &va, &te, false, &a32, &a8);
  finetuned(teacher, start, &tr, &va, &te, true, &q32, &q8);
  free(start);
  printf("qat: test accuracy after fp32 fine-tuning %.4f (int8 %.4f), after QAT %.4f (int8 %.4f)\n", a32, a8, q32, q8);
  /* At this size (3000 images, a few seconds) the figures say that QAT
   * trains, not by how much it beats fp32 fine-tuning: three times chance
   * and within 5 points of the fp32-trained student's int8 accuracy. */
  CHECK(q8 > 0.3 && q8 <= 1, "the QAT student's int8 accuracy %.4f", q8);
  CHECK(q8 >= a8 - 0.05, "QAT's int8 accuracy %.4f well below fp32 fine-tuning's %.4f", q8, a8);

  free(master);
  free(x);
  free(x0);
  free(y8);
  free(idx);
  free(lab);
  hant_net_destroy(teacher);
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  hant_dataset_free(&te);
  return test_summary("qat");
}
