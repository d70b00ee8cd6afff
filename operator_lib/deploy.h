/* SPDX-License-Identifier: MIT */
/* deploy.h: the long work after a selection: assemble the chosen network and export it as ONNX, and measure a model's accuracy. */
#ifndef HANT_DEPLOY_H
#define HANT_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Called between steps with the fraction done (0-1) and what is being
 * done. Returning nonzero stops the work, which then returns
 * HANT_ECANCELED (its output file is not written). */
typedef int (*hant_deploy_progress_fn)(void *user, double fraction, const char *note);

typedef struct hant_deploy_export_info {
  char teacher[1024]; /* the teacher file used */
  char out[1024];     /* the ONNX file written */
  size_t bytes;       /* its size */
  double macs;        /* of the assembled network, per sample */
  int64_t params;     /* trainable parameters */
  int slots;
  int nodes;
} hant_deploy_export_info;

/* Assembles the teacher of st with candidate cand_ids[i] in slot i (n
 * must be the teacher's slot count), and writes it to out_path as ONNX
 * (hant_onnx_save; written to a temporary name and renamed). The teacher
 * is read from the path the library recorded, resolved against the
 * library's directory when relative, and checked against the recorded
 * SHA-256. Candidates are decoded from the library and their batch norms
 * folded, as deployed. Errors name the teacher, candidate or output path.
 * info may be NULL; progress may be NULL. */
int hant_deploy_export(hant_store *st, const int64_t *cand_ids, int n, const char *out_path,
                       hant_deploy_progress_fn progress, void *user, hant_deploy_export_info *info);

typedef struct hant_deploy_eval_info {
  double accuracy; /* fraction 0-1 */
  double loss;     /* mean cross-entropy */
  int n;           /* images evaluated */
  char split[8];
} hant_deploy_eval_info;

/* Evaluates a model file (native or ONNX) on a Fashion-MNIST split
 * ("train", "val", "test"; data_dir NULL or "fmnist" for the installed
 * data set, else a directory of IDX files), the first `samples` images
 * (0: all), in chunks so that progress is reported and cancellation
 * honoured between them. */
int hant_deploy_eval(const char *model_path, const char *data_dir, const char *split, int samples,
                     hant_deploy_progress_fn progress, void *user, hant_deploy_eval_info *info);

#endif
