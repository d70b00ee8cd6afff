/* SPDX-License-Identifier: MIT */
/* fleet.h: fleet manifests for scheduled regeneration: devices, each with budget entries, parsed with per-entry errors. */
#ifndef HANT_FLEET_H
#define HANT_FLEET_H

#include <stddef.h>

#define HANT_FLEET_MAX_BUDGETS 8

/*
 * A fleet manifest (schema/fleet.schema.json):
 *
 *   {"fleet": "name", "defaults": {ENTRY fields},
 *    "devices": [{"device": "jetson-nano", "entries": [ENTRY, ...]}, ...]}
 *
 * ENTRY: "budgets" (strings with units, as hant-client transform --budget),
 * "fps", "power_mode", "grid_g_per_kwh", "finetune_epochs",
 * "finetune_images" (or its older name "finetune_samples"),
 * "eval_samples", "name" (the output base name; by
 * default the budgets joined, "2W_30fps"). "defaults" fills fields an entry
 * leaves out. A malformed file or top level is an error of the whole file; a
 * malformed entry (a budget with a bad unit, a bad device name, a duplicate
 * name) is an error of that entry only, so the other entries still run.
 */
typedef struct hant_fleet_entry {
  char device[64];
  char name[128];      /* output base name, safe in file names: [A-Za-z0-9._-] */
  char where[64];      /* "devices[1].entries[0]", for messages */
  int n_budgets;
  char budgets[HANT_FLEET_MAX_BUDGETS][32]; /* as written, checked by hant_budget_parse */
  double fps;          /* frames per second; 0: none */
  double grid_g_per_kwh; /* < 0: the daemon's default */
  char power_mode[32]; /* "": the solver chooses */
  int finetune_epochs; /* 0: no fine-tuning; HANT_FINETUNE_EPOCHS_AUTO (finetune.h): "auto", as many as the
                          assembled network's validation loss asks */
  int finetune_samples; /* "finetune_images": fine-tune on the first N training images per epoch; 0: all 55,000 */
  int eval_samples;    /* 0: all validation and test images */
  char *canonical;     /* malloc'd canonical JSON of the entry (sorted keys, defaults applied) */
  char error[384];     /* non-empty: the entry is invalid; names the file and field */
} hant_fleet_entry;

typedef struct hant_fleet {
  char path[1024];
  char name[64];       /* "fleet" member, or "" */
  int n;
  hant_fleet_entry *entries; /* [n] in file order */
} hant_fleet;

/* Parses a manifest from memory; name labels messages. On success *out is
 * new (hant_fleet_destroy) and entries may carry their own errors. Errors
 * of the whole file: HANT_EFORMAT (not JSON, wrong top-level types, no
 * entries), HANT_ENOMEM, with a message naming the file and field. */
int hant_fleet_parse(const char *text, size_t len, const char *name, hant_fleet **out);
/* Reads a file of at most 16 MiB with hant_file_read() (file.h) and parses
 * it; HANT_ENOENT/HANT_EIO when it cannot be read or is not a regular file,
 * HANT_ELIMIT when it is larger. */
int hant_fleet_load(const char *path, hant_fleet **out);
/* Sets every valid entry's fine-tuning, as a command line that wins over
 * the manifest does: epochs >= 0 or HANT_FINETUNE_EPOCHS_AUTO replaces
 * finetune_epochs, images >= 0 replaces finetune_images (0: all); -1
 * leaves the field.
 * Each entry's canonical JSON is rebuilt, so its hash (and whether regen
 * remakes it) follows what will actually run. Returns 0 or HANT_ENOMEM. */
int hant_fleet_set_finetune(hant_fleet *f, int epochs, int images);
void hant_fleet_destroy(hant_fleet *f);

#endif
