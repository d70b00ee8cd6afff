/* SPDX-License-Identifier: MIT */
/* methods.c: runs each of hantd's methods on a typed request: the solve, the job it queues, the answer it gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "deploy.h"
#include "problem_json.h"
#include "rpc_internal.h"

/* ---- places ---------------------------------------------------------------------- */

/* Set once before the threads that read it start, cleared after they
 * stopped: the threads' creation and joining order the accesses. */
static const hant_places *places;

void hant_rpc_set_places(const hant_places *p) { places = p; }

const hant_places *hant__rpc_places(void) { return places ? places : hant_places_none(); }

/* Resolves a path the request names in the peer's places into abs (the
 * absolute path the job will use and the answer reports). The job resolves
 * it again when it runs: this check is for an early, precise answer. */
static int place_path(const hant_rpc_ctx *ctx, hant_place_use use, const char *field, const char *path, char *abs,
                      size_t n) {
  if (!ctx->has_peer)
    return hant__error(HANT_EINVAL, "%s: this server reads and writes no files for a peer it does not know", field);
  hant_place_file f;
  int rc = hant_places_resolve(hant__rpc_places(), ctx->peer_uid, use, field, path, &f);
  if (rc)
    return rc;
  hant_place_file_close(&f);
  if (strlen(f.path) >= n)
    return hant__error(HANT_EINVAL, "%s: '%s' is too long", field, f.path);
  snprintf(abs, n, "%s", f.path);
  return 0;
}

/* Places the files of a job a request made: each resolved in the peer's
 * places and replaced by its absolute path, and the peer's uid kept with
 * the job so that its runner resolves them again in the same places. */
static int place_job(const hant_rpc_ctx *ctx, hant_deploy_job *job, const char *prefix) {
  char field[32], abs[1024];
  int rc;
  job->uid = ctx->peer_uid;
  if (job->kind == HANT_DEPLOY_JOB_TRANSFORM) {
    snprintf(field, sizeof(field), "%sout", prefix);
    if ((rc = place_path(ctx, HANT_PLACE_WRITE, field, job->transform.out, abs, sizeof(abs))))
      return rc;
    snprintf(job->transform.out, sizeof(job->transform.out), "%s", abs);
    return 0;
  }
  hant_deploy_job_eval *e = &job->eval;
  snprintf(field, sizeof(field), "%smodel", prefix);
  if ((rc = place_path(ctx, HANT_PLACE_READ, field, e->model, abs, sizeof(abs))))
    return rc;
  snprintf(e->model, sizeof(e->model), "%s", abs);
  if (strcmp(e->data, "fmnist")) {
    snprintf(field, sizeof(field), "%sdata", prefix);
    if ((rc = place_path(ctx, HANT_PLACE_READ, field, e->data, abs, sizeof(abs))))
      return rc;
    snprintf(e->data, sizeof(e->data), "%s", abs);
  }
  return 0;
}

/* ---- transform ------------------------------------------------------------------- */

/* A transform job's candidates are the solve's choice, and the solve that
 * made them travels with the job into its answer. */
static int job_from_choice(const hant_deploy_job *asked, const hant_library *lib, const hant_transform_req *tr,
                           const hant_transform_result *res, hant_deploy_job **out) {
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)(res->n_slots > 0 ? res->n_slots : 1));
  if (!ids)
    return HANT_ENOMEM;
  for (int s = 0; s < res->n_slots; s++)
    ids[s] = lib->cands[res->choice[s]].id;
  hant_deploy_job *job = NULL;
  int rc = hant_deploy_job_copy(asked, &job);
  if (!rc)
    rc = hant_deploy_job_set_candidates(job, ids, res->n_slots);
  free(ids);
  if (rc) {
    hant_deploy_job_destroy(job);
    return rc;
  }
  hant_deploy_job_transform *t = &job->transform;
  t->chosen = true;
  snprintf(t->device, sizeof(t->device), "%s", tr->device);
  snprintf(t->power_mode, sizeof(t->power_mode), "%s", res->power_mode);
  t->library_version = lib->version;
  t->predicted_accuracy = res->predicted_accuracy;
  t->teacher_accuracy = res->teacher_accuracy;
  /* a device that computes in int8 gets the network it can run */
  snprintf(t->precision, sizeof(t->precision), "%s", !strcmp(res->precision, "int8") ? "int8" : "");
  *out = job;
  return 0;
}

static void job_added(const hant_rpc_ctx *ctx, hant_rpc_reply *r, int64_t id) {
  r->job_id = id;
  if (ctx->host && ctx->host->job_added)
    ctx->host->job_added(ctx->host->data, id);
}

static int exec_transform(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const rpc_transform *q = &req->u.transform;
  const hant_library *lib = ctx->lib;
  if (!lib->has_teacher || !lib->n_cands)
    return hant__rpc_reply_error(req, r, HANT_RPC_LIBRARY_EMPTY,
                                 "the library is empty: build one with 'hant-distill build --teacher T --db "
                                 "LIBRARY.db', profile a device with 'hant-distill profile', then send SIGHUP to hantd",
                                 NULL);
  /* The output is placed before the solve: a refused path costs nothing. */
  hant_deploy_job *asked = NULL;
  int rc;
  if (q->job) {
    hant_errmsg_clear();
    if ((rc = hant_deploy_job_copy(q->job, &asked)) || (rc = place_job(ctx, asked, "")))
      goto refused;
  }
  hant_transform_req tr = q->tr;
  if (!(tr.time_limit_ms > 0) && q->time_limit_ms < 0)
    tr.time_limit_ms = ctx->default_time_limit_ms;
  /* The measured-latency correction calls deploy directly from the
   * solver; the snapshot's teacher is loaded once for every round. */
  hant_deploy_measurer measurer = {lib, ctx->st};
  if (q->measure) {
    if (!ctx->st) {
      hant_deploy_job_destroy(asked);
      return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "measuring needs the library's database", NULL);
    }
    tr.measure = hant_deploy_measure_choice;
    tr.measure_user = &measurer;
  }
  /* Measured re-ranking assembles and evaluates each of the best choices. */
  if (tr.rerank_k > 1) {
    if (!ctx->st) {
      hant_deploy_job_destroy(asked);
      return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "re-ranking needs the library's database", NULL);
    }
    tr.accuracy = hant_deploy_accuracy_choice;
    tr.accuracy_user = &measurer;
  }
  hant_transform_result res;
  hant_transform_result_init(&res);
  hant_errmsg_clear();
  /* Resolved here so that the answer echoes what each relative budget became. */
  rc = hant_transform_req_resolve(lib, &tr);
  if (!rc)
    rc = hant_transform_solve(lib, &tr, &res);
  if (rc) {
    hant_transform_result_free(&res);
    hant_deploy_job_destroy(asked);
    return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_NO_COSTS);
  }
  json_t *o = hant__rpc_transform_json(lib, &tr, &res, q->measure);
  if (!o) {
    hant_transform_result_free(&res);
    hant_deploy_job_destroy(asked);
    return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  }
  /* Assembly and export run as a job. */
  if (asked && res.has_choice) {
    if (!ctx->st) {
      json_decref(o);
      hant_transform_result_free(&res);
      hant_deploy_job_destroy(asked);
      return hant__rpc_reply_error(req, r, HANT_RPC_SERVER, "out: this server cannot run jobs (no database)", "out");
    }
    hant_deploy_job *job = NULL;
    int64_t jid = -1;
    rc = job_from_choice(asked, lib, &tr, &res, &job);
    if (!rc)
      rc = hant__rpc_job_queue(ctx->st, ctx->max_queued_jobs, &job, &jid);
    if (rc) {
      json_decref(o);
      hant_transform_result_free(&res);
      hant_deploy_job_destroy(asked);
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    }
    json_t *jo = json_object();
    json_object_set_new(jo, "id", json_integer(jid));
    json_object_set_new(jo, "state", json_string("queued"));
    json_object_set_new(jo, "out", json_string(asked->transform.out));
    json_object_set_new(o, "job", jo);
    job_added(ctx, r, jid);
  } else {
    json_object_set_new(o, "job", json_null());
  }
  /* A time-limited answer depends on the machine's load: never cache it. */
  bool cacheable = !q->job && !q->measure && res.status != HANT_SELECT_TIME_LIMIT;
  hant_transform_result_free(&res);
  hant_deploy_job_destroy(asked);
  return hant__rpc_reply_cacheable(req, r, o, cacheable);
refused:
  hant_deploy_job_destroy(asked);
  return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_INVALID_PARAMS);
}

static int exec_pareto(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const rpc_pareto *q = &req->u.pareto;
  const hant_library *lib = ctx->lib;
  if (!lib->has_teacher || !lib->n_cands)
    return hant__rpc_reply_error(req, r, HANT_RPC_LIBRARY_EMPTY,
                                 "the library is empty: build one with 'hant-distill build'", NULL);
  hant_transform_front *f = NULL;
  hant_errmsg_clear();
  rpc_pareto qr = *q;
  int rc = hant_transform_req_resolve(lib, &qr.tr);
  if (!rc)
    rc = hant_transform_front_new(lib, &qr.tr, qr.axis, qr.points, qr.respect, &f);
  if (rc)
    return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_NO_COSTS);
  json_t *o = hant__rpc_front_json(lib, &qr, f);
  hant_transform_front_destroy(f);
  return hant__rpc_reply_result(req, r, o);
}

static int exec_solve(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const rpc_solve *q = &req->u.solve;
  /* The problem reader takes text, so that files and requests share one
   * reader with the same limits and messages. */
  char *text = hant__rpc_dump(q->problem);
  if (!text)
    return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  struct hant_problem *p = NULL;
  hant_errmsg_clear();
  int rc = hant_problem_parse(text, strlen(text), "params.problem", NULL, &p);
  free(text);
  if (rc) {
    char buf[700];
    snprintf(buf, sizeof(buf), "invalid params: %s", hant_errmsg());
    return hant__rpc_reply_error(req, r, rc == HANT_ENOMEM ? HANT_RPC_INTERNAL : HANT_RPC_INVALID_PARAMS, buf,
                                 "problem");
  }
  char *answer = NULL;
  if (q->pareto_key[0]) {
    long key = hant_problem_key_index(p, q->pareto_key);
    if (key < 0) {
      hant_problem_destroy(p);
      return hant__rpc_reply_error(req, r, HANT_RPC_INVALID_PARAMS,
                                   "invalid params: options.pareto: no item has this cost key", "options.pareto");
    }
    struct hant_select_problem view;
    size_t axis;
    struct hant_select_front *f = NULL;
    if ((rc = hant_problem_view_axis(p, (size_t)key, &view, &axis)) == 0) {
      struct hant_select_front_options opt = {axis, q->respect ? 1 : 0, 0};
      double t0 = hant_now_s();
      rc = hant_select_front_new(&view, &opt, &f);
      if (!rc)
        answer = hant_problem_front_json(p, f, (size_t)key, (size_t)q->points, q->respect ? 1 : 0,
                                         (hant_now_s() - t0) * 1e3);
    }
    hant_select_front_destroy(f);
    if (rc == HANT_EINFEASIBLE) {
      /* Same shape as an infeasible solve, so clients handle one answer. */
      hant_problem_destroy(p);
      json_t *o = json_object();
      json_object_set_new(o, "status", json_string("infeasible"));
      json_object_set_new(o, "message", json_string(hant_errmsg()));
      return hant__rpc_reply_result(req, r, o);
    }
  } else {
    struct hant_select_problem view;
    hant_problem_view(p, &view);
    view.time_limit_ms = q->time_limit_ms >= 0  ? q->time_limit_ms
                         : p->time_limit_ms >= 0 ? p->time_limit_ms
                                                 : (ctx->default_time_limit_ms > 0 ? ctx->default_time_limit_ms : 0);
    struct hant_select_result res;
    hant_select_result_init(&res);
    if ((rc = hant_select_solve(&view, &res)) == 0)
      answer = hant_problem_answer_json(p, &res);
    hant_select_result_free(&res);
  }
  hant_problem_destroy(p);
  if (rc)
    return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_SERVER);
  return hant__rpc_reply_text(req, r, answer);
}

static bool job_finished(hant_job_state s) {
  return s == HANT_JOB_DONE || s == HANT_JOB_FAILED || s == HANT_JOB_CANCELED;
}

static int exec_jobs(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  if (!ctx->st)
    return hant__rpc_reply_error(req, r, HANT_RPC_SERVER, "this server keeps no jobs (no database)", NULL);
  int rc;
  hant_errmsg_clear();
  switch (req->method) {
  case HANT_RPC_JOBS_LIST: {
    hant_job_rec *jobs = NULL;
    int n = 0;
    if ((rc = hant_store_jobs(ctx->st, req->u.jobs_list.state, req->u.jobs_list.limit, &jobs, &n)))
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    json_t *o = json_object(), *a = json_array();
    for (int i = 0; i < n; i++)
      json_array_append_new(a, hant__rpc_job_object(&jobs[i]));
    hant_store_jobs_free(jobs, n);
    json_object_set_new(o, "jobs", a);
    return hant__rpc_reply_result(req, r, o);
  }
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT: {
    hant_job_rec j;
    r->job_id = req->job_id;
    if ((rc = hant_store_job_get(ctx->st, req->job_id, &j)))
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_NO_SUCH_JOB);
    if (req->method == HANT_RPC_JOBS_WAIT && !job_finished(j.state)) {
      hant_job_rec_free(&j);
      r->job_pending = true;
      return 0;
    }
    json_t *o = hant__rpc_job_object(&j);
    hant_job_rec_free(&j);
    return hant__rpc_reply_result(req, r, o);
  }
  case HANT_RPC_JOBS_CANCEL: {
    hant_job_state before;
    r->job_id = req->job_id;
    if ((rc = hant_store_job_cancel(ctx->st, req->job_id, &before)))
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_NO_SUCH_JOB);
    if (before == HANT_JOB_QUEUED)
      hant__rpc_job_forget(req->job_id);
    if (before == HANT_JOB_RUNNING && ctx->host && ctx->host->job_cancel)
      ctx->host->job_cancel(ctx->host->data, req->job_id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(req->job_id));
    json_object_set_new(o, "state_before", json_string(hant_job_state_name(before)));
    json_object_set_new(o, "state", json_string(before == HANT_JOB_QUEUED    ? "canceled"
                                                : before == HANT_JOB_RUNNING ? "canceling"
                                                                             : hant_job_state_name(before)));
    return hant__rpc_reply_result(req, r, o);
  }
  case HANT_RPC_JOBS_SUBMIT: {
    hant_deploy_job *job = NULL;
    hant_deploy_job_kind kind = req->u.submit->kind;
    int64_t id;
    if ((rc = hant_deploy_job_copy(req->u.submit, &job)))
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    if ((rc = place_job(ctx, job, "params."))) {
      hant_deploy_job_destroy(job);
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_INVALID_PARAMS);
    }
    if ((rc = hant__rpc_job_queue(ctx->st, ctx->max_queued_jobs, &job, &id)))
      return hant__rpc_reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    job_added(ctx, r, id);
    json_t *o = json_object(), *jo = json_object();
    json_object_set_new(jo, "id", json_integer(id));
    json_object_set_new(jo, "kind", json_string(hant_deploy_job_kind_name(kind)));
    json_object_set_new(jo, "state", json_string("queued"));
    json_object_set_new(o, "job", jo);
    return hant__rpc_reply_result(req, r, o);
  }
  default: break;
  }
  return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "not a job method", NULL);
}

int hant_rpc_exec(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  switch (req->method) {
  case HANT_RPC_TRANSFORM: return exec_transform(ctx, req, r);
  case HANT_RPC_PARETO: return exec_pareto(ctx, req, r);
  case HANT_RPC_SOLVE: return exec_solve(ctx, req, r);
  case HANT_RPC_DEVICES: return hant__rpc_reply_result(req, r, hant__rpc_devices_json(ctx->lib));
  case HANT_RPC_LIBRARY: return hant__rpc_reply_result(req, r, hant__rpc_library_json(ctx->lib, req->u.list_candidates));
  case HANT_RPC_STATUS: return hant__rpc_reply_text(req, r, hant_rpc_status_json(&ctx->status));
  case HANT_RPC_VERSION:
    return hant__rpc_reply_text(req, r,
                                hant_rpc_version_json(ctx->lib->version, ctx->st ? hant_store_schema_version(ctx->st) : -1));
  case HANT_RPC_JOBS_LIST:
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT:
  case HANT_RPC_JOBS_CANCEL:
  case HANT_RPC_JOBS_SUBMIT: return exec_jobs(ctx, req, r);
  case HANT_RPC_METHOD_COUNT: break;
  }
  return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "unknown method", NULL);
}

int hant_rpc_handle(const hant_rpc_ctx *ctx, const char *line, size_t len, size_t max_bytes, hant_rpc_reply *r) {
  if (max_bytes && len > max_bytes) {
    char msg[128];
    snprintf(msg, sizeof(msg), "message too large: %zu bytes; the limit is %zu", len, max_bytes);
    r->error = HANT_RPC_TOO_LARGE;
    r->line = hant_rpc_error_line(NULL, HANT_RPC_TOO_LARGE, msg, NULL);
    return r->line ? 0 : HANT_ENOMEM;
  }
  hant_rpc_req *req = NULL;
  char *err = NULL;
  int code = hant_rpc_req_parse(line, len, &req, &err);
  if (code) {
    r->error = code;
    r->line = err;
    return 0;
  }
  int rc = hant_rpc_exec(ctx, req, r);
  hant_rpc_req_destroy(req);
  return rc;
}
