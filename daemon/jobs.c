/* SPDX-License-Identifier: MIT */
/* jobs.c: hantd's job runners: threads that claim jobs from SQLite, run them, and report through a callback. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs.h"

#include "hant.h"
#include "log.h"

enum { EV_PROGRESS, EV_FINAL, EV_REQUEUED, EV_EXIT };

typedef struct event {
  int type;
  int64_t job;
  char *line; /* EV_PROGRESS: the notification; EV_FINAL: the job object */
  struct event *next;
} event;

typedef struct runner {
  hantd_jobs *j;
  int idx;
  pthread_t thread;
  bool started;
  int64_t job; /* running now, or -1 */
  bool cancel; /* the running job is to be canceled */
} runner;

#define MAX_CANCEL_PENDING 64

struct hantd_jobs {
  char *db;
  hantd_jobs_notify_fn notify;
  void *user;
  uv_async_t async;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  uint64_t wake;
  runner *r;
  int n;
  int exited; /* loop side */
  bool async_closed;
  int64_t cancel_pending[MAX_CANCEL_PENDING];
  int n_cancel_pending;
  event *ehead, *etail;
  atomic_int queued, running;
};

static void post(hantd_jobs *j, int type, int64_t job, char *line) {
  event *e = calloc(1, sizeof(*e));
  if (!e) {
    free(line);
    return;
  }
  e->type = type;
  e->job = job;
  e->line = line;
  pthread_mutex_lock(&j->mu);
  if (j->etail)
    j->etail->next = e;
  else
    j->ehead = e;
  j->etail = e;
  pthread_mutex_unlock(&j->mu);
  uv_async_send(&j->async);
}

static void refresh_counts(hantd_jobs *j, hant_store *st) {
  int q = 0, r = 0;
  if (!hant_store_job_count(st, HANT_JOB_QUEUED, &q))
    atomic_store(&j->queued, q);
  if (!hant_store_job_count(st, HANT_JOB_RUNNING, &r))
    atomic_store(&j->running, r);
}

struct progress_ctx {
  runner *r;
  hant_store *st;
  hant_job_rec *job;
  double last_db, last_ev;
};

static int on_progress(void *user, double f, const char *note) {
  struct progress_ctx *pc = user;
  hantd_jobs *j = pc->r->j;
  pthread_mutex_lock(&j->mu);
  bool stop = j->stop || pc->r->cancel;
  pthread_mutex_unlock(&j->mu);
  double now = hant_now_s();
  pc->job->progress = f;
  snprintf(pc->job->note, sizeof(pc->job->note), "%s", note ? note : "");
  if (now - pc->last_db >= 0.25 || f >= 1) {
    hant_store_job_progress(pc->st, pc->job->id, f, note);
    pc->last_db = now;
  }
  if (now - pc->last_ev >= 0.1 || f >= 1) {
    post(j, EV_PROGRESS, pc->job->id, hant_rpc_progress_line(pc->job));
    pc->last_ev = now;
  }
  return stop;
}

/* How a claimed job is run belongs to libhant; this is the runner's one
 * call into it, kept apart from claiming, cancelling and bookkeeping. */
static int run_job(hant_store *st, hant_job_rec *job, struct progress_ctx *pc, char **result) {
  return hant_rpc_job_run(st, job, on_progress, pc, result);
}

static void *runner_main(void *arg) {
  runner *r = arg;
  hantd_jobs *j = r->j;
  hant_store *st = NULL;
  if (hant_store_open(j->db, HANT_STORE_NOCHECK, &st)) {
    hantd_log(LOG_ERR, "job runner %d: %s; no jobs will run", r->idx, hant_errmsg());
    post(j, EV_EXIT, -1, NULL);
    return NULL;
  }
  refresh_counts(j, st);
  for (;;) {
    pthread_mutex_lock(&j->mu);
    bool stop = j->stop;
    uint64_t w0 = j->wake;
    pthread_mutex_unlock(&j->mu);
    if (stop)
      break;
    hant_job_rec job;
    int rc = hant_store_job_claim(st, &job);
    if (rc == HANT_ENOENT) {
      refresh_counts(j, st);
      pthread_mutex_lock(&j->mu);
      /* Also poll now and then: another process may queue jobs. */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 2;
      while (!j->stop && j->wake == w0)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT)
          break;
      pthread_mutex_unlock(&j->mu);
      continue;
    }
    if (rc) {
      hantd_log(LOG_ERR, "job runner %d: %s", r->idx, hant_errmsg());
      struct timespec ts = {1, 0};
      nanosleep(&ts, NULL);
      continue;
    }
    pthread_mutex_lock(&j->mu);
    r->job = job.id;
    r->cancel = false;
    for (int i = 0; i < j->n_cancel_pending; i++)
      if (j->cancel_pending[i] == job.id) {
        r->cancel = true;
        j->cancel_pending[i] = j->cancel_pending[--j->n_cancel_pending];
        break;
      }
    pthread_mutex_unlock(&j->mu);
    refresh_counts(j, st);
    hantd_log(LOG_INFO, "job %lld (%s) started, attempt %d", (long long)job.id, job.kind, job.attempts);
    struct progress_ctx pc = {r, st, &job, 0, 0};
    post(j, EV_PROGRESS, job.id, hant_rpc_progress_line(&job));
    char *result = NULL;
    hant_errmsg_clear();
    double t0 = hant_now_s();
    rc = run_job(st, &job, &pc, &result);
    char err[512];
    snprintf(err, sizeof(err), "%s", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
    pthread_mutex_lock(&j->mu);
    bool canceled = r->cancel, stopping = j->stop;
    r->job = -1;
    r->cancel = false;
    pthread_mutex_unlock(&j->mu);
    int frc;
    if (rc == 0) {
      frc = hant_store_job_finish(st, job.id, HANT_JOB_DONE, result, NULL);
      hantd_log(LOG_INFO, "job %lld done in %.2f s", (long long)job.id, hant_now_s() - t0);
    } else if (canceled) {
      /* Say where it stopped, e.g. "fine-tuning canceled at step 37 of 1290". */
      char why[600];
      snprintf(why, sizeof(why), "canceled by request%s%s", rc == HANT_ECANCELED ? ": " : "",
               rc == HANT_ECANCELED ? err : "");
      frc = hant_store_job_finish(st, job.id, HANT_JOB_CANCELED, NULL, why);
      hantd_log(LOG_INFO, "job %lld canceled", (long long)job.id);
    } else if (stopping && rc == HANT_ECANCELED) {
      frc = hant_store_job_requeue(st, job.id);
      hantd_log(LOG_NOTICE, "job %lld interrupted by shutdown; queued again for the next start", (long long)job.id);
      post(j, EV_REQUEUED, job.id, NULL);
      free(result);
      hant_job_rec_free(&job);
      refresh_counts(j, st);
      if (frc)
        hantd_log(LOG_ERR, "job %lld: %s", (long long)job.id, hant_errmsg());
      continue;
    } else {
      frc = hant_store_job_finish(st, job.id, HANT_JOB_FAILED, NULL, err);
      hantd_log(LOG_WARNING, "job %lld failed: %s", (long long)job.id, err);
    }
    if (frc)
      hantd_log(LOG_ERR, "job %lld: %s", (long long)job.id, hant_errmsg());
    free(result);
    hant_job_rec_free(&job);
    hant_job_rec fin;
    if (hant_store_job_get(st, job.id, &fin) == 0) {
      post(j, EV_FINAL, fin.id, hant_rpc_job_json(&fin));
      hant_job_rec_free(&fin);
    }
    refresh_counts(j, st);
  }
  hant_store_close(st);
  post(j, EV_EXIT, -1, NULL);
  return NULL;
}

/* ---- the loop side ------------------------------------------------------------- */

static void on_async(uv_async_t *a) {
  hantd_jobs *j = a->data;
  pthread_mutex_lock(&j->mu);
  event *e = j->ehead;
  j->ehead = j->etail = NULL;
  pthread_mutex_unlock(&j->mu);
  while (e) {
    event *next = e->next;
    hantd_job_event ev = {.job = e->job, .line = e->line};
    if (e->type == EV_PROGRESS && e->line) {
      ev.kind = HANTD_JOB_PROGRESS;
      j->notify(j->user, &ev);
    } else if (e->type == EV_FINAL && e->line) {
      ev.kind = HANTD_JOB_FINISHED;
      j->notify(j->user, &ev);
    } else if (e->type == EV_REQUEUED) {
      ev.kind = HANTD_JOB_REQUEUED;
      j->notify(j->user, &ev);
    } else if (e->type == EV_EXIT) {
      j->exited++;
      if (j->exited == j->n) {
        /* Events still queued were drained above; nothing posts after EXIT. */
        j->async_closed = true;
        ev.kind = HANTD_JOB_STOPPED;
        ev.job = -1;
        j->notify(j->user, &ev);
      }
    }
    free(e->line);
    free(e);
    e = next;
  }
  if (j->async_closed && !uv_is_closing((uv_handle_t *)&j->async))
    uv_close((uv_handle_t *)&j->async, NULL);
}

int hantd_jobs_start(uv_loop_t *loop, const char *db, int threads, hantd_jobs_notify_fn notify, void *user,
                     hantd_jobs **out) {
  *out = NULL;
  hantd_jobs *j = calloc(1, sizeof(*j));
  if (!j)
    return HANT_ENOMEM;
  j->notify = notify;
  j->user = user;
  j->n = threads;
  j->db = strdup(db);
  j->r = calloc((size_t)threads, sizeof(*j->r));
  if (!j->db || !j->r) {
    free(j->db);
    free(j->r);
    free(j);
    return HANT_ENOMEM;
  }
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  atomic_init(&j->queued, 0);
  atomic_init(&j->running, 0);
  uv_async_init(loop, &j->async, on_async);
  j->async.data = j;
  for (int i = 0; i < threads; i++) {
    j->r[i].j = j;
    j->r[i].idx = i;
    j->r[i].job = -1;
  }
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&j->r[i].thread, NULL, runner_main, &j->r[i]) == 0) {
      j->r[i].started = true;
    } else {
      hantd_log(LOG_ERR, "cannot start job runner %d", i);
      j->exited++;
    }
  }
  *out = j;
  return 0;
}

void hantd_jobs_added(void *jobs, int64_t id) {
  hantd_jobs *j = jobs;
  pthread_mutex_lock(&j->mu);
  j->wake++;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  atomic_fetch_add(&j->queued, 1);
  (void)id;
}

void hantd_jobs_cancel(void *jobs, int64_t id) {
  hantd_jobs *j = jobs;
  pthread_mutex_lock(&j->mu);
  bool found = false;
  for (int i = 0; i < j->n; i++)
    if (j->r[i].job == id) {
      j->r[i].cancel = true;
      found = true;
    }
  if (!found && j->n_cancel_pending < MAX_CANCEL_PENDING)
    j->cancel_pending[j->n_cancel_pending++] = id;
  pthread_mutex_unlock(&j->mu);
}

void hantd_jobs_counts(hantd_jobs *j, int *queued, int *running) {
  *queued = j ? atomic_load(&j->queued) : 0;
  *running = j ? atomic_load(&j->running) : 0;
}

void hantd_jobs_stop(hantd_jobs *j) {
  if (!j)
    return;
  pthread_mutex_lock(&j->mu);
  j->stop = true;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  if (j->exited == j->n && !j->async_closed) {
    j->async_closed = true;
    uv_close((uv_handle_t *)&j->async, NULL);
  }
}

bool hantd_jobs_stopped(hantd_jobs *j) { return !j || j->exited == j->n; }

void hantd_jobs_join(hantd_jobs *j) {
  if (!j)
    return;
  for (int i = 0; i < j->n; i++)
    if (j->r[i].started) {
      pthread_join(j->r[i].thread, NULL);
      j->r[i].started = false;
    }
}

void hantd_jobs_destroy(hantd_jobs *j) {
  if (!j)
    return;
  hantd_jobs_join(j);
  while (j->ehead) {
    event *e = j->ehead;
    j->ehead = e->next;
    free(e->line);
    free(e);
  }
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j->db);
  free(j->r);
  free(j);
}
