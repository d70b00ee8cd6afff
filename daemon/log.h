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

#endif
