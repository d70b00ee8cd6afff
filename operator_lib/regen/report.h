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
  int finetune_epochs;
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
 * from report.md). Each plot marks every entry of its device that has a
 * choice with one <circle class="chosen"> and the teacher with a
 * <rect class="reference">. Files are written atomically and left alone
 * when their content is unchanged, so a run that changes nothing touches
 * nothing. Returns 0, HANT_EIO naming the file, or HANT_ENOMEM. */
int hant_report_write(const hant_report *r, const char *dir);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync'd, then renamed over path. When path already holds exactly these
 * bytes nothing is written and *changed (may be NULL) is 0. */
int hant_report_write_atomic(const char *path, const void *data, size_t len, int *changed);

#endif
