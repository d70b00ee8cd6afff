/* SPDX-License-Identifier: MIT */
/* jobs.c: hantd's job runners and their keeper: claims under leases, heartbeats, recovery, cancellation and pruning. */
#include <errno.h>
#include <math.h>
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
  bool started;        /* its thread was created and not yet joined */
  bool exited;         /* its thread returned */
  bool abandoned;      /* left behind, stuck in a job; another runner took its place */
  int64_t job;         /* running now, or -1 */
  bool cancel;         /* the running job is to be canceled */
  bool lost;           /* the daemon no longer holds the job's lease: record nothing of it */
  double stop_asked_s; /* hant_now_s() when the running job was asked to stop, else 0 */
  struct runner *next;
} runner;

#define MAX_CANCEL_PENDING 64
#define MAX_WATCHED 1024
#define MAX_RUNNERS 64      /* job_workers (at most 16) and the stuck ones they replaced */
#define MAX_ABANDONED 16    /* stuck runners replaced before the daemon stops replacing them */
#define PRUNE_EVERY_S 3600.0

typedef struct watched {
  int64_t id;
  int n; /* watches on it */
} watched;

struct hantd_jobs {
  hantd_config cfg; /* a copy: a runner left behind may outlive the daemon's own */
  hant_job_lease lease;
  hantd_jobs_notify_fn notify;
  void *user;
  uv_async_t async;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* runners wait here for work, the keeper for its next heartbeat */
  bool stop;
  uint64_t wake;
  runner *runners; /* every runner started, newest first */
  int n_runners, n_abandoned;
  pthread_t keeper;
  bool keeper_started, keeper_exited;
  int live; /* threads that have neither exited nor been left behind */
  int64_t cancel_pending[MAX_CANCEL_PENDING];
  int n_cancel_pending;
  watched *watched;
  int n_watched, cap_watched;
  char claim_error[256]; /* the claim failure logged last: a lasting one is logged once */
  event *ehead, *etail;
  atomic_int queued, running;
  /* loop side */
  bool all_exited; /* HANTD_JOB_STOPPED was delivered, or nothing started */
  bool async_closed;
};

/* A daemon that stopped while a runner was stuck keeps that runner's state
 * here, reachable, for the rest of the process's short life. */
static hantd_jobs *left_behind;

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

/* Posts a job's end as its row now reads. */
static void post_final(hantd_jobs *j, hant_store *st, int64_t id) {
  hant_job_rec fin;
  if (hant_store_job_get(st, id, &fin) == 0) {
    post(j, EV_FINAL, fin.id, hant_rpc_job_json(&fin));
    hant_job_rec_free(&fin);
  }
}

static void refresh_counts(hantd_jobs *j, hant_store *st) {
  int q = 0, r = 0;
  if (!hant_store_job_count(st, HANT_JOB_QUEUED, &q))
    atomic_store(&j->queued, q);
  if (!hant_store_job_count(st, HANT_JOB_RUNNING, &r))
    atomic_store(&j->running, r);
}

/* A thread is done: the last one tells the loop. Called with mu unlocked. */
static void thread_exit(hantd_jobs *j, runner *r) {
  pthread_mutex_lock(&j->mu);
  bool counted = true;
  if (r) {
    r->exited = true;
    counted = !r->abandoned; /* the keeper uncounted it when it left it behind */
  } else {
    j->keeper_exited = true;
  }
  bool last = counted && --j->live == 0;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  if (last)
    post(j, EV_EXIT, -1, NULL);
}

/* Waits on the condition variable for at most s seconds. mu held. */
static void wait_s(hantd_jobs *j, double s) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double whole = floor(s);
  ts.tv_sec += (time_t)whole;
  ts.tv_nsec += (long)((s - whole) * 1e9);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

/* A lasting failure (a read-only library) is logged when it starts and
 * when it ends, not at every retry. */
static void claim_failed(hantd_jobs *j, const char *msg) {
  pthread_mutex_lock(&j->mu);
  bool fresh = strncmp(j->claim_error, msg, sizeof(j->claim_error) - 1) != 0;
  if (fresh)
    snprintf(j->claim_error, sizeof(j->claim_error), "%s", msg);
  pthread_mutex_unlock(&j->mu);
  if (fresh)
    hantd_log(LOG_ERR, "job runners cannot claim jobs: %s (retrying every second; logged once)", msg);
}

static void claim_works(hantd_jobs *j) {
  pthread_mutex_lock(&j->mu);
  bool was = j->claim_error[0] != '\0';
  j->claim_error[0] = '\0';
  pthread_mutex_unlock(&j->mu);
  if (was)
    hantd_log(LOG_NOTICE, "job runners can claim jobs again");
}

/* ---- runners -------------------------------------------------------------------- */

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
  bool lost = pc->r->lost, stop = j->stop || pc->r->cancel || lost;
  pthread_mutex_unlock(&j->mu);
  double now = hant_now_s();
  pc->job->progress = f;
  snprintf(pc->job->note, sizeof(pc->job->note), "%s", note ? note : "");
  if (!lost && (now - pc->last_db >= 0.25 || f >= 1)) {
    hant_store_job_progress(pc->st, &j->lease, pc->job->id, f, note);
    pc->last_db = now;
  }
  if (!lost && (now - pc->last_ev >= 0.1 || f >= 1)) {
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

/* A job that will not run again needs no checkpoint (rpc.h); one queued
 * again after a shutdown keeps its own to resume from. */
static void forget_checkpoint(hant_store *st, const hant_job_rec *job) {
  if (hant_rpc_job_checkpoint_remove(st, job))
    hantd_log(LOG_WARNING, "job %lld: %s", (long long)job->id, hant_errmsg());
}

/* Records how a job this daemon holds ended, and tells the loop. */
static void record_end(hantd_jobs *j, hant_store *st, const hant_job_rec *job, int rc, const char *err,
                       const char *result, bool canceled, bool stopping, double t0) {
  int frc;
  if (rc == 0) {
    frc = hant_store_job_finish(st, &j->lease, job->id, HANT_JOB_DONE, result, NULL);
    hantd_log(LOG_INFO, "job %lld done in %.2f s", (long long)job->id, hant_now_s() - t0);
  } else if (canceled) {
    /* Say where it stopped, e.g. "fine-tuning canceled at step 37 of 1290". */
    char why[600];
    snprintf(why, sizeof(why), "canceled by request%s%s", rc == HANT_ECANCELED ? ": " : "",
             rc == HANT_ECANCELED ? err : "");
    frc = hant_store_job_finish(st, &j->lease, job->id, HANT_JOB_CANCELED, NULL, why);
    hantd_log(LOG_INFO, "job %lld canceled", (long long)job->id);
  } else if (stopping && rc == HANT_ECANCELED) {
    hant_job_state now = HANT_JOB_QUEUED;
    frc = hant_store_job_requeue(st, &j->lease, job->id, "interrupted by shutdown", &now);
    if (frc) {
      hantd_log(LOG_ERR, "job %lld: %s", (long long)job->id, hant_errmsg());
    } else if (now == HANT_JOB_QUEUED) {
      hantd_log(LOG_NOTICE, "job %lld interrupted by shutdown; queued again for the next start", (long long)job->id);
      post(j, EV_REQUEUED, job->id, NULL);
    } else {
      hantd_log(LOG_WARNING, "job %lld interrupted by shutdown on its last allowed attempt; it failed",
                (long long)job->id);
      forget_checkpoint(st, job);
      post_final(j, st, job->id);
    }
    return;
  } else {
    frc = hant_store_job_finish(st, &j->lease, job->id, HANT_JOB_FAILED, NULL, err);
    hantd_log(LOG_WARNING, "job %lld failed: %s", (long long)job->id, err);
  }
  forget_checkpoint(st, job);
  if (frc == HANT_ENOENT) /* the keeper or another daemon ended it meanwhile: that end stands */
    hantd_log(LOG_NOTICE, "job %lld: %s; this end is not recorded", (long long)job->id, hant_errmsg());
  else if (frc)
    hantd_log(LOG_ERR, "job %lld: %s", (long long)job->id, hant_errmsg());
  else
    post_final(j, st, job->id);
}

static void *runner_main(void *arg) {
  runner *r = arg;
  hantd_jobs *j = r->j;
  hant_store *st = NULL;
  if (hant_store_open(j->cfg.db, HANT_STORE_NOCHECK, &st)) {
    hantd_log(LOG_ERR, "job runner %d: %s; it runs no jobs", r->idx, hant_errmsg());
    thread_exit(j, r);
    return NULL;
  }
  refresh_counts(j, st);
  for (;;) {
    pthread_mutex_lock(&j->mu);
    bool stop = j->stop || r->abandoned;
    uint64_t w0 = j->wake;
    pthread_mutex_unlock(&j->mu);
    if (stop)
      break;
    hant_job_rec job;
    int rc = hant_store_job_claim(st, &j->lease, &job);
    if (rc == HANT_ENOENT) {
      claim_works(j);
      refresh_counts(j, st);
      pthread_mutex_lock(&j->mu);
      /* Also poll now and then: another process may queue jobs. */
      if (!j->stop && j->wake == w0)
        wait_s(j, 2.0);
      pthread_mutex_unlock(&j->mu);
      continue;
    }
    if (rc == HANT_ELIMIT) { /* started too often before: it failed instead, with its history */
      claim_works(j);
      hantd_log(LOG_WARNING, "job %lld failed without starting: %s", (long long)job.id, job.error ? job.error : "");
      post(j, EV_FINAL, job.id, hant_rpc_job_json(&job));
      hant_job_rec_free(&job);
      refresh_counts(j, st);
      continue;
    }
    if (rc) {
      claim_failed(j, hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
      pthread_mutex_lock(&j->mu);
      if (!j->stop)
        wait_s(j, 1.0);
      pthread_mutex_unlock(&j->mu);
      continue;
    }
    claim_works(j);
    double t0 = hant_now_s();
    pthread_mutex_lock(&j->mu);
    r->job = job.id;
    r->cancel = r->lost = false;
    r->stop_asked_s = j->stop ? t0 : 0;
    for (int i = 0; i < j->n_cancel_pending; i++)
      if (j->cancel_pending[i] == job.id) {
        r->cancel = true;
        r->stop_asked_s = t0;
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
    rc = run_job(st, &job, &pc, &result);
    char err[512];
    snprintf(err, sizeof(err), "%s", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
    pthread_mutex_lock(&j->mu);
    bool canceled = r->cancel, stopping = j->stop, lost = r->lost, abandoned = r->abandoned;
    r->job = -1;
    r->cancel = r->lost = false;
    r->stop_asked_s = 0;
    pthread_mutex_unlock(&j->mu);
    if (lost)
      hantd_log(LOG_NOTICE, "job %lld: %s; what this attempt did is not recorded", (long long)job.id,
                abandoned ? "it ended after it had been left behind" : "this daemon no longer holds its lease");
    else
      record_end(j, st, &job, rc, err, result, canceled, stopping, t0);
    free(result);
    hant_job_rec_free(&job);
    refresh_counts(j, st);
  }
  hant_store_close(st);
  thread_exit(j, r);
  return NULL;
}

/* Starts one more runner thread. Any thread; mu unlocked. */
static int start_runner(hantd_jobs *j) {
  runner *r = calloc(1, sizeof(*r));
  if (!r)
    return HANT_ENOMEM;
  r->j = j;
  r->job = -1;
  pthread_mutex_lock(&j->mu);
  if (j->n_runners >= MAX_RUNNERS) {
    pthread_mutex_unlock(&j->mu);
    free(r);
    return HANT_ELIMIT;
  }
  r->idx = j->n_runners++;
  r->next = j->runners;
  j->runners = r;
  j->live++; /* before the thread exists, so that its exit can never find the count at zero first */
  r->started = pthread_create(&r->thread, NULL, runner_main, r) == 0;
  if (!r->started) {
    r->exited = true;
    j->live--;
  }
  pthread_mutex_unlock(&j->mu);
  if (!r->started) {
    hantd_log(LOG_ERR, "cannot start job runner %d", r->idx);
    return HANT_ENOMEM;
  }
  return 0;
}

/* ---- the keeper ---------------------------------------------------------------- */

typedef struct held {
  runner *r;
  int64_t job;
} held;

/* The jobs this daemon's runners hold now. mu held. */
static int held_jobs(hantd_jobs *j, held *out, int max) {
  int n = 0;
  for (runner *r = j->runners; r && n < max; r = r->next)
    if (r->job >= 0 && !r->lost && !r->abandoned)
      out[n++] = (held){r, r->job};
  return n;
}

/* Keeper failures (the library went away, a disk error) are logged when
 * they start and when they end. */
typedef struct keeper_log {
  char last[256];
} keeper_log;

static void keeper_failed(keeper_log *kl, const char *what) {
  const char *msg = hant_errmsg()[0] ? hant_errmsg() : "unknown error";
  char line[256];
  snprintf(line, sizeof(line), "%s: %s", what, msg);
  if (strcmp(kl->last, line)) {
    snprintf(kl->last, sizeof(kl->last), "%s", line);
    hantd_log(LOG_ERR, "job keeper: %s (logged once)", line);
  }
}

static void keeper_works(keeper_log *kl) {
  if (kl->last[0])
    hantd_log(LOG_NOTICE, "job keeper: works again");
  kl->last[0] = '\0';
}

/* Renews the lease of every job this daemon runs, and learns which of
 * them jobs.cancel (of any daemon) asked to stop. */
static bool heartbeats(hantd_jobs *j, hant_store *st, keeper_log *kl) {
  held h[MAX_RUNNERS];
  pthread_mutex_lock(&j->mu);
  int n = held_jobs(j, h, MAX_RUNNERS);
  pthread_mutex_unlock(&j->mu);
  bool ok = true;
  for (int i = 0; i < n; i++) {
    bool cancel = false;
    int rc = hant_store_job_heartbeat(st, &j->lease, h[i].job, &cancel);
    if (rc && rc != HANT_ENOENT) {
      keeper_failed(kl, "renewing job leases");
      ok = false;
      continue;
    }
    pthread_mutex_lock(&j->mu);
    bool same = h[i].r->job == h[i].job, lost = false;
    if (same && rc == HANT_ENOENT) {
      /* It ended under us (the runner is recording it) or another daemon took it: only the latter stays running. */
      hant_job_rec now;
      pthread_mutex_unlock(&j->mu);
      bool taken = hant_store_job_get(st, h[i].job, &now) == 0 && now.state == HANT_JOB_RUNNING;
      hant_job_rec_free(&now);
      pthread_mutex_lock(&j->mu);
      if (taken && h[i].r->job == h[i].job) {
        h[i].r->lost = lost = true;
        if (!h[i].r->stop_asked_s)
          h[i].r->stop_asked_s = hant_now_s();
      }
    } else if (same && cancel && !h[i].r->cancel) {
      h[i].r->cancel = true;
      if (!h[i].r->stop_asked_s)
        h[i].r->stop_asked_s = hant_now_s();
    }
    pthread_mutex_unlock(&j->mu);
    if (lost)
      hantd_log(LOG_WARNING, "job %lld: another daemon took it over (this daemon's lease expired); it stops here",
                (long long)h[i].job);
  }
  return ok;
}

/* A job asked to stop that did not within the grace period is blocked
 * (in I/O, most likely): its end is recorded now, its runner is left
 * behind and replaced. Returns the seconds until the next such deadline
 * (HUGE_VAL when none). */
static double abandon_stuck(hantd_jobs *j, hant_store *st) {
  double next = HUGE_VAL;
  for (;;) {
    double now = hant_now_s();
    pthread_mutex_lock(&j->mu);
    double grace = 2 * j->cfg.job_heartbeat_s;
    if (j->stop && grace > j->cfg.shutdown_timeout_s / 2)
      grace = j->cfg.shutdown_timeout_s / 2;
    runner *stuck = NULL;
    for (runner *r = j->runners; r; r = r->next) {
      if (r->job < 0 || r->abandoned || r->stop_asked_s <= 0)
        continue;
      double left = r->stop_asked_s + grace - now;
      if (left <= 0 && !stuck)
        stuck = r;
      else if (left > 0 && left < next)
        next = left;
    }
    if (!stuck) {
      pthread_mutex_unlock(&j->mu);
      return next;
    }
    int64_t id = stuck->job;
    bool canceled = stuck->cancel, lost = stuck->lost, stopping = j->stop;
    stuck->lost = stuck->abandoned = true;
    j->n_abandoned++;
    j->live--; /* the keeper itself is live, so this never reaches zero */
    bool replace = !stopping && j->n_abandoned <= MAX_ABANDONED;
    int n_abandoned = j->n_abandoned;
    pthread_mutex_unlock(&j->mu);
    char why[200];
    snprintf(why, sizeof(why), "its runner did not stop within %.1f s of being asked (blocked in a system call?)",
             grace);
    int rc = 0;
    hant_job_state state = HANT_JOB_CANCELED;
    if (!lost && canceled) {
      char msg[300];
      snprintf(msg, sizeof(msg), "canceled by request; %s", why);
      rc = hant_store_job_finish(st, &j->lease, id, HANT_JOB_CANCELED, NULL, msg);
    } else if (!lost) {
      char msg[300];
      snprintf(msg, sizeof(msg), "interrupted by shutdown; %s", why);
      rc = hant_store_job_requeue(st, &j->lease, id, msg, &state);
    }
    hantd_log(LOG_WARNING, "job %lld: %s; the runner is left behind%s", (long long)id, why,
              replace ? " and another takes its place" : stopping ? "" : " (too many are stuck: restart hantd)");
    if (rc && rc != HANT_ENOENT)
      hantd_log(LOG_ERR, "job %lld: %s", (long long)id, hant_errmsg());
    else if (!rc && !lost && state == HANT_JOB_QUEUED)
      post(j, EV_REQUEUED, id, NULL);
    else if (!rc && !lost)
      post_final(j, st, id);
    if (replace && start_runner(j))
      hantd_log(LOG_ERR, "no runner replaces the stuck one (%d stuck)", n_abandoned);
  }
}

/* Jobs whose daemon died go back to the queue (or fail, if started too often). */
static bool recover(hantd_jobs *j, hant_store *st, keeper_log *kl) {
  int requeued = 0, failed = 0;
  if (hant_store_jobs_recover(st, &j->lease, &requeued, &failed)) {
    keeper_failed(kl, "recovering jobs of stopped daemons");
    return false;
  }
  if (requeued || failed) {
    hantd_log(LOG_NOTICE,
              "%d %s whose daemon stopped renewing their lease %s queued again; %d failed, started too often",
              requeued, hant_plural(requeued, "job", "jobs"), requeued == 1 ? "is" : "are", failed);
    pthread_mutex_lock(&j->mu);
    j->wake++;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
  }
  return true;
}

/* The ends of watched jobs that no runner of this daemon reports: jobs of
 * another daemon, and jobs failed during recovery. */
static bool report_watched(hantd_jobs *j, hant_store *st, keeper_log *kl) {
  int64_t ids[256];
  int n = 0;
  pthread_mutex_lock(&j->mu);
  for (int i = 0; i < j->n_watched && n < 256; i++) {
    bool local = false;
    for (runner *r = j->runners; r && !local; r = r->next)
      local = r->job == j->watched[i].id && !r->lost;
    if (!local)
      ids[n++] = j->watched[i].id;
  }
  pthread_mutex_unlock(&j->mu);
  for (int i = 0; i < n; i++) {
    hant_job_rec rec;
    int rc = hant_store_job_get(st, ids[i], &rec);
    if (rc == HANT_ENOENT) /* pruned, or never there: nothing will end */
      continue;
    if (rc) {
      keeper_failed(kl, "reading watched jobs");
      return false;
    }
    if (rec.state == HANT_JOB_DONE || rec.state == HANT_JOB_FAILED || rec.state == HANT_JOB_CANCELED) {
      /* Reported once: the watch goes with it. */
      pthread_mutex_lock(&j->mu);
      for (int k = 0; k < j->n_watched; k++)
        if (j->watched[k].id == ids[i]) {
          j->watched[k] = j->watched[--j->n_watched];
          break;
        }
      pthread_mutex_unlock(&j->mu);
      post(j, EV_FINAL, rec.id, hant_rpc_job_json(&rec));
    }
    hant_job_rec_free(&rec);
  }
  return true;
}

static bool prune(hantd_jobs *j, hant_store *st, keeper_log *kl) {
  int deleted = 0;
  if (hant_store_jobs_prune(st, j->cfg.job_keep_days, j->cfg.job_keep_count, &deleted)) {
    keeper_failed(kl, "pruning finished jobs");
    return false;
  }
  if (deleted)
    hantd_log(LOG_INFO, "pruned %d finished %s (older than %g days, beyond the newest %d)", deleted,
              hant_plural(deleted, "job", "jobs"),
              j->cfg.job_keep_days, j->cfg.job_keep_count);
  /* and the checkpoints of jobs that ended where no runner of this daemon
   * saw it (failed in recovery, ended by another daemon) */
  int swept = 0;
  if (hant_rpc_job_checkpoints_sweep(st, &swept))
    hantd_log(LOG_WARNING, "%s", hant_errmsg());
  if (swept)
    hantd_log(LOG_INFO, "removed %d %s of jobs no longer queued or running", swept,
              hant_plural(swept, "fine-tuning checkpoint", "fine-tuning checkpoints"));
  return true;
}

/* True while a runner that was not left behind still runs. mu held. */
static bool runners_alive(hantd_jobs *j) {
  for (runner *r = j->runners; r; r = r->next)
    if (!r->exited && !r->abandoned)
      return true;
  return false;
}

static void *keeper_main(void *arg) {
  hantd_jobs *j = arg;
  hant_store *st = NULL;
  keeper_log kl = {{0}};
  double last_prune = -HUGE_VAL;
  pthread_mutex_lock(&j->mu);
  /* Renewing leases matters most while jobs stop: the keeper leaves last. */
  while (!j->stop || runners_alive(j)) {
    pthread_mutex_unlock(&j->mu);
    double wait = j->cfg.job_heartbeat_s;
    if (!st && hant_store_open(j->cfg.db, HANT_STORE_NOCHECK, &st)) {
      st = NULL;
      keeper_failed(&kl, "opening the library");
    }
    if (st) {
      bool ok = heartbeats(j, st, &kl);
      double next = abandon_stuck(j, st);
      if (next < wait)
        wait = next;
      ok = recover(j, st, &kl) && ok;
      ok = report_watched(j, st, &kl) && ok;
      if (hant_now_s() - last_prune >= PRUNE_EVERY_S) {
        ok = prune(j, st, &kl) && ok;
        last_prune = hant_now_s();
      }
      if (ok)
        keeper_works(&kl);
    }
    pthread_mutex_lock(&j->mu);
    if (!j->stop || runners_alive(j))
      wait_s(j, wait > 0.01 ? wait : 0.01);
  }
  pthread_mutex_unlock(&j->mu);
  hant_store_close(st);
  thread_exit(j, NULL);
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
      /* Events still queued were drained above; nothing posts after the last exit. */
      j->all_exited = j->async_closed = true;
      ev.kind = HANTD_JOB_STOPPED;
      ev.job = -1;
      j->notify(j->user, &ev);
    }
    free(e->line);
    free(e);
    e = next;
  }
  if (j->async_closed && !uv_is_closing((uv_handle_t *)&j->async))
    uv_close((uv_handle_t *)&j->async, NULL);
}

int hantd_jobs_start(uv_loop_t *loop, const hantd_config *cfg, hantd_jobs_notify_fn notify, void *user,
                     hantd_jobs **out) {
  *out = NULL;
  hantd_jobs *j = calloc(1, sizeof(*j));
  if (!j)
    return HANT_ENOMEM;
  j->cfg = *cfg;
  int rc = hant_job_lease_init(&j->lease, (int64_t)(cfg->job_heartbeat_s * cfg->job_lease_heartbeats * 1e3),
                               cfg->max_job_attempts);
  if (rc) {
    free(j);
    return rc;
  }
  j->notify = notify;
  j->user = user;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  atomic_init(&j->queued, 0);
  atomic_init(&j->running, 0);
  uv_async_init(loop, &j->async, on_async);
  j->async.data = j;
  /* Counted as live while threads start, so that none can end the count early. */
  j->live = 1;
  pthread_mutex_lock(&j->mu);
  j->live++;
  j->keeper_started = pthread_create(&j->keeper, NULL, keeper_main, j) == 0;
  if (!j->keeper_started)
    j->live--;
  pthread_mutex_unlock(&j->mu);
  if (!j->keeper_started)
    hantd_log(LOG_ERR, "cannot start the job keeper: running jobs would lose their lease; no jobs will run");
  for (int i = 0; j->keeper_started && i < cfg->job_workers; i++)
    start_runner(j);
  pthread_mutex_lock(&j->mu);
  bool none = --j->live == 0;
  pthread_mutex_unlock(&j->mu);
  if (none)
    j->all_exited = true;
  hantd_log(LOG_INFO, "job runners hold leases as %s (renewed every %g s, expired after %d missed)", j->lease.owner,
            cfg->job_heartbeat_s, cfg->job_lease_heartbeats);
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
  for (runner *r = j->runners; r; r = r->next)
    if (r->job == id && !r->abandoned) {
      r->cancel = true;
      if (!r->stop_asked_s)
        r->stop_asked_s = hant_now_s();
      found = true;
    }
  if (!found && j->n_cancel_pending < MAX_CANCEL_PENDING)
    j->cancel_pending[j->n_cancel_pending++] = id;
  pthread_mutex_unlock(&j->mu);
}

void hantd_jobs_watch(hantd_jobs *j, int64_t id) {
  if (!j)
    return;
  pthread_mutex_lock(&j->mu);
  for (int i = 0; i < j->n_watched; i++)
    if (j->watched[i].id == id) {
      j->watched[i].n++;
      pthread_mutex_unlock(&j->mu);
      return;
    }
  if (j->n_watched == j->cap_watched && j->cap_watched < MAX_WATCHED) {
    int cap = j->cap_watched ? j->cap_watched * 2 : 16;
    watched *p = realloc(j->watched, sizeof(*p) * (size_t)cap);
    if (p) {
      j->watched = p;
      j->cap_watched = cap;
    }
  }
  /* Beyond the bound a watch still ends when a runner of this daemon ends the job. */
  if (j->n_watched < j->cap_watched)
    j->watched[j->n_watched++] = (watched){id, 1};
  pthread_mutex_unlock(&j->mu);
}

void hantd_jobs_unwatch(hantd_jobs *j, int64_t id) {
  if (!j)
    return;
  pthread_mutex_lock(&j->mu);
  for (int i = 0; i < j->n_watched; i++)
    if (j->watched[i].id == id) {
      if (--j->watched[i].n == 0)
        j->watched[i] = j->watched[--j->n_watched];
      break;
    }
  pthread_mutex_unlock(&j->mu);
}

void hantd_jobs_counts(hantd_jobs *j, int *queued, int *running) {
  *queued = j ? atomic_load(&j->queued) : 0;
  *running = j ? atomic_load(&j->running) : 0;
}

const char *hantd_jobs_owner(const hantd_jobs *j) { return j ? j->lease.owner : ""; }

void hantd_jobs_stop(hantd_jobs *j) {
  if (!j)
    return;
  double now = hant_now_s();
  pthread_mutex_lock(&j->mu);
  j->stop = true;
  for (runner *r = j->runners; r; r = r->next)
    if (r->job >= 0 && !r->stop_asked_s)
      r->stop_asked_s = now;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  if (j->all_exited && !j->async_closed) {
    j->async_closed = true;
    uv_close((uv_handle_t *)&j->async, NULL);
  }
}

bool hantd_jobs_stopped(hantd_jobs *j) { return !j || j->all_exited; }

void hantd_jobs_join(hantd_jobs *j) {
  if (!j)
    return;
  pthread_mutex_lock(&j->mu);
  for (runner *r = j->runners; r; r = r->next) {
    if (!r->started || (r->abandoned && !r->exited))
      continue;
    r->started = false;
    pthread_mutex_unlock(&j->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_lock(&j->mu);
  }
  bool keeper = j->keeper_started;
  j->keeper_started = false;
  pthread_mutex_unlock(&j->mu);
  if (keeper)
    pthread_join(j->keeper, NULL);
}

bool hantd_jobs_left_behind(hantd_jobs *j) {
  if (!j)
    return false;
  bool stuck = false;
  pthread_mutex_lock(&j->mu);
  for (runner *r = j->runners; r; r = r->next)
    if (r->started && r->abandoned && !r->exited)
      stuck = true;
  pthread_mutex_unlock(&j->mu);
  return stuck;
}

void hantd_jobs_destroy(hantd_jobs *j) {
  if (!j)
    return;
  hantd_jobs_join(j);
  bool stuck = false;
  pthread_mutex_lock(&j->mu);
  for (runner *r = j->runners; r; r = r->next)
    if (r->started && r->abandoned && !r->exited) {
      pthread_detach(r->thread);
      r->started = false;
      stuck = true;
    }
  pthread_mutex_unlock(&j->mu);
  if (stuck) { /* its thread may still wake up and touch j */
    left_behind = j;
    return;
  }
  while (j->ehead) {
    event *e = j->ehead;
    j->ehead = e->next;
    free(e->line);
    free(e);
  }
  while (j->runners) {
    runner *r = j->runners;
    j->runners = r->next;
    free(r);
  }
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j->watched);
  free(j);
}
