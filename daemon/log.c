/* SPDX-License-Identifier: MIT */
/* log.c: hantd's log lines on stderr, with levels journald understands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int max_level = LOG_INFO;
static int journal; /* stderr is connected to the journal */

static const char *const level_names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};

void hantd_log_init(int level) {
  max_level = level;
  journal = getenv("JOURNAL_STREAM") != NULL;
}

int hantd_log_level_from_name(const char *s) {
  for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
    if (!strcmp(s, level_names[i]))
      return i;
  if (!strcmp(s, "err"))
    return LOG_ERR;
  if (!strcmp(s, "warn"))
    return LOG_WARNING;
  return -1;
}

/* One write per line, so lines of several threads never interleave. */
static void emit(int level, const char *msg) {
  char line[2200];
  if (journal) {
    /* sd-daemon(3): a "<N>" prefix sets the priority of the line. */
    snprintf(line, sizeof(line), "<%d>%s\n", level, msg);
  } else {
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    snprintf(line, sizeof(line), "hantd %s %s: %s\n", ts, level_names[level & 7], msg);
  }
  fputs(line, stderr);
  fflush(stderr);
}

void hantd_log(int level, const char *fmt, ...) {
  if (level > max_level)
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  emit(level, msg);
}

void hantd_log_limited(hantd_log_limit *l, int level, const char *fmt, ...) {
  if (level > max_level)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double now = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
  /* A flood of 1000 refusals is one line a second, not 1000 lines. */
  if (l->last_s > 0 && now - l->last_s < (l->interval_s > 0 ? l->interval_s : 1.0)) {
    l->suppressed++;
    return;
  }
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (l->suppressed && n >= 0 && (size_t)n < sizeof(msg))
    snprintf(msg + n, sizeof(msg) - (size_t)n, " (and %lu more like it in the last %.1f s)", l->suppressed,
             now - l->last_s);
  l->suppressed = 0;
  l->last_s = now;
  emit(level, msg);
}
