/* SPDX-License-Identifier: MIT */
/* rpc_internal.h: what the rpc area's files share: the typed request, JSON helpers, reply framing, answers and job rows. */
#ifndef HANT_RPC_INTERNAL_H
#define HANT_RPC_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deploy_job.h"
#include "rpc.h"
#include "transform_solve.h"

/* ---- typed requests (params.c) ------------------------------------------------ */

/* transform: a device and budgets in, one candidate per slot out; with
 * out, the choice's export is queued as a job. */
typedef struct rpc_transform {
  hant_transform_req tr;  /* device, budgets, fps, grid, options (time limit applied when given) */
  double time_limit_ms;   /* options.time_limit_ms as given; -1: not given (the server's default applies) */
  bool measure;           /* the measured-latency correction */
  hant_deploy_job *job;   /* with out: the export job, short of its candidates and their solve; else NULL */
} rpc_transform;

/* pareto: the fronts of score against one cost kind. */
typedef struct rpc_pareto {
  hant_transform_req tr;
  hant_budget_kind axis;
  int points;   /* levels sampled per front; 0: every point */
  bool respect; /* every point also meets the other budgets */
} rpc_pareto;

/* solve: a selection problem given whole. */
typedef struct rpc_solve {
  json_t *problem;      /* borrowed from the request's params */
  double time_limit_ms; /* -1: not given */
  char pareto_key[128]; /* options.pareto: the front of this cost key; "": solve */
  int points;
  bool respect;
} rpc_solve;

/* jobs.list */
typedef struct rpc_jobs_list {
  int state; /* a hant_job_state; -1: every state */
  int limit;
} rpc_jobs_list;

struct hant_rpc_req {
  hant_rpc_method method;
  char *id;       /* JSON text; NULL for a notification */
  json_t *params; /* the params object; the request holds a reference */
  int64_t job_id; /* the job of jobs.get, jobs.wait and jobs.cancel; else -1 */
  union {
    rpc_transform transform;
    rpc_pareto pareto;
    rpc_solve solve;
    bool list_candidates;    /* library */
    rpc_jobs_list jobs_list;
    hant_deploy_job *submit; /* jobs.submit: the job to queue, owned by the request */
  } u;
};

/* ---- JSON text (wire.c) -------------------------------------------------------- */

char *hant__rpc_dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Compact JSON text with object keys in insertion order; malloc'd; NULL for NULL or when out of memory. */
char *hant__rpc_dump(const json_t *v);
/* A number, or null when it is not finite (JSON has no NaN). */
json_t *hant__rpc_num(double v);
/* Untrusted text made fit for a message: printable ASCII other than '"'
 * and '\\', at most 48 bytes and "..." if cut, in buf[n]; returns buf.
 * Parameter errors show keys this way too (params.c). */
const char *hant__rpc_shown(const char *s, char *buf, size_t n);

/* ---- replies (wire.c) ------------------------------------------------------------ */

/* Each fills r for req (no line for a notification) and returns 0, or
 * HANT_ENOMEM when the line could not be made. */
int hant__rpc_reply_error(const hant_rpc_req *req, hant_rpc_reply *r, int code, const char *msg, const char *field);
/* Takes ownership of result, a JSON object. */
int hant__rpc_reply_result(const hant_rpc_req *req, hant_rpc_reply *r, json_t *result);
/* Takes ownership of text, a result object's JSON text (may be NULL: out of memory). */
int hant__rpc_reply_text(const hant_rpc_req *req, hant_rpc_reply *r, char *text);
/* A cacheable answer: takes ownership of result and answers with it and
 * cache_hit false last; with keep, r->cache_body is the text to cache
 * (for hant_rpc_cached_line). */
int hant__rpc_reply_cacheable(const hant_rpc_req *req, hant_rpc_reply *r, json_t *result, bool keep);
/* Maps a libhant error of a method to an answer; HANT_ENOENT answers enoent_code. */
int hant__rpc_reply_hant_error(const hant_rpc_req *req, hant_rpc_reply *r, int rc, int enoent_code);

/* ---- answers (answers.c) ------------------------------------------------------------ */

/* The transform answer without its "job" and "cache_hit" members. */
json_t *hant__rpc_transform_json(const hant_library *lib, const hant_transform_req *tr,
                                 const hant_transform_result *res, bool measured);
json_t *hant__rpc_front_json(const hant_library *lib, const rpc_pareto *q, const hant_transform_front *f);
json_t *hant__rpc_devices_json(const hant_library *lib);
json_t *hant__rpc_library_json(const hant_library *lib, bool list_candidates);
/* A job record as an object (params and result embedded as JSON). */
json_t *hant__rpc_job_object(const hant_job_rec *j);

/* ---- job rows (jobs.c) --------------------------------------------------------------- */

/* Queues a job in st's job table (refusing with HANT_EBUSY beyond
 * max_queued queued jobs when max_queued > 0): its row is the job encoded
 * as the protocol shows it, and the struct itself is kept for the runner
 * of this process that claims the row (hant_rpc_job_run). Takes ownership
 * of *job and clears it, whatever the outcome; *id receives the job's id. */
int hant__rpc_job_queue(hant_store *st, int max_queued, hant_deploy_job **job, int64_t *id);
/* Drops the kept struct of a job that will not run (canceled while queued). */
void hant__rpc_job_forget(int64_t id);

/* ---- places (methods.c) ------------------------------------------------------------ */

/* The places hant_rpc_set_places set; hant_places_none() until then, so
 * that every path is refused. Never NULL. */
const hant_places *hant__rpc_places(void);

#endif
