/* SPDX-License-Identifier: MIT */
/* conn.c: hantd's client connections: framing with a size limit, back-pressure, the daemon-wide memory budget, idle timeouts, closing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#include "daemon.h"
#include "dispatch.h"
#include "framing.h"
#include "hant.h"
#include "log.h"

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

/* An input buffer larger than this is given back once it is empty. */
#define KEEP_INPUT_BYTES ((size_t)64 << 10)

static void process(hantd_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void on_idle(uv_timer_t *t);

bool hantd_conn_closing(const hantd_conn *c) { return c->closing; }
bool hantd_conn_congested(const hantd_conn *c) {
  return c->pending > c->d->cfg.write_high || c->d->buffered > c->d->cfg.max_buffered / 2;
}

bool hantd_conn_charge(hantd *d, size_t n) {
  if (n > d->cfg.max_buffered || d->buffered > d->cfg.max_buffered - n)
    return false;
  d->buffered += n;
  return true;
}

void hantd_conn_uncharge(hantd *d, size_t n) { d->buffered -= n < d->buffered ? n : d->buffered; }

/* Gives the input buffer back, with its share of the budget. */
static void drop_input(hantd_conn *c) {
  hantd_conn_uncharge(c->d, c->cap);
  free(c->buf);
  c->buf = NULL;
  c->cap = c->len = c->start = c->scanned = 0;
}
uint64_t hantd_conn_id(const hantd_conn *c) { return c->id; }
uid_t hantd_conn_uid(const hantd_conn *c) { return c->uid; }
uv_stream_t *hantd_conn_stream(hantd_conn *c) { return (uv_stream_t *)&c->pipe; }

void hantd_conn_set_peer(hantd_conn *c, uid_t uid, pid_t pid) {
  c->uid = uid;
  c->pid = pid;
}

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
  drop_input(c);
  free(c);
  hantd_daemon_maybe_finish(d);
}

/* Closes a connection once its answers are sent and its work is done (EOF). */
static void check_done(hantd_conn *c) {
  if (c->closing)
    return;
  if ((c->eof && !c->inflight && !c->pending) || (c->close_after_write && !c->pending))
    hantd_conn_close(c);
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
  hantd_conn_uncharge(c->d, w->len);
  free(w->data);
  free(w);
  if (status < 0 && status != UV_ECANCELED && !c->closing) {
    hantd_log(LOG_DEBUG, "connection %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(status));
    hantd_conn_close(c);
    return;
  }
  if (!c->closing) {
    maybe_resume(c);
    check_done(c);
  }
}

static void over_budget(hantd_conn *c, const char *what, size_t n);

/* exempt: the one refusal a connection gets when the budget is spent. */
static void send_line(hantd_conn *c, char *line, bool exempt) {
  if (!line)
    return;
  if (c->closing) {
    free(line);
    return;
  }
  size_t n = strlen(line);
  if (!exempt && !hantd_conn_charge(c->d, n + 1)) {
    free(line);
    if (!c->close_after_write) /* one refusal per connection; it closes anyway */
      over_budget(c, "an answer", n + 1);
    return;
  }
  if (exempt)
    c->d->buffered += n + 1;
  /* The line's own terminating NUL becomes the newline. */
  line[n] = '\n';
  wreq *w = calloc(1, sizeof(*w));
  if (!w) {
    hantd_conn_uncharge(c->d, n + 1);
    free(line);
    hantd_conn_close(c);
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
    hantd_conn_uncharge(c->d, w->len);
    free(line);
    free(w);
    hantd_conn_close(c);
  }
}

void hantd_conn_send(hantd_conn *c, char *line) { send_line(c, line, false); }

void hantd_conn_send_error(hantd_conn *c, const char *id, int code, const char *msg) {
  c->d->errors++;
  hantd_conn_send(c, hant_rpc_error_line(id, code, msg, NULL));
}

static void on_close(uv_handle_t *h) {
  hantd_conn *c = h->data;
  c->handles--;
  maybe_free(c);
}

void hantd_conn_close(hantd_conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  /* What only waits (a job watch) lets go now; running tasks still hold the connection until they finish. */
  hantd_dispatch_forget(c->d, c);
  uv_read_stop((uv_stream_t *)&c->pipe);
  uv_close((uv_handle_t *)&c->pipe, on_close);
  uv_close((uv_handle_t *)&c->idle, on_close);
}

static void on_idle(uv_timer_t *t) {
  hantd_conn *c = t->data;
  if (c->closing)
    return;
  if (c->close_after_write) { /* its last answer was not read for a whole period: give up */
    hantd_conn_close(c);
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
  hantd_conn_send_error(c, NULL, HANT_RPC_TIMEOUT, msg);
  if (!c->closing)
    uv_timer_start(&c->idle, on_idle, (uint64_t)(c->d->cfg.idle_timeout_s * 1e3), 0);
}

static void too_large(hantd_conn *c) {
  char msg[160];
  snprintf(msg, sizeof(msg), "message too large: more than %zu bytes without a newline; closing the connection",
           c->d->cfg.max_message);
  hantd_log_limited(&c->d->refusals, LOG_WARNING, "connection %llu (uid %u): %s", (unsigned long long)c->id,
                    (unsigned)c->uid, msg);
  c->close_after_write = true;
  drop_input(c);
  uv_read_stop((uv_stream_t *)&c->pipe);
  c->reading = false;
  hantd_conn_send_error(c, NULL, HANT_RPC_TOO_LARGE, msg);
}

/* The daemon-wide budget (max_buffered_bytes) cannot take what this
 * connection needs: it is closed with one answer, so that many clients
 * together never hold more than the budget, whatever each one sends. */
static void over_budget(hantd_conn *c, const char *what, size_t n) {
  hantd *d = c->d;
  hantd_log_limited(&d->refusals, LOG_WARNING,
                    "connection %llu (uid %u): closed: %s of %zu bytes would take the buffers of all clients past "
                    "max_buffered_bytes (%zu of %zu bytes in use)",
                    (unsigned long long)c->id, (unsigned)c->uid, what, n, d->buffered, d->cfg.max_buffered);
  d->busy_rejections++;
  d->errors++;
  c->close_after_write = true;
  drop_input(c);
  uv_read_stop((uv_stream_t *)&c->pipe);
  c->reading = false;
  send_line(c,
            hant_rpc_error_line(NULL, HANT_RPC_BUSY,
                                "busy: the daemon holds too much data for its clients (max_buffered_bytes); closing "
                                "the connection; retry later",
                                NULL),
            true);
}

/* Handles every complete line in the buffer, unless paused. */
static void process(hantd_conn *c) {
  hantd *d = c->d;
  while (!c->closing && !c->paused && !c->close_after_write) {
    size_t at, n;
    int got = hantd_frame_next(c->buf, c->len, &c->start, &c->scanned, d->cfg.max_message, &at, &n);
    if (got < 0) {
      too_large(c);
      return;
    }
    if (!got)
      break;
    hantd_dispatch_line(d, c, c->buf + at, n);
    if (c->inflight >= d->cfg.max_inflight || c->pending > d->cfg.write_high) {
      c->paused = true;
      hantd_log(LOG_DEBUG, "connection %llu: paused (in flight %d, unsent %zu bytes)", (unsigned long long)c->id,
                c->inflight, c->pending);
    }
  }
  if (c->start == c->len) {
    c->start = c->len = c->scanned = 0;
    if (c->cap > KEEP_INPUT_BYTES) /* an idle connection keeps no large buffer after a large message */
      drop_input(c);
  }
  if (c->closing || c->close_after_write)
    return;
  /* A final line without a newline counts at the end of input. */
  if (c->eof && !c->paused && c->len > c->start) {
    size_t n = c->len - c->start, k = c->start;
    c->len = c->start = c->scanned = 0; /* the bytes stay in place until the next read, which never comes */
    if (n <= d->cfg.max_message)
      hantd_dispatch_line(d, c, c->buf + k, n);
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
      hantd_conn_close(c);
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
      /* Doubling, but never much past the largest line the limit lets
       * through (and what one read adds), so a connection holds at most
       * about max_message bytes of input. */
      size_t need = c->len + n, most = c->d->cfg.max_message + sizeof(c->d->read_buf) + 2;
      size_t cap = c->cap ? c->cap : 4096;
      while (cap < need)
        cap *= 2;
      if (cap > most)
        cap = need > most ? need : most;
      if (!hantd_conn_charge(c->d, cap - c->cap)) {
        over_budget(c, "a request", cap);
        return;
      }
      char *p = realloc(c->buf, cap);
      if (!p) {
        hantd_conn_uncharge(c->d, cap - c->cap);
        hantd_conn_send_error(c, NULL, HANT_RPC_INTERNAL, "out of memory");
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

hantd_conn *hantd_conn_new(hantd *d) {
  hantd_conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
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
  return c;
}

void hantd_conn_start(hantd_conn *c) {
  c->reading = true;
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
  uv_timer_start(&c->idle, on_idle, (uint64_t)(c->d->cfg.idle_timeout_s * 1e3), 0);
}

void hantd_conn_refuse(hantd_conn *c, int code, const char *msg) {
  c->close_after_write = true;
  hantd_conn_send_error(c, NULL, code, msg);
  /* Closed once the refusal is written; a peer that never reads it is dropped after an idle period. */
  if (!c->closing)
    uv_timer_start(&c->idle, on_idle, (uint64_t)(c->d->cfg.idle_timeout_s * 1e3), 0);
}

void hantd_conn_close_all(hantd *d) {
  for (hantd_conn *c = d->conns; c; c = c->next) {
    if (c->closing)
      continue;
    if (c->pending) {
      c->close_after_write = true;
      if (c->reading)
        uv_read_stop((uv_stream_t *)&c->pipe);
      c->reading = false;
    } else {
      hantd_conn_close(c);
    }
  }
}
