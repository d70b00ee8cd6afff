/* SPDX-License-Identifier: MIT */
/* config.h: hantd's settings, their defaults, the "key = value" file and the default paths. */
#ifndef HANTD_CONFIG_H
#define HANTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HANTD_MAX_ALLOWED_UIDS 32
#define HANTD_MAX_DIRS 16 /* output_dirs, model_dirs: HANT_PLACES_MAX_DIRS each */

/* Every setting of the daemon. The daemon keeps one copy for its whole life;
 * the parts that read it (workers, job runners, connections) hold a pointer
 * to that copy and never change it. */
typedef struct hantd_config {
  char db[1024];
  char socket[1024];
  char devices_dir[1024]; /* "" : the default search path (device.h) */
  /* The daemon's places (place.h): its state directory, which holds each
   * peer's own directory (users/UID), and the directories an administrator
   * lets peers write (output_dirs) and read (model_dirs): absolute paths. */
  char state_dir[1024];   /* "": the default (hantd_config_paths) */
  char output_dirs[HANTD_MAX_DIRS][1024];
  int n_output_dirs;
  char model_dirs[HANTD_MAX_DIRS][1024];
  int n_model_dirs;
  bool foreground;
  unsigned socket_mode;   /* permission bits of the socket, default 0600 */
  char socket_group[64];  /* group to own the socket, "" to keep the daemon's */
  uid_t allowed[HANTD_MAX_ALLOWED_UIDS]; /* peers allowed to connect */
  int n_allowed;          /* 0: the daemon's own uid and root */
  bool allow_any;         /* allowed_uids = any: the socket mode is the only gate */
  int workers;            /* solve threads, default 2 */
  int queue;              /* bounded work queue, default 64 */
  int job_workers;        /* job threads, default 1 */
  int max_jobs_queued;    /* default 64 */
  size_t max_message;     /* bytes per request line, default 16 MiB */
  double idle_timeout_s;  /* default 300 */
  size_t cache_entries;   /* default 4096 */
  int max_clients;        /* default 1024 */
  int max_inflight;       /* requests in flight per connection before reading pauses, default 32 */
  size_t write_high;      /* unsent bytes per connection before reading pauses, default 4 MiB */
  double time_limit_ms;   /* default solve time limit, default 2000 */
  double shutdown_timeout_s; /* default 30 */
  int log_level;          /* LOG_ERR .. LOG_DEBUG, default LOG_INFO */
  /* jobs under leases, and the memory of connections (issue 13) */
  int max_job_attempts;   /* a job is started at most this often, then fails with its history; default 3 */
  double job_heartbeat_s; /* a running job's lease is renewed this often, default 3 */
  int job_lease_heartbeats; /* a lease not renewed for this many heartbeats has expired, default 5 */
  double job_keep_days;   /* finished jobs older than this are deleted... default 30 */
  int job_keep_count;     /* ...unless among the newest this many, default 1000 */
  size_t max_buffered;    /* bytes buffered for all connections together, default 256 MiB */
} hantd_config;

void hantd_config_default(hantd_config *c);
/* Reads the configuration file at path (hantd_config_parse_text) over the
 * settings already in c. Returns 0, or a negative HANT_E* code after
 * printing "hantd: " and the message on stderr. */
int hantd_config_load(hantd_config *c, const char *path);
/* Parses the text of a configuration file, len bytes that need not end
 * in a NUL, over the settings already in c (the defaults, usually): one
 * "key = value" per line, '#' starts a comment, blank lines are skipped;
 * lines of at most 2047 bytes, no NUL bytes. String settings longer than
 * their field are refused, never cut. path names the file in messages and
 * is not opened: the only lookups are of the user and group names that
 * allowed_uids and socket_group give. Returns 0, or a negative HANT_E*
 * code with hant_errmsg() naming the file, the line, the key and what was
 * expected; c may then hold some of the file's settings and is meant to
 * be dropped. */
int hantd_config_parse_text(const char *text, size_t len, const char *path, hantd_config *c);
/* Fills db, socket and state_dir when unset: $XDG_DATA_HOME/hant/library.db,
 * $XDG_RUNTIME_DIR/hant/hantd.sock (or /run/hantd/hantd.sock), and
 * $STATE_DIRECTORY (systemd's StateDirectory=), else /var/lib/hantd when
 * running as root, else $XDG_STATE_HOME/hant (~/.local/state/hant). */
void hantd_config_paths(hantd_config *c);
/* The default socket path as hant-client finds it too. */
void hantd_default_socket(char *buf, size_t n);

#endif
