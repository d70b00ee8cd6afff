/* SPDX-License-Identifier: MIT */
/* train_checkpoint.h: the training loop's state between epochs, saved to a file and resumed from it. */
#ifndef HANT_TRAIN_CHECKPOINT_H
#define HANT_TRAIN_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset.h"
#include "net.h"
#include "optim.h"
#include "rng.h"
#include "train.h"

/* What the loop carries from one epoch to the next. order, opt and ema
 * belong to the loop; loading writes into them. */
typedef struct hant_train_state {
  int epochs_done;
  long step;
  hant_rng rng;
  int *order;          /* [train_n], the last epoch's order of images */
  int train_n;
  hant_optim *opt;
  double train_loss;   /* of the last epoch */
  double seconds;      /* of training, over every call that ran the epochs done */
  float **ema;         /* the moving average per parameter; NULL without averaging */
  /* What the run started from, compared like the run's options: a
   * fingerprint of the weights the network held when the run began and one
   * of the training images (pixels, labels, normalisation). */
  uint64_t start_print, data_print;
} hant_train_state;

/* Fills s->start_print from net's parameter values as they are now (call
 * before the first step) and s->data_print from train. */
void hant_train_checkpoint_prints(const hant_net *net, const hant_dataset *train, hant_train_state *s);

/* Writes net's parameters (values and optimiser moments) and s to path
 * atomically, under a header naming the run (o, s->train_n images, total
 * steps); train_checkpoint.c describes the layout. */
int hant_train_checkpoint_save(const char *path, const hant_net *net, const hant_train_opts *o, long total,
                               const hant_train_state *s);

/* Reads the checkpoint at path into net and s (train.h's checkpoint
 * option says what is refused and how). *found is false when there is no
 * file: nothing changes, and the path's directory has been checked to be
 * writable so that a run does not fail only after its first epoch. */
int hant_train_checkpoint_load(const char *path, hant_net *net, const hant_train_opts *o, long per_epoch, long total,
                               hant_train_state *s, bool *found);

#endif
