/* SPDX-License-Identifier: MIT */
/* deploy.c: assembles a selection into a network and exports or measures it, and evaluates models, reporting progress and honouring cancellation. */
#include "deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "assemble.h"
#include "base.h"
#include "build_settings.h"
#include "data_load.h"
#include "dataset.h"
#include "finetune.h"
#include "measure.h"
#include "onnx.h"
#include "quant.h"
#include "train.h"

static int step(hant_deploy_progress_fn progress, void *user, double f, const char *note) {
  if (progress && progress(user, f, note))
    return hant__error(HANT_ECANCELED, "canceled while %s", note);
  return 0;
}

int hant_deploy_teacher(hant_store *st, hant_net **teacher, char *path, size_t n) {
  hant_teacher_rec t;
  *teacher = NULL;
  int rc = hant_store_teacher_get(st, &t);
  if (rc)
    return rc == HANT_ENOENT ? hant__error(rc, "the library is empty: it has no teacher") : rc;
  return hant_library_teacher_load(st, &t, teacher, path, n);
}

int hant_deploy_assemble(hant_store *st, const hant_net *teacher, const int64_t *cand_ids, int n, hant_net **out) {
  *out = NULL;
  if (teacher->n_slots != n)
    return hant__error(HANT_EINVAL, "%d candidates given for a teacher with %d slots", n, teacher->n_slots);
  hant_net **cands = calloc((size_t)n, sizeof(*cands));
  if (!cands)
    return HANT_ENOMEM;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++)
    rc = hant_store_candidate_net(st, cand_ids[i], &cands[i]);
  if (!rc)
    rc = hant_assemble(teacher, cands, out);
  for (int i = 0; i < n; i++)
    hant_net_destroy(cands[i]);
  free(cands);
  return rc;
}

int hant_deploy_export(hant_store *st, const int64_t *cand_ids, int n, const char *out_path,
                       hant_deploy_progress_fn progress, void *user, hant_deploy_export_info *info) {
  return hant_deploy_transform(st, cand_ids, n, out_path, NULL, progress, user, info);
}

/* Fine-tuning reports every few steps; the fraction maps onto [lo, hi] of
 * the job. A stop request sets `stop`, which hant_finetune_kd reads before
 * its next step. */
struct ft_progress {
  hant_deploy_progress_fn fn;
  void *user;
  double lo, hi;
  int stop;
};

static void on_ft_progress(void *user, const hant_train_progress *p) {
  struct ft_progress *fp = user;
  if (!fp->fn || fp->stop)
    return;
  char note[128];
  if (p->epoch_done)
    snprintf(note, sizeof(note), "fine-tuning: epoch %d of %d done, val accuracy %.4f", p->epoch, p->epochs,
             p->val_accuracy);
  else
    snprintf(note, sizeof(note), "fine-tuning: epoch %d of %d, step %ld of %ld, loss %.4f", p->epoch, p->epochs,
             p->step, p->steps, p->loss);
  double f = p->steps > 0 ? (double)p->step / (double)p->steps : 0;
  if (fp->fn(fp->user, fp->lo + (fp->hi - fp->lo) * f, note))
    fp->stop = 1;
}

int hant_deploy_data_spec(hant_store *st, const hant_net *teacher, const char *data_dir, hant_build_settings *recorded,
                        hant_data_spec *spec) {
  memset(spec, 0, sizeof(*spec));
  int rc = hant_build_settings_get(st, recorded);
  if (rc == HANT_ENOENT) {
    memset(recorded, 0, sizeof(*recorded));
    hant_errmsg_clear();
  } else if (rc) {
    return rc;
  }
  if (data_dir && *data_dir)
    spec->data = data_dir;
  else if (recorded->data[0] && (rc = hant_data_spec_parse(recorded->data, spec)))
    return rc;
  const hant_node *in = &teacher->nodes[0], *out = &teacher->nodes[hant_net_output(teacher)];
  spec->c = in->c, spec->h = in->h, spec->w = in->w;
  spec->classes = out->c * out->h * out->w;
  spec->norm_k = recorded->norm_k;
  memcpy(spec->mean, recorded->mean, sizeof(spec->mean));
  memcpy(spec->std, recorded->std, sizeof(spec->std));
  return 0;
}

/* Accuracy of net on the first `limit` images of a split (0: all). */
static int eval_split(hant_net *net, const hant_data_spec *spec, hant_split sp, int limit, double *acc, double *loss,
                      int *n) {
  hant_dataset ds = {0};
  int rc = hant_data_load(spec, sp, limit, &ds);
  if (!rc)
    rc = hant_eval_classifier(net, &ds, 250, acc, loss);
  *n = ds.n;
  hant_dataset_free(&ds);
  return rc;
}

/* The int8 form of net for a device that computes in int8, as `hant-distill
 * export --precision int8` makes it: calibrated on 1000 training images
 * (train when fine-tuning loaded it, else the split read here), the
 * method chosen by int8 accuracy on the validation images, and, when the
 * job evaluates, its int8 accuracy on the same test images as the float
 * figures. *q borrows net. */
static int quantise(hant_net *net, const hant_data_spec *spec, const hant_dataset *train, bool ev, int eval_samples,
                    hant_qnet **q, hant_deploy_export_info *info) {
  hant_dataset own = {0}, val = {0}, test = {0};
  int rc = 0;
  if (!train->n)
    rc = hant_data_load(spec, HANT_SPLIT_TRAIN, 0, &own);
  const hant_dataset *tr = train->n ? train : &own;
  hant_quant_opts qo = {.choose = true};
  if (!rc)
    rc = hant_data_load(spec, HANT_SPLIT_VAL, eval_samples, &val);
  if (!rc)
    rc = hant_quantise(net, tr, &val, &qo, q);
  if (!rc) {
    snprintf(info->int8_calib, sizeof(info->int8_calib), "%s", hant_qcalib_name((*q)->calib));
    info->int8_val_accuracy = (*q)->val_accuracy;
    info->int8_test_accuracy = -1;
    snprintf(info->precision, sizeof(info->precision), "int8");
  }
  if (!rc && ev && !(rc = hant_data_load(spec, HANT_SPLIT_TEST, eval_samples, &test)))
    rc = hant_qnet_accuracy(*q, &test, 128, &info->int8_test_accuracy);
  hant_dataset_free(&own);
  hant_dataset_free(&val);
  hant_dataset_free(&test);
  return rc;
}

int hant_deploy_transform(hant_store *st, const int64_t *cand_ids, int n, const char *out_path,
                          const hant_deploy_opts *o, hant_deploy_progress_fn progress, void *user,
                          hant_deploy_export_info *info) {
  hant_deploy_export_info local;
  if (!info)
    info = &local;
  memset(info, 0, sizeof(*info));
  if (!st || !cand_ids || n <= 0 || !out_path || !*out_path)
    return hant__error(HANT_EINVAL, "export: no candidates or no output path");
  hant_deploy_opts none = {0};
  if (!o)
    o = &none;
  if (o->out_file && !o->places)
    return hant__error(HANT_EINVAL, "export: an output file in places needs its places");
  if (o->finetune_epochs < 0 || o->finetune_samples < 0 || o->eval_samples < 0)
    return hant__error(HANT_EINVAL, "transform: finetune_epochs, finetune_samples and eval_samples must be >= 0");
  bool ft = o->finetune_epochs > 0 || o->finetune_auto, ev = ft || o->evaluate;
  /* Loading and assembling take the first part of the job, then
   * evaluation before fine-tuning, fine-tuning, evaluation, writing. */
  double k = ev ? 0.15 : 1.0;
  hant_data_spec spec;
  hant_build_settings recorded;
  hant_dataset train = {0}, val = {0};
  hant_net *teacher = NULL, *net = NULL;
  hant_qnet *q = NULL;
  int rc;
  snprintf(info->out, sizeof(info->out), "%s", out_path);
  if ((rc = step(progress, user, 0.0 * k, "loading the teacher")))
    return rc;
  if ((rc = hant_deploy_teacher(st, &teacher, info->teacher, sizeof(info->teacher))))
    return rc;
  if ((rc = hant_deploy_data_spec(st, teacher, o->data_dir, &recorded, &spec)) ||
      (rc = step(progress, user, 0.3 * k, "loading the candidates and assembling")))
    goto out;
  if ((rc = hant_deploy_assemble(st, teacher, cand_ids, n, &net)))
    goto out;
  if (ev) {
    double l0;
    int tn;
    if ((rc = step(progress, user, 0.12, "evaluating the assembled network")) ||
        (rc = eval_split(net, &spec, HANT_SPLIT_VAL, o->eval_samples, &info->val_accuracy_before, &info->val_loss,
                         &info->val_n)) ||
        (rc = eval_split(net, &spec, HANT_SPLIT_TEST, o->eval_samples, &info->test_accuracy_before,
                         &info->test_loss, &info->test_n)) ||
        (rc = eval_split(teacher, &spec, HANT_SPLIT_TEST, o->eval_samples, &info->teacher_test_accuracy, &l0, &tn)) ||
        (rc = eval_split(teacher, &spec, HANT_SPLIT_VAL, o->eval_samples, &info->teacher_val_accuracy, &l0, &tn)))
      goto out;
    info->val_accuracy = info->val_accuracy_before;
    info->test_accuracy = info->test_accuracy_before;
    info->evaluated = 1;
  }
  int epochs = o->finetune_epochs;
  if (o->finetune_auto) {
    info->finetune_auto = 1;
    info->assembled_val_loss = 100 * (info->teacher_val_accuracy - info->val_accuracy_before);
    epochs = hant_finetune_auto_epochs(info->assembled_val_loss);
  }
  if (ft) {
    if ((rc = step(progress, user, 0.2, "loading the training split")) ||
        (rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, o->finetune_samples, &train)) ||
        (rc = hant_data_load(&spec, HANT_SPLIT_VAL, o->eval_samples, &val)))
      goto out;
    hant_finetune_opts fo;
    hant_finetune_opts_default(&fo);
    fo.epochs = epochs;
    fo.seed = o->seed ? o->seed : 1;
    /* A network for an int8 device learns the int8 arithmetic it will run
     * in, at the ranges quantise() below calibrates from the same images. */
    fo.qat = o->int8;
    struct ft_progress fp = {progress, user, 0.2, 0.85, 0};
    fo.progress = on_ft_progress;
    fo.user = &fp;
    fo.stop = &fp.stop;
    fo.checkpoint = o->checkpoint;
    hant_train_result tr;
    double t0 = hant_now_s();
    bool resuming = hant_finetune_checkpoint_found(o->checkpoint);
    rc = hant_finetune_kd(net, teacher, &train, &val, &fo, &tr);
    if (resuming && (rc == HANT_EINVAL || rc == HANT_EIO) && !fp.stop) {
      /* Refused as another run's or as damaged: what the job asked for is
       * still worth doing, from the assembled network (the refused file
       * may have been read into the weights). */
      char note[512];
      snprintf(note, sizeof(note), "fine-tuning starts over: %s", hant_errmsg());
      hant_net_destroy(net);
      net = NULL;
      if ((rc = hant_finetune_checkpoint_remove(o->checkpoint)) || (rc = step(progress, user, 0.2, note)) ||
          (rc = hant_deploy_assemble(st, teacher, cand_ids, n, &net)))
        goto out;
      hant_errmsg_clear();
      info->finetune_restarted = 1;
      rc = hant_finetune_kd(net, teacher, &train, &val, &fo, &tr);
    }
    if (!rc && fp.stop)
      rc = hant__error(HANT_ECANCELED, "canceled after fine-tuning's last step");
    if (rc)
      goto out;
    info->finetune_epochs = epochs;
    info->finetune_samples = train.n;
    info->finetune_steps = tr.steps;
    info->finetune_s = hant_now_s() - t0 + tr.seconds_resumed; /* earlier attempts' epochs too */
    info->finetune_clip_norm = tr.clip_norm > 0 ? tr.clip_norm : 0;
    info->finetune_retried = tr.retried_clipped;
    info->finetune_resumed_epochs = tr.epochs_resumed;
    if ((rc = step(progress, user, 0.86, "evaluating the fine-tuned network")) ||
        (rc = eval_split(net, &spec, HANT_SPLIT_VAL, o->eval_samples, &info->val_accuracy, &info->val_loss,
                         &info->val_n)) ||
        (rc = eval_split(net, &spec, HANT_SPLIT_TEST, o->eval_samples, &info->test_accuracy, &info->test_loss,
                         &info->test_n)))
      goto out;
  }
  snprintf(info->precision, sizeof(info->precision), "fp32");
  if (o->int8) {
    if ((rc = step(progress, user, ev ? 0.9 : 0.6, "quantising to int8")) ||
        (rc = quantise(net, &spec, &train, ev, o->eval_samples, &q, info)))
      goto out;
  }
  if ((rc = step(progress, user, ev ? 0.95 : 0.8, "writing ONNX")))
    goto out;
  char doc[256];
  snprintf(doc, sizeof(doc), "hant %s: teacher %.160s with one library candidate per slot", hant_version(),
           info->teacher);
  hant_onnx_save_opts so = {doc};
  if (o->out_file) {
    /* Written through the directory the job resolved at its start: the
     * path is not looked up again, so nothing swapped in meanwhile is
     * followed. */
    uint8_t *buf = NULL;
    size_t len = 0;
    if ((rc = q ? hant_onnx_serialize_qdq(q, &so, &buf, &len) : hant_onnx_serialize(net, &so, &buf, &len)))
      goto out;
    rc = hant_place_file_write(o->places, o->out_file, "out", buf, len);
    free(buf);
    if (rc)
      goto out;
    info->bytes = len;
  } else {
    if ((rc = q ? hant_onnx_save_qdq(q, out_path, &so) : hant_onnx_save(net, out_path, &so)))
      goto out;
    struct stat sb;
    if (stat(out_path, &sb) == 0)
      info->bytes = (size_t)sb.st_size;
  }
  /* The network is written: a run again would start from its beginning. */
  if (ft && (rc = hant_finetune_checkpoint_remove(o->checkpoint)))
    goto out;
  info->macs = hant_net_macs(net);
  info->params = (int64_t)hant_net_param_count(net);
  info->slots = net->n_slots;
  info->nodes = net->n_nodes;
  step(progress, user, 1.0, "done");
  rc = 0;
out:
  hant_qnet_destroy(q);
  hant_dataset_free(&train);
  hant_dataset_free(&val);
  hant_net_destroy(net);
  hant_net_destroy(teacher);
  return rc;
}

/* Checks eval's arguments and fills info->split; *dir is the data directory ("fmnist" for the installed one). */
static int eval_args(const char *data_dir, const char *split, int samples, hant_split *sp, const char **dir,
                     hant_deploy_eval_info *info) {
  memset(info, 0, sizeof(*info));
  *sp = hant_split_from_name(split ? split : "test");
  if (*sp == HANT_SPLIT_COUNT)
    return hant__error(HANT_EINVAL, "split: expected train, val or test, got '%.16s'", split);
  if (samples < 0)
    return hant__error(HANT_EINVAL, "samples: expected a whole number >= 0");
  snprintf(info->split, sizeof(info->split), "%s", hant_split_name(*sp));
  *dir = !data_dir || !*data_dir ? "fmnist" : data_dir;
  return 0;
}

/* Evaluates a loaded network (taken over and freed) on a split. */
static int eval_net(hant_net *net, const char *dir, hant_split sp, int samples, hant_deploy_progress_fn progress,
                    void *user, hant_deploy_eval_info *info) {
  hant_dataset ds = {0};
  int rc;
  /* A model file carries no normalisation: it is fed pixels / 255, in the
   * format detected from the directory, shaped as the model's input. */
  hant_data_spec spec = {.data = dir};
  const hant_node *in = &net->nodes[0];
  spec.c = in->c, spec.h = in->h, spec.w = in->w;
  if ((rc = step(progress, user, 0.05, "loading the data")) || (rc = hant_data_load(&spec, sp, samples, &ds)))
    goto out;
  /* Chunks of at most 1000 images: progress and cancellation in between. */
  const int chunk = 1000;
  size_t per = (size_t)ds.c * (size_t)ds.h * (size_t)ds.w;
  double correct = 0, lsum = 0;
  for (int b0 = 0; b0 < ds.n; b0 += chunk) {
    char note[64];
    snprintf(note, sizeof(note), "evaluating images %d-%d of %d", b0 + 1, b0 + chunk < ds.n ? b0 + chunk : ds.n,
             ds.n);
    if ((rc = step(progress, user, 0.1 + 0.9 * b0 / ds.n, note)))
      goto out;
    hant_dataset view = ds;
    view.n = ds.n - b0 < chunk ? ds.n - b0 : chunk;
    view.images = ds.images + per * (size_t)b0;
    view.labels = ds.labels + b0;
    double acc, loss;
    if ((rc = hant_eval_classifier(net, &view, 250, &acc, &loss)))
      goto out;
    correct += acc * view.n;
    lsum += loss * view.n;
  }
  info->n = ds.n;
  info->accuracy = ds.n ? correct / ds.n : 0;
  info->loss = ds.n ? lsum / ds.n : 0;
  step(progress, user, 1.0, "done");
  rc = 0;
out:
  hant_dataset_free(&ds);
  hant_net_destroy(net);
  return rc;
}

int hant_deploy_eval(const char *model_path, const char *data_dir, const char *split, int samples,
                     hant_deploy_progress_fn progress, void *user, hant_deploy_eval_info *info) {
  hant_split sp = HANT_SPLIT_TEST;
  const char *dir = NULL;
  hant_net *net = NULL;
  int rc;
  if ((rc = eval_args(data_dir, split, samples, &sp, &dir, info)) ||
      (rc = step(progress, user, 0.0, "loading the model")) || (rc = hant_onnx_load_any(model_path, &net, NULL)))
    return rc;
  return eval_net(net, dir, sp, samples, progress, user, info);
}

int hant_deploy_eval_fd(int fd, int dir_fd, const char *name, const char *data_dir, const char *split, int samples,
                        hant_deploy_progress_fn progress, void *user, hant_deploy_eval_info *info) {
  hant_split sp = HANT_SPLIT_TEST;
  const char *dir = NULL;
  hant_net *net = NULL;
  int rc;
  if ((rc = eval_args(data_dir, split, samples, &sp, &dir, info)) ||
      (rc = step(progress, user, 0.0, "loading the model")) ||
      (rc = hant_onnx_load_any_fd(fd, dir_fd, name, &net, NULL)))
    return rc;
  return eval_net(net, dir, sp, samples, progress, user, info);
}

int hant_deploy_assemble_choice(hant_store *st, const hant_library *lib, const int *choice, int n_slots,
                                hant_net **out) {
  *out = NULL;
  const hant_net *teacher;
  /* The snapshot's teacher: a solve measures several rounds, and each
   * would otherwise read and hash the teacher again. */
  int rc = hant_library_teacher(lib, st, &teacher);
  if (rc)
    return rc;
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)(n_slots > 0 ? n_slots : 1));
  if (!ids)
    return HANT_ENOMEM;
  for (int s = 0; s < n_slots; s++)
    ids[s] = lib->cands[choice[s]].id;
  rc = hant_deploy_assemble(st, teacher, ids, n_slots, out);
  free(ids);
  return rc;
}

int hant_deploy_measure_choice(void *user, const int *choice, int n_slots, double *latency_ms) {
  const hant_deploy_measurer *m = user;
  hant_net *net = NULL;
  int rc = hant_deploy_assemble_choice(m->st, m->lib, choice, n_slots, &net);
  if (rc)
    return rc;
  /* Measured as profile does (warm-up, median), but with the threads this
   * worker was given: a worker never changes the kernels' thread setting. */
  hant_measure_opts mo;
  hant_measure_opts_default(&mo);
  hant_measure_result mr;
  rc = hant_measure_net(net, &mo, &mr);
  if (!rc)
    *latency_ms = mr.latency_ms;
  hant_net_destroy(net);
  return rc;
}
