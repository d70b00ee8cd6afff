/* SPDX-License-Identifier: MIT */
/* dispatch.c: hantd's requests routed on the loop: to an answer at once, the cache, a request in flight, or a worker. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

#include "cache.h"
#include "daemon.h"
#include "hant.h"
#include "log.h"
#include "watch.h"

/* Lines up to this size are parsed on the loop (microseconds); larger
 * ones are parsed by a worker, so the loop never spends long on one. */
#define PARSE_ON_LOOP_MAX ((size_t)64 << 10)

/* A request waiting for the same answer as another one (coalesced). */
typedef struct hantd_waiter {
  hantd_conn *conn;
  char *id;
  struct hantd_waiter *next;
} hantd_waiter;

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

/* Hands a task to the workers; answers busy when the queue is full. */
static void submit(hantd *d, hantd_conn *c, hantd_task *t) {
  t->conn = c;
  t->lib = hant_library_ref(d->lib);
  t->t_submit = hant_now_s();
  hantd_conn_hold(c);
  if (hantd_workers_submit(d->workers, t, false)) {
    d->busy_rejections++;
    if (t->kind == HANTD_TASK_RAW)
      hantd_conn_uncharge(d, t->raw_len);
    if (t->req && hant_rpc_req_is_notification(t->req)) {
      /* no answer */
    } else {
      hantd_conn_send_error(c, t->req ? hant_rpc_req_id(t->req) : NULL, HANT_RPC_BUSY,
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

/* Where a parsed request goes, whatever the length of its line; takes req. */
static void route(hantd *d, hantd_conn *c, hant_rpc_req *req) {
  bool note = hant_rpc_req_is_notification(req);
  const char *id = hant_rpc_req_id(req);
  if (d->stopping) {
    if (!note)
      hantd_conn_send_error(c, id, HANT_RPC_SHUTTING_DOWN, "the daemon is shutting down");
    hant_rpc_req_destroy(req);
    return;
  }
  hant_rpc_method m = hant_rpc_req_method(req);
  if (m == HANT_RPC_STATUS || m == HANT_RPC_VERSION) {
    char *body = NULL;
    if (m == HANT_RPC_STATUS) {
      hant_rpc_status s;
      hantd_daemon_status(d, &s);
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
        hantd_conn_send_error(c, id, HANT_RPC_INTERNAL, "out of memory");
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
      hantd_conn_send_error(c, id, HANT_RPC_INTERNAL, "out of memory");
    hant_rpc_req_destroy(req);
    return;
  }
  t->kind = HANTD_TASK_REQ;
  t->req = req;
  t->cache_key = key;
  submit(d, c, t);
}

void hantd_dispatch_line(hantd *d, hantd_conn *c, const char *line, size_t n) {
  d->requests++;
  if (n > PARSE_ON_LOOP_MAX) {
    if (d->stopping) {
      hantd_conn_send_error(c, NULL, HANT_RPC_SHUTTING_DOWN, "the daemon is shutting down");
      return;
    }
    /* The copy counts against the budget of all connections until the worker is done with it. */
    if (!hantd_conn_charge(d, n)) {
      d->busy_rejections++;
      hantd_conn_send_error(c, NULL, HANT_RPC_BUSY,
                            "busy: the daemon holds too much data for its clients (max_buffered_bytes); retry later");
      return;
    }
    hantd_task *t = calloc(1, sizeof(*t));
    if (!t || !(t->raw = malloc(n))) {
      free(t);
      hantd_conn_uncharge(d, n);
      hantd_conn_send_error(c, NULL, HANT_RPC_INTERNAL, "out of memory");
      return;
    }
    memcpy(t->raw, line, n);
    t->raw_len = n;
    t->kind = HANTD_TASK_RAW;
    submit(d, c, t);
    return;
  }
  hant_rpc_req *req = NULL;
  char *err = NULL;
  if (hant_rpc_req_parse(line, n, &req, &err)) {
    d->errors++;
    hantd_conn_send(c, err);
    return;
  }
  route(d, c, req);
}

/* A long line parsed by a worker: answered as if it had been short. */
static void raw_done(hantd *d, hantd_task *t) {
  hantd_conn *c = t->conn;
  hantd_conn_uncharge(d, t->raw_len);
  if (!hantd_conn_closing(c)) {
    if (t->req) {
      hant_rpc_req *req = t->req;
      t->req = NULL;
      route(d, c, req);
    } else if (t->reply.line) { /* a parse error (none for a notification) */
      d->errors++;
      hantd_conn_send(c, t->reply.line);
      t->reply.line = NULL;
    }
  }
  t->conn = NULL;
  task_free(t);
  hantd_conn_release(c);
}

/* Answers of a finished task: to its connection and to coalesced waiters. */
void hantd_dispatch_done(hantd *d, hantd_task *t) {
  if (t->kind == HANTD_TASK_RAW) {
    raw_done(d, t);
    return;
  }
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
  if (r->job_pending && t->req && !hant_rpc_req_is_notification(t->req) && !hantd_conn_closing(c)) {
    hantd_watches_add(d->watches, d->jobs, c, id, r->job_id);
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

void hantd_dispatch_forget(hantd *d, hantd_conn *c) { hantd_watches_drop_conn(d->watches, c); }
