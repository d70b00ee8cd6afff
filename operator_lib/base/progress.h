/* SPDX-License-Identifier: MIT */
/* progress.h: progress bars for long work on a terminal (stderr), silent elsewhere. */
#ifndef HANT_PROGRESS_H
#define HANT_PROGRESS_H

#include <stdbool.h>

typedef struct hant_progress {
  bool tty;        /* stderr is a terminal: draw; otherwise stay quiet */
  double t0;       /* start time, seconds */
  double last;     /* last redraw, seconds */
  char label[64];
} hant_progress;

void hant_progress_start(hant_progress *p, const char *label);
/* Redraws at most 10 times a second: bar, percentage, ETA and a note. */
void hant_progress_update(hant_progress *p, double done, double total, const char *note);
/* Seconds left at the rate so far: elapsed_s spent on done units of work
 * (this run's, whatever the unit), left units remaining. 0 until a little
 * work is done (the rate is unknown), and never negative. */
double hant_progress_eta_s(double elapsed_s, double done, double left);
/* Clears the bar line. */
void hant_progress_end(hant_progress *p);

#endif
