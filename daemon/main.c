/* SPDX-License-Identifier: MIT */
/* hantd: the transformation service: options, start-up, signals (reload, clean shutdown) and the event loop. */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hant.h"
#include "hantd.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hantd [--db LIBRARY.db] [--socket PATH] [--config FILE] [--foreground]\n"
          "\n"
          "Serves hant's transformation requests (newline-delimited JSON-RPC 2.0) on a Unix\n"
          "socket: transform, pareto, solve, devices, library, status, version, jobs.*.\n"
          "See hantd(8) and docs/protocol.md.\n"
          "\n"
          "  --db FILE        the library (default $XDG_DATA_HOME/hant/library.db); created\n"
          "                   and migrated if missing: an empty library still serves solve,\n"
          "                   status, version and devices\n"
          "  --socket PATH    (default $XDG_RUNTIME_DIR/hant/hantd.sock, or\n"
          "                   /run/hantd/hantd.sock without XDG_RUNTIME_DIR)\n"
          "  --config FILE    'key = value' settings; see hantd(8)\n"
          "  --foreground     stay in the foreground (default: detach once serving)\n"
          "  --log-level L    error, warning, notice, info (default) or debug\n"
          "  --help           show this help and exit\n"
          "  --version        print the version and exit\n"
          "\n"
          "Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads the library and\n"
          "device profiles without dropping connections.\n"
          "Exit status: 0 stopped cleanly, 1 failed to start or stop, 2 usage error.\n");
}

void hantd_status(hantd *d, hant_rpc_status *s) {
  memset(s, 0, sizeof(*s));
  s->uptime_s = hant_now_s() - d->t_start;
  s->requests = d->requests;
  s->errors = d->errors;
  s->cache_hits = d->cache_hits;
  s->cache_misses = d->cache_misses;
  s->cache_entries = hantd_cache_size(d->cache);
  s->cache_capacity = d->cfg.cache_entries;
  s->queue_depth = d->pool ? hantd_pool_depth(d->pool) : 0;
  s->queue_capacity = (size_t)d->cfg.queue;
  s->workers = d->cfg.workers;
  s->workers_busy = d->pool ? hantd_pool_busy(d->pool) : 0;
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
  hantd_pool_submit(d->pool, t, true);
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

static void task_done(hantd *d, hantd_task *t) {
  if (t->kind == HANTD_TASK_RELOAD)
    reload_done(d, t);
  else
    hantd_server_task_done(d, t);
  hantd_maybe_finish(d);
}

/* ---- shutdown ------------------------------------------------------------------ */

static bool closed_all;

static void on_shutdown_timeout(uv_timer_t *t) {
  hantd *d = t->data;
  hantd_log(LOG_ERR, "shutdown did not finish within %.0f s (%d requests in flight, job runners %s); exiting",
            d->cfg.shutdown_timeout_s, hantd_pool_inflight(d->pool),
            hantd_jobs_stopped(d->jobs) ? "stopped" : "still running");
  _exit(1);
}

void hantd_maybe_finish(hantd *d) {
  if (!d->stopping || closed_all)
    return;
  if (hantd_pool_inflight(d->pool) > 0 || !hantd_jobs_stopped(d->jobs))
    return;
  hantd_server_close_all(d);
  if (d->n_conns > 0)
    return;
  closed_all = true;
  hantd_pool_stop(d->pool);
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
            hantd_pool_inflight(d->pool));
  d->stopping = true;
  hantd_sd_notify("STOPPING=1");
  hantd_server_stop_listening(d);
  hantd_jobs_stop(d->jobs);
  uv_timer_init(d->loop, &d->shutdown_timer);
  d->shutdown_timer.data = d;
  d->shutdown_timer_on = true;
  uv_timer_start(&d->shutdown_timer, on_shutdown_timeout, (uint64_t)(d->cfg.shutdown_timeout_s * 1e3), 0);
  uv_unref((uv_handle_t *)&d->shutdown_timer);
  hantd_maybe_finish(d);
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

/* Makes a relative path absolute against the working directory. */
static void absolute(char *path, size_t n) {
  if (!path[0] || path[0] == '/')
    return;
  char cwd[1024], tmp[2100];
  if (!getcwd(cwd, sizeof(cwd)))
    return;
  snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path);
  if (strlen(tmp) < n)
    snprintf(path, n, "%s", tmp);
}

static int mkdirs(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0)
    return 0;
  char parent[1024];
  snprintf(parent, sizeof(parent), "%s", dir);
  mkdirs(dirname(parent));
  return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
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
  int recovered = 0;
  if (hant_store_jobs_recover(st, &recovered))
    hantd_log(LOG_WARNING, "%s", hant_errmsg());
  else if (recovered)
    hantd_log(LOG_NOTICE, "%d jobs that were running when the daemon stopped are queued again", recovered);
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
  if (hantd_server_listen(d))
    goto out;
  d->cache = hantd_cache_new(d->cfg.cache_entries);
  if (hantd_pool_start(d, &loop, d->cfg.workers, d->cfg.queue, task_done, &d->pool) ||
      hantd_jobs_start(d, &loop, d->cfg.job_workers, &d->jobs)) {
    hantd_log(LOG_ERR, "cannot start worker threads");
    goto out;
  }
  d->host.data = d->jobs;
  d->host.job_added = hantd_jobs_added;
  d->host.job_cancel = hantd_jobs_cancel;

  hantd_log(LOG_INFO, "serving %s (mode %04o%s), %d workers, queue %d, %d job runners, pid %d", d->cfg.socket,
            d->cfg.socket_mode, d->socket_activated ? ", socket activation" : "", d->cfg.workers, d->cfg.queue,
            d->cfg.job_workers, (int)getpid());
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
  if (!closed_all) {
    /* A failed start: stop the threads, wait for them, then close every
     * handle so the loop can be closed. */
    if (d->listening)
      hantd_server_stop_listening(d);
    hantd_jobs_stop(d->jobs);
    hantd_jobs_join(d->jobs);
    if (d->pool)
      hantd_pool_stop(d->pool);
    hantd_pool_join(d->pool);
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  hantd_pool_destroy(d->pool);
  hantd_jobs_destroy(d->jobs);
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

int main(int argc, char **argv) {
  const char *config = NULL, *db = NULL, *sock = NULL, *level = NULL;
  bool foreground = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("hantd %s\n", hant_version());
      return 0;
    } else if (!strcmp(a, "--foreground") || !strcmp(a, "-f")) {
      foreground = true;
    } else if (!strcmp(a, "--db") && has) {
      db = argv[++i];
    } else if (!strcmp(a, "--socket") && has) {
      sock = argv[++i];
    } else if (!strcmp(a, "--config") && has) {
      config = argv[++i];
    } else if (!strcmp(a, "--log-level") && has) {
      level = argv[++i];
    } else {
      fprintf(stderr, "hantd: %s '%s'; see 'hantd --help'\n",
              a[0] == '-' && !has ? "missing argument or unknown option" : "unknown argument", a);
      return 2;
    }
  }
  hantd *d = calloc(1, sizeof(*d));
  if (!d) {
    fprintf(stderr, "hantd: out of memory\n");
    return 1;
  }
  hantd_config_default(&d->cfg);
  if (config && hantd_config_load(&d->cfg, config)) {
    free(d);
    return 2;
  }
  if (db)
    snprintf(d->cfg.db, sizeof(d->cfg.db), "%s", db);
  if (sock)
    snprintf(d->cfg.socket, sizeof(d->cfg.socket), "%s", sock);
  if (level && (d->cfg.log_level = hantd_log_level_from_name(level)) < 0) {
    fprintf(stderr, "hantd: --log-level: expected error, warning, notice, info or debug, got '%s'\n", level);
    free(d);
    return 2;
  }
  d->cfg.foreground = foreground;
  hantd_config_paths(&d->cfg);
  absolute(d->cfg.db, sizeof(d->cfg.db));
  absolute(d->cfg.socket, sizeof(d->cfg.socket));
  absolute(d->cfg.devices_dir, sizeof(d->cfg.devices_dir));
  hantd_log_init(d->cfg.log_level);
  signal(SIGPIPE, SIG_IGN);
  int ready_fd = -1;
  /* Under systemd (Type=notify) or when asked, stay in the foreground. */
  if (!foreground && !getenv("NOTIFY_SOCKET") && !getenv("LISTEN_FDS") && daemonize(&ready_fd)) {
    free(d);
    return 1;
  }
  int code = serve(d, ready_fd);
  free(d);
  return code;
}
