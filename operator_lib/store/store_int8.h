/* SPDX-License-Identifier: MIT */
/* store_int8.h: the library's int8 scores: each candidate's validation accuracy under int8 arithmetic, and the int8 teacher they are measured against. */
#ifndef HANT_STORE_INT8_H
#define HANT_STORE_INT8_H

#include <stdint.h>

#include "store.h"

/* How the library's int8 networks are quantised, and its int8 teacher's
 * accuracy (meta keys int8.*, schema version 7). Fixed by the first
 * 'hant-distill quantize' on the library: every candidate's int8 variant is
 * calibrated the same way, so that the scores compare. */
typedef struct hant_int8_teacher_rec {
  char calib[16];       /* "minmax" or "percentile" (hant_qcalib_name) */
  double percentile;    /* the percentile method's cut, e.g. 99.99 (kept for either method) */
  int calib_images;     /* training images the ranges are calibrated on */
  double val_accuracy;  /* the int8 teacher's top-1 accuracy, fraction 0-1, on val_images validation images */
  double fp32_val_accuracy; /* the float teacher's on the same images, for the comparison */
  int val_images;       /* first validation images every int8 accuracy is measured on */
  char created[32];
} hant_int8_teacher_rec;

/* Stores the int8 teacher and the calibration in one transaction,
 * replacing any stored before, and bumps the library version (the int8
 * baseline changes what answers say). */
int hant_store_int8_teacher_put(hant_store *st, const hant_int8_teacher_rec *t);
/* HANT_ENOENT, without a message, when the library has no int8 teacher
 * (never quantised, or built before schema version 7). */
int hant_store_int8_teacher_get(hant_store *st, hant_int8_teacher_rec *t);

/* One candidate's int8 score (table candidate_int8). */
typedef struct hant_cand_int8_rec {
  int64_t candidate_id;
  double val_accuracy; /* int8 accuracy of the teacher with only this candidate in its slot, fraction 0-1 */
  double score;        /* val_accuracy - the int8 teacher's (negative: a loss) */
  char calib[16];      /* method its ranges were calibrated with */
  int val_images;
  char created[32];
} hant_cand_int8_rec;

/* Inserts or replaces a candidate's int8 score in its own transaction (a
 * killed quantisation keeps every row it finished) and bumps the library
 * version, as cost writes do, so that daemons reload. HANT_EINVAL when the
 * accuracy is not in [0, 1] or the method is empty; HANT_EDB naming the
 * library otherwise (an unknown candidate id is refused by its foreign
 * key). */
int hant_store_int8_put(hant_store *st, const hant_cand_int8_rec *r);
/* Every int8 score, ordered by candidate id; *out is malloc'd (free it),
 * NULL when there are none. */
int hant_store_int8_scores(hant_store *st, hant_cand_int8_rec **out, int *n);

#endif
