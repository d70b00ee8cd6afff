/* SPDX-License-Identifier: MIT */
/* jobs.h: hantd's job runners: threads that claim jobs from the library's job table under leases, run them and report on the loop. */
#ifndef HANTD_JOBS_H
#define HANTD_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

typedef enum hantd_job_event_kind {
  HANTD_JOB_PROGRESS, /* a running job moved on; line is its jobs.progress notification */
  HANTD_JOB_FINISHED, /* a job ended (done, failed or canceled); line is its job object as JSON */
  HANTD_JOB_REQUEUED, /* shutdown interrupted a job and queued it again; line is NULL */
  HANTD_JOB_STOPPED,  /* every thread has exited; job is -1 and line NULL */
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

/* Starts cfg->job_workers runner threads and one keeper thread, each with
 * its own connection to the library cfg->db.
 *
 * The daemon holds the jobs it runs under a lease (hant_job_lease: an id
 * new at every start): the keeper renews the lease of each running job
 * every cfg->job_heartbeat_s, and a lease not renewed for
 * cfg->job_lease_heartbeats heartbeats has expired. At start and at every
 * heartbeat the keeper gives jobs whose lease expired (their daemon died)
 * back to the queue, so a second daemon on the same library never takes a
 * job the first still runs. A job is started at most cfg->max_job_attempts
 * times, then fails with its history. Finished jobs beyond
 * cfg->job_keep_count and older than cfg->job_keep_days are deleted at
 * start and every hour.
 *
 * A job asked to stop (jobs.cancel, or shutdown) stops at its next step.
 * One that has not stopped two heartbeats later is stuck (blocked in a
 * system call): the keeper ends it itself (canceled, or queued again at
 * shutdown), leaves its thread behind and starts another runner in its
 * place, so neither cancellation nor shutdown waits for it.
 *
 * notify and user receive every event; HANTD_JOB_STOPPED comes once,
 * last, after every thread exited or was left behind (never if none
 * started, which hantd_jobs_stopped tells). cfg is read, not copied: it
 * must outlive the runners. */
int hantd_jobs_start(uv_loop_t *loop, const hantd_config *cfg, hantd_jobs_notify_fn notify, void *user,
                     hantd_jobs **out);
/* For hant_rpc_host.job_added: a job was queued; wakes a runner. Any thread. */
void hantd_jobs_added(void *jobs, int64_t id);
/* For hant_rpc_host.job_cancel: asks the runner of job id to stop it, or
 * the runner that claims it next if none runs it yet. Any thread. (A job
 * another daemon runs learns it from the job table at its next heartbeat.) */
void hantd_jobs_cancel(void *jobs, int64_t id);
/* A connection waits for job id to end (jobs.wait): when another daemon
 * runs it, or nobody (it fails during recovery), the keeper looks at the
 * job table at every heartbeat and reports its end as HANTD_JOB_FINISHED.
 * Calls nest: each watch is undone by one unwatch. Loop thread. */
void hantd_jobs_watch(hantd_jobs *j, int64_t id);
void hantd_jobs_unwatch(hantd_jobs *j, int64_t id);
/* Jobs queued and running, as the runners last counted them; 0 for NULL. */
void hantd_jobs_counts(hantd_jobs *j, int *queued, int *running);
/* The id this daemon's leases carry ("HOST/PID/RANDOM"); "" for NULL. */
const char *hantd_jobs_owner(const hantd_jobs *j);
/* Asks running jobs to stop (they go back to the queue) and the threads to
 * exit. NULL is a no-op. */
void hantd_jobs_stop(hantd_jobs *j);
/* True when every thread has exited or was left behind (and for NULL). */
bool hantd_jobs_stopped(hantd_jobs *j);
/* Waits for the threads (after hantd_jobs_stop), except those left behind.
 * NULL is a no-op. */
void hantd_jobs_join(hantd_jobs *j);
/* True when a runner was left behind, stuck in a job, and has not exited:
 * its thread may still use the library, the places and the store, so the
 * daemon must not free them. false for NULL. */
bool hantd_jobs_left_behind(hantd_jobs *j);
/* Joins the threads and frees everything (after the loop ended). A thread
 * left behind that is still blocked keeps what it uses: that much is
 * never freed. NULL is a no-op. */
void hantd_jobs_destroy(hantd_jobs *j);

#endif
