/* SPDX-License-Identifier: MIT */
/* preset.h: named sets of library build settings, such as the few-minute "quick" library and the "full" one. */
#ifndef HANT_PRESET_H
#define HANT_PRESET_H

#include "build_settings.h"

/* Fills *s with the settings of the preset called name:
 *
 *   full   every family and candidate, all 55,000 training and 5,000
 *          validation images, up to 3 epochs for randomly initialised
 *          candidates and 2 for those initialised from the teacher, each
 *          stopping at a 2 % plateau of its validation feature loss,
 *          batch 64, seed 1: the library of docs/benchmarks.md (264
 *          candidates for the default teacher).
 *   quick  the families identity, width, prune and lowrank with at most
 *          2 candidates each per slot (the smallest and largest of each
 *          family's range), 4,096 training and 1,000 validation images,
 *          1 epoch, no plateau stop, batch 64, seed 1 (50 candidates for the default
 *          teacher; a few minutes on two cores).
 *
 * Returns 0, or HANT_EINVAL naming the presets there are. */
int hant_build_preset(const char *name, hant_build_settings *s);

/* The preset names, comma-separated, for messages and help texts. */
const char *hant_build_preset_names(void);

#endif
