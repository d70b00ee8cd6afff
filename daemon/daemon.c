/* SPDX-License-Identifier: MIT */
/* daemon.c: hantd's life: start-up, SIGHUP reload, SIGTERM/SIGINT shutdown within its time limit, and the event loop. */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

#include "dispatch.h"
#include "listen.h"
#include "log.h"
#include "sd.h"

/* ---- status ------------------------------------------------------------------ */

void hantd_daemon_status(hantd *d, hant_rpc_status *s) {
  memset(s, 0, sizeof(*s));
  s->uptime_s = hant_now_s() - d->t_start;
  s->requests = d->requests;
  s->errors = d->errors;
  s->cache_hits = d->cache_hits;
  s->cache_misses = d->cache_misses;
  s->cache_entries = hantd_cache_size(d->cache);
  s->cache_capacity = d->cfg.cache_entries;
  s->queue_depth = d->workers ? hantd_workers_depth(d->workers) : 0;
  s->queue_capacity = (size_t)d->cfg.queue;
  s->workers = d->cfg.workers;
  s->workers_busy = d->workers ? hantd_workers_busy(d->workers) : 0;
  s->busy_rejections = d->busy_rejections;
  s->connections = d->n_conns;
  hantd_jobs_counts(d->jobs, &s->jobs_queued, &s->jobs_running);
  s->job_workers = d->cfg.job_workers;
  s->library_version = d->lib ? d->lib->version : -1;
  s->library_load_ms = d->lib ? d->lib->load_ms : 0;
  s->reloads = d->reloads;
  s->db = d->cfg.db;
  s->socket = d->cfg.socket;
  s->stopping = d->stopping;
}

static void log_library(const hant_library *lib, const char *what) {
  hantd_log(LOG_INFO, "%s %s: version %lld, %s%d slots, %d candidates, %d devices with costs (%.1f ms)", what,
            lib->path, (long long)lib->version, lib->has_teacher ? "" : "empty: ", lib->n_slots, lib->n_cands,
            lib->n_devices, lib->load_ms);
}

/* ---- reload ------------------------------------------------------------------ */

static void start_reload(hantd *d) {
  hantd_task *t = calloc(1, sizeof(*t));
  if (!t) {
    hantd_log(LOG_ERR, "reload: out of memory");
    return;
  }
  t->kind = HANTD_TASK_RELOAD;
  t->t_submit = hant_now_s();
  d->reload_pending = true;
  hantd_sd_notify("RELOADING=1");
  hantd_workers_submit(d->workers, t, true);
}

static void reload_done(hantd *d, hantd_task *t) {
  d->reload_pending = false;
  if (t->rc) {
    hantd_log(LOG_ERR, "reload failed: %s; still serving library version %lld", t->err, (long long)d->lib->version);
  } else {
    hant_library *old = d->lib;
    d->lib = t->new_lib;
    t->new_lib = NULL;
    hant_library_unref(old); /* requests in flight keep their own reference */
    hantd_cache_clear(d->cache);
    d->reloads++;
    log_library(d->lib, "reloaded");
  }
  hantd_sd_notify("READY=1");
  hant_library_unref(t->new_lib);
  free(t);
  if (d->reload_again && !d->stopping) {
    d->reload_again = false;
    start_reload(d);
  }
}

/* ---- what the workers and the job runners report --------------------------------- */

static void on_task_done(void *user, hantd_task *t) {
  hantd *d = user;
  if (t->kind == HANTD_TASK_RELOAD)
    reload_done(d, t);
  else
    hantd_dispatch_done(d, t);
  hantd_daemon_maybe_finish(d);
}

/* The job runners know nothing of connections: their reports go to the
 * connections that follow the job, and their exit to the shutdown. */
static void on_job_event(void *user, const hantd_job_event *e) {
  hantd *d = user;
  if (e->kind == HANTD_JOB_STOPPED)
    hantd_daemon_maybe_finish(d);
  else
    hantd_watches_job_event(d->watches, e);
}

/* ---- shutdown ------------------------------------------------------------------ */

static void on_shutdown_timeout(uv_timer_t *t) {
  hantd *d = t->data;
  hantd_log(LOG_ERR, "shutdown did not finish within %.0f s (%d requests in flight, job runners %s); exiting",
            d->cfg.shutdown_timeout_s, hantd_workers_inflight(d->workers),
            hantd_jobs_stopped(d->jobs) ? "stopped" : "still running");
  _exit(1);
}

void hantd_daemon_maybe_finish(hantd *d) {
  if (!d->stopping || d->finished)
    return;
  if (hantd_workers_inflight(d->workers) > 0 || !hantd_jobs_stopped(d->jobs))
    return;
  hantd_conn_close_all(d);
  if (d->n_conns > 0)
    return;
  d->finished = true;
  hantd_workers_stop(d->workers);
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  if (d->shutdown_timer_on)
    uv_close((uv_handle_t *)&d->shutdown_timer, NULL);
  hantd_log(LOG_INFO, "stopped: work finished, connections closed");
}

static void begin_shutdown(hantd *d, const char *why) {
  if (d->stopping) {
    hantd_log(LOG_NOTICE, "%s again: still finishing work", why);
    return;
  }
  hantd_log(LOG_INFO, "%s: stopping (finishing %d requests in flight; running jobs go back to the queue)", why,
            hantd_workers_inflight(d->workers));
  d->stopping = true;
  hantd_sd_notify("STOPPING=1");
  hantd_listen_stop(d);
  hantd_jobs_stop(d->jobs);
  hantd_watches_stop(d->watches);
  uv_timer_init(d->loop, &d->shutdown_timer);
  d->shutdown_timer.data = d;
  d->shutdown_timer_on = true;
  uv_timer_start(&d->shutdown_timer, on_shutdown_timeout, (uint64_t)(d->cfg.shutdown_timeout_s * 1e3), 0);
  uv_unref((uv_handle_t *)&d->shutdown_timer);
  hantd_daemon_maybe_finish(d);
}

static void on_signal(uv_signal_t *s, int signum) {
  hantd *d = s->data;
  if (signum == SIGHUP) {
    if (d->stopping)
      return;
    hantd_log(LOG_INFO, "SIGHUP: reloading the library and device profiles");
    if (d->reload_pending)
      d->reload_again = true;
    else
      start_reload(d);
    return;
  }
  begin_shutdown(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- start-up -------------------------------------------------------------------- */

static int mkdirs(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0)
    return 0;
  /* The parent by hand, not dirname(): GCC cannot see that dirname never
   * returns NULL and fails the sanitizer build on the copy (format-truncation). */
  char parent[1024];
  size_t n = strlen(dir);
  if (n >= sizeof(parent))
    return -1;
  memcpy(parent, dir, n + 1);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    mkdirs(parent);
  }
  return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Opens the places where files peers name are written and read, keeps
 * the library and the socket out of them, and removes what a crash left
 * there. Before any worker or job runner starts: they read the places. */
static int open_places(hantd *d) {
  const hantd_config *c = &d->cfg;
  const char *outs[HANTD_MAX_DIRS], *models[HANTD_MAX_DIRS];
  for (int i = 0; i < c->n_output_dirs; i++)
    outs[i] = c->output_dirs[i];
  for (int i = 0; i < c->n_model_dirs; i++)
    models[i] = c->model_dirs[i];
  if (hant_places_open(c->state_dir, outs, c->n_output_dirs, models, c->n_model_dirs, &d->places)) {
    hantd_log(LOG_ERR, "%s", hant_errmsg());
    return -1;
  }
  static const char *const suffix[] = {"", "-wal", "-shm", "-journal", NULL};
  char f[1100];
  for (int i = 0; suffix[i]; i++) {
    snprintf(f, sizeof(f), "%s%s", c->db, suffix[i]);
    if (hant_places_forbid(d->places, f))
      hantd_log(LOG_WARNING, "%s", hant_errmsg());
  }
  snprintf(f, sizeof(f), "%s.lock", c->socket);
  if (hant_places_forbid(d->places, c->socket) || hant_places_forbid(d->places, f))
    hantd_log(LOG_WARNING, "%s", hant_errmsg());
  int removed = 0;
  if (hant_places_sweep(d->places, &removed))
    hantd_log(LOG_WARNING, "%s", hant_errmsg());
  if (removed)
    hantd_log(LOG_NOTICE, "removed %d stale temporary files left by a crash in the daemon's places", removed);
  hant_rpc_set_places(d->places);
  hantd_log(LOG_INFO, "places: each peer's files in %s/users/UID; %d output and %d model directories", c->state_dir,
            c->n_output_dirs, c->n_model_dirs);
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static int serve(hantd *d, int ready_fd) {
  d->t_start = hant_now_s();
  d->lock_fd = -1;
  hant_threads_set(1); /* workers and jobs are the parallelism */
  uv_loop_t loop;
  uv_loop_init(&loop);
  d->loop = &loop;
  int code = 1;

  char dbdir[1024];
  snprintf(dbdir, sizeof(dbdir), "%s", d->cfg.db);
  if (mkdirs(dirname(dbdir)))
    hantd_log(LOG_WARNING, "cannot create the directory of %s: %s", d->cfg.db, strerror(errno));
  hant_store *st = NULL;
  if (hant_store_open(d->cfg.db, HANT_STORE_CREATE, &st)) {
    hantd_log(LOG_ERR, "%s", hant_errmsg());
    goto out;
  }
  d->schema_version = hant_store_schema_version(st);
  /* Jobs left running by a daemon that died are recovered by the job keeper, once their lease expired. */
  if (hant_library_load(st, d->cfg.devices_dir[0] ? d->cfg.devices_dir : NULL, &d->lib)) {
    hantd_log(LOG_ERR, "%s", hant_errmsg());
    hant_store_close(st);
    goto out;
  }
  hant_store_close(st);
  log_library(d->lib, "loaded");

  /* Signals are caught from before the socket exists: a client that sees
   * the socket may signal the daemon at once. They are handled once the
   * loop runs. */
  uv_signal_init(&loop, &d->sig_term);
  uv_signal_init(&loop, &d->sig_int);
  uv_signal_init(&loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
  /* The places before the socket: a client that can connect finds the
   * crash's temporaries swept and the state directory's modes set. */
  if (open_places(d) || hantd_listen_start(d))
    goto out;
  d->cache = hantd_cache_new(d->cfg.cache_entries);
  d->watches = hantd_watches_new();
  if (!d->watches) {
    hantd_log(LOG_ERR, "out of memory");
    goto out;
  }
  if (hantd_workers_start(&loop, &d->cfg, &d->host, on_task_done, d, &d->workers) ||
      hantd_jobs_start(&loop, &d->cfg, on_job_event, d, &d->jobs)) {
    hantd_log(LOG_ERR, "cannot start worker threads");
    goto out;
  }
  d->host.data = d->jobs;
  d->host.job_added = hantd_jobs_added;
  d->host.job_cancel = hantd_jobs_cancel;

  hantd_log(LOG_INFO, "serving %s (mode %04o%s), %d %s, queue %d, %d %s, pid %d", d->cfg.socket, d->cfg.socket_mode,
            d->socket_activated ? ", socket activation" : "", d->cfg.workers,
            hant_plural(d->cfg.workers, "worker", "workers"), d->cfg.queue, d->cfg.job_workers,
            hant_plural(d->cfg.job_workers, "job runner", "job runners"), (int)getpid());
  char status[1300];
  snprintf(status, sizeof(status), "READY=1\nSTATUS=serving %s, library version %lld\nMAINPID=%d", d->cfg.socket,
           (long long)d->lib->version, (int)getpid());
  hantd_sd_notify(status);
  if (ready_fd >= 0) {
    if (write(ready_fd, "R", 1) != 1)
      hantd_log(LOG_WARNING, "cannot tell the parent process that the daemon is ready");
    close(ready_fd);
    ready_fd = -1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  code = d->exit_code;
out:
  if (!d->finished) {
    /* A failed start: stop the threads, wait for them, then close every
     * handle so the loop can be closed. */
    if (d->listening)
      hantd_listen_stop(d);
    hantd_jobs_stop(d->jobs);
    hantd_watches_stop(d->watches);
    hantd_jobs_join(d->jobs);
    if (d->workers)
      hantd_workers_stop(d->workers);
    hantd_workers_join(d->workers);
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  hantd_workers_destroy(d->workers);
  hantd_jobs_join(d->jobs);
  if (hantd_jobs_left_behind(d->jobs)) {
    /* A runner stuck in a system call still uses the snapshot, the places
     * and its store: freeing them, or running exit handlers under it, would
     * pull them from under its feet. Its job is already back in the queue. */
    hantd_log(LOG_WARNING, "a job runner is still stuck; exiting without waiting for it");
    fflush(NULL);
    _exit(code);
  }
  hantd_jobs_destroy(d->jobs);
  hant_rpc_set_places(NULL); /* every thread that read them has been joined */
  hant_places_close(d->places);
  hantd_watches_destroy(d->watches);
  hantd_cache_destroy(d->cache);
  hant_library_unref(d->lib);
  free(d->inflight_keys);
  if (uv_loop_close(&loop) == UV_EBUSY)
    hantd_log(LOG_DEBUG, "the event loop still had open handles");
  if (d->lock_fd >= 0)
    close(d->lock_fd);
  if (ready_fd >= 0)
    close(ready_fd);
  return code;
}

/* Detaches: the parent exits 0 once the child serves, 1 if it fails. */
static int daemonize(int *ready_fd) {
  int p[2];
  if (pipe(p)) {
    perror("hantd: pipe");
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("hantd: fork");
    return -1;
  }
  if (pid > 0) {
    close(p[1]);
    char c;
    ssize_t n = read(p[0], &c, 1);
    _exit(n == 1 && c == 'R' ? 0 : 1);
  }
  close(p[0]);
  setsid();
  if (chdir("/")) {
    /* paths were made absolute; nothing depends on the directory */
  }
  if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout))
    return -1;
  *ready_fd = p[1];
  return 0;
}

int hantd_daemon_run(const hantd_config *cfg) {
  hantd *d = calloc(1, sizeof(*d));
  if (!d) {
    fprintf(stderr, "hantd: out of memory\n");
    return 1;
  }
  d->cfg = *cfg;
  hantd_log_init(d->cfg.log_level);
  signal(SIGPIPE, SIG_IGN);
  /* What the daemon makes for itself (a new library and its journal, its
   * directories) is its own: the state directory is 0711 so that peers
   * reach their directories in it, and a library there must not be
   * readable by name. Files written for peers get their mode explicitly. */
  umask(0077);
  int ready_fd = -1;
  /* Before the library or any directory is created, and while the
   * message still reaches the terminal. */
  if (hantd_listen_check(&d->cfg)) {
    free(d);
    return 1;
  }
  /* Under systemd (Type=notify) or when asked, stay in the foreground. */
  if (!d->cfg.foreground && !getenv("NOTIFY_SOCKET") && !getenv("LISTEN_FDS") && daemonize(&ready_fd)) {
    free(d);
    return 1;
  }
  int code = serve(d, ready_fd);
  free(d);
  return code;
}
