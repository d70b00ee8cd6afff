/* SPDX-License-Identifier: MIT */
/* store_jobs.h: hantd's long jobs in the library's SQLite file, so a restart neither loses nor duplicates them. */
#ifndef HANT_STORE_JOBS_H
#define HANT_STORE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* A job's life: queued -> running -> done | failed | canceled. A running
 * job belongs to the daemon that claimed it, under a lease that daemon
 * renews (hant_store_job_heartbeat). A job whose daemon stopped goes back
 * to queued and keeps its id: at once when the daemon gives it back
 * (hant_store_job_requeue), or once its lease expired
 * (hant_store_jobs_recover). A job started lease->max_attempts times is
 * not queued again: it fails, its error listing every attempt. */
typedef enum hant_job_state {
  HANT_JOB_QUEUED,
  HANT_JOB_RUNNING,
  HANT_JOB_DONE,
  HANT_JOB_FAILED,
  HANT_JOB_CANCELED,
  HANT_JOB_STATE_COUNT
} hant_job_state;

/* "queued", "running", "done", "failed", "canceled"; never NULL. */
const char *hant_job_state_name(hant_job_state s);
/* HANT_JOB_STATE_COUNT for an unknown name. */
hant_job_state hant_job_state_from_name(const char *s);

#define HANT_JOB_OWNER_MAX 64 /* bytes of an owner id, with its NUL */

typedef struct hant_job_rec {
  int64_t id;
  char kind[24];
  char *params; /* JSON, malloc'd */
  hant_job_state state;
  double progress; /* fraction 0-1 */
  char note[128];
  char *result; /* JSON, malloc'd; NULL unless done */
  char *error;  /* malloc'd; NULL unless failed or canceled */
  int attempts; /* times started */
  char created[32], started[32], finished[32]; /* ISO 8601 UTC, "" when not yet */
  char owner[HANT_JOB_OWNER_MAX]; /* the daemon that holds it while running, else "" */
  int64_t heartbeat_ms;           /* Unix time (ms) of its owner's last renewal; 0 when none */
  bool cancel;                    /* running, and jobs.cancel asked its owner to stop it */
} hant_job_rec;

/* Frees the strings inside one record (not the record). */
void hant_job_rec_free(hant_job_rec *j);
/* Frees an array from hant_store_jobs. */
void hant_store_jobs_free(hant_job_rec *j, int n);

/* The terms under which a daemon runs jobs. A daemon makes one per start;
 * every call that changes a running job names it, and changes the job only
 * while this lease holds it, so a runner whose lease expired (another
 * daemon took the job) can no longer record progress or an end. */
typedef struct hant_job_lease {
  char owner[HANT_JOB_OWNER_MAX]; /* "HOST/PID/RANDOM": unique per daemon start */
  int64_t expiry_ms; /* a running job not renewed for this long has lost its lease; > 0 */
  int max_attempts;  /* a job is started at most this many times; <= 0: no cap */
} hant_job_lease;

/* Fills l with a new owner id (host name, pid and 64 random bits) and the
 * given terms. HANT_EINVAL when expiry_ms <= 0. */
int hant_job_lease_init(hant_job_lease *l, int64_t expiry_ms, int max_attempts);

/* One attempt of a job: a start, and how it ended. */
typedef struct hant_job_attempt {
  int attempt; /* 1, 2, ... */
  char owner[HANT_JOB_OWNER_MAX];
  char started[32], ended[32]; /* ISO 8601 UTC; ended is "" while it runs */
  char outcome[256];           /* why it ended ("done", "failed: ...", "lease expired: ..."); "" while it runs */
} hant_job_attempt;

/* Adds a queued job in one transaction; *id receives its id. With
 * max_queued > 0, refuses with HANT_EBUSY when that many jobs are queued
 * already (the check and the insert are atomic). */
int hant_store_job_add(hant_store *st, const char *kind, const char *params_json, int max_queued, int64_t *id);

/* One job; HANT_ENOENT naming the id when there is none. Free with
 * hant_job_rec_free. */
int hant_store_job_get(hant_store *st, int64_t id, hant_job_rec *out);

/* Jobs, newest first, at most `limit` (<= 0: all); state < 0 lists every
 * state. *out is malloc'd; free with hant_store_jobs_free. */
int hant_store_jobs(hant_store *st, int state, int limit, hant_job_rec **out, int *n);

/* Number of jobs in a state. */
int hant_store_job_count(hant_store *st, hant_job_state state, int *n);

/* The attempts of a job, oldest first; *out is malloc'd (free it), *n
 * may be 0. */
int hant_store_job_attempts(hant_store *st, int64_t id, hant_job_attempt **out, int *n);

/* Claims the oldest queued job for l in one transaction, so two runners
 * (of one daemon or of two) never get the same job: it becomes running
 * under l's lease, its attempts count goes up, an attempt is recorded and
 * *out receives it. Returns HANT_ENOENT when none is queued (without
 * writing, so a read-only library can be polled). When the oldest queued
 * job was started l->max_attempts times already it is not started: it
 * fails with its history, *out receives it failed, and the return value
 * is HANT_ELIMIT (claim again for the next one). */
int hant_store_job_claim(hant_store *st, const hant_job_lease *l, hant_job_rec *out);

/* Renews l's lease on running job id. *cancel (may be NULL) tells whether
 * jobs.cancel asked to stop it. HANT_ENOENT when l no longer holds the
 * job (it ended, or its lease expired and it went to another daemon):
 * the runner must stop and record nothing. */
int hant_store_job_heartbeat(hant_store *st, const hant_job_lease *l, int64_t id, bool *cancel);

/* Records progress (fraction 0-1) and a note of a job l holds; nothing
 * when it does not hold it. */
int hant_store_job_progress(hant_store *st, const hant_job_lease *l, int64_t id, double progress, const char *note);

/* Ends a job l holds: state must be HANT_JOB_DONE (with result JSON),
 * HANT_JOB_FAILED or HANT_JOB_CANCELED (with error text); the attempt is
 * closed with that outcome. HANT_ENOENT when l does not hold the job. */
int hant_store_job_finish(hant_store *st, const hant_job_lease *l, int64_t id, hant_job_state state,
                          const char *result_json, const char *error);

/* Gives a job l holds back to the queue (the daemon is stopping); why
 * closes the attempt. A job started l->max_attempts times fails instead,
 * with its history. *state (may be NULL) receives the job's new state.
 * HANT_ENOENT when l does not hold the job. */
int hant_store_job_requeue(hant_store *st, const hant_job_lease *l, int64_t id, const char *why,
                           hant_job_state *state);

/* Every running job whose lease expired (its owner stopped renewing it
 * for l->expiry_ms: the daemon died or hangs) goes back to the queue, or
 * fails with its history when it was started l->max_attempts times. Jobs
 * of live daemons are left alone. *requeued and *failed (may be NULL)
 * receive how many. Writes nothing when no lease expired. */
int hant_store_jobs_recover(hant_store *st, const hant_job_lease *l, int *requeued, int *failed);

/* Cancels a queued job at once. *before (may be NULL) receives the state
 * the job had; a running job is marked for cancellation (its owner, in
 * this process or another, learns it from its next heartbeat and ends it
 * as canceled), a finished one is left as it is. HANT_ENOENT when there
 * is no such job. */
int hant_store_job_cancel(hant_store *st, int64_t id, hant_job_state *before);

/* Deletes finished jobs (done, failed, canceled) that ended at least
 * keep_days ago and are not among the keep_count that ended last, with
 * their attempts. *deleted (may be NULL) receives how many. Writes
 * nothing when there is nothing to delete. */
int hant_store_jobs_prune(hant_store *st, double keep_days, int keep_count, int *deleted);

#endif
