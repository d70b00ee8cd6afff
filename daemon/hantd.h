/* SPDX-License-Identifier: MIT */
/* hantd.h: the daemon's parts (config, log, server, worker pool, cache, job runner, systemd glue) and what they share. */
#ifndef HANTD_H
#define HANTD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>
#include <uv.h>

#include "hant.h"

/* ---- config.c ------------------------------------------------------------- */

#define HANTD_MAX_ALLOWED_UIDS 32

typedef struct hantd_config {
  char db[1024];
  char socket[1024];
  char devices_dir[1024]; /* "" : the default search path (device.h) */
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
  size_t max_message;     /* bytes per request line, default 1 MiB */
  double idle_timeout_s;  /* default 300 */
  size_t cache_entries;   /* default 4096 */
  int max_clients;        /* default 1024 */
  int max_inflight;       /* requests in flight per connection before reading pauses, default 32 */
  size_t write_high;      /* unsent bytes per connection before reading pauses, default 4 MiB */
  double time_limit_ms;   /* default solve time limit, default 2000 */
  double shutdown_timeout_s; /* default 30 */
  int log_level;          /* LOG_ERR .. LOG_DEBUG, default LOG_INFO */
} hantd_config;

void hantd_config_default(hantd_config *c);
/* Reads "key = value" lines; '#' starts a comment. Errors name the file
 * and line and return nonzero. */
int hantd_config_load(hantd_config *c, const char *path);
/* Fills db and socket when unset: $XDG_DATA_HOME/hant/library.db and
 * $XDG_RUNTIME_DIR/hant/hantd.sock (or /run/hantd/hantd.sock). */
void hantd_config_paths(hantd_config *c);
/* The default socket path as hant-client finds it too. */
void hantd_default_socket(char *buf, size_t n);

/* ---- log.c ------------------------------------------------------------------ */

/* Levels are syslog's (LOG_ERR 3 .. LOG_DEBUG 7). Lines go to stderr,
 * prefixed "<N>" when stderr is the journal (journald reads the level),
 * else "hantd: level: ". */
void hantd_log_init(int level);
void hantd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hantd_log_level_from_name(const char *s); /* -1 when unknown */

/* ---- sd.c --------------------------------------------------------------------- */

/* The socket systemd passed (socket activation), or -1. */
int hantd_sd_listen_fd(void);
/* sd_notify(0, state) when built with libsystemd, else a no-op. */
void hantd_sd_notify(const char *state);
bool hantd_sd_enabled(void);

/* ---- cache.c --------------------------------------------------------------------- */

typedef struct hantd_cache hantd_cache;
hantd_cache *hantd_cache_new(size_t capacity);
void hantd_cache_destroy(hantd_cache *c);
/* The cached body of key, or NULL; a hit moves the entry to the front. */
const char *hantd_cache_get(hantd_cache *c, const char *key);
/* Stores a copy of body under key, evicting the least recently used entry. */
void hantd_cache_put(hantd_cache *c, const char *key, const char *body);
void hantd_cache_clear(hantd_cache *c);
size_t hantd_cache_size(const hantd_cache *c);

/* ---- the daemon ---------------------------------------------------------------- */

typedef struct hantd hantd;
typedef struct hantd_conn hantd_conn;

/* A request waiting for the same answer as another one (coalesced). */
typedef struct hantd_waiter {
  hantd_conn *conn;
  char *id;
  struct hantd_waiter *next;
} hantd_waiter;

typedef enum hantd_task_kind { HANTD_TASK_REQ, HANTD_TASK_RAW, HANTD_TASK_RELOAD } hantd_task_kind;

/* A unit of work for a worker thread. */
typedef struct hantd_task {
  hantd_task_kind kind;
  hantd_conn *conn;     /* NULL for reload */
  hant_rpc_req *req;    /* HANTD_TASK_REQ */
  char *raw;            /* HANTD_TASK_RAW: a line too large to parse on the loop */
  size_t raw_len;
  hant_library *lib;    /* the snapshot the request runs on (a reference) */
  char *cache_key;      /* cacheable transform: its key */
  hantd_waiter *waiters;
  hant_rpc_reply reply;
  hant_library *new_lib; /* reload: the new snapshot */
  int rc;
  char err[512];
  double t_submit;
  struct hantd_task *next;
} hantd_task;

/* pool.c: worker threads with a bounded queue; completions come back on the loop. */
typedef struct hantd_pool hantd_pool;
typedef void (*hantd_pool_done_fn)(hantd *d, hantd_task *t);
int hantd_pool_start(hantd *d, uv_loop_t *loop, int workers, int capacity, hantd_pool_done_fn done, hantd_pool **out);
/* Queues t; HANT_EBUSY when the queue is full (unless urgent). */
int hantd_pool_submit(hantd_pool *p, hantd_task *t, bool urgent);
size_t hantd_pool_depth(hantd_pool *p);
int hantd_pool_busy(hantd_pool *p);
int hantd_pool_inflight(hantd_pool *p); /* queued + running + done not yet delivered */
/* Stops the threads after the queue drains; closes the async handle. */
void hantd_pool_stop(hantd_pool *p);
/* Joins the threads (after hantd_pool_stop). */
void hantd_pool_join(hantd_pool *p);
/* Joins the threads and frees the pool (after the loop ended). */
void hantd_pool_destroy(hantd_pool *p);

/* jobs.c: job runner threads and the jobs.wait watchers. */
typedef struct hantd_jobs hantd_jobs;
int hantd_jobs_start(hantd *d, uv_loop_t *loop, int threads, hantd_jobs **out);
void hantd_jobs_added(void *jobs, int64_t id);   /* hant_rpc_host.job_added */
void hantd_jobs_cancel(void *jobs, int64_t id);  /* hant_rpc_host.job_cancel */
/* A jobs.wait whose job has not finished: answer it when the job ends. */
void hantd_jobs_watch(hantd_jobs *j, hantd_conn *c, const char *req_id, int64_t job_id);
/* Drops a closing connection's watches. */
void hantd_jobs_unwatch_conn(hantd_jobs *j, hantd_conn *c);
int hantd_jobs_watches(hantd_jobs *j, hantd_conn *c);
void hantd_jobs_counts(hantd_jobs *j, int *queued, int *running);
/* Asks running jobs to stop (they go back to the queue) and the threads
 * to exit; answers every watcher with "shutting down". */
void hantd_jobs_stop(hantd_jobs *j);
bool hantd_jobs_stopped(hantd_jobs *j); /* every thread has exited */
void hantd_jobs_join(hantd_jobs *j);     /* waits for the threads (after hantd_jobs_stop) */
void hantd_jobs_destroy(hantd_jobs *j);

/* server.c */
int hantd_server_listen(hantd *d);
/* Sends a line (a newline is added) to a connection; takes ownership of line. */
void hantd_conn_send(hantd_conn *c, char *line);
/* True when the connection has more unsent bytes than the high-water mark. */
bool hantd_conn_congested(const hantd_conn *c);
bool hantd_conn_closing(const hantd_conn *c);
/* A task or watcher of this connection ended (see hantd_conn.inflight). */
void hantd_conn_release(hantd_conn *c);
void hantd_conn_hold(hantd_conn *c);
void hantd_server_task_done(hantd *d, hantd_task *t);
void hantd_server_close_all(hantd *d);
int hantd_server_connections(hantd *d);
void hantd_server_stop_listening(hantd *d);

struct hantd {
  hantd_config cfg;
  uv_loop_t *loop;
  uv_pipe_t server;
  bool listening;
  bool socket_activated;
  int lock_fd;
  ino_t socket_ino; /* the socket we bound, removed on exit only if still there */
  dev_t socket_dev;
  hant_library *lib;  /* current snapshot (one reference held here) */
  hantd_cache *cache;
  hantd_pool *pool;
  hantd_jobs *jobs;
  hant_rpc_host host;
  hantd_conn *conns;  /* all open connections */
  int n_conns;
  uint64_t next_conn_id;
  /* statistics */
  double t_start;
  uint64_t requests, errors, cache_hits, cache_misses, busy_rejections, reloads;
  int schema_version;
  /* life cycle */
  bool stopping;
  bool reload_pending, reload_again;
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t shutdown_timer;
  bool shutdown_timer_on;
  int exit_code;
  char read_buf[65536]; /* shared by all reads: each read is consumed at once */
  /* single-flight: cacheable requests being computed */
  hantd_task **inflight_keys;
  size_t n_inflight_keys, cap_inflight_keys;
};

/* main.c: checks whether shutdown can finish, and finishes it. */
void hantd_maybe_finish(hantd *d);
/* main.c: fills a status record. */
void hantd_status(hantd *d, hant_rpc_status *s);

#endif
