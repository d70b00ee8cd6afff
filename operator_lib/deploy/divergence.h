/* SPDX-License-Identifier: MIT */
/* divergence.h: each candidate's divergence from the teacher, measured on assembled networks for libraries built before build measured it. */
#ifndef HANT_DIVERGENCE_H
#define HANT_DIVERGENCE_H

#include "dataset.h"
#include "library.h"
#include "store.h"

/* A candidate's divergence is the mean over the validation images of
 * KL(softmax(teacher's logits) || softmax(the logits of the teacher with
 * only that candidate in its slot)), in nats (store.h's val_kl).
 * 'hant-distill build' measures it beside the score; this measures it for
 * every candidate of lib that has none, assembling each network as
 * deployed (hant_deploy_assemble_choice), and commits each on its own
 * (hant_store_divergence_put), so a killed run resumes at the first
 * candidate still without one. val is the validation split, normalised as
 * the library was built. progress, when not NULL, is called after each
 * candidate; nonzero from it stops the run (HANT_ECANCELED). */
typedef struct hant_divergence_summary {
  int missing;    /* candidates without a divergence before the run */
  int measured;   /* measured by this run */
  double seconds; /* wall time of the run */
} hant_divergence_summary;

int hant_divergence_measure(hant_store *st, const hant_library *lib, const hant_dataset *val,
                            int (*progress)(void *user, int done, int total, const char *note), void *user,
                            hant_divergence_summary *sum);

/* The logits of net on every image of ds, [ds->n, classes] (malloc'd into
 * *out), by the inference plan in batches of 250. */
int hant_divergence_logits(hant_net *net, const hant_dataset *ds, float **out);

#endif
