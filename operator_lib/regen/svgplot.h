/* SPDX-License-Identifier: MIT */
/* svgplot.h: small self-contained SVG scatter/step plots for regeneration reports. */
#ifndef HANT_SVGPLOT_H
#define HANT_SVGPLOT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct hant_plot_point {
  double x, y;
  const char *label; /* tooltip and legend text, or NULL */
} hant_plot_point;

/* A Pareto front (drawn as a step line through its points, sorted by x),
 * the chosen points (one <circle class="chosen"> each), and an optional
 * reference point (the teacher, a <rect class="reference">). */
typedef struct hant_plot {
  const char *title, *xlabel, *ylabel;
  const hant_plot_point *front;
  int n_front;
  const hant_plot_point *chosen;
  int n_chosen;
  const hant_plot_point *reference; /* or NULL */
  bool log_x;                       /* x on a log10 axis (costs span decades) */
  int width, height;                /* pixels; 0 for 640 x 400 */
} hant_plot;

/* Writes a standalone SVG document. Non-finite points (and non-positive x
 * on a log axis) are skipped. Text is XML-escaped. Returns 0 or HANT_EIO. */
int hant_plot_svg(const hant_plot *p, FILE *f);

#endif
