/* SPDX-License-Identifier: MIT */
/* config.c: hantd's configuration: defaults, the "key = value" file, and the default paths. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "hant.h"
#include "log.h"

void hantd_config_default(hantd_config *c) {
  memset(c, 0, sizeof(*c));
  c->socket_mode = 0600;
  c->workers = 2;
  c->queue = 64;
  c->job_workers = 1;
  c->max_jobs_queued = 64;
  c->max_message = HANT_RPC_MAX_MESSAGE_DEFAULT;
  c->idle_timeout_s = 300;
  c->cache_entries = 4096;
  c->max_clients = 1024;
  c->max_inflight = 32;
  c->write_high = (size_t)4 << 20;
  c->time_limit_ms = 2000;
  c->shutdown_timeout_s = 30;
  c->log_level = LOG_INFO;
  c->max_job_attempts = 3;
  c->job_heartbeat_s = 3;
  c->job_lease_heartbeats = 5;
  c->job_keep_days = 30;
  c->job_keep_count = 1000;
  c->max_buffered = (size_t)256 << 20;
}

void hantd_default_socket(char *buf, size_t n) {
  const char *rt = getenv("XDG_RUNTIME_DIR");
  if (rt && rt[0] == '/')
    snprintf(buf, n, "%s/hant/hantd.sock", rt);
  else
    snprintf(buf, n, "/run/hantd/hantd.sock");
}

/* The default state directory; see config.h. */
static void default_state_dir(char *buf, size_t n) {
  const char *sd = getenv("STATE_DIRECTORY"), *xs = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  if (sd && sd[0] == '/')
    snprintf(buf, n, "%.*s", (int)strcspn(sd, ":"), sd); /* systemd lists several with ':' */
  else if (geteuid() == 0)
    snprintf(buf, n, "/var/lib/hantd");
  else if (xs && xs[0] == '/')
    snprintf(buf, n, "%s/hant", xs);
  else if (home && home[0] == '/')
    snprintf(buf, n, "%s/.local/state/hant", home);
  else
    snprintf(buf, n, "/var/lib/hantd");
}

void hantd_config_paths(hantd_config *c) {
  if (!c->state_dir[0])
    default_state_dir(c->state_dir, sizeof(c->state_dir));
  if (!c->socket[0])
    hantd_default_socket(c->socket, sizeof(c->socket));
  if (!c->db[0]) {
    const char *dh = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (dh && dh[0] == '/')
      snprintf(c->db, sizeof(c->db), "%s/hant/library.db", dh);
    else if (home && home[0] == '/')
      snprintf(c->db, sizeof(c->db), "%s/.local/share/hant/library.db", home);
    else
      snprintf(c->db, sizeof(c->db), "/var/lib/hantd/library.db");
  }
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

static int num(const char *path, int line, const char *key, const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
    return hant__error(HANT_ERANGE, "%s:%d: %s: expected a number from %g to %g, got '%s'", path, line, key, lo, hi,
                       v);
  *out = x;
  return 0;
}

static int uid_of(const char *s, uid_t *uid) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  /* (uid_t)-1 means "no uid" to the kernel, and a larger number would wrap round to another user. */
  if (!errno && end != s && !*end && v >= 0 && (unsigned long)v < (uid_t)-1) {
    *uid = (uid_t)v;
    return 0;
  }
  struct passwd *pw = getpwnam(s);
  if (!pw)
    return -1;
  *uid = pw->pw_uid;
  return 0;
}

/* A comma-separated list of absolute directories, blanks around each
 * trimmed (paths with commas cannot be listed). */
static int dirs(const char *path, int line, const char *key, char *v, char (*out)[1024], int *n) {
  *n = 0;
  char *save = NULL;
  for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    t = trim(t);
    if (!*t)
      continue;
    if (t[0] != '/' || strlen(t) >= 1024 || *n == HANTD_MAX_DIRS)
      return hant__error(HANT_EINVAL,
                         "%s:%d: %s: expected at most %d absolute directories of under 1024 bytes separated by "
                         "commas, got '%s'",
                         path, line, key, HANTD_MAX_DIRS, t);
    snprintf(out[(*n)++], 1024, "%s", t);
  }
  return 0;
}

/* A string setting, refused rather than cut when it does not fit: a cut
 * path would name another file. */
static int string_value(const char *path, int line, const char *key, const char *v, char *out, size_t n) {
  if (strlen(v) >= n)
    return hant__error(HANT_ELIMIT, "%s:%d: %s: expected at most %zu bytes, got %zu", path, line, key, n - 1,
                       strlen(v));
  snprintf(out, n, "%s", v);
  return 0;
}

/* Longest line of a configuration file, in bytes. */
#define CONFIG_LINE_MAX 2047
/* Largest configuration file read, in bytes. */
#define CONFIG_FILE_MAX ((size_t)1 << 20)

int hantd_config_parse_text(const char *text, size_t len, const char *path, hantd_config *c) {
  char buf[CONFIG_LINE_MAX + 1];
  hant_lines lines;
  hant_lines_init(&lines, path, text, len, CONFIG_LINE_MAX);
  int rc = 0, got;
  while (!rc && (got = hant_lines_next(&lines, buf)) != 0) {
    if (got < 0)
      return got;
    int line = lines.lineno;
    char *hash = strchr(buf, '#');
    if (hash)
      *hash = '\0';
    char *s = trim(buf);
    if (!*s)
      continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: expected 'key = value'", path, line);
      break;
    }
    *eq = '\0';
    char *key = trim(s), *v = trim(eq + 1);
    double x = 0;
    if (!strcmp(key, "db")) {
      rc = string_value(path, line, key, v, c->db, sizeof(c->db));
    } else if (!strcmp(key, "socket")) {
      rc = string_value(path, line, key, v, c->socket, sizeof(c->socket));
    } else if (!strcmp(key, "devices")) {
      rc = string_value(path, line, key, v, c->devices_dir, sizeof(c->devices_dir));
    } else if (!strcmp(key, "state_dir")) {
      if (v[0] != '/')
        rc = hant__error(HANT_EINVAL, "%s:%d: state_dir: expected an absolute directory, got '%s'", path, line, v);
      else
        rc = string_value(path, line, key, v, c->state_dir, sizeof(c->state_dir));
    } else if (!strcmp(key, "output_dirs")) {
      rc = dirs(path, line, key, v, c->output_dirs, &c->n_output_dirs);
    } else if (!strcmp(key, "model_dirs")) {
      rc = dirs(path, line, key, v, c->model_dirs, &c->n_model_dirs);
    } else if (!strcmp(key, "socket_mode")) {
      char *end;
      long m = strtol(v, &end, 8);
      if (end == v || *end || m < 0 || m > 0777 || (m & 0177 & ~0060))
        rc = hant__error(HANT_EINVAL,
                         "%s:%d: socket_mode: expected octal permissions such as 0600 or 0660 (no access for others "
                         "unless allowed_uids = any), got '%s'",
                         path, line, v);
      c->socket_mode = (unsigned)m;
    } else if (!strcmp(key, "socket_mode_unsafe")) {
      /* Any mode, for tests of uid checks with world-writable sockets. */
      char *end;
      long m = strtol(v, &end, 8);
      if (end == v || *end || m < 0 || m > 0777)
        rc = hant__error(HANT_EINVAL, "%s:%d: socket_mode_unsafe: expected octal permissions, got '%s'", path, line,
                         v);
      c->socket_mode = (unsigned)m;
    } else if (!strcmp(key, "socket_group")) {
      if (!getgrnam(v))
        rc = hant__error(HANT_ENOENT, "%s:%d: socket_group: no group '%s'", path, line, v);
      else
        rc = string_value(path, line, key, v, c->socket_group, sizeof(c->socket_group));
    } else if (!strcmp(key, "allowed_uids")) {
      c->n_allowed = 0;
      c->allow_any = false;
      if (!strcmp(v, "any")) {
        c->allow_any = true;
        continue;
      }
      char *save = NULL;
      for (char *t = strtok_r(v, ", ", &save); t && !rc; t = strtok_r(NULL, ", ", &save)) {
        uid_t u;
        if (c->n_allowed == HANTD_MAX_ALLOWED_UIDS || uid_of(t, &u)) {
          rc = hant__error(HANT_EINVAL, "%s:%d: allowed_uids: '%s' is not a user (or more than %d users)", path, line,
                           t, HANTD_MAX_ALLOWED_UIDS);
          break;
        }
        c->allowed[c->n_allowed++] = u;
      }
    } else if (!strcmp(key, "workers")) {
      if (!(rc = num(path, line, key, v, 1, 64, &x)))
        c->workers = (int)x;
    } else if (!strcmp(key, "queue")) {
      if (!(rc = num(path, line, key, v, 1, 100000, &x)))
        c->queue = (int)x;
    } else if (!strcmp(key, "job_workers")) {
      if (!(rc = num(path, line, key, v, 1, 16, &x)))
        c->job_workers = (int)x;
    } else if (!strcmp(key, "max_jobs_queued")) {
      if (!(rc = num(path, line, key, v, 1, 100000, &x)))
        c->max_jobs_queued = (int)x;
    } else if (!strcmp(key, "max_message_bytes")) {
      if (!(rc = num(path, line, key, v, 1024, 1 << 30, &x)))
        c->max_message = (size_t)x;
    } else if (!strcmp(key, "idle_timeout_s")) {
      if (!(rc = num(path, line, key, v, 0.1, 86400 * 7, &x)))
        c->idle_timeout_s = x;
    } else if (!strcmp(key, "cache_entries")) {
      if (!(rc = num(path, line, key, v, 0, 1e7, &x)))
        c->cache_entries = (size_t)x;
    } else if (!strcmp(key, "max_clients")) {
      if (!(rc = num(path, line, key, v, 1, 1e6, &x)))
        c->max_clients = (int)x;
    } else if (!strcmp(key, "max_inflight")) {
      if (!(rc = num(path, line, key, v, 1, 100000, &x)))
        c->max_inflight = (int)x;
    } else if (!strcmp(key, "write_high_bytes")) {
      if (!(rc = num(path, line, key, v, 4096, 1 << 30, &x)))
        c->write_high = (size_t)x;
    } else if (!strcmp(key, "time_limit_ms")) {
      if (!(rc = num(path, line, key, v, 0, 600000, &x)))
        c->time_limit_ms = x;
    } else if (!strcmp(key, "shutdown_timeout_s")) {
      if (!(rc = num(path, line, key, v, 0.1, 3600, &x)))
        c->shutdown_timeout_s = x;
    } else if (!strcmp(key, "log_level")) {
      int l = hantd_log_level_from_name(v);
      if (l < 0)
        rc = hant__error(HANT_EINVAL, "%s:%d: log_level: expected error, warning, notice, info or debug, got '%s'",
                         path, line, v);
      c->log_level = l;
    } else if (!strcmp(key, "max_job_attempts")) {
      if (!(rc = num(path, line, key, v, 1, 1000, &x)))
        c->max_job_attempts = (int)x;
    } else if (!strcmp(key, "job_heartbeat_s")) {
      if (!(rc = num(path, line, key, v, 0.05, 3600, &x)))
        c->job_heartbeat_s = x;
    } else if (!strcmp(key, "job_lease_heartbeats")) {
      if (!(rc = num(path, line, key, v, 2, 1000, &x)))
        c->job_lease_heartbeats = (int)x;
    } else if (!strcmp(key, "job_keep_days")) {
      if (!(rc = num(path, line, key, v, 0, 36500, &x)))
        c->job_keep_days = x;
    } else if (!strcmp(key, "job_keep_count")) {
      if (!(rc = num(path, line, key, v, 0, 1e9, &x)))
        c->job_keep_count = (int)x;
    } else if (!strcmp(key, "max_buffered_bytes")) {
      if (!(rc = num(path, line, key, v, 1 << 20, 1ull << 40, &x)))
        c->max_buffered = (size_t)x;
    } else {
      rc = hant__error(HANT_EINVAL,
                       "%s:%d: unknown key '%.64s'; expected db, socket, devices, state_dir, output_dirs, model_dirs, "
                       "socket_mode, socket_group, "
                       "allowed_uids, workers, queue, job_workers, max_jobs_queued, max_message_bytes, idle_timeout_s, "
                       "cache_entries, max_clients, max_inflight, write_high_bytes, time_limit_ms, shutdown_timeout_s, "
                       "log_level, max_job_attempts, job_heartbeat_s, job_lease_heartbeats, job_keep_days, "
                       "job_keep_count, max_buffered_bytes",
                       path, line, key);
    }
  }
  return rc;
}

int hantd_config_load(hantd_config *c, const char *path) {
  /* stdio, not hant_file_read: a configuration may come through a pipe (--config /dev/fd/N). */
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "hantd: %s: %s\n", path, strerror(errno));
    return HANT_EIO;
  }
  size_t cap = 4096, len = 0, got;
  char *buf = malloc(cap);
  int rc = buf ? 0 : hant__error(HANT_ENOMEM, "%s: out of memory", path);
  while (!rc && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len < cap)
      continue;
    char *more = cap <= CONFIG_FILE_MAX ? realloc(buf, cap * 2) : NULL;
    if (more)
      buf = more, cap *= 2;
    else if (cap > CONFIG_FILE_MAX)
      rc = hant__error(HANT_ELIMIT, "%s: larger than %zu bytes", path, CONFIG_FILE_MAX);
    else
      rc = hant__error(HANT_ENOMEM, "%s: out of memory", path);
  }
  if (!rc && ferror(f))
    rc = hant__error(HANT_EIO, "%s: %s", path, strerror(errno));
  fclose(f);
  if (!rc)
    rc = hantd_config_parse_text(buf, len, path, c);
  free(buf);
  if (rc)
    fprintf(stderr, "hantd: %s\n", hant_errmsg());
  return rc;
}
