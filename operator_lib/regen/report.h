/* SPDX-License-Identifier: MIT */
/* report.h: the regeneration report (report.md, report.html and per-device SVG Pareto plots) and atomic file writes. */
#ifndef HANT_REPORT_H
#define HANT_REPORT_H

#include <stddef.h>

#include "svgplot.h"

/* One fleet entry as the report shows it. Strings are borrowed; numbers
 * are NaN when unknown (a failed entry, no evaluation). */
typedef struct hant_report_entry {
  const char *device, *name;
  const char *budgets;    /* as asked, e.g. "2W, 30 fps" */
  const char *status;     /* "ok" or "failed" */
  const char *error;      /* why it failed, or NULL */
  const char *power_mode; /* or NULL */
  double predicted_accuracy, test_accuracy; /* fractions 0-1 */
  double latency_ms, energy_mj, power_w;    /* predicted on the device, per inference */
  double co2e_g_per_million;                /* grams of CO2e per million inferences */
  double grid_g_per_kwh;                    /* the grid intensity co2e_g_per_million used */
  int finetune_epochs;
  /* The teacher on the same device and power mode, predicted the same way
   * (NaN when unknown): the table shows each cost's cut against it and
   * flags an entry slower or hungrier than the teacher. */
  double teacher_latency_ms, teacher_energy_mj;
  /* The entry's own budgets on the plots' axes (NaN when it has none): a
   * latency budget or 1/fps, and an energy budget. */
  double budget_latency_ms, budget_energy_mj;
} hant_report_entry;

/* A device's Pareto fronts (predicted accuracy against energy and against
 * latency) and its teacher for reference. */
typedef struct hant_report_device {
  const char *name;
  const hant_plot_point *front_energy;  /* x: energy_mj, y: predicted accuracy */
  int n_front_energy;
  const hant_plot_point *front_latency; /* x: latency_ms, y: predicted accuracy */
  int n_front_latency;
  double teacher_accuracy, teacher_energy_mj, teacher_latency_ms; /* NaN when unknown */
  double teacher_test_accuracy; /* measured with the device's entries; NaN when none was evaluated */
  const char *teacher_power_mode; /* the mode of teacher_energy_mj and _latency_ms, or NULL */
} hant_report_device;

typedef struct hant_report {
  const char *title;    /* e.g. the fleet's name */
  const char *subtitle; /* library, teacher, versions: one line, or NULL */
  int n_entries;
  const hant_report_entry *entries;
  int n_devices;
  const hant_report_device *devices;
} hant_report;

/* Writes DIR/report.md, DIR/report.html (self-contained: the plots are
 * inline) and DIR/plots/DEVICE-energy.svg and DEVICE-latency.svg (linked
 * from report.md). The table has a teacher row per device (class
 * "teacher" in the HTML) before its entries, each cost with its cut
 * against the teacher in percent, and a flag (class "flag") on an entry
 * slower or hungrier than the teacher. Each plot shows accuracy in
 * percent on the range of its points, marks every entry of its device
 * that has a choice with one <circle class="chosen"> at its predicted
 * accuracy and, when it was evaluated, a <rect class="measured"> at its
 * test accuracy, the teacher with a <rect class="reference">, and the
 * entries' budgets on that axis as <line class="budget">. Files are written atomically and left alone
 * when their content is unchanged, so a run that changes nothing touches
 * nothing. Returns 0, HANT_EIO naming the file, or HANT_ENOMEM. */
int hant_report_write(const hant_report *r, const char *dir);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync'd, then renamed over path. When path already holds exactly these
 * bytes nothing is written and *changed (may be NULL) is 0. */
int hant_report_write_atomic(const char *path, const void *data, size_t len, int *changed);

#endif
