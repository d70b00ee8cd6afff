/* SPDX-License-Identifier: MIT */
/* progress.c: a one-line progress bar with an ETA, drawn only on terminals. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

void hant_progress_start(hant_progress *p, const char *label) {
  memset(p, 0, sizeof(*p));
  p->tty = isatty(2);
  p->t0 = p->last = hant_now_s();
  snprintf(p->label, sizeof(p->label), "%s", label);
}

void hant_progress_update(hant_progress *p, double done, double total, const char *note) {
  if (!p->tty)
    return;
  double now = hant_now_s();
  if (now - p->last < 0.1 && done < total)
    return;
  p->last = now;
  double f = total > 0 ? done / total : 0.0;
  if (f > 1.0)
    f = 1.0;
  char bar[31];
  int fill = (int)(f * 30.0);
  for (int i = 0; i < 30; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[30] = '\0';
  double el = now - p->t0, eta = f > 0.001 ? el * (1.0 - f) / f : 0.0;
  fprintf(stderr, "\r\033[K%s [%s] %5.1f%% eta %dm%02ds %s", p->label, bar, 100.0 * f, (int)eta / 60,
          (int)eta % 60, note ? note : "");
  fflush(stderr);
}

double hant_progress_eta_s(double elapsed_s, double done, double left) {
  /* Before anything finishes the rate is noise: say nothing. */
  if (!(done > 0) || !(elapsed_s > 0.5) || !(left > 0))
    return 0.0;
  return elapsed_s / done * left;
}

void hant_progress_end(hant_progress *p) {
  if (p->tty) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
}
