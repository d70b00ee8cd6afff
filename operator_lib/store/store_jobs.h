/* SPDX-License-Identifier: MIT */
/* store_jobs.h: hantd's long jobs in the library's SQLite file, so a restart neither loses nor duplicates them. */
#ifndef HANT_STORE_JOBS_H
#define HANT_STORE_JOBS_H

#include <stdint.h>

#include "store.h"

/* A job's life: queued -> running -> done | failed | canceled. A running
 * job whose daemon stopped goes back to queued (hant_store_job_requeue,
 * hant_store_jobs_recover) and is started again; it keeps its id. */
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
} hant_job_rec;

/* Frees the strings inside one record (not the record). */
void hant_job_rec_free(hant_job_rec *j);
/* Frees an array from hant_store_jobs. */
void hant_store_jobs_free(hant_job_rec *j, int n);

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

/* Claims the oldest queued job atomically (one UPDATE ... RETURNING, so
 * two runners never get the same job): it becomes running, its attempts
 * count goes up and *out receives it. HANT_ENOENT when none is queued. */
int hant_store_job_claim(hant_store *st, hant_job_rec *out);

/* Records progress (fraction 0-1) and a note of a running job. */
int hant_store_job_progress(hant_store *st, int64_t id, double progress, const char *note);

/* Ends a running job: state must be HANT_JOB_DONE (with result JSON),
 * HANT_JOB_FAILED or HANT_JOB_CANCELED (with error text). HANT_ENOENT
 * when the job is not running. */
int hant_store_job_finish(hant_store *st, int64_t id, hant_job_state state, const char *result_json,
                          const char *error);

/* Puts a running job back in the queue (the daemon is stopping). */
int hant_store_job_requeue(hant_store *st, int64_t id);

/* On start: every job left running by a daemon that died goes back to
 * queued. *n (may be NULL) receives how many. */
int hant_store_jobs_recover(hant_store *st, int *n);

/* Cancels a queued job at once. *before (may be NULL) receives the state
 * the job had; a running job is left running (the runner is told to stop
 * and ends it as canceled), a finished one is left as it is. HANT_ENOENT
 * when there is no such job. */
int hant_store_job_cancel(hant_store *st, int64_t id, hant_job_state *before);

#endif
