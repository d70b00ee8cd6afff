/* SPDX-License-Identifier: MIT */
/* svgplot.h: small self-contained SVG scatter/step plots for regeneration reports. */
#ifndef HANT_SVGPLOT_H
#define HANT_SVGPLOT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct hant_plot_point {
  double x, y;
  const char *label; /* tooltip and legend text, or NULL */
  bool flagged;      /* drawn with a warning ring (class "flag"): costlier than the reference */
} hant_plot_point;

/* A vertical budget line at x (in the x axis' unit), labelled. */
typedef struct hant_plot_line {
  double x;
  const char *label;
} hant_plot_line;

/* A Pareto front (drawn as a step line through its points, sorted by x,
 * clipped to the plot area), the chosen points (one <circle
 * class="chosen"> each), the measured points (one <rect class="measured">
 * each, a diamond; measured[i] belongs to chosen[i] when n_measured ==
 * n_chosen and is joined to it by a thin line), an optional reference
 * point (the teacher, a <rect class="reference">) and budget lines (one
 * <line class="budget"> each).
 *
 * The y range covers the chosen, measured and reference points with a
 * margin (a quarter of their span, at least y_min_span), not the whole
 * front: the front reaches far below the accuracies anyone would pick.
 * Only when there are no such points does the front set the range. The x
 * range covers every point, the visible part of the front and the budget
 * lines. Every marker lies inside the plot area, the element
 * <rect class="plot-area">; the title sits above the legend, and neither
 * overlaps the other or the plot area. */
typedef struct hant_plot {
  const char *title, *xlabel, *ylabel;
  const hant_plot_point *front;
  int n_front;
  const hant_plot_point *chosen;
  int n_chosen;
  const hant_plot_point *measured;
  int n_measured;
  const hant_plot_point *reference; /* or NULL */
  const hant_plot_line *budgets;
  int n_budgets;
  bool log_x;                       /* x on a log10 axis (costs span decades) */
  double y_scale;                   /* tick labels show y * y_scale (100: fractions as percent); 0 means 1 */
  double y_min_span;                /* smallest y span shown, in y's unit; 0 means none */
  int width, height;                /* pixels; 0 for 640 x 420 */
} hant_plot;

/* Writes a standalone SVG document. Non-finite points (and non-positive x
 * on a log axis) are skipped. Text is XML-escaped. Returns 0, HANT_ENOMEM
 * or HANT_EIO. */
int hant_plot_svg(const hant_plot *p, FILE *f);

#endif
