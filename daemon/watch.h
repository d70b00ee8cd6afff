/* SPDX-License-Identifier: MIT */
/* watch.h: jobs.wait on hantd: the connections that follow a job, answered with its progress and its end. */
#ifndef HANTD_WATCH_H
#define HANTD_WATCH_H

#include <stdint.h>

#include "conn.h"
#include "jobs.h"

typedef struct hantd_watches hantd_watches;

/* Used only on the loop thread. NULL when out of memory. */
hantd_watches *hantd_watches_new(void);
/* Frees the watches; call it after the loop ended (no watch is left then:
 * hantd_watches_stop answered them all). NULL is a no-op. */
void hantd_watches_destroy(hantd_watches *w);
/* A jobs.wait (id req_id) on job_id, not finished when it was asked: c
 * follows the job's progress notifications and gets its job object as the
 * answer when it ends, whichever daemon runs it (jobs tells its keeper
 * which jobs are watched: hantd_jobs_watch). A job that ended moments ago
 * (one of the last 64) is answered at once; after hantd_watches_stop the
 * answer is SHUTTING_DOWN. A watch holds c until it is answered or
 * dropped. */
void hantd_watches_add(hantd_watches *w, hantd_jobs *jobs, hantd_conn *c, const char *req_id, int64_t job_id);
/* Drops c's watches without answering them (c is closing). */
void hantd_watches_drop_conn(hantd_watches *w, hantd_conn *c);
/* A job runner's progress or end: sent to the connections that follow the
 * job. Progress is skipped for a connection whose answers pile up
 * (hantd_conn_congested); the end is never skipped. Other events are
 * ignored. */
void hantd_watches_job_event(hantd_watches *w, const hantd_job_event *e);
/* Shutdown: answers every watch with SHUTTING_DOWN (the job is queued again
 * and runs at the next start), and every later one too. */
void hantd_watches_stop(hantd_watches *w);

#endif
