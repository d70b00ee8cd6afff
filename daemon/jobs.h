/* SPDX-License-Identifier: MIT */
/* jobs.h: hantd's job runners: threads that claim jobs from the library's job table, run them and report on the loop. */
#ifndef HANTD_JOBS_H
#define HANTD_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef enum hantd_job_event_kind {
  HANTD_JOB_PROGRESS, /* a running job moved on; line is its jobs.progress notification */
  HANTD_JOB_FINISHED, /* a job ended (done, failed or canceled); line is its job object as JSON */
  HANTD_JOB_REQUEUED, /* shutdown interrupted a job and queued it again; line is NULL */
  HANTD_JOB_STOPPED,  /* every runner thread has exited; job is -1 and line NULL */
} hantd_job_event_kind;

/* What the runners report. line belongs to the runner and is valid only
 * during the callback; copy what you keep. */
typedef struct hantd_job_event {
  hantd_job_event_kind kind;
  int64_t job;
  const char *line;
} hantd_job_event;

/* Called on the loop thread, in the order the runners reported. */
typedef void (*hantd_jobs_notify_fn)(void *user, const hantd_job_event *e);

typedef struct hantd_jobs hantd_jobs;

/* Starts threads runner threads, each with its own connection to the
 * library at db (copied); a runner that cannot open it runs no jobs.
 * notify and user receive every event; HANTD_JOB_STOPPED comes once, last,
 * after the last started thread exited (never if none started, which
 * hantd_jobs_stopped tells). */
int hantd_jobs_start(uv_loop_t *loop, const char *db, int threads, hantd_jobs_notify_fn notify, void *user,
                     hantd_jobs **out);
/* For hant_rpc_host.job_added: a job was queued; wakes a runner. Any thread. */
void hantd_jobs_added(void *jobs, int64_t id);
/* For hant_rpc_host.job_cancel: asks the runner of job id to stop it, or
 * the runner that claims it next if none runs it yet. Any thread. */
void hantd_jobs_cancel(void *jobs, int64_t id);
/* Jobs queued and running, as the runners last counted them; 0 for NULL. */
void hantd_jobs_counts(hantd_jobs *j, int *queued, int *running);
/* Asks running jobs to stop (they go back to the queue) and the threads to
 * exit. NULL is a no-op. */
void hantd_jobs_stop(hantd_jobs *j);
/* True when every thread has exited (and for NULL). */
bool hantd_jobs_stopped(hantd_jobs *j);
/* Waits for the threads (after hantd_jobs_stop). NULL is a no-op. */
void hantd_jobs_join(hantd_jobs *j);
/* Joins the threads and frees everything (after the loop ended). NULL is a no-op. */
void hantd_jobs_destroy(hantd_jobs *j);

#endif
