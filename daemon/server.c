/* SPDX-License-Identifier: MIT */
/* server.c: hantd's Unix socket: safe binding, peer checks, newline framing with limits, backpressure, idle timeouts, and dispatch. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hantd.h"

/* Lines up to this size are parsed on the loop (microseconds); larger
 * ones are parsed by a worker, so the loop never spends long on one. */
#define PARSE_ON_LOOP_MAX ((size_t)64 << 10)

struct hantd_conn {
  uv_pipe_t pipe; /* first: the handle's address is the connection's */
  uv_timer_t idle;
  hantd *d;
  uint64_t id;
  uid_t uid;
  pid_t pid;
  char *buf;      /* unprocessed input: [start, len) */
  size_t len, cap, start, scanned;
  int inflight;   /* tasks, coalesced waiters and job watches */
  int handles;    /* open handles: pipe and timer */
  size_t pending; /* bytes written but not yet sent */
  bool closing, paused, close_after_write, eof, reading;
  hantd_conn *prev, *next;
};

typedef struct wreq {
  uv_write_t req;
  hantd_conn *c;
  char *data;
  size_t len;
} wreq;

static void conn_close(hantd_conn *c);
static void process(hantd_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

bool hantd_conn_closing(const hantd_conn *c) { return c->closing; }
bool hantd_conn_congested(const hantd_conn *c) { return c->pending > c->d->cfg.write_high; }
int hantd_server_connections(hantd *d) { return d->n_conns; }

static void maybe_free(hantd_conn *c) {
  if (!c->closing || c->handles || c->inflight)
    return;
  hantd *d = c->d;
  if (c->prev)
    c->prev->next = c->next;
  else
    d->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  d->n_conns--;
  hantd_log(LOG_DEBUG, "connection %llu closed", (unsigned long long)c->id);
  free(c->buf);
  free(c);
  hantd_maybe_finish(d);
}

/* Closes a connection once its answers are sent and its work is done (EOF). */
static void check_done(hantd_conn *c) {
  if (c->closing)
    return;
  if ((c->eof && !c->inflight && !c->pending) || (c->close_after_write && !c->pending))
    conn_close(c);
}

static void maybe_resume(hantd_conn *c) {
  if (!c->paused || c->closing || c->close_after_write)
    return;
  if (c->inflight > c->d->cfg.max_inflight / 2 || c->pending > c->d->cfg.write_high / 2)
    return;
  c->paused = false;
  process(c);
}

void hantd_conn_hold(hantd_conn *c) { c->inflight++; }

void hantd_conn_release(hantd_conn *c) {
  c->inflight--;
  if (c->closing) {
    maybe_free(c);
    return;
  }
  maybe_resume(c);
  check_done(c);
}

static void on_write(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  hantd_conn *c = w->c;
  c->pending -= w->len;
  free(w->data);
  free(w);
  if (status < 0 && status != UV_ECANCELED && !c->closing) {
    hantd_log(LOG_DEBUG, "connection %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(status));
    conn_close(c);
    return;
  }
  if (!c->closing) {
    maybe_resume(c);
    check_done(c);
  }
}

void hantd_conn_send(hantd_conn *c, char *line) {
  if (!line)
    return;
  if (c->closing) {
    free(line);
    return;
  }
  size_t n = strlen(line);
  /* The line's own terminating NUL becomes the newline. */
  line[n] = '\n';
  wreq *w = calloc(1, sizeof(*w));
  if (!w) {
    free(line);
    conn_close(c);
    return;
  }
  w->c = c;
  w->data = line;
  w->len = n + 1;
  uv_buf_t b = uv_buf_init(line, (unsigned)(n + 1));
  c->pending += w->len;
  int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write);
  if (rc < 0) {
    c->pending -= w->len;
    free(line);
    free(w);
    conn_close(c);
  }
}

static void send_error(hantd_conn *c, const char *id, int code, const char *msg) {
  c->d->errors++;
  hantd_conn_send(c, hant_rpc_error_line(id, code, msg, NULL));
}

static void on_close(uv_handle_t *h) {
  hantd_conn *c = h->data;
  c->handles--;
  maybe_free(c);
}

static void conn_close(hantd_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  hantd_jobs_unwatch_conn(c->d->jobs, c);
  uv_read_stop((uv_stream_t *)&c->pipe);
  uv_close((uv_handle_t *)&c->pipe, on_close);
  uv_close((uv_handle_t *)&c->idle, on_close);
}

static void on_idle(uv_timer_t *t) {
  hantd_conn *c = t->data;
  if (c->closing)
    return;
  if (c->close_after_write) { /* its last answer was not read for a whole period: give up */
    conn_close(c);
    return;
  }
  if (c->inflight) { /* working for it, or it waits for a job: not idle */
    uv_timer_start(&c->idle, on_idle, (uint64_t)(c->d->cfg.idle_timeout_s * 1e3), 0);
    return;
  }
  char msg[96];
  snprintf(msg, sizeof(msg), "idle for %.0f s; closing the connection", c->d->cfg.idle_timeout_s);
  hantd_log(LOG_DEBUG, "connection %llu: idle timeout", (unsigned long long)c->id);
  c->close_after_write = true;
  uv_read_stop((uv_stream_t *)&c->pipe);
  send_error(c, NULL, HANT_RPC_TIMEOUT, msg);
  if (!c->closing)
    uv_timer_start(&c->idle, on_idle, (uint64_t)(c->d->cfg.idle_timeout_s * 1e3), 0);
}

static void task_free(hantd_task *t) {
  hant_rpc_req_destroy(t->req);
  free(t->raw);
  free(t->cache_key);
  hant_library_unref(t->lib);
  hant_library_unref(t->new_lib);
  hant_rpc_reply_free(&t->reply);
  while (t->waiters) {
    hantd_waiter *w = t->waiters;
    t->waiters = w->next;
    free(w->id);
    free(w);
  }
  free(t);
}

static hantd_task *inflight_find(hantd *d, const char *key) {
  for (size_t i = 0; i < d->n_inflight_keys; i++)
    if (!strcmp(d->inflight_keys[i]->cache_key, key))
      return d->inflight_keys[i];
  return NULL;
}

static bool inflight_add(hantd *d, hantd_task *t) {
  if (d->n_inflight_keys == d->cap_inflight_keys) {
    size_t cap = d->cap_inflight_keys ? d->cap_inflight_keys * 2 : 64;
    hantd_task **p = realloc(d->inflight_keys, cap * sizeof(*p));
    if (!p)
      return false;
    d->inflight_keys = p;
    d->cap_inflight_keys = cap;
  }
  d->inflight_keys[d->n_inflight_keys++] = t;
  return true;
}

static void inflight_remove(hantd *d, hantd_task *t) {
  for (size_t i = 0; i < d->n_inflight_keys; i++)
    if (d->inflight_keys[i] == t) {
      d->inflight_keys[i] = d->inflight_keys[--d->n_inflight_keys];
      return;
    }
}

/* Hands a task to the pool; answers busy when the queue is full. */
static void submit(hantd_conn *c, hantd_task *t) {
  hantd *d = c->d;
  t->conn = c;
  t->lib = hant_library_ref(d->lib);
  t->t_submit = hant_now_s();
  hantd_conn_hold(c);
  if (hantd_pool_submit(d->pool, t, false)) {
    d->busy_rejections++;
    if (t->req && hant_rpc_req_is_notification(t->req)) {
      /* no answer */
    } else {
      send_error(c, t->req ? hant_rpc_req_id(t->req) : NULL, HANT_RPC_BUSY,
                 "busy: the work queue is full; retry later");
    }
    t->conn = NULL;
    task_free(t);
    hantd_conn_release(c);
    return;
  }
  if (t->cache_key && !inflight_add(d, t)) {
    free(t->cache_key);
    t->cache_key = NULL;
  }
}

static void handle_line(hantd_conn *c, const char *line, size_t n) {
  hantd *d = c->d;
  d->requests++;
  if (n > PARSE_ON_LOOP_MAX) {
    if (d->stopping) {
      send_error(c, NULL, HANT_RPC_SHUTTING_DOWN, "the daemon is shutting down");
      return;
    }
    hantd_task *t = calloc(1, sizeof(*t));
    if (!t || !(t->raw = malloc(n))) {
      free(t);
      send_error(c, NULL, HANT_RPC_INTERNAL, "out of memory");
      return;
    }
    memcpy(t->raw, line, n);
    t->raw_len = n;
    t->kind = HANTD_TASK_RAW;
    submit(c, t);
    return;
  }
  hant_rpc_req *req = NULL;
  char *err = NULL;
  if (hant_rpc_parse(line, n, &req, &err)) {
    d->errors++;
    hantd_conn_send(c, err);
    return;
  }
  bool note = hant_rpc_req_is_notification(req);
  const char *id = hant_rpc_req_id(req);
  if (d->stopping) {
    if (!note)
      send_error(c, id, HANT_RPC_SHUTTING_DOWN, "the daemon is shutting down");
    hant_rpc_req_destroy(req);
    return;
  }
  hant_rpc_method m = hant_rpc_req_method(req);
  if (m == HANT_RPC_STATUS || m == HANT_RPC_VERSION) {
    char *body = NULL;
    if (m == HANT_RPC_STATUS) {
      hant_rpc_status s;
      hantd_status(d, &s);
      body = hant_rpc_status_json(&s);
    } else {
      body = hant_rpc_version_json(d->lib->version, d->schema_version);
    }
    if (!note)
      hantd_conn_send(c, body ? hant_rpc_result_line(id, body) : hant_rpc_error_line(id, HANT_RPC_INTERNAL, NULL, NULL));
    free(body);
    hant_rpc_req_destroy(req);
    return;
  }
  char *key = hant_rpc_req_cache_key(req, d->lib->version);
  if (key) {
    if (note) { /* nobody reads the answer and it has no side effect */
      free(key);
      hant_rpc_req_destroy(req);
      return;
    }
    const char *body = hantd_cache_get(d->cache, key);
    if (body) {
      d->cache_hits++;
      hantd_conn_send(c, hant_rpc_cached_line(id, body, true));
      free(key);
      hant_rpc_req_destroy(req);
      return;
    }
    d->cache_misses++;
    hantd_task *same = inflight_find(d, key);
    if (same) { /* the same question is being answered: wait for that answer */
      hantd_waiter *w = calloc(1, sizeof(*w));
      if (w && (w->id = strdup(id))) {
        w->conn = c;
        w->next = same->waiters;
        same->waiters = w;
        hantd_conn_hold(c);
      } else {
        free(w);
        send_error(c, id, HANT_RPC_INTERNAL, "out of memory");
      }
      free(key);
      hant_rpc_req_destroy(req);
      return;
    }
  }
  hantd_task *t = calloc(1, sizeof(*t));
  if (!t) {
    free(key);
    if (!note)
      send_error(c, id, HANT_RPC_INTERNAL, "out of memory");
    hant_rpc_req_destroy(req);
    return;
  }
  t->kind = HANTD_TASK_REQ;
  t->req = req;
  t->cache_key = key;
  submit(c, t);
}

/* Answers of a finished task: to its connection and to coalesced waiters. */
void hantd_server_task_done(hantd *d, hantd_task *t) {
  hantd_conn *c = t->conn;
  hant_rpc_reply *r = &t->reply;
  if (t->cache_key) {
    inflight_remove(d, t);
    if (r->cache_body && !r->error && t->lib && t->lib == d->lib)
      hantd_cache_put(d->cache, t->cache_key, r->cache_body);
  }
  if (r->error)
    d->errors++;
  const char *id = t->req ? hant_rpc_req_id(t->req) : "null";
  while (t->waiters) {
    hantd_waiter *w = t->waiters;
    t->waiters = w->next;
    char *line = r->line ? hant_rpc_line_with_id(r->line, id, w->id) : NULL;
    if (!line && r->cache_body)
      line = hant_rpc_cached_line(w->id, r->cache_body, false);
    if (!line)
      line = hant_rpc_error_line(w->id, HANT_RPC_INTERNAL, "the answer was lost", NULL);
    hantd_conn_send(w->conn, line);
    hantd_conn_release(w->conn);
    free(w->id);
    free(w);
  }
  if (r->job_pending && t->req && !hant_rpc_req_is_notification(t->req) && !c->closing) {
    hantd_jobs_watch(d->jobs, c, id, r->job_id);
  } else if (r->line) {
    hantd_conn_send(c, r->line);
    r->line = NULL;
  }
  hantd_log(LOG_DEBUG, "%s answered in %.2f ms", t->req ? hant_rpc_method_name(hant_rpc_req_method(t->req)) : "request",
            (hant_now_s() - t->t_submit) * 1e3);
  t->conn = NULL;
  task_free(t);
  hantd_conn_release(c);
}

static void too_large(hantd_conn *c) {
  char msg[160];
  snprintf(msg, sizeof(msg), "message too large: more than %zu bytes without a newline; closing the connection",
           c->d->cfg.max_message);
  hantd_log(LOG_WARNING, "connection %llu (uid %u): %s", (unsigned long long)c->id, (unsigned)c->uid, msg);
  c->close_after_write = true;
  c->len = c->start = c->scanned = 0;
  uv_read_stop((uv_stream_t *)&c->pipe);
  send_error(c, NULL, HANT_RPC_TOO_LARGE, msg);
}

/* Handles every complete line in the buffer, unless paused. */
static void process(hantd_conn *c) {
  hantd *d = c->d;
  while (!c->closing && !c->paused && !c->close_after_write) {
    char *nl = c->scanned < c->len ? memchr(c->buf + c->scanned, '\n', c->len - c->scanned) : NULL;
    if (!nl) {
      c->scanned = c->len;
      if (c->len - c->start > d->cfg.max_message) {
        too_large(c);
        return;
      }
      break;
    }
    size_t end = (size_t)(nl - c->buf), n = end - c->start;
    const char *line = c->buf + c->start;
    c->start = c->scanned = end + 1;
    if (n && line[n - 1] == '\r')
      n--;
    if (n > d->cfg.max_message) {
      too_large(c);
      return;
    }
    size_t k = 0;
    while (k < n && (line[k] == ' ' || line[k] == '\t'))
      k++;
    if (k == n)
      continue; /* blank lines are keep-alives */
    handle_line(c, line, n);
    if (c->inflight >= d->cfg.max_inflight || c->pending > d->cfg.write_high) {
      c->paused = true;
      hantd_log(LOG_DEBUG, "connection %llu: paused (in flight %d, unsent %zu bytes)", (unsigned long long)c->id,
                c->inflight, c->pending);
    }
  }
  if (c->start == c->len)
    c->start = c->len = c->scanned = 0;
  if (c->closing || c->close_after_write)
    return;
  /* A final line without a newline counts at the end of input. */
  if (c->eof && !c->paused && c->len > c->start) {
    size_t n = c->len - c->start, k = c->start;
    c->len = c->start = c->scanned = 0; /* the bytes stay in place until the next read, which never comes */
    if (n <= d->cfg.max_message)
      handle_line(c, c->buf + k, n);
  }
  if (c->paused || c->eof) {
    if (c->reading) {
      uv_read_stop((uv_stream_t *)&c->pipe);
      c->reading = false;
    }
  } else if (!c->reading) {
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
  }
  check_done(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  hantd_conn *c = h->data;
  (void)suggested;
  b->base = c->d->read_buf;
  b->len = sizeof(c->d->read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  hantd_conn *c = s->data;
  if (c->closing)
    return;
  if (nread < 0) {
    if (nread != UV_EOF)
      hantd_log(LOG_DEBUG, "connection %llu: read: %s", (unsigned long long)c->id, uv_strerror((int)nread));
    c->eof = true;
    if (nread != UV_EOF) { /* reset: nobody will read answers */
      conn_close(c);
      return;
    }
    process(c);
    return;
  }
  if (nread == 0)
    return;
  uv_timer_start(&c->idle, on_idle, (uint64_t)(c->d->cfg.idle_timeout_s * 1e3), 0);
  size_t n = (size_t)nread;
  if (c->start && c->start == c->len)
    c->start = c->len = c->scanned = 0;
  if (c->len + n > c->cap) {
    if (c->start) { /* compact */
      memmove(c->buf, c->buf + c->start, c->len - c->start);
      c->len -= c->start;
      c->scanned -= c->start;
      c->start = 0;
    }
    if (c->len + n > c->cap) {
      size_t cap = c->cap ? c->cap : 4096;
      while (cap < c->len + n)
        cap *= 2;
      char *p = realloc(c->buf, cap);
      if (!p) {
        send_error(c, NULL, HANT_RPC_INTERNAL, "out of memory");
        c->close_after_write = true;
        uv_read_stop(s);
        return;
      }
      c->buf = p;
      c->cap = cap;
    }
  }
  memcpy(c->buf + c->len, b->base, n);
  c->len += n;
  process(c);
}

static bool uid_allowed(const hantd_config *cfg, uid_t uid) {
  if (cfg->allow_any || uid == geteuid())
    return true;
  if (!cfg->n_allowed)
    return uid == 0;
  for (int i = 0; i < cfg->n_allowed; i++)
    if (cfg->allowed[i] == uid)
      return true;
  return false;
}

static void on_connection(uv_stream_t *server, int status) {
  hantd *d = server->data;
  if (status < 0) {
    hantd_log(LOG_WARNING, "accept: %s", uv_strerror(status));
    return;
  }
  hantd_conn *c = calloc(1, sizeof(*c));
  if (!c) {
    hantd_log(LOG_ERR, "out of memory accepting a connection");
    return;
  }
  c->d = d;
  c->id = ++d->next_conn_id;
  uv_pipe_init(d->loop, &c->pipe, 0);
  uv_timer_init(d->loop, &c->idle);
  c->pipe.data = c->idle.data = c;
  c->handles = 2;
  c->next = d->conns;
  if (d->conns)
    d->conns->prev = c;
  d->conns = c;
  d->n_conns++;
  if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
    conn_close(c);
    return;
  }
  uv_os_fd_t fd;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd) || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
    hantd_log(LOG_WARNING, "connection %llu: cannot read the peer's credentials; refused", (unsigned long long)c->id);
    conn_close(c);
    return;
  }
  c->uid = cred.uid;
  c->pid = cred.pid;
  if (!uid_allowed(&d->cfg, cred.uid)) {
    hantd_log(LOG_WARNING, "refused a connection from uid %u (pid %d): not in allowed_uids", (unsigned)cred.uid,
              (int)cred.pid);
    c->close_after_write = true;
    char msg[128];
    snprintf(msg, sizeof(msg), "permission denied: uid %u may not use this daemon", (unsigned)cred.uid);
    send_error(c, NULL, HANT_RPC_FORBIDDEN, msg);
    if (!c->closing)
      uv_timer_start(&c->idle, on_idle, (uint64_t)(d->cfg.idle_timeout_s * 1e3), 0);
    return;
  }
  if (d->n_conns > d->cfg.max_clients) {
    hantd_log(LOG_WARNING, "refused a connection from uid %u: %d clients already", (unsigned)cred.uid,
              d->n_conns - 1);
    c->close_after_write = true;
    send_error(c, NULL, HANT_RPC_TOO_MANY_CLIENTS, "too many clients; retry later");
    if (!c->closing)
      uv_timer_start(&c->idle, on_idle, (uint64_t)(d->cfg.idle_timeout_s * 1e3), 0);
    return;
  }
  hantd_log(LOG_DEBUG, "connection %llu from uid %u pid %d", (unsigned long long)c->id, (unsigned)cred.uid,
            (int)cred.pid);
  c->reading = true;
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
  uv_timer_start(&c->idle, on_idle, (uint64_t)(d->cfg.idle_timeout_s * 1e3), 0);
}

void hantd_server_close_all(hantd *d) {
  for (hantd_conn *c = d->conns; c; c = c->next) {
    if (c->closing)
      continue;
    if (c->pending) {
      c->close_after_write = true;
      if (c->reading)
        uv_read_stop((uv_stream_t *)&c->pipe);
      c->reading = false;
    } else {
      conn_close(c);
    }
  }
}

void hantd_server_stop_listening(hantd *d) {
  if (!d->listening)
    return;
  d->listening = false;
  uv_close((uv_handle_t *)&d->server, NULL);
  if (!d->socket_activated) {
    /* Remove the socket only if it is still the one we bound. */
    struct stat st;
    if (lstat(d->cfg.socket, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == d->socket_ino &&
        st.st_dev == d->socket_dev)
      unlink(d->cfg.socket);
  }
}

/* Creates the socket's directory if missing (0700, or 0755 under /run). */
static int make_parent(const char *path) {
  char dir[1024];
  snprintf(dir, sizeof(dir), "%s", path);
  char *p = dirname(dir);
  struct stat st;
  if (stat(p, &st) == 0)
    return S_ISDIR(st.st_mode) ? 0 : -1;
  char parent[1024];
  snprintf(parent, sizeof(parent), "%s", p);
  make_parent(parent);
  return mkdir(p, strncmp(p, "/run/", 5) ? 0700 : 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Is a daemon answering on path? Returns its pid (> 0), 0 when the socket
 * is stale (connection refused), -1 when it cannot tell (errno set). */
static int probe(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int rc;
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0 ? cred.pid : 1;
  } else {
    rc = errno == ECONNREFUSED ? 0 : -1;
  }
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

int hantd_server_listen(hantd *d) {
  hantd_config *cfg = &d->cfg;
  uv_pipe_init(d->loop, &d->server, 0);
  d->server.data = d;
  int fd = hantd_sd_listen_fd();
  if (fd >= 0) {
    int rc = uv_pipe_open(&d->server, fd);
    if (rc) {
      hantd_log(LOG_ERR, "cannot use the socket systemd passed: %s", uv_strerror(rc));
      return -1;
    }
    d->socket_activated = true;
    hantd_log(LOG_INFO, "serving the socket systemd passed (socket activation)");
  } else {
    struct sockaddr_un sa;
    if (strlen(cfg->socket) >= sizeof(sa.sun_path)) {
      hantd_log(LOG_ERR, "%s: socket path too long (at most %zu bytes)", cfg->socket, sizeof(sa.sun_path) - 1);
      return -1;
    }
    if (make_parent(cfg->socket)) {
      hantd_log(LOG_ERR, "%s: cannot create its directory: %s", cfg->socket, strerror(errno));
      return -1;
    }
    /* A lock next to the socket makes "is another daemon here?" exact. */
    char lock[1100];
    snprintf(lock, sizeof(lock), "%s.lock", cfg->socket);
    d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0) {
      hantd_log(LOG_ERR, "%s: %s", lock, strerror(errno));
      return -1;
    }
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
      int pid = probe(cfg->socket);
      if (pid > 0)
        hantd_log(LOG_ERR, "another hantd (pid %d) is serving %s; stop it first or choose another --socket", pid,
                  cfg->socket);
      else
        hantd_log(LOG_ERR, "another hantd holds %s; stop it first or choose another --socket", lock);
      return -1;
    }
    struct stat st;
    if (lstat(cfg->socket, &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        hantd_log(LOG_ERR, "%s exists and is not a socket; remove it or choose another --socket", cfg->socket);
        return -1;
      }
      int pid = probe(cfg->socket);
      if (pid > 0) {
        hantd_log(LOG_ERR, "a live daemon (pid %d) is serving %s; stop it first or choose another --socket", pid,
                  cfg->socket);
        return -1;
      }
      if (pid < 0) {
        hantd_log(LOG_ERR, "%s: cannot tell whether a daemon serves it: %s", cfg->socket, strerror(errno));
        return -1;
      }
      hantd_log(LOG_NOTICE, "replacing the stale socket %s", cfg->socket);
      if (unlink(cfg->socket) && errno != ENOENT) {
        hantd_log(LOG_ERR, "%s: cannot remove the stale socket: %s", cfg->socket, strerror(errno));
        return -1;
      }
    }
    /* Created with no access for others from the first instant. */
    mode_t old = umask(0177);
    int rc = uv_pipe_bind(&d->server, cfg->socket);
    umask(old);
    if (rc) {
      hantd_log(LOG_ERR, "%s: bind: %s", cfg->socket, uv_strerror(rc));
      return -1;
    }
    if (cfg->socket_group[0]) {
      struct group *g = getgrnam(cfg->socket_group);
      if (!g || chown(cfg->socket, (uid_t)-1, g->gr_gid)) {
        hantd_log(LOG_ERR, "%s: cannot give the socket to group %s: %s", cfg->socket, cfg->socket_group,
                  g ? strerror(errno) : "no such group");
        unlink(cfg->socket);
        return -1;
      }
    }
    if (chmod(cfg->socket, cfg->socket_mode)) {
      hantd_log(LOG_ERR, "%s: chmod: %s", cfg->socket, strerror(errno));
      unlink(cfg->socket);
      return -1;
    }
    struct stat bound;
    if (lstat(cfg->socket, &bound) == 0) {
      d->socket_ino = bound.st_ino;
      d->socket_dev = bound.st_dev;
    }
  }
  int rc = uv_listen((uv_stream_t *)&d->server, 511, on_connection);
  if (rc) {
    hantd_log(LOG_ERR, "%s: listen: %s", cfg->socket, uv_strerror(rc));
    if (!d->socket_activated)
      unlink(cfg->socket);
    return -1;
  }
  d->listening = true;
  return 0;
}
