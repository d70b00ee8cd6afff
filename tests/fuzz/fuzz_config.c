/* SPDX-License-Identifier: MIT */
/* fuzz_config.c: fuzz target for hantd's configuration file parser: refusals name the file and line, accepted settings are in range and read back the same. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long accepted; /* files parsed whole */

static void fail(const char *what, const char *text, size_t len) {
  fprintf(stderr, "fuzz_config: %s\n--- input ---\n%.*s\n---\n%s\n", what, (int)(len < 4000 ? len : 4000), text,
          hant_errmsg());
  abort();
}

static bool ends_in_nul(const char *s, size_t n) { return memchr(s, '\0', n) != NULL; }

/* Every setting of an accepted file is one the daemon can run with. */
static const char *out_of_range(const hantd_config *c) {
  if (c->workers < 1 || c->workers > 64 || c->queue < 1 || c->queue > 100000 || c->job_workers < 1 ||
      c->job_workers > 16 || c->max_jobs_queued < 1 || c->max_jobs_queued > 100000)
    return "a thread or queue count out of range";
  if (c->max_message < 1024 || c->max_message > ((size_t)1 << 30) || c->write_high < 4096 ||
      c->write_high > ((size_t)1 << 30) || c->cache_entries > 10000000)
    return "a byte count out of range";
  if (c->max_clients < 1 || c->max_clients > 1000000 || c->max_inflight < 1 || c->max_inflight > 100000)
    return "a connection limit out of range";
  if (!(c->idle_timeout_s >= 0.1 && c->idle_timeout_s <= 7 * 86400) ||
      !(c->time_limit_ms >= 0 && c->time_limit_ms <= 600000) ||
      !(c->shutdown_timeout_s >= 0.1 && c->shutdown_timeout_s <= 3600))
    return "a time out of range";
  if (c->log_level < LOG_ERR || c->log_level > LOG_DEBUG)
    return "log_level out of range";
  if (c->max_job_attempts < 1 || c->max_job_attempts > 1000 || c->job_lease_heartbeats < 2 ||
      c->job_lease_heartbeats > 1000 || c->job_keep_count < 0 || c->job_keep_count > 1000000000 ||
      !(c->job_heartbeat_s >= 0.05 && c->job_heartbeat_s <= 3600) ||
      !(c->job_keep_days >= 0 && c->job_keep_days <= 36500) || c->max_buffered < ((size_t)1 << 20) ||
      c->max_buffered > ((size_t)1 << 40))
    return "a job or buffer setting out of range";
  if (c->socket_mode > 0777)
    return "socket_mode is not permission bits";
  if (!ends_in_nul(c->db, sizeof(c->db)) || !ends_in_nul(c->socket, sizeof(c->socket)) ||
      !ends_in_nul(c->devices_dir, sizeof(c->devices_dir)) || !ends_in_nul(c->state_dir, sizeof(c->state_dir)) ||
      !ends_in_nul(c->socket_group, sizeof(c->socket_group)))
    return "a string setting without its NUL";
  if (c->state_dir[0] && c->state_dir[0] != '/')
    return "state_dir is not absolute";
  if (c->n_output_dirs < 0 || c->n_output_dirs > HANTD_MAX_DIRS || c->n_model_dirs < 0 ||
      c->n_model_dirs > HANTD_MAX_DIRS)
    return "too many directories";
  for (int i = 0; i < c->n_output_dirs; i++)
    if (c->output_dirs[i][0] != '/' || !ends_in_nul(c->output_dirs[i], sizeof(c->output_dirs[i])))
      return "an output directory that is not absolute";
  for (int i = 0; i < c->n_model_dirs; i++)
    if (c->model_dirs[i][0] != '/' || !ends_in_nul(c->model_dirs[i], sizeof(c->model_dirs[i])))
      return "a model directory that is not absolute";
  if (c->n_allowed < 0 || c->n_allowed > HANTD_MAX_ALLOWED_UIDS || (c->allow_any && c->n_allowed))
    return "allowed_uids inconsistent";
  for (int i = 0; i < c->n_allowed; i++)
    if (c->allowed[i] == (uid_t)-1)
      return "allowed_uids holds (uid_t)-1, which names no user";
  return NULL;
}

/* The value the last "key = value" line of an accepted text gives key,
 * read plainly: NULL when no line sets it. The result is malloc'd. */
static char *last_value(const char *text, size_t len, const char *key) {
  char *found = NULL;
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
    const char *line = text + pos, *hash = memchr(line, '#', n), *eq;
    pos += n + 1;
    if (hash)
      n = (size_t)(hash - line);
    if (!(eq = memchr(line, '=', n)))
      continue;
    size_t a = 0, b = (size_t)(eq - line);
    while (a < b && isspace((unsigned char)line[a]))
      a++;
    while (b > a && isspace((unsigned char)line[b - 1]))
      b--;
    if (b - a != strlen(key) || memcmp(line + a, key, b - a))
      continue;
    a = (size_t)(eq - line) + 1, b = n;
    while (a < b && isspace((unsigned char)line[a]))
      a++;
    while (b > a && isspace((unsigned char)line[b - 1]))
      b--;
    free(found);
    found = strndup(line + a, b - a);
  }
  return found;
}

/* Paths and names are kept whole: a cut path would name another file. */
static const char *cut_string(const hantd_config *c, const char *text, size_t len) {
  const struct {
    const char *key, *value;
  } strings[] = {{"db", c->db}, {"socket", c->socket}, {"devices", c->devices_dir}, {"state_dir", c->state_dir},
                 {"socket_group", c->socket_group}};
  for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
    char *v = last_value(text, len, strings[i].key);
    bool cut = v && strcmp(v, strings[i].value);
    free(v);
    if (cut)
      return strings[i].key;
  }
  return NULL;
}

static size_t put(char *buf, size_t n, size_t o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t put(char *buf, size_t n, size_t o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + (o < n ? o : n), o < n ? n - o : 0, fmt, ap);
  va_end(ap);
  return o + (k > 0 ? (size_t)k : 0);
}

static void put_dirs(char *buf, size_t n, size_t *o, const char *key, char (*dirs)[1024], int count) {
  if (!count)
    return;
  *o = put(buf, n, *o, "%s=", key);
  for (int i = 0; i < count; i++)
    *o = put(buf, n, *o, "%s%s", i ? "," : "", dirs[i]);
  *o = put(buf, n, *o, "\n");
}

/* The settings written back as a configuration file, "key=value" with
 * no blanks, so that no line comes out longer than the line it came from. */
static size_t write_back(const hantd_config *c, char *buf, size_t n) {
  static const char *const levels[] = {"", "", "", "error", "warning", "notice", "info", "debug"};
  size_t o = 0;
  o = put(buf, n, o, "db=%s\nsocket=%s\ndevices=%s\n", c->db, c->socket, c->devices_dir);
  if (c->state_dir[0])
    o = put(buf, n, o, "state_dir=%s\n", c->state_dir);
  put_dirs(buf, n, &o, "output_dirs", (char(*)[1024])c->output_dirs, c->n_output_dirs);
  put_dirs(buf, n, &o, "model_dirs", (char(*)[1024])c->model_dirs, c->n_model_dirs);
  o = put(buf, n, o, "socket_mode_unsafe=%o\n", c->socket_mode);
  if (c->socket_group[0])
    o = put(buf, n, o, "socket_group=%s\n", c->socket_group);
  if (c->allow_any) {
    o = put(buf, n, o, "allowed_uids=any\n");
  } else if (c->n_allowed) {
    o = put(buf, n, o, "allowed_uids=");
    for (int i = 0; i < c->n_allowed; i++)
      o = put(buf, n, o, "%s%u", i ? "," : "", (unsigned)c->allowed[i]);
    o = put(buf, n, o, "\n");
  }
  o = put(buf, n, o,
          "workers = %d\nqueue = %d\njob_workers = %d\nmax_jobs_queued = %d\nmax_message_bytes = %zu\n"
          "idle_timeout_s = %.17g\ncache_entries = %zu\nmax_clients = %d\nmax_inflight = %d\n"
          "write_high_bytes = %zu\ntime_limit_ms = %.17g\nshutdown_timeout_s = %.17g\nlog_level = %s\n",
          c->workers, c->queue, c->job_workers, c->max_jobs_queued, c->max_message, c->idle_timeout_s,
          c->cache_entries, c->max_clients, c->max_inflight, c->write_high, c->time_limit_ms, c->shutdown_timeout_s,
          levels[c->log_level & 7]);
  o = put(buf, n, o,
          "max_job_attempts = %d\njob_heartbeat_s = %.17g\njob_lease_heartbeats = %d\njob_keep_days = %.17g\n"
          "job_keep_count = %d\nmax_buffered_bytes = %zu\n",
          c->max_job_attempts, c->job_heartbeat_s, c->job_lease_heartbeats, c->job_keep_days, c->job_keep_count,
          c->max_buffered);
  return o;
}

static bool same_dirs(char (*a)[1024], int na, char (*b)[1024], int nb) {
  if (na != nb)
    return false;
  for (int i = 0; i < na; i++)
    if (strcmp(a[i], b[i]))
      return false;
  return true;
}

/* What the daemon reads of two configurations is the same (entries past
 * the counts and bytes past the NULs are not read). */
static bool same(const hantd_config *a, const hantd_config *b) {
  if (strcmp(a->db, b->db) || strcmp(a->socket, b->socket) || strcmp(a->devices_dir, b->devices_dir) ||
      strcmp(a->state_dir, b->state_dir) || strcmp(a->socket_group, b->socket_group))
    return false;
  if (!same_dirs((char(*)[1024])a->output_dirs, a->n_output_dirs, (char(*)[1024])b->output_dirs, b->n_output_dirs) ||
      !same_dirs((char(*)[1024])a->model_dirs, a->n_model_dirs, (char(*)[1024])b->model_dirs, b->n_model_dirs))
    return false;
  if (a->allow_any != b->allow_any || a->n_allowed != b->n_allowed ||
      memcmp(a->allowed, b->allowed, sizeof(a->allowed[0]) * (size_t)a->n_allowed))
    return false;
  return a->socket_mode == b->socket_mode && a->workers == b->workers && a->queue == b->queue &&
         a->job_workers == b->job_workers && a->max_jobs_queued == b->max_jobs_queued &&
         a->max_message == b->max_message && a->idle_timeout_s == b->idle_timeout_s &&
         a->cache_entries == b->cache_entries && a->max_clients == b->max_clients &&
         a->max_inflight == b->max_inflight && a->write_high == b->write_high &&
         a->time_limit_ms == b->time_limit_ms && a->shutdown_timeout_s == b->shutdown_timeout_s &&
         a->log_level == b->log_level && a->foreground == b->foreground &&
         a->max_job_attempts == b->max_job_attempts && a->job_heartbeat_s == b->job_heartbeat_s &&
         a->job_lease_heartbeats == b->job_lease_heartbeats && a->job_keep_days == b->job_keep_days &&
         a->job_keep_count == b->job_keep_count && a->max_buffered == b->max_buffered;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  static hantd_config c, again;
  hantd_config_default(&c);
  hant_errmsg_clear();
  int rc = hantd_config_parse_text(text, size, "fuzz.conf", &c);
  if (rc) {
    /* Refused: a code, and a message that names the file (and, but for
     * lines too long to read, the line). */
    if (rc > 0 || (rc != HANT_ENOMEM && strncmp(hant_errmsg(), "fuzz.conf:", 10)))
      fail("a refusal without a HANT_E* code or a message naming the file", text, size);
    return 0;
  }
  accepted++;
  const char *bad = out_of_range(&c);
  if (bad)
    fail(bad, text, size);
  if (cut_string(&c, text, size))
    fail("a string setting is not the value the file gives", text, size);
  /* Written back as a file, the settings read back the same: nothing
   * accepted is cut, rounded or lost on the way. */
  static char back[1 << 16];
  size_t n = write_back(&c, back, sizeof(back));
  if (n >= sizeof(back))
    fail("settings too long to write back", text, size);
  hantd_config_default(&again);
  if (hantd_config_parse_text(back, n, "back.conf", &again))
    fail("the settings written back are refused", back, n);
  if (!same(&c, &again))
    fail("the settings written back read back differently", back, n);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_config"
#include "fuzz_driver.h"

static const char *const seeds[] = {
    "# hantd.conf\n"
    "db = /var/lib/hantd/library.db\n"
    "socket = /run/hantd/hantd.sock   # the default\n"
    "state_dir = /var/lib/hantd\n"
    "output_dirs = /srv/models, /home/shared/out\n"
    "model_dirs = /srv/models\n"
    "socket_mode = 0660\n"
    "allowed_uids = 0, 65534, root\n"
    "workers = 4\nqueue = 128\njob_workers = 2\nmax_jobs_queued = 32\n"
    "max_message_bytes = 16777216\nidle_timeout_s = 60.5\ncache_entries = 0\n"
    "max_clients = 100\nmax_inflight = 8\nwrite_high_bytes = 65536\n"
    "time_limit_ms = 250\nshutdown_timeout_s = 5\nlog_level = debug\n",
    "\r\n  \t\n# nothing but comments and blanks\n\n",
    "devices=/usr/share/hant/devices\r\nallowed_uids = any\r\nsocket_mode_unsafe = 0666\r\nlog_level = warn\r\n",
    "allowed_uids = 1000 1001,1002\nallowed_uids = 5\ndb = a=b\ntime_limit_ms = 1e3\nworkers = 1.9\n",
};

static const char *const dict[] = {
    "db", "socket", "devices", "state_dir", "output_dirs", "model_dirs", "socket_mode", "socket_mode_unsafe",
    "socket_group", "allowed_uids", "workers", "queue", "job_workers", "max_jobs_queued", "max_message_bytes",
    "idle_timeout_s", "cache_entries", "max_clients", "max_inflight", "write_high_bytes", "time_limit_ms",
    "shutdown_timeout_s", "log_level", " = ", "=", "\n", "\r\n", "#", ",", " ", "\t", "any", "root", "nobody",
    "0660", "0777", "-1", "4294967295", "4294967296", "1e308", "nan", "0x10", "/", "/tmp", "debug",
};

/* A path as long as a setting takes, so that mutants try one byte more. */
static int make_seeds(seed *pool, size_t *n, size_t cap) {
  static const char head[] = "db = /";
  char text[sizeof(head) + 1023];
  memcpy(text, head, sizeof(head) - 1);
  memset(text + sizeof(head) - 1, 'a', 1022);
  text[sizeof(head) - 1 + 1022] = '\n';
  pool_add(pool, n, (const uint8_t *)text, sizeof(head) - 1 + 1023);
  (void)cap;
  return 0;
}

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .make_seeds = make_seeds,
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 0,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
