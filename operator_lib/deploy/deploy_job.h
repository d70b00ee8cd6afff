/* SPDX-License-Identifier: MIT */
/* deploy_job.h: one unit of hantd's long work as a C struct (export a choice, with fine-tuning and evaluation, or evaluate a model), and running it. */
#ifndef HANT_DEPLOY_JOB_H
#define HANT_DEPLOY_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "deploy.h"
#include "finetune.h"
#include "place.h"
#include "store.h"

/*
 * A deploy job says everything its runner needs and nothing of how it
 * travelled: the protocol edge (rpc) makes one from a request, queues it
 * in the store's job table for restart recovery, and the runner runs the
 * struct; a job read back from the table after a restart is decoded into
 * the same struct first. The job's own store row keeps the kind name
 * (hant_deploy_job_kind_name) in its kind column.
 */

typedef enum hant_deploy_job_kind {
  HANT_DEPLOY_JOB_TRANSFORM, /* assemble a choice, optionally fine-tune and evaluate it, write it as ONNX */
  HANT_DEPLOY_JOB_EVAL,      /* a model file's accuracy on a data split */
  HANT_DEPLOY_JOB_KIND_COUNT
} hant_deploy_job_kind;

/* "transform", "eval"; "unknown" for other values; never NULL. */
const char *hant_deploy_job_kind_name(hant_deploy_job_kind k);
/* The kind of that name; HANT_DEPLOY_JOB_KIND_COUNT for an unknown name or NULL. */
hant_deploy_job_kind hant_deploy_job_kind_from_name(const char *name);

/* What a transform job does. Each of the four options is -1 when the job
 * was not asked for it: it then runs as 0 (no fine-tuning, every image,
 * no evaluation), and a stored copy of the job leaves it out, so that the
 * job reads back as it was asked. */
typedef struct hant_deploy_job_transform {
  int n_cands;
  int64_t *cand_ids;    /* [n_cands] one library candidate id per slot, in slot order; owned by the job */
  char out[1024];       /* the ONNX file to write: an absolute path (hantd's jobs: beneath the peer's places) */
  int finetune_epochs;  /* epochs of KD fine-tuning; -1: not asked; HANT_FINETUNE_EPOCHS_AUTO: as many as the
                           assembled network's loss asks (hant_deploy_opts.finetune_auto) */
  int finetune_samples; /* first N training images fine-tuned on (0: all); -1: not asked */
  int eval_samples;     /* first N images of each split evaluated (0: all); -1: not asked */
  int evaluate;         /* 1: evaluate before and after (implied by fine-tuning), 0: not; -1: not asked */
  char precision[8];    /* "int8": quantised and written as QDQ ONNX (the device computes in int8); "": float */
  /* When a transform request chose the candidates (chosen is true), the
   * solve it came from, so that the job's answer puts the predicted
   * accuracy beside the measured one. A job submitted with its candidates
   * given (jobs.submit) has none. */
  bool chosen;
  char device[64];
  char power_mode[32];       /* "" for a device without power modes */
  int64_t library_version;   /* of the snapshot solved */
  double teacher_accuracy;   /* validation accuracy, fraction 0-1; NaN when unknown */
  double predicted_accuracy; /* fraction 0-1; NaN when unknown */
} hant_deploy_job_transform;

/* What an eval job does. */
typedef struct hant_deploy_job_eval {
  char model[1024]; /* the model file (native or ONNX), an absolute path (hantd's jobs: beneath the peer's places) */
  char split[8];    /* "train", "val" or "test" */
  int samples;      /* first N images of the split (0: all) */
  char data[1024];  /* "fmnist" (the installed data set) or a directory of IDX files, as model */
} hant_deploy_job_eval;

typedef struct hant_deploy_job {
  hant_deploy_job_kind kind;
  uint64_t seed; /* of fine-tuning (0 runs as 1); hantd uses the job's id */
  uid_t uid;     /* the peer that asked: with places, the job's files are resolved in its places (place.h) */
  hant_deploy_job_transform transform; /* read when kind is HANT_DEPLOY_JOB_TRANSFORM */
  hant_deploy_job_eval eval;           /* read when kind is HANT_DEPLOY_JOB_EVAL */
  /* Where a transform's fine-tuning checkpoints (hant_deploy_opts.checkpoint);
   * "" for none. Not part of what the job asks: its runner sets it. */
  char checkpoint[1280];
} hant_deploy_job;

/* A new job of a kind, asked nothing yet: no candidates, no output path,
 * every transform option -1, unknown accuracies (NaN), and an eval of the
 * whole "test" split of "fmnist" with no model. The caller owns *out
 * (hant_deploy_job_destroy). HANT_EINVAL for a bad kind, HANT_ENOMEM. */
int hant_deploy_job_new(hant_deploy_job_kind kind, hant_deploy_job **out);
/* A deep copy of job (its candidate ids too), owned by the caller. */
int hant_deploy_job_copy(const hant_deploy_job *job, hant_deploy_job **out);
/* Frees a job and what it owns. NULL is a no-op. */
void hant_deploy_job_destroy(hant_deploy_job *job);

/* Sets a transform job's candidates to a copy of ids[0..n-1]. */
int hant_deploy_job_set_candidates(hant_deploy_job *job, const int64_t *ids, int n);

/* What a finished job did: the member of its kind is filled. */
typedef struct hant_deploy_job_result {
  hant_deploy_export_info transform;
  hant_deploy_eval_info eval;
} hant_deploy_job_result;

/* Runs a job to its end on st (the calling thread's store connection,
 * from which a transform job reads the teacher and its candidates):
 * hant_deploy_transform for a transform job, hant_deploy_eval for an eval
 * job, with the job's options. With places (hantd's jobs), every file the
 * job names is resolved in job->uid's places before any work: a transform
 * writes `out` through the directory resolved then, an eval opens `model`
 * (O_NONBLOCK, a regular file only) and `data` beneath them, so a path the
 * peer could not name in its request is refused here too (a row edited in
 * the database, a link planted since). With places NULL (programs) the
 * paths are used as given. progress (may be NULL) is called between
 * steps; its nonzero return stops the job with HANT_ECANCELED and no
 * output file. On success *res says what was done; on failure the error
 * is returned and hant_errmsg() says why. */
int hant_deploy_job_run(const hant_deploy_job *job, const hant_places *places, hant_store *st,
                        hant_deploy_progress_fn progress, void *user, hant_deploy_job_result *res);

#endif
