/* SPDX-License-Identifier: MIT */
/* pool.c: hantd's worker threads: a bounded queue in, completions back to the event loop through a uv_async_t. */
#include <stdlib.h>
#include <string.h>

#include "hantd.h"

typedef struct worker {
  hantd_pool *pool;
  int idx;
  pthread_t thread;
  bool started;
} worker;

struct hantd_pool {
  hantd *d;
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
  worker *workers;
  hantd_pool_done_fn done;
};

static void run(hantd_pool *p, hant_store *st, hantd_task *t) {
  hantd *d = p->d;
  hant_rpc_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.lib = t->lib;
  ctx.st = st;
  ctx.host = &d->host;
  ctx.max_queued_jobs = d->cfg.max_jobs_queued;
  ctx.default_time_limit_ms = d->cfg.time_limit_ms;
  hant_rpc_reply_init(&t->reply);
  switch (t->kind) {
  case HANTD_TASK_REQ: t->rc = hant_rpc_exec(&ctx, t->req, &t->reply); break;
  case HANTD_TASK_RAW: {
    /* Parsed here, not on the loop; the request is kept for its id. */
    char *err = NULL;
    int code = hant_rpc_parse(t->raw, t->raw_len, &t->req, &err);
    if (code) {
      t->reply.error = code;
      t->reply.line = err;
      t->req = NULL;
    } else {
      t->rc = hant_rpc_exec(&ctx, t->req, &t->reply);
    }
    break;
  }
  case HANTD_TASK_RELOAD:
    if (!st) {
      t->rc = HANT_EDB;
      snprintf(t->err, sizeof(t->err), "the worker has no database connection");
      break;
    }
    hant_errmsg_clear();
    t->rc = hant_library_load(st, d->cfg.devices_dir[0] ? d->cfg.devices_dir : NULL, &t->new_lib);
    if (t->rc)
      snprintf(t->err, sizeof(t->err), "%s", hant_errmsg());
    break;
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  hantd_pool *p = w->pool;
  hant_store *st = NULL;
  /* Each worker has its own connection: SQLite connections are not shared between threads. */
  if (hant_store_open(p->d->cfg.db, HANT_STORE_NOCHECK, &st)) {
    hantd_log(LOG_ERR, "worker %d: %s; job methods and reloads will fail", w->idx, hant_errmsg());
    st = NULL;
  }
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->qhead && !p->stop)
      pthread_cond_wait(&p->cv, &p->mu);
    if (!p->qhead && p->stop)
      break;
    hantd_task *t = p->qhead;
    p->qhead = t->next;
    if (!p->qhead)
      p->qtail = NULL;
    p->depth--;
    p->busy++;
    pthread_mutex_unlock(&p->mu);
    t->next = NULL;
    run(p, st, t);
    pthread_mutex_lock(&p->mu);
    p->busy--;
    if (p->dtail)
      p->dtail->next = t;
    else
      p->dhead = t;
    p->dtail = t;
    uv_async_send(&p->async);
  }
  pthread_mutex_unlock(&p->mu);
  hant_store_close(st);
  return NULL;
}

static void on_async(uv_async_t *a) {
  hantd_pool *p = a->data;
  pthread_mutex_lock(&p->mu);
  hantd_task *t = p->dhead;
  p->dhead = p->dtail = NULL;
  pthread_mutex_unlock(&p->mu);
  while (t) {
    hantd_task *next = t->next;
    t->next = NULL;
    p->inflight--;
    p->done(p->d, t);
    t = next;
  }
}

int hantd_pool_start(hantd *d, uv_loop_t *loop, int workers, int capacity, hantd_pool_done_fn done,
                     hantd_pool **out) {
  *out = NULL;
  hantd_pool *p = calloc(1, sizeof(*p));
  if (!p)
    return HANT_ENOMEM;
  p->d = d;
  p->capacity = (size_t)capacity;
  p->done = done;
  p->n = workers;
  p->workers = calloc((size_t)workers, sizeof(*p->workers));
  if (!p->workers) {
    free(p);
    return HANT_ENOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  uv_async_init(loop, &p->async, on_async);
  p->async.data = p;
  for (int i = 0; i < workers; i++) {
    p->workers[i].pool = p;
    p->workers[i].idx = i;
    if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) == 0)
      p->workers[i].started = true;
    else
      hantd_log(LOG_ERR, "cannot start worker thread %d", i);
  }
  *out = p;
  return 0;
}

int hantd_pool_submit(hantd_pool *p, hantd_task *t, bool urgent) {
  pthread_mutex_lock(&p->mu);
  if (!urgent && p->depth >= p->capacity) {
    pthread_mutex_unlock(&p->mu);
    return HANT_EBUSY;
  }
  t->next = NULL;
  if (urgent) { /* reloads jump the queue */
    t->next = p->qhead;
    p->qhead = t;
    if (!p->qtail)
      p->qtail = t;
  } else {
    if (p->qtail)
      p->qtail->next = t;
    else
      p->qhead = t;
    p->qtail = t;
  }
  p->depth++;
  p->inflight++;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

size_t hantd_pool_depth(hantd_pool *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = p->depth;
  pthread_mutex_unlock(&p->mu);
  return n;
}

int hantd_pool_busy(hantd_pool *p) {
  pthread_mutex_lock(&p->mu);
  int n = p->busy;
  pthread_mutex_unlock(&p->mu);
  return n;
}

int hantd_pool_inflight(hantd_pool *p) { return p ? p->inflight : 0; }

void hantd_pool_stop(hantd_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  uv_close((uv_handle_t *)&p->async, NULL);
}

void hantd_pool_join(hantd_pool *p) {
  if (!p)
    return;
  for (int i = 0; i < p->n; i++)
    if (p->workers[i].started) {
      pthread_join(p->workers[i].thread, NULL);
      p->workers[i].started = false;
    }
}

void hantd_pool_destroy(hantd_pool *p) {
  if (!p)
    return;
  hantd_pool_join(p);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->workers);
  free(p);
}
