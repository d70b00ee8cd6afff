/* SPDX-License-Identifier: MIT */
/* workers.h: hantd's worker threads: tasks in through a bounded queue, finished tasks back on the event loop. */
#ifndef HANTD_WORKERS_H
#define HANTD_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "hant.h"

typedef struct hantd_conn hantd_conn; /* conn.h */
struct hantd_waiter;                  /* dispatch.c: a coalesced request */

typedef enum hantd_task_kind {
  HANTD_TASK_REQ,    /* a request parsed on the loop */
  HANTD_TASK_RAW,    /* a line too large to parse on the loop: the worker only parses it, the loop routes it */
  HANTD_TASK_RELOAD, /* load a new library snapshot */
} hantd_task_kind;

/* A unit of work for a worker thread. Whoever submits a task owns it again
 * when it comes back through the done callback; in between only the worker
 * touches it. The worker writes reply, new_lib, rc and err, and reads the
 * rest. */
typedef struct hantd_task {
  hantd_task_kind kind;
  hantd_conn *conn;     /* the asking connection; NULL for reload */
  hant_rpc_req *req;    /* HANTD_TASK_REQ; HANTD_TASK_RAW once parsed */
  char *raw;            /* HANTD_TASK_RAW: the unparsed line, freed by the worker once parsed */
  size_t raw_len;       /* its length, charged to the daemon's buffer budget until the task is back */
  hant_library *lib;    /* the snapshot the request runs on (a reference) */
  char *cache_key;      /* cacheable transform: its key */
  struct hantd_waiter *waiters; /* other requests waiting for this answer */
  hant_rpc_reply reply;
  hant_library *new_lib; /* reload: the new snapshot */
  int rc;
  char err[512];        /* reload: why it failed */
  double t_submit;      /* hant_now_s() when queued, for the debug log */
  struct hantd_task *next; /* the queue's link; the workers own it */
} hantd_task;

typedef struct hantd_workers hantd_workers;

/* Called on the loop thread for each finished task, in the order they
 * finished; the callback owns the task from then on. */
typedef void (*hantd_workers_done_fn)(void *user, hantd_task *t);

/* Starts cfg->workers threads behind a queue of cfg->queue tasks. Each
 * thread opens its own connection to cfg->db (a thread that cannot still
 * answers, and its job methods and reloads fail). Requests run with host
 * as their job host and the limits of cfg. cfg and host are read, not
 * copied: they must outlive the workers. */
int hantd_workers_start(uv_loop_t *loop, const hantd_config *cfg, const hant_rpc_host *host,
                        hantd_workers_done_fn done, void *user, hantd_workers **out);
/* Queues t; HANT_EBUSY when the queue is full, unless urgent (an urgent
 * task goes ahead of the others and is never refused). On HANT_EBUSY the
 * caller keeps t. */
int hantd_workers_submit(hantd_workers *w, hantd_task *t, bool urgent);
size_t hantd_workers_depth(hantd_workers *w); /* tasks waiting for a thread */
int hantd_workers_busy(hantd_workers *w);     /* threads running a task */
/* Tasks submitted and not yet handed to the done callback; 0 for NULL. */
int hantd_workers_inflight(hantd_workers *w);
/* Lets the threads exit once the queue is empty, and closes the handle
 * that brings tasks back; finished tasks not yet delivered are then never
 * delivered, so call it when hantd_workers_inflight is 0. NULL is a no-op. */
void hantd_workers_stop(hantd_workers *w);
/* Waits for the threads to exit (after hantd_workers_stop). NULL is a no-op. */
void hantd_workers_join(hantd_workers *w);
/* Joins the threads and frees everything (after the loop ended). NULL is a no-op. */
void hantd_workers_destroy(hantd_workers *w);

#endif
