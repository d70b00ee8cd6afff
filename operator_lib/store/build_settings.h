/* SPDX-License-Identifier: MIT */
/* build_settings.h: the settings a library was built with (preset, families, images, epochs), recorded in the library. */
#ifndef HANT_BUILD_SETTINGS_H
#define HANT_BUILD_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* What `hant-distill build` trained a library with. A candidate's weights
 * and score depend on the training settings (samples, epochs, batch,
 * seed), so every candidate of one library must share them; the choice of
 * candidates (families, per_family) may grow from one run to the next. */
typedef struct hant_build_settings {
  char preset[16];     /* "quick", "full", or "" when no preset was named */
  char families[128];  /* as hant_family_mask reads it, e.g. "width,prune" or "all" */
  int per_family;      /* candidates kept per family and slot, spread over its range; 0 keeps all */
  int samples;         /* training images: the first N of the train split (in a preset, 0: all) */
  int val_samples;     /* validation images scoring the candidates: the first M of the val split (0: all) */
  int epochs;          /* distillation round cap (one epoch each) of randomly initialised candidates */
  int epochs_teacher;  /* ... of teacher-initialised ones; 0: epochs */
  double plateau;      /* relative validation-loss gain below which a candidate stops early; 0: never */
  int recipe;          /* how rounds train (HANT_BUILD_RECIPE); libraries that predate the field read 1 */
  int batch;           /* training batch size */
  /* How dws, ir (and from recipe 3 group) candidates start: "random"
   * (as generated), or "lsq" (their last conv fitted to the teacher by
   * least squares, distill.h);
   * "" reads as "random", which libraries before the field used. */
  char init[8];
  uint64_t seed;       /* the build seed candidates' seeds derive from */
  /* The data the library was trained on, as hant_data_describe gives it
   * ("fmnist", "cifar /data/c10"); "" when not recorded (libraries built
   * before it was). */
  char data[160];
  /* The input normalisation every use of the library repeats (build,
   * calibration, fine-tuning, evaluation): pixel / 255 becomes
   * (pixel / 255 - mean[ch]) / std[ch] for ch < norm_k (1: every channel
   * alike). norm_k 0: none, and the JSON has no "mean" or "std". */
  int norm_k;
  float mean[4];
  float std[4];
} hant_build_settings;

/* Version of the distillation recipe: 1 trained every epoch on one cosine
 * schedule and re-estimated BN on the last epoch's order; 2 trains in
 * rounds with a plateau stop and re-estimates BN on the first round's
 * order; 3 also starts group candidates from a least-squares fit of their
 * last conv when dws and ir get one (--init lsq), and ends ir candidates
 * in a ReLU where the teacher's slot ends in one (post=relu). One epoch
 * from random starts trains alike in all three, so such libraries may
 * mix; otherwise one library holds one recipe. */
#define HANT_BUILD_RECIPE 3

/* Records s as the library's build settings (the meta row
 * "build.settings", JSON), replacing earlier ones, in its own statement. */
int hant_build_settings_put(hant_store *st, const hant_build_settings *s);

/* Reads the recorded settings into *s. HANT_ENOENT when the library has
 * none (built before settings were recorded); HANT_EFORMAT, naming the
 * library and the field, when the row is not what hant writes. */
int hant_build_settings_get(hant_store *st, hant_build_settings *s);

/* Whether a and b train candidates the same way (samples, round caps,
 * plateau, batch, seed, recipe, normalisation): only then may one library
 * hold candidates of both. */
bool hant_build_settings_same_training(const hant_build_settings *a, const hant_build_settings *b);

#endif
