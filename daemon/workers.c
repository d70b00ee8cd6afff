/* SPDX-License-Identifier: MIT */
/* workers.c: hantd's worker threads: a bounded queue in, finished tasks back to the event loop through a uv_async_t. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers.h"

#include "conn.h"
#include "log.h"

typedef struct worker {
  hantd_workers *all;
  int idx;
  pthread_t thread;
  bool started;
} worker;

struct hantd_workers {
  const hantd_config *cfg;
  const hant_rpc_host *host;
  uv_async_t async;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hantd_task *qhead, *qtail; /* waiting for a worker */
  size_t depth, capacity;
  hantd_task *dhead, *dtail; /* finished, waiting for the loop */
  int busy;
  int inflight; /* loop side: submitted and not yet delivered */
  bool stop;
  int n;
  worker *threads;
  hantd_workers_done_fn done;
  void *user;
};

static void run(hantd_workers *w, hant_store *st, hantd_task *t) {
  hant_rpc_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.lib = t->lib;
  ctx.st = st;
  ctx.host = w->host;
  ctx.max_queued_jobs = w->cfg->max_jobs_queued;
  ctx.has_peer = t->conn != NULL; /* files a request names are the asking peer's */
  ctx.peer_uid = t->conn ? hantd_conn_uid(t->conn) : 0;
  ctx.default_time_limit_ms = w->cfg->time_limit_ms;
  hant_rpc_reply_init(&t->reply);
  switch (t->kind) {
  case HANTD_TASK_REQ: t->rc = hant_rpc_exec(&ctx, t->req, &t->reply); break;
  case HANTD_TASK_RAW: {
    /* Only parsed here: where the request goes (status on the loop, the
     * cache, single flight) is the loop's decision, as for short lines. */
    char *err = NULL;
    int code = hant_rpc_req_parse(t->raw, t->raw_len, &t->req, &err);
    if (code) {
      t->reply.error = code;
      t->reply.line = err;
      t->req = NULL;
    }
    free(t->raw);
    t->raw = NULL;
    break;
  }
  case HANTD_TASK_RELOAD:
    if (!st) {
      t->rc = HANT_EDB;
      snprintf(t->err, sizeof(t->err), "the worker has no database connection");
      break;
    }
    hant_errmsg_clear();
    t->rc = hant_library_load(st, w->cfg->devices_dir[0] ? w->cfg->devices_dir : NULL, &t->new_lib);
    if (t->rc)
      snprintf(t->err, sizeof(t->err), "%s", hant_errmsg());
    break;
  }
}

static void *worker_main(void *arg) {
  worker *self = arg;
  hantd_workers *w = self->all;
  hant_store *st = NULL;
  /* Each worker has its own connection: SQLite connections are not shared between threads. */
  if (hant_store_open(w->cfg->db, HANT_STORE_NOCHECK, &st)) {
    hantd_log(LOG_ERR, "worker %d: %s; job methods and reloads will fail", self->idx, hant_errmsg());
    st = NULL;
  }
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->qhead && !w->stop)
      pthread_cond_wait(&w->cv, &w->mu);
    if (!w->qhead && w->stop)
      break;
    hantd_task *t = w->qhead;
    w->qhead = t->next;
    if (!w->qhead)
      w->qtail = NULL;
    w->depth--;
    w->busy++;
    pthread_mutex_unlock(&w->mu);
    t->next = NULL;
    run(w, st, t);
    pthread_mutex_lock(&w->mu);
    w->busy--;
    if (w->dtail)
      w->dtail->next = t;
    else
      w->dhead = t;
    w->dtail = t;
    uv_async_send(&w->async);
  }
  pthread_mutex_unlock(&w->mu);
  hant_store_close(st);
  return NULL;
}

static void on_async(uv_async_t *a) {
  hantd_workers *w = a->data;
  pthread_mutex_lock(&w->mu);
  hantd_task *t = w->dhead;
  w->dhead = w->dtail = NULL;
  pthread_mutex_unlock(&w->mu);
  while (t) {
    hantd_task *next = t->next;
    t->next = NULL;
    w->inflight--;
    w->done(w->user, t);
    t = next;
  }
}

int hantd_workers_start(uv_loop_t *loop, const hantd_config *cfg, const hant_rpc_host *host,
                        hantd_workers_done_fn done, void *user, hantd_workers **out) {
  *out = NULL;
  hantd_workers *w = calloc(1, sizeof(*w));
  if (!w)
    return HANT_ENOMEM;
  int n = cfg->workers;
  w->cfg = cfg;
  w->host = host;
  w->capacity = (size_t)cfg->queue;
  w->done = done;
  w->user = user;
  w->n = n;
  w->threads = calloc((size_t)n, sizeof(*w->threads));
  if (!w->threads) {
    free(w);
    return HANT_ENOMEM;
  }
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  uv_async_init(loop, &w->async, on_async);
  w->async.data = w;
  for (int i = 0; i < n; i++) {
    w->threads[i].all = w;
    w->threads[i].idx = i;
    if (pthread_create(&w->threads[i].thread, NULL, worker_main, &w->threads[i]) == 0)
      w->threads[i].started = true;
    else
      hantd_log(LOG_ERR, "cannot start worker thread %d", i);
  }
  *out = w;
  return 0;
}

int hantd_workers_submit(hantd_workers *w, hantd_task *t, bool urgent) {
  pthread_mutex_lock(&w->mu);
  if (!urgent && w->depth >= w->capacity) {
    pthread_mutex_unlock(&w->mu);
    return HANT_EBUSY;
  }
  t->next = NULL;
  if (urgent) { /* reloads jump the queue */
    t->next = w->qhead;
    w->qhead = t;
    if (!w->qtail)
      w->qtail = t;
  } else {
    if (w->qtail)
      w->qtail->next = t;
    else
      w->qhead = t;
    w->qtail = t;
  }
  w->depth++;
  w->inflight++;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

size_t hantd_workers_depth(hantd_workers *w) {
  pthread_mutex_lock(&w->mu);
  size_t n = w->depth;
  pthread_mutex_unlock(&w->mu);
  return n;
}

int hantd_workers_busy(hantd_workers *w) {
  pthread_mutex_lock(&w->mu);
  int n = w->busy;
  pthread_mutex_unlock(&w->mu);
  return n;
}

int hantd_workers_inflight(hantd_workers *w) { return w ? w->inflight : 0; }

void hantd_workers_stop(hantd_workers *w) {
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  w->stop = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  uv_close((uv_handle_t *)&w->async, NULL);
}

void hantd_workers_join(hantd_workers *w) {
  if (!w)
    return;
  for (int i = 0; i < w->n; i++)
    if (w->threads[i].started) {
      pthread_join(w->threads[i].thread, NULL);
      w->threads[i].started = false;
    }
}

void hantd_workers_destroy(hantd_workers *w) {
  if (!w)
    return;
  hantd_workers_join(w);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w->threads);
  free(w);
}
