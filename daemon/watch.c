/* SPDX-License-Identifier: MIT */
/* watch.c: hantd's jobs.wait answers: who follows which job, and the last jobs that ended, on the event loop. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

#include "hant.h"

/* A worker decides that a jobs.wait must wait, and the job may end before
 * that answer reaches the loop; the last ends are kept so such a watch is
 * answered at once instead of never. */
#define RECENT 64

typedef struct watch {
  hantd_conn *conn;
  char *id;
  int64_t job;
  struct watch *next;
} watch;

struct hantd_watches {
  hantd_jobs *jobs; /* told which jobs are watched, so that ends it does not run reach the loop too */
  watch *head;
  bool stopping;
  struct {
    int64_t job;
    char *json;
  } recent[RECENT];
  int recent_next;
};

hantd_watches *hantd_watches_new(void) { return calloc(1, sizeof(hantd_watches)); }

void hantd_watches_destroy(hantd_watches *w) {
  if (!w)
    return;
  while (w->head) {
    watch *x = w->head;
    w->head = x->next;
    free(x->id);
    free(x);
  }
  for (int k = 0; k < RECENT; k++)
    free(w->recent[k].json);
  free(w);
}

static void remember(hantd_watches *w, int64_t job, const char *json) {
  int k = w->recent_next;
  free(w->recent[k].json);
  w->recent[k].job = job;
  w->recent[k].json = strdup(json);
  w->recent_next = (k + 1) % RECENT;
}

static const char *recent(hantd_watches *w, int64_t job) {
  for (int k = 0; k < RECENT; k++)
    if (w->recent[k].json && w->recent[k].job == job)
      return w->recent[k].json;
  return NULL;
}

void hantd_watches_add(hantd_watches *w, hantd_jobs *jobs, hantd_conn *c, const char *req_id, int64_t job_id) {
  const char *done = recent(w, job_id);
  if (done) {
    char *line = hant_rpc_result_line(req_id, done);
    if (line)
      hantd_conn_send(c, line);
    return;
  }
  if (w->stopping) {
    char *line = hant_rpc_error_line(req_id, HANT_RPC_SHUTTING_DOWN,
                                     "the daemon is stopping; the job stays queued and runs at the next start", NULL);
    if (line)
      hantd_conn_send(c, line);
    return;
  }
  watch *x = calloc(1, sizeof(*x));
  if (!x || !(x->id = strdup(req_id))) {
    free(x);
    char *line = hant_rpc_error_line(req_id, HANT_RPC_INTERNAL, "out of memory", NULL);
    if (line)
      hantd_conn_send(c, line);
    return;
  }
  x->conn = c;
  x->job = job_id;
  x->next = w->head;
  w->head = x;
  w->jobs = jobs;
  hantd_jobs_watch(jobs, job_id);
  hantd_conn_hold(c);
}

void hantd_watches_drop_conn(hantd_watches *w, hantd_conn *c) {
  if (!w)
    return;
  watch **pp = &w->head;
  while (*pp) {
    watch *x = *pp;
    if (x->conn == c) {
      *pp = x->next;
      hantd_jobs_unwatch(w->jobs, x->job);
      free(x->id);
      free(x);
      hantd_conn_release(c);
    } else {
      pp = &x->next;
    }
  }
}

static void progress(hantd_watches *w, const hantd_job_event *e) {
  for (watch *x = w->head; x; x = x->next)
    if (x->job == e->job && !hantd_conn_closing(x->conn) && !hantd_conn_congested(x->conn)) {
      char *copy = strdup(e->line);
      if (copy)
        hantd_conn_send(x->conn, copy);
    }
}

static void finished(hantd_watches *w, const hantd_job_event *e) {
  remember(w, e->job, e->line);
  watch **pp = &w->head;
  while (*pp) {
    watch *x = *pp;
    if (x->job == e->job) {
      *pp = x->next;
      hantd_jobs_unwatch(w->jobs, x->job);
      if (!hantd_conn_closing(x->conn)) {
        char *line = hant_rpc_result_line(x->id, e->line);
        if (line)
          hantd_conn_send(x->conn, line);
      }
      hantd_conn_release(x->conn);
      free(x->id);
      free(x);
    } else {
      pp = &x->next;
    }
  }
}

void hantd_watches_job_event(hantd_watches *w, const hantd_job_event *e) {
  if (e->kind == HANTD_JOB_PROGRESS)
    progress(w, e);
  else if (e->kind == HANTD_JOB_FINISHED)
    finished(w, e);
}

void hantd_watches_stop(hantd_watches *w) {
  if (!w)
    return;
  w->stopping = true;
  while (w->head) {
    watch *x = w->head;
    w->head = x->next;
    hantd_jobs_unwatch(w->jobs, x->job);
    if (!hantd_conn_closing(x->conn)) {
      char *line = hant_rpc_error_line(x->id, HANT_RPC_SHUTTING_DOWN,
                                       "the daemon is stopping; the job is queued again and runs at the next start",
                                       NULL);
      if (line)
        hantd_conn_send(x->conn, line);
    }
    hantd_conn_release(x->conn);
    free(x->id);
    free(x);
  }
}
