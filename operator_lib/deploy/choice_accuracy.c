/* SPDX-License-Identifier: MIT */
/* choice_accuracy.c: the validation accuracy of a choice's assembled network, on validation images read once per process. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "build_settings.h"
#include "data_load.h"
#include "dataset.h"
#include "library.h"
#include "deploy.h"
#include "train.h"

/* The validation split, read on first use and kept: decompressing the
 * training file to reach images 55000-59999 takes longer than measuring a
 * network on a thousand of them, and every re-ranked transform would pay
 * it again. Once loaded it is only read, by any thread, until exit. */
static pthread_mutex_t val_mu = PTHREAD_MUTEX_INITIALIZER;

/* One loaded validation split per data set named by a library, kept
 * until exit: another thread may still be measuring on an older one. */
typedef struct val_set {
  struct val_set *next;
  char data[sizeof(((hant_build_settings *)0)->data)]; /* as the library records it */
  hant_dataset ds;
} val_set;
static val_set *vals;

/* The library's own validation split: the data it recorded being built
 * on (Fashion-MNIST when none), as a view normalised as its build was. */
static int val_images(const hant_library *lib, hant_dataset *view) {
  int rc = 0;
  const char *want = lib->has_build && lib->build.data[0] ? lib->build.data : "fmnist";
  pthread_mutex_lock(&val_mu);
  val_set *v = vals;
  while (v && strcmp(v->data, want))
    v = v->next;
  if (!v) {
    hant_data_spec spec = {0};
    if (!(v = calloc(1, sizeof(*v))))
      rc = HANT_ENOMEM;
    else if (!(rc = hant_data_spec_parse(want, &spec)) && !(rc = hant_data_load(&spec, HANT_SPLIT_VAL, 0, &v->ds))) {
      snprintf(v->data, sizeof(v->data), "%s", want);
      v->next = vals;
      vals = v;
    } else {
      free(v);
      v = NULL;
    }
  }
  if (v)
    *view = v->ds;
  pthread_mutex_unlock(&val_mu);
  if (!rc && lib->has_build && lib->build.norm_k)
    rc = hant_dataset_set_norm(view, lib->build.mean, lib->build.std, lib->build.norm_k);
  return rc;
}

int hant_deploy_accuracy_choice(void *user, const int *choice, int n_slots, int images, double *accuracy) {
  const hant_deploy_measurer *m = user;
  if (images < 1)
    return hant__error(HANT_EINVAL, "rerank_images: expected at least 1 validation image, got %d", images);
  hant_dataset view;
  hant_net *net = NULL;
  int rc = val_images(m->lib, &view);
  if (!rc)
    rc = hant_deploy_assemble_choice(m->st, m->lib, choice, n_slots, &net);
  if (rc)
    return rc;
  view.n = images < view.n ? images : view.n;
  double loss;
  rc = hant_eval_classifier(net, &view, 250, accuracy, &loss);
  hant_net_destroy(net);
  return rc;
}
