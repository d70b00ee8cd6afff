/* SPDX-License-Identifier: MIT */
/* train.h: supervised training and evaluation of classifiers on a dataset. */
#ifndef HANT_TRAIN_H
#define HANT_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset.h"
#include "net.h"
#include "optim.h"

typedef struct hant_train_progress {
  int epoch, epochs;   /* 1-based epoch */
  long step, steps;    /* steps done so far, and in total */
  float loss;          /* running mean training loss of this epoch */
  float lr;
  double samples_per_s; /* this epoch so far */
  bool epoch_done;     /* the fields below are set at the end of an epoch */
  double val_accuracy; /* fraction 0-1, or -1 without a validation set */
  double val_loss;
  double epoch_s;
} hant_train_progress;

typedef void (*hant_train_progress_fn)(void *user, const hant_train_progress *p);

/* One step of the training loop as a loss hook sees it. The pointers stay
 * valid only during the call. */
typedef struct hant_train_batch {
  const float *x;      /* input batch [n, C, H, W], augmented */
  const int *labels;   /* [n] */
  /* With mixup (hant_train_opts), x holds mix x image + (1 - mix) x
   * partner: labels_mix are the partners' labels, and a target mixes
   * the two labels in the same proportion. Without, NULL and 1. */
  const int *labels_mix;
  float mix;
  const float *z;      /* the network's output [n, k], from a training-mode forward pass */
  int n, k;
  long step;           /* 0-based step of the run */
} hant_train_batch;

/* A training objective in place of cross-entropy: writes dL/dz for the
 * batch into dz ([n, k]) and the batch's mean loss into *loss. Returns 0,
 * or a negative HANT_E* code that ends training with that code. */
typedef int (*hant_train_loss_fn)(void *user, const hant_train_batch *b, float *dz, float *loss);

typedef struct hant_train_opts {
  int epochs;
  int batch;
  float lr;              /* peak learning rate */
  hant_optim_kind optim;
  float momentum;
  bool nesterov;
  float weight_decay;
  hant_sched sched;
  int warmup_epochs;     /* cosine schedule only */
  float label_smoothing;
  bool augment;          /* random crop from a `pad`-padded image + h-flip */
  int pad;
  uint64_t seed;
  long max_steps;        /* stop after this many steps in total; 0: no limit */
  float clip_norm;       /* bound on the global L2 norm of the gradients before each step; <= 0: none */
  /* > 0: Polyak averaging over about this fraction of the run's steps.
   * Every step updates an exponential moving average of every parameter,
   * batch-norm running statistics included, a <- d a + (1 - d) w with
   * d = min(1 - 1 / (ema_horizon x steps), (1 + step) / (10 + step)), so a
   * short run averages as much of itself as a long one, and the network
   * ends the run holding the average (the validation figures of res are
   * then the average's). 0: the last step's weights. */
  float ema_horizon;
  /* > 0: mixup (Zhang et al., ICLR 2018) after augmentation: each image of
   * a batch becomes mix x itself + (1 - mix) x a partner from the same
   * batch (a random pairing), mix ~ Beta(mixup, mixup) drawn once per
   * batch, and the loss is taken on the mixed targets. 0: none. */
  float mixup;
  hant_train_progress_fn progress;
  void *user;
  /* When not NULL, read before every step: once nonzero (progress may set
   * it), training stops and returns HANT_ECANCELED, the network left as
   * the last step made it. */
  const int *stop;
  /* The loss, called with loss_user; NULL: softmax cross-entropy with
   * label_smoothing. */
  hant_train_loss_fn loss;
  void *loss_user;
  /* Quantisation-aware training (qat.h), all NULL otherwise: the hook of
   * the training passes (net.h), and calls before each step's forward
   * (step_begin) and after its backward, before the gradients are clipped
   * and applied (step_end), each returning 0 or a HANT_E* code that ends
   * the run. Validation runs without any of them. */
  hant_pass_hook_fn pass_hook;
  int (*step_begin)(void *user);
  int (*step_end)(void *user);
  void *hook_user;
  const char *name;      /* names the run in messages; NULL: "training" */
  /* When not NULL, the path of a checkpoint that makes the run resumable
   * at epoch granularity. At the end of every epoch (before the moving
   * average replaces the weights and before validation) the loop's whole
   * state is written there atomically: the weights, the optimiser's state,
   * the random generator, the epoch's order of images, the moving average
   * and the last epoch's loss, under a header describing the run (the
   * parameters' sizes, epochs, batch, training images, steps, seed, every
   * option above that changes the trajectory, and fingerprints of the
   * weights the network held when the call began and of the training
   * images). When the file exists
   * at the start, the run continues after the epoch it records and ends
   * bit-identical to a run never interrupted (res too, but for seconds and
   * samples_per_s, which count the calls that ran the resumed epochs as
   * well: the run's training time, whichever sessions it took); a
   * checkpoint of a finished run makes no steps and only applies the
   * average and validates. Progress is not reported for the
   * epochs skipped. A checkpoint of another run is refused with
   * HANT_EINVAL, one that is truncated or altered with HANT_EIO, each
   * naming the file, which is left as it was; the file stays after
   * training too (the caller removes it). A resumed call is given the
   * network as the run began (a network built again the same way), whose
   * weights the header's fingerprint checks, and continues from every
   * value the file holds. */
  const char *checkpoint;
} hant_train_opts;

/* SGD + Nesterov 0.9, lr 0.1, wd 5e-4, cosine with 1 warm-up epoch,
 * batch 128, crop pad 2 + flip, label smoothing 0, no gradient clip. */
void hant_train_opts_default(hant_train_opts *o);

typedef struct hant_train_result {
  double train_loss;    /* mean of the last epoch */
  double val_accuracy;  /* after the last epoch, -1 without val */
  double val_loss;
  double seconds;        /* of training, the resumed epochs' included */
  double samples_per_s; /* over the whole run */
  long steps;
  float clip_norm;       /* gradient norm bound of the run (<= 0: none); set by fine-tuning */
  bool retried_clipped;  /* fine-tuning: the unclipped run diverged and this is the clipped second run */
  int epochs_resumed;    /* epochs restored from the checkpoint instead of run (0: none; fine-tuning sums its
                            phases') */
  double seconds_resumed; /* the part of seconds those epochs took, in the calls that ran them */
} hant_train_result;

/* Trains net in place with softmax cross-entropy, or with o->loss. Each
 * step takes a batch of the shuffled training set, runs the network in
 * training mode, computes the loss, back-propagates, clips the gradients
 * and makes one optimiser step at the scheduled learning rate; the last
 * partial batch of an epoch is dropped. val may be NULL. Returns 0 or an
 * error; partial training remains in net on error. */
int hant_train_classifier(hant_net *net, const hant_dataset *train, const hant_dataset *val,
                          const hant_train_opts *o, hant_train_result *res);

/* Cross-entropy on mixed targets: given loss and dz, the loss and its
 * gradient for the batch's own labels, returns mix x loss + (1 - mix) x the
 * loss for labels_mix and turns dz into the same mixture of gradients
 * (dz_mix, [n, k], is scratch). */
float hant_train_mix_loss(const float *z, const int *labels_mix, int n, int k, float smoothing, float mix, float loss,
                          float *dz, float *dz_mix);

/* Eval-mode accuracy (fraction 0-1) and mean cross-entropy over ds. */
int hant_eval_classifier(hant_net *net, const hant_dataset *ds, int batch, double *accuracy, double *loss);
/* Same, feeding (pixel - mean[c]) / std[c] for models that expect
 * normalised input; mean and std have one value per input channel, and
 * either may be NULL (0 and 1). */
int hant_eval_classifier_norm(hant_net *net, const hant_dataset *ds, int batch, const float *mean, const float *std,
                              double *accuracy, double *loss);
/* hant_eval_classifier that also sets correct[i] to 1 if image i is
 * classified right, else 0 (correct has ds->n entries; may be NULL): two
 * networks' marks on the same images give their paired difference. */
int hant_eval_classifier_marks(hant_net *net, const hant_dataset *ds, int batch, unsigned char *correct,
                               double *accuracy, double *loss);

#endif
