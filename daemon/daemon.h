/* SPDX-License-Identifier: MIT */
/* daemon.h: hantd's state, and its life: start-up (its places too), reload on SIGHUP, shutdown on SIGTERM or SIGINT. */
#ifndef HANTD_DAEMON_H
#define HANTD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "cache.h"
#include "config.h"
#include "conn.h"
#include "hant.h"
#include "jobs.h"
#include "log.h"
#include "watch.h"
#include "workers.h"

typedef struct hantd hantd;

/* Everything the daemon holds, in one place. daemon.c creates and frees it
 * and owns the life-cycle fields; the other parts of the daemon read it and
 * keep their own section up to date, all on the loop thread. */
struct hantd {
  hantd_config cfg;
  uv_loop_t *loop;

  /* the library */
  hant_library *lib;  /* current snapshot (one reference held here) */
  int schema_version; /* of the library's database, for "version" */

  /* where files peers name are written and read (place.h), shared with
   * the workers and job runners through hant_rpc_set_places */
  hant_places *places;

  /* listening socket (listen.c) */
  uv_pipe_t listener;
  bool listening;
  bool socket_activated;
  int lock_fd;      /* PATH.lock, held while serving; -1 for none */
  ino_t socket_ino; /* the socket we bound, removed on exit only if still there */
  dev_t socket_dev;

  /* connections (conn.c) */
  hantd_conn *conns; /* all open connections */
  int n_conns;
  uint64_t next_conn_id;
  char read_buf[65536]; /* shared by all reads: each read is consumed at once */
  size_t buffered;      /* bytes held for all connections (input, unsent answers, lines on workers); cfg.max_buffered caps it */
  hantd_log_limit refusals; /* refused connections and oversize messages: one log line a second in a flood */

  /* work */
  hantd_cache *cache;
  hantd_workers *workers;
  hantd_jobs *jobs;
  hantd_watches *watches;
  hant_rpc_host host; /* how requests on the workers reach the job runners */
  /* single flight (dispatch.c): cacheable requests being computed */
  hantd_task **inflight_keys;
  size_t n_inflight_keys, cap_inflight_keys;

  /* counters, for "status" */
  double t_start; /* hant_now_s() at start-up */
  uint64_t requests, errors, cache_hits, cache_misses, busy_rejections, reloads;

  /* life cycle (daemon.c) */
  bool stopping;
  bool finished; /* shutdown is done: every handle is closing and the loop is ending */
  bool reload_pending, reload_again;
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t shutdown_timer;
  bool shutdown_timer_on;
  int exit_code;
};

/* Runs the daemon with cfg (its paths already absolute) until it stops:
 * detaches unless cfg->foreground (or systemd runs it), loads the library,
 * serves, reloads on SIGHUP and stops on SIGTERM or SIGINT, finishing the
 * requests in flight within cfg->shutdown_timeout_s. Returns the exit
 * status: 0 when it stopped cleanly, 1 when it failed to start. A stop that
 * overruns its time limit exits the process with status 1. */
int hantd_daemon_run(const hantd_config *cfg);
/* Something the shutdown waits for ended (a task, a connection, the job
 * runners): finishes the shutdown if nothing is left. Any part may call it
 * at any time on the loop thread; it does nothing unless stopping. */
void hantd_daemon_maybe_finish(hantd *d);
/* The figures the "status" method answers. */
void hantd_daemon_status(hantd *d, hant_rpc_status *s);

#endif
