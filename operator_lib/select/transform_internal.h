/* SPDX-License-Identifier: MIT */
/* transform_internal.h: what the transform solve hands to measured re-ranking: the problem of each power mode and how to total a choice. */
#ifndef HANT_TRANSFORM_INTERNAL_H
#define HANT_TRANSFORM_INTERNAL_H

#include <stddef.h>

#include "select.h"
#include "transform_solve.h"

/* A transform request's problems, as transform_solve.c built them. Every
 * pointer is borrowed from the solve, which outlives the re-ranking. */
struct hant__transform_space {
  const hant_library *lib;
  const hant_library_device *dev;
  int n_slots;
  const size_t *gsize; /* [n_slots] items of each slot */
  const int *item;     /* [n_items] index into lib->cands of each item, slot 0's first */
  int n_modes;
  const int *mode;                           /* [n_modes] index into the device's modes */
  const struct hant_select_problem *problem; /* [n_modes] the problem of each mode */
  /* Writes the totals of choice ([n_slots] indices into lib->cands) in the
   * device's mode dm. */
  void (*totals)(const void *ctx, int dm, const int *choice, hant_transform_totals *t);
  const void *ctx;
};

/* Measured re-ranking of a solved transform whose result has a choice:
 * finds the req->rerank_k best distinct choices over every mode of sp,
 * measures each with req->accuracy and makes the best measured res's
 * choice, filling res's re-ranking fields (transform_solve.h). Returns 0,
 * HANT_ENOMEM, or the callback's error (res then keeps the predicted
 * optimum, without re-ranking fields). */
int hant__transform_rerank(const struct hant__transform_space *sp, const hant_transform_req *req,
                           hant_transform_result *res);

#endif
