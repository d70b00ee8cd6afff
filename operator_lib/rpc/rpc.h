/* SPDX-License-Identifier: MIT */
/* rpc.h: hantd's protocol: newline-delimited JSON-RPC 2.0 requests, their validated parameters, method handlers and answers (docs/protocol.md). */
#ifndef HANT_RPC_H
#define HANT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "library.h"
#include "place.h"
#include "store.h"
#include "store_jobs.h"
#include "transform_solve.h"

#define HANT_RPC_PROTOCOL_VERSION 1
/* Default largest request line, newline excluded: systemd's varlink cap,
 * so that a HANT-scale problem (50 slots x 200 candidates, 3 budgets:
 * about 1.1 MB) passes with room to spare. */
#define HANT_RPC_MAX_MESSAGE_DEFAULT ((size_t)16 << 20)

/* Error codes: JSON-RPC 2.0's own, then the server's (-32000 to -32099).
 * Each entry: name, code, message. docs/protocol.md lists them. */
#define HANT_RPC_ERROR_MAP(X)                                                          \
  X(PARSE_ERROR, -32700, "parse error")                                                \
  X(INVALID_REQUEST, -32600, "invalid request")                                        \
  X(METHOD_NOT_FOUND, -32601, "method not found")                                      \
  X(INVALID_PARAMS, -32602, "invalid params")                                          \
  X(INTERNAL, -32603, "internal error")                                                \
  X(SERVER, -32000, "server error")                                                    \
  X(BUSY, -32001, "busy: the work queue is full; retry later")                         \
  X(TOO_LARGE, -32002, "message too large")                                            \
  X(LIBRARY_EMPTY, -32003, "the library is empty")                                     \
  X(NO_COSTS, -32004, "no costs for the device")                                       \
  X(NO_SUCH_JOB, -32005, "no such job")                                                \
  X(SHUTTING_DOWN, -32006, "the daemon is shutting down")                              \
  X(FORBIDDEN, -32007, "permission denied")                                            \
  X(TIMEOUT, -32008, "idle timeout")                                                   \
  X(TOO_MANY_CLIENTS, -32009, "too many clients")

enum hant_rpc_error {
#define X(name, code, msg) HANT_RPC_##name = (code),
  HANT_RPC_ERROR_MAP(X)
#undef X
};

/* The code's default message; "unknown error" for other codes. */
const char *hant_rpc_error_message(int code);
/* The code's name, e.g. "INVALID_PARAMS"; "UNKNOWN" for other codes. */
const char *hant_rpc_error_name(int code);

typedef enum hant_rpc_method {
  HANT_RPC_TRANSFORM,
  HANT_RPC_PARETO,
  HANT_RPC_SOLVE,
  HANT_RPC_DEVICES,
  HANT_RPC_LIBRARY,
  HANT_RPC_STATUS,
  HANT_RPC_VERSION,
  HANT_RPC_JOBS_LIST,
  HANT_RPC_JOBS_GET,
  HANT_RPC_JOBS_WAIT,
  HANT_RPC_JOBS_CANCEL,
  HANT_RPC_JOBS_SUBMIT,
  HANT_RPC_METHOD_COUNT
} hant_rpc_method;

/* "transform", "pareto", ..., "jobs.submit"; never NULL. */
const char *hant_rpc_method_name(hant_rpc_method m);

/* A parsed, validated request. Opaque; owned by whoever parsed it. */
typedef struct hant_rpc_req hant_rpc_req;

/* Parses one request line of len bytes (without its newline; the caller
 * enforces the size limit) and validates its envelope and parameters. On
 * success returns 0 and *out is a new request. Otherwise returns the
 * JSON-RPC error code and *error_line is the malloc'd error response to
 * send (NULL when the request was a notification, which gets no answer). Parameter errors name
 * the offending field in the message and in error.data.field. Batches
 * (JSON arrays) are refused as invalid requests. */
int hant_rpc_req_parse(const char *line, size_t len, hant_rpc_req **out, char **error_line);
void hant_rpc_req_destroy(hant_rpc_req *req);

hant_rpc_method hant_rpc_req_method(const hant_rpc_req *req);
/* True for a notification (no id): it gets no answer. */
bool hant_rpc_req_is_notification(const hant_rpc_req *req);
/* The id as JSON text ("7", "\"abc\""); "null" for a notification. */
const char *hant_rpc_req_id(const hant_rpc_req *req);
/* The job a jobs.get/wait/cancel request names, else -1. */
int64_t hant_rpc_req_job_id(const hant_rpc_req *req);
/* The cache key of a cacheable request (a transform without "out"): its
 * canonical parameters (budgets in base units, sorted) and the library
 * version. NULL when the request is not cacheable or out of memory;
 * malloc'd otherwise. */
char *hant_rpc_req_cache_key(const hant_rpc_req *req, int64_t library_version);

/* ---- answers -------------------------------------------------------------- */

/* A malloc'd error response line (no newline): id_json may be NULL (null).
 * field, if not NULL, goes to error.data.field. NULL when out of memory. */
char *hant_rpc_error_line(const char *id_json, int code, const char *message, const char *field);
/* A malloc'd result response line around result_json (an object's text). */
char *hant_rpc_result_line(const char *id_json, const char *result_json);
/* A transform answer served from the cache: cached is the body stored
 * from hant_rpc_reply.cache_body; hit sets the answer's cache_hit flag. */
char *hant_rpc_cached_line(const char *id_json, const char *cached, bool hit);
/* The same response line for another request id: line must be a
 * response whose id is old_id (as produced here). NULL when it is not. */
char *hant_rpc_line_with_id(const char *line, const char *old_id, const char *new_id);

/* What the daemon knows that the protocol layer does not (status). */
typedef struct hant_rpc_status {
  double uptime_s;
  uint64_t requests;      /* request lines received */
  uint64_t errors;        /* error responses sent */
  uint64_t cache_hits, cache_misses;
  size_t cache_entries, cache_capacity;
  size_t queue_depth, queue_capacity; /* work waiting for a worker */
  int workers, workers_busy;
  uint64_t busy_rejections;
  int connections;
  int jobs_queued, jobs_running;
  int job_workers;
  int64_t library_version;
  double library_load_ms;
  uint64_t reloads;
  const char *db, *socket;
  bool stopping;
} hant_rpc_status;

/* The status answer's result object as malloc'd JSON text. */
char *hant_rpc_status_json(const hant_rpc_status *s);
/* The version answer's result object (needs no library). */
char *hant_rpc_version_json(int64_t library_version, int schema_version);

/* A job record as a JSON object (params and result embedded as JSON). */
char *hant_rpc_job_json(const hant_job_rec *j);
/* A jobs.progress notification line for a job. */
char *hant_rpc_progress_line(const hant_job_rec *j);

/* ---- running requests ----------------------------------------------------- */

/* Hooks into the daemon for the job methods; any may be NULL. */
typedef struct hant_rpc_host {
  void *data;
  /* A job was queued: wake a runner. */
  void (*job_added)(void *data, int64_t id);
  /* A running job is to be canceled: tell its runner. */
  void (*job_cancel)(void *data, int64_t id);
} hant_rpc_host;

/* What a request runs against. */
typedef struct hant_rpc_ctx {
  const hant_library *lib; /* the snapshot (may be empty, never NULL) */
  hant_store *st;          /* this thread's connection, for jobs; NULL: job methods fail */
  const hant_rpc_host *host;
  /* The asking peer (SO_PEERCRED): the files a request names are resolved
   * in this uid's places (hant_rpc_set_places). Without a peer, every
   * request that names a file is refused. */
  bool has_peer;
  uid_t peer_uid;
  int max_queued_jobs;     /* jobs.submit and transform "out" answer busy beyond it; <= 0: none */
  double default_time_limit_ms; /* of solves that give none; <= 0: none */
  hant_rpc_status status;  /* answered by "status" */
} hant_rpc_ctx;

typedef struct hant_rpc_reply {
  char *line;       /* malloc'd response (no newline); NULL for a notification */
  char *cache_body; /* for a cacheable answer, what to keep in the cache; else NULL */
  int error;        /* 0, or the JSON-RPC error code of the answer */
  int64_t job_id;   /* a job this request created or named (jobs.wait), else -1 */
  bool job_pending; /* jobs.wait: the job has not finished; the answer comes later */
} hant_rpc_reply;

void hant_rpc_reply_init(hant_rpc_reply *r);
void hant_rpc_reply_free(hant_rpc_reply *r);

/* Runs a parsed request and fills reply (hant_rpc_reply_init first).
 * Every outcome is an answer, so the return value is 0 unless memory ran
 * out (HANT_ENOMEM, with whatever reply could be made). jobs.wait on a
 * job that has not finished sets job_pending and gives no line: the
 * daemon answers when the job ends. Thread-safe as long as each thread
 * has its own ctx->st. */
int hant_rpc_exec(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *reply);

/* The whole handler: bytes of one line in, answer out (parse, then exec).
 * Used by the fuzz target and for lines too large to parse on the event
 * loop. Requests over max_bytes are answered with TOO_LARGE. */
int hant_rpc_handle(const hant_rpc_ctx *ctx, const char *line, size_t len, size_t max_bytes, hant_rpc_reply *reply);

/* ---- places ----------------------------------------------------------------- */

/* Sets the places (place.h) of every request and job of this process: a
 * transform's "out", jobs.submit's "out", "model" and "data" are resolved
 * in the asking peer's places, when the request is answered and again when
 * its job runs, and the answer reports the absolute path. The daemon sets
 * them once at start, before any worker or job runner starts, and clears
 * them (NULL) after every one has stopped; places must stay open until
 * then. Until they are set, every path a request names is refused. */
void hant_rpc_set_places(const hant_places *places);

/* ---- jobs ----------------------------------------------------------------- */

/* Runs a claimed job (transform export or eval) to its end with
 * hant_deploy_job_run (deploy_job.h), its files resolved in the places of
 * the peer that queued it (hant_rpc_set_places; the row keeps the peer's
 * uid). A job that a request of this process
 * queued runs from the struct the request made; any other (queued before a
 * restart, or by another process) is decoded from its row first. progress
 * is called between steps; its nonzero return stops the job
 * (HANT_ECANCELED). On success *result_json is the malloc'd result object;
 * on failure the error is returned and hant_errmsg() says why. */
int hant_rpc_job_run(hant_store *st, const hant_job_rec *job, int (*progress)(void *user, double f, const char *note),
                     void *user, char **result_json);

/* A transform job's fine-tuning checkpoints after every epoch in the
 * places' STATE/jobs (place.h), in files named for the library, the job's
 * id and the time it was queued, so that a job queued again after a
 * restart resumes at the epoch it reached. The daemon keeps them while the
 * job is queued again and removes them when it ends otherwise:
 * hant_rpc_job_checkpoint_remove for one job (nothing without places;
 * missing files are not an error), and hant_rpc_job_checkpoints_sweep for
 * every file of this library whose job is no longer queued or running
 * (ended by another daemon, or pruned); *removed (may be NULL) counts the
 * files. Both return 0 or HANT_EIO naming a file that stays. */
int hant_rpc_job_checkpoint_remove(hant_store *st, const hant_job_rec *job);
int hant_rpc_job_checkpoints_sweep(hant_store *st, int *removed);

#endif
