/* SPDX-License-Identifier: MIT */
/* choice_accuracy.c: the validation accuracy of a choice's assembled network, in float32 or in int8, on splits read once per process. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "build_settings.h"
#include "data_load.h"
#include "dataset.h"
#include "library.h"
#include "quant.h"
#include "deploy.h"
#include "train.h"

/* The splits a library's networks are measured on, read on first use and
 * kept: decompressing the training file to reach images 55000-59999 takes
 * longer than measuring a network on a thousand of them, and every
 * re-ranked transform would pay it again. Once loaded a split is only
 * read, by any thread, until exit. */
static pthread_mutex_t split_mu = PTHREAD_MUTEX_INITIALIZER;

/* One loaded split per data set named by a library and split, kept until
 * exit: another thread may still be measuring on an older one. */
typedef struct split_set {
  struct split_set *next;
  char data[sizeof(((hant_build_settings *)0)->data)]; /* as the library records it */
  hant_split split;
  hant_dataset ds;
} split_set;
static split_set *splits;

/* The library's own split: of the data it recorded being built on
 * (Fashion-MNIST when none), as a view normalised as its build was. */
static int library_split(const hant_library *lib, hant_split split, hant_dataset *view) {
  int rc = 0;
  const char *want = lib->has_build && lib->build.data[0] ? lib->build.data : "fmnist";
  pthread_mutex_lock(&split_mu);
  split_set *v = splits;
  while (v && (strcmp(v->data, want) || v->split != split))
    v = v->next;
  if (!v) {
    hant_data_spec spec = {0};
    if (!(v = calloc(1, sizeof(*v))))
      rc = HANT_ENOMEM;
    else if (!(rc = hant_data_spec_parse(want, &spec)) && !(rc = hant_data_load(&spec, split, 0, &v->ds))) {
      snprintf(v->data, sizeof(v->data), "%s", want);
      v->split = split;
      v->next = splits;
      splits = v;
    } else {
      free(v);
      v = NULL;
    }
  }
  if (v)
    *view = v->ds;
  pthread_mutex_unlock(&split_mu);
  if (!rc && lib->has_build && lib->build.norm_k)
    rc = hant_dataset_set_norm(view, lib->build.mean, lib->build.std, lib->build.norm_k);
  return rc;
}

/* The int8 accuracy of net on val, quantised as the library's int8 scores
 * were (hant-distill quantize: its calibration method and images, on the
 * training split); net's batch norms are folded. */
static int int8_accuracy(const hant_library *lib, hant_net *net, const hant_dataset *val, double *accuracy) {
  if (!lib->has_int8)
    return hant__error(HANT_EINVAL, "measuring in int8 needs the library's int8 teacher: run hant-distill quantize "
                                    "--db %s", lib->path);
  hant_dataset train;
  int rc = library_split(lib, HANT_SPLIT_TRAIN, &train);
  if (rc)
    return rc;
  hant_quant_opts qo = {.calib_images = lib->int8.calib_images, .percentile = lib->int8.percentile,
                        .calib = hant_qcalib_from_name(lib->int8.calib)};
  hant_qnet *q = NULL;
  if (!(rc = hant_quantise(net, &train, NULL, &qo, &q)))
    rc = hant_qnet_accuracy(q, val, 250, accuracy);
  hant_qnet_destroy(q);
  return rc;
}

int hant_deploy_accuracy_choice(void *user, const int *choice, int n_slots, int images, bool int8,
                                double *accuracy) {
  const hant_deploy_measurer *m = user;
  if (images < 1)
    return hant__error(HANT_EINVAL, "rerank_images: expected at least 1 validation image, got %d", images);
  hant_dataset view;
  hant_net *net = NULL;
  int rc = library_split(m->lib, HANT_SPLIT_VAL, &view);
  if (!rc)
    rc = hant_deploy_assemble_choice(m->st, m->lib, choice, n_slots, &net);
  if (rc)
    return rc;
  view.n = images < view.n ? images : view.n;
  double loss;
  rc = int8 ? int8_accuracy(m->lib, net, &view, accuracy) : hant_eval_classifier(net, &view, 250, accuracy, &loss);
  hant_net_destroy(net);
  return rc;
}
