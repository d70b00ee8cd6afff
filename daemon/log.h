/* SPDX-License-Identifier: MIT */
/* log.h: hantd's log lines, at syslog's levels, safe to write from any thread. */
#ifndef HANTD_LOG_H
#define HANTD_LOG_H

#include <syslog.h>

/* Levels are syslog's (LOG_ERR 3 .. LOG_DEBUG 7). Lines go to stderr,
 * prefixed "<N>" when stderr is the journal (journald reads the level),
 * else "hantd HH:MM:SS level: ". */
void hantd_log_init(int level);
void hantd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hantd_log_level_from_name(const char *s); /* -1 when unknown */

/* A kind of line that can come in floods (refused connections): logged at
 * most once per interval_s, and the next line logged says how many were
 * left out meanwhile. Zero-initialise it (interval_s 0 means one
 * second); one thread uses it (the loop). */
typedef struct hantd_log_limit {
  double interval_s;        /* at most one line per this many seconds */
  double last_s;            /* when the last line was logged (monotonic clock), 0: never */
  unsigned long suppressed; /* lines left out since */
} hantd_log_limit;

void hantd_log_limited(hantd_log_limit *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
