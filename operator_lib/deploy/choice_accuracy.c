/* SPDX-License-Identifier: MIT */
/* choice_accuracy.c: the validation accuracy of a choice's assembled network, on validation images read once per process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "dataset.h"
#include "deploy.h"
#include "train.h"

/* The validation split, read on first use and kept: decompressing the
 * training file to reach images 55000-59999 takes longer than measuring a
 * network on a thousand of them, and every re-ranked transform would pay
 * it again. Once loaded it is only read, by any thread, until exit. */
static pthread_mutex_t val_mu = PTHREAD_MUTEX_INITIALIZER;
static hant_dataset val;

static int val_images(const hant_dataset **out) {
  int rc = 0;
  pthread_mutex_lock(&val_mu);
  if (!val.images) {
    rc = hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_VAL, 0, &val);
    if (rc)
      memset(&val, 0, sizeof(val));
  }
  pthread_mutex_unlock(&val_mu);
  *out = &val;
  return rc;
}

int hant_deploy_accuracy_choice(void *user, const int *choice, int n_slots, int images, double *accuracy) {
  const hant_deploy_measurer *m = user;
  if (images < 1)
    return hant__error(HANT_EINVAL, "rerank_images: expected at least 1 validation image, got %d", images);
  const hant_dataset *ds = NULL;
  hant_net *net = NULL;
  int rc = val_images(&ds);
  if (!rc)
    rc = hant_deploy_assemble_choice(m->st, m->lib, choice, n_slots, &net);
  if (rc)
    return rc;
  hant_dataset view = *ds;
  view.n = images < ds->n ? images : ds->n;
  double loss;
  rc = hant_eval_classifier(net, &view, 250, accuracy, &loss);
  hant_net_destroy(net);
  return rc;
}
