/* SPDX-License-Identifier: MIT */
/* data_internal.h: what the data area's backends share: loaders by format and split trimming. */
#ifndef HANT_DATA_INTERNAL_H
#define HANT_DATA_INTERNAL_H

#include "data_load.h"

/* Largest data file read whole (a CIFAR batch, an .npy array, an image). */
#define HANT_DATA_MAX_FILE ((size_t)1 << 31)

/* Keeps records [lo, hi) of ds, then only the first `limit` of them when
 * limit > 0, in place. HANT_ENOMEM leaves ds as it was. */
int hant__dataset_keep(hant_dataset *ds, int lo, int hi, int limit);

/* Each backend loads one split of dir as hant_data_load documents. */
int hant__cifar_load(const char *dir, hant_split split, int limit, hant_dataset *out);
int hant__npy_load(const char *dir, hant_split split, int limit, int classes, hant_dataset *out);
int hant__folder_load(const char *dir, const hant_data_spec *spec, hant_split split, int limit, hant_dataset *out);

#endif
