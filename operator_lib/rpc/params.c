/* SPDX-License-Identifier: MIT */
/* params.c: hantd's requests parsed and validated by libhant's JSON reader into typed requests, with errors that name the offending field, and their cache keys. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "json_read.h"
#include "rpc_internal.h"

void hant_rpc_req_destroy(hant_rpc_req *req) {
  if (!req)
    return;
  switch (req->method) {
  case HANT_RPC_TRANSFORM: hant_deploy_job_destroy(req->u.transform.job); break;
  case HANT_RPC_JOBS_SUBMIT: hant_deploy_job_destroy(req->u.submit); break;
  default: break;
  }
  free(req->id);
  json_decref(req->params);
  free(req);
}

hant_rpc_method hant_rpc_req_method(const hant_rpc_req *req) { return req->method; }
bool hant_rpc_req_is_notification(const hant_rpc_req *req) { return !req->id; }
const char *hant_rpc_req_id(const hant_rpc_req *req) { return req->id ? req->id : "null"; }
int64_t hant_rpc_req_job_id(const hant_rpc_req *req) { return req->job_id; }

/* ---- field checks ------------------------------------------------------------- */

/* The words of the protocol's parameter errors, which clients have always
 * been answered with: "device: missing; expected a string", "x: unknown
 * field; expected one of: (none)", "fps: expected a number, got a string";
 * keys are shown as answers show every other untrusted text. */
static const hant_json_wording words = {
    .expected_open = "; expected ",
    .expected_close = "",
    .no_fields = "(none)",
    .too_long = "too long",
    .boolean = "a boolean",
    .number_type_alone = true,
    .show_key = hant__rpc_shown,
};

/* Device and power mode names: letters, digits, '.', '_', '-'. */
static int check_name(hant_json_reader *r, const char *key, const char *s, bool allow_empty) {
  char b[64];
  if (!*s && !allow_empty)
    return hant_json_fail_at(r, key, HANT_EFORMAT, "empty; expected a name");
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
      return hant_json_fail_at(r, key, HANT_EFORMAT, "'%s' is not a name: use letters, digits, '.', '_' and '-'",
                               hant__rpc_shown(s, b, sizeof(b)));
  return 0;
}

/* Budgets with units: ["2W", "15ms"]. */
static int get_budget_texts(hant_json_reader *r, const hant_json *b, hant_transform_req *tr) {
  size_t n = hant_json_size(b);
  if (n > 32)
    return hant_json_fail(r, HANT_EFORMAT, "too many budgets (%zu; at most 32)", n);
  for (size_t i = 0; i < n; i++) {
    const hant_json *v = hant_json_at(b, i);
    hant_budget bud;
    size_t m = hant_json_push_index(r, i);
    int rc = hant_json_expect(r, v, HANT_JSON_STRING, "a budget with a unit such as \"2W\" or \"15ms\"");
    if (!rc && hant_budget_parse(hant_json_string(v, NULL), &bud))
      rc = hant_json_fail(r, HANT_EFORMAT, "%s", hant_errmsg());
    hant_json_pop(r, m);
    if (rc)
      return rc;
    hant_transform_req_add_budget(tr, &bud);
  }
  return 0;
}

/* Budgets in base units: {"power_w": 2, "latency_ms": 15}; a relative one
 * as {"energy_mj": {"percent": 50}} (percent of the teacher's). */
static int get_budget_values(hant_json_reader *r, const hant_json *b, hant_transform_req *tr) {
  hant_json_iter it = hant_json_iter_begin(b);
  const char *k;
  hant_json *v;
  while (hant_json_iter_next(&it, &k, NULL, &v)) {
    hant_budget bud = {.kind = hant_budget_kind_from_key(k)};
    if (bud.kind == HANT_BUDGET_KIND_COUNT)
      return hant_json_fail_at(r, k, HANT_EFORMAT,
                               "unknown budget; expected latency_ms, energy_mj, power_w, memory_bytes or macs");
    if (hant_json_typeof(v) == HANT_JSON_OBJECT) {
      const hant_json *pc = hant_json_member(v, "percent");
      hant_json_iter vi = hant_json_iter_begin(v);
      const char *vk;
      hant_json *vv;
      while (hant_json_iter_next(&vi, &vk, NULL, &vv))
        if (strcmp(vk, "percent"))
          return hant_json_fail_at(r, k, HANT_EFORMAT, "unknown member '%s' of a relative budget; expected "
                                                       "{\"percent\": N} with N in (0, 100]",
                                   vk);
      if (!pc || !hant_json_number(pc, &bud.percent) || !isfinite(bud.percent) || !(bud.percent > 0) ||
          bud.percent > 100)
        return hant_json_fail_at(r, k, HANT_EFORMAT,
                                 "a relative budget is {\"percent\": N} with N greater than 0 and at most 100 (of "
                                 "the teacher's %s on the device)",
                                 hant_budget_kind_name(bud.kind));
      hant_transform_req_add_budget(tr, &bud);
      continue;
    }
    if (!hant_json_number(v, &bud.value))
      return hant_json_fail_at(r, k, HANT_EFORMAT, "expected a number in the key's unit or {\"percent\": N}, got %s",
                               hant_json_type_name(v));
    if (!isfinite(bud.value) || !(bud.value > 0) || bud.value > 1e18)
      return hant_json_fail_at(r, k, HANT_EFORMAT, "expected a number greater than 0, got %g", bud.value);
    hant_transform_req_add_budget(tr, &bud);
  }
  return 0;
}

static int get_budgets(hant_json_reader *r, const hant_json *params, hant_transform_req *tr) {
  const hant_json *b = hant_json_member(params, "budgets");
  if (!b)
    return 0;
  size_t m = hant_json_push_key(r, "budgets");
  int rc;
  switch (hant_json_typeof(b)) {
  case HANT_JSON_ARRAY: rc = get_budget_texts(r, b, tr); break;
  case HANT_JSON_OBJECT: rc = get_budget_values(r, b, tr); break;
  default:
    rc = hant_json_fail(r, HANT_EFORMAT,
                        "expected an array of budgets with units (\"2W\") or an object of base units "
                        "({\"power_w\": 2}), got %s",
                        hant_json_type_name(b));
    break;
  }
  hant_json_pop(r, m);
  return rc;
}

/* device, budgets, fps, grid_g_per_kwh, options: shared by transform and pareto. */
static int get_target(hant_json_reader *r, const hant_json *p, hant_transform_req *tr, double *time_limit_ms) {
  static const char *const opts[] = {"power_mode", "time_limit_ms", NULL};
  hant_json *o = NULL;
  int rc;
  hant_transform_req_init(tr);
  /* Empty names are refused by check_name, in the protocol's words. */
  if ((rc = hant_json_get_strbuf(r, p, "device", HANT_JSON_REQUIRED | HANT_JSON_ALLOW_EMPTY, tr->device,
                                 sizeof(tr->device))) ||
      (rc = check_name(r, "device", tr->device, false)) || (rc = get_budgets(r, p, tr)) ||
      (rc = hant_json_get_number(r, p, "fps", 0, 1e-6, 1e6, NULL, &tr->fps)) ||
      (rc = hant_json_get_number(r, p, "grid_g_per_kwh", 0, 0, 1e5, NULL, &tr->grid_g_per_kwh)) ||
      (rc = hant_json_get_object(r, p, "options", 0, NULL, &o)))
    return rc;
  if (!o)
    return 0;
  size_t m = hant_json_push_key(r, "options");
  if (!(rc = hant_json_only(r, o, opts)) &&
      !(rc = hant_json_get_strbuf(r, o, "power_mode", HANT_JSON_ALLOW_EMPTY, tr->power_mode,
                                  sizeof(tr->power_mode))) &&
      !(rc = check_name(r, "power_mode", tr->power_mode, true)))
    rc = hant_json_get_number(r, o, "time_limit_ms", 0, 0, 600000, NULL, time_limit_ms);
  hant_json_pop(r, m);
  return rc;
}

static int get_job_id(hant_json_reader *r, const hant_json *p, int64_t *id) {
  const json_t *v = hant_json_member(p, "id");
  if (!v)
    return hant_json_fail_at(r, "id", HANT_EFORMAT, "missing; expected a job id");
  /* A job id is a JSON integer: 7.0 names no job, unlike a count of 7.0. */
  if (!json_is_integer(v) || json_integer_value(v) <= 0)
    return hant_json_fail_at(r, "id", HANT_EFORMAT, "expected a positive whole number, got %s",
                             json_is_integer(v) ? "a number <= 0" : hant_json_type_name(v));
  *id = (int64_t)json_integer_value(v);
  return 0;
}

/* A file the request names: a name in the peer's own directory or an
 * absolute path, of at most n - 1 bytes. Which place it lies in is decided
 * when the request runs (methods.c), off the event loop: resolving may
 * create the peer's directory. */
static int get_path(hant_json_reader *r, const hant_json *p, const char *key, unsigned flags, char *out, size_t n) {
  const char *s = NULL;
  size_t len = 0;
  int rc = hant_json_get_string(r, p, key, flags | HANT_JSON_ALLOW_EMPTY, n - 1, &s, &len);
  if (rc || !s)
    return rc;
  if (!len)
    return hant_json_fail_at(r, key, HANT_EFORMAT,
                             "empty; expected a file name in your directory of hantd's state or an absolute path");
  memcpy(out, s, len + 1);
  return 0;
}

/* The fine-tuning and evaluation options of a transform job; those not
 * given stay -1, so the job's stored row leaves them out. */
static int get_tuning(hant_json_reader *r, const hant_json *p, hant_deploy_job_transform *t) {
  static const char *const keys[3] = {"finetune_epochs", "finetune_samples", "eval_samples"};
  static const double hi[3] = {1000, 55000, 10000};
  double v[3] = {-1, -1, -1};
  bool evaluate = false;
  int rc;
  /* "auto": as many epochs as the assembled network's loss asks. */
  const char *word = hant_json_string(hant_json_member(p, keys[0]), NULL);
  bool auto_epochs = word && !strcmp(word, "auto");
  if (word && !auto_epochs)
    return hant_json_fail_at(r, keys[0], HANT_EFORMAT, "expected a whole number of epochs or \"auto\", got \"%.40s\"",
                             word);
  for (int i = auto_epochs; i < 3; i++)
    if ((rc = hant_json_get_number(r, p, keys[i], 0, 0, hi[i], NULL, &v[i])))
      return rc;
  /* Wholeness after every range: of two wrong fields, the answer names
   * the one it always named. */
  for (int i = 0; i < 3; i++)
    if (v[i] >= 0 && v[i] != floor(v[i]))
      return hant_json_fail_at(r, keys[i], HANT_EFORMAT, "expected a whole number, got %g", v[i]);
  t->finetune_epochs = auto_epochs ? HANT_FINETUNE_EPOCHS_AUTO : (int)v[0];
  t->finetune_samples = (int)v[1];
  t->eval_samples = (int)v[2];
  if ((rc = hant_json_get_bool(r, p, "evaluate", 0, &evaluate)))
    return rc;
  t->evaluate = hant_json_member(p, "evaluate") ? evaluate : -1;
  return 0;
}

static bool tuning_given(const hant_deploy_job_transform *t) {
  return t->finetune_epochs != -1 || t->finetune_samples >= 0 || t->eval_samples >= 0 || t->evaluate >= 0;
}

/* Measured re-ranking: how many best choices to measure and on how many
 * validation images. Not given: one choice (none measured) and the
 * default image count. */
static int get_rerank(hant_json_reader *r, const hant_json *p, rpc_transform *q) {
  double k = HANT_TRANSFORM_RERANK_K_DEFAULT, images = HANT_TRANSFORM_RERANK_IMAGES_DEFAULT;
  int rc;
  if ((rc = hant_json_get_number(r, p, "rerank_k", 0, 1, HANT_TRANSFORM_RERANK_K_MAX, NULL, &k)) ||
      (rc = hant_json_get_number(r, p, "rerank_images", 0, 1, 5000, NULL, &images)))
    return rc;
  if (k != floor(k))
    return hant_json_fail_at(r, "rerank_k", HANT_EFORMAT, "expected a whole number, got %g", k);
  if (images != floor(images))
    return hant_json_fail_at(r, "rerank_images", HANT_EFORMAT, "expected a whole number, got %g", images);
  if (k > 1 && q->measure)
    return hant_json_fail_at(r, "rerank_k", HANT_EFORMAT,
                             "measured re-ranking and the measured-latency correction (measure) cannot be combined");
  q->tr.rerank_k = (int)k;
  q->tr.rerank_images = (int)images;
  return 0;
}

/* ---- each method's params --------------------------------------------------- */

/* Each returns 0, HANT_EFORMAT for the client's mistake (recorded by r),
 * or another code for the server's own failure (memory). */

static int parse_transform(hant_json_reader *r, const hant_json *p, rpc_transform *q) {
  static const char *const keys[] = {"device",          "budgets",          "fps",          "grid_g_per_kwh",
                                     "options",         "out",              "finetune_epochs", "finetune_samples",
                                     "eval_samples",    "evaluate",         "measure",         "rerank_k",
                                     "rerank_images",   NULL};
  int rc;
  q->time_limit_ms = -1;
  if ((rc = hant_json_only(r, p, keys)) || (rc = get_target(r, p, &q->tr, &q->time_limit_ms)))
    return rc;
  /* The export job is made now and completed by the solve; dropped when
   * there is no out. */
  if ((rc = hant_deploy_job_new(HANT_DEPLOY_JOB_TRANSFORM, &q->job)))
    return rc;
  hant_deploy_job_transform *t = &q->job->transform;
  if ((rc = get_path(r, p, "out", 0, t->out, sizeof(t->out))) || (rc = get_tuning(r, p, t)))
    return rc;
  if (!t->out[0]) {
    if (tuning_given(t))
      return hant_json_fail_at(r, t->finetune_epochs != -1 ? "finetune_epochs" : "out", HANT_EFORMAT,
                               "fine-tuning and evaluation need out (the ONNX file to write)");
    hant_deploy_job_destroy(q->job);
    q->job = NULL;
  }
  if ((rc = hant_json_get_bool(r, p, "measure", 0, &q->measure)))
    return rc;
  if (q->measure && strcmp(q->tr.device, "host"))
    return hant_json_fail_at(r, "measure", HANT_EFORMAT, "only the host can be measured (device is '%s')",
                             q->tr.device);
  if (q->measure && !hant_transform_req_budget(&q->tr, HANT_BUDGET_LATENCY))
    return hant_json_fail_at(r, "measure", HANT_EFORMAT, "the measured-latency correction needs a latency budget");
  if (q->time_limit_ms >= 0)
    q->tr.time_limit_ms = q->time_limit_ms;
  return get_rerank(r, p, q);
}

static int parse_pareto(hant_json_reader *r, const hant_json *p, rpc_pareto *q) {
  static const char *const keys[] = {"device", "axis", "budgets", "fps", "grid_g_per_kwh",
                                     "options", "points", "respect_budgets", NULL};
  double time_limit_ms = -1; /* accepted, but a front is computed whole */
  char axis[32] = "";
  double pts = 20;
  int rc;
  if ((rc = hant_json_only(r, p, keys)) || (rc = get_target(r, p, &q->tr, &time_limit_ms)) ||
      (rc = hant_json_get_strbuf(r, p, "axis", HANT_JSON_REQUIRED | HANT_JSON_ALLOW_EMPTY, axis, sizeof(axis))))
    return rc;
  q->axis = hant_budget_kind_from_key(axis);
  if (q->axis != HANT_BUDGET_LATENCY && q->axis != HANT_BUDGET_ENERGY && q->axis != HANT_BUDGET_MEMORY &&
      q->axis != HANT_BUDGET_MACS) {
    char s[64];
    return hant_json_fail_at(r, "axis", HANT_EFORMAT, "'%s': expected latency_ms, energy_mj, memory_bytes or macs",
                             hant__rpc_shown(axis, s, sizeof(s)));
  }
  if ((rc = hant_json_get_number(r, p, "points", 0, 0, 10000, NULL, &pts)))
    return rc;
  if (pts != floor(pts))
    return hant_json_fail_at(r, "points", HANT_EFORMAT, "expected a whole number");
  q->points = (int)pts;
  q->respect = true;
  return hant_json_get_bool(r, p, "respect_budgets", 0, &q->respect);
}

static int parse_solve(hant_json_reader *r, const hant_json *p, rpc_solve *q) {
  static const char *const keys[] = {"problem", "options", NULL};
  static const char *const opts[] = {"time_limit_ms", "pareto", "points", "respect_budgets", NULL};
  hant_json *o = NULL;
  double pts = 0;
  int rc;
  q->time_limit_ms = -1;
  q->points = 0;
  q->respect = true;
  if ((rc = hant_json_only(r, p, keys)))
    return rc;
  if (!hant_json_member(p, "problem"))
    return hant_json_fail_at(r, "problem", HANT_EFORMAT,
                             "missing; expected a problem object (schema/problem.schema.json)");
  if ((rc = hant_json_get_object(r, p, "problem", 0, NULL, &q->problem)) ||
      (rc = hant_json_get_object(r, p, "options", 0, NULL, &o)))
    return rc;
  if (!o)
    return 0;
  size_t m = hant_json_push_key(r, "options");
  if (!(rc = hant_json_only(r, o, opts)) &&
      !(rc = hant_json_get_number(r, o, "time_limit_ms", 0, 0, 600000, NULL, &q->time_limit_ms)) &&
      !(rc = hant_json_get_strbuf(r, o, "pareto", HANT_JSON_ALLOW_EMPTY, q->pareto_key, sizeof(q->pareto_key))) &&
      !(rc = hant_json_get_number(r, o, "points", 0, 0, 10000, NULL, &pts)) && pts != floor(pts))
    rc = hant_json_fail_at(r, "points", HANT_EFORMAT, "expected a whole number");
  if (!rc)
    rc = hant_json_get_bool(r, o, "respect_budgets", 0, &q->respect);
  hant_json_pop(r, m);
  q->points = (int)pts;
  return rc;
}

static int parse_jobs_list(hant_json_reader *r, const hant_json *p, rpc_jobs_list *q) {
  static const char *const keys[] = {"state", "limit", NULL};
  char st[16] = "";
  double limit = 50;
  int rc;
  if ((rc = hant_json_only(r, p, keys)) ||
      (rc = hant_json_get_strbuf(r, p, "state", HANT_JSON_ALLOW_EMPTY, st, sizeof(st))) ||
      (rc = hant_json_get_number(r, p, "limit", 0, 1, 10000, NULL, &limit)))
    return rc;
  q->state = -1;
  if (*st) {
    q->state = (int)hant_job_state_from_name(st);
    if (q->state == HANT_JOB_STATE_COUNT)
      return hant_json_fail_at(r, "state", HANT_EFORMAT, "expected queued, running, done, failed or canceled");
  }
  q->limit = (int)limit;
  return 0;
}

/* jobs.submit's eval params into an eval job. */
static int parse_submit_eval(hant_json_reader *r, const hant_json *jp, hant_deploy_job_eval *ev) {
  static const char *const ek[] = {"model", "split", "samples", "data", NULL};
  double samples = 0;
  int rc;
  if ((rc = hant_json_only(r, jp, ek)) ||
      (rc = get_path(r, jp, "model", HANT_JSON_REQUIRED, ev->model, sizeof(ev->model))) ||
      (rc = hant_json_get_strbuf(r, jp, "split", HANT_JSON_ALLOW_EMPTY, ev->split, sizeof(ev->split))) ||
      (rc = hant_json_get_number(r, jp, "samples", 0, 0, 1e7, NULL, &samples)) ||
      (rc = hant_json_get_strbuf(r, jp, "data", HANT_JSON_ALLOW_EMPTY, ev->data, sizeof(ev->data))))
    return rc;
  if (strcmp(ev->split, "test") && strcmp(ev->split, "val") && strcmp(ev->split, "train"))
    return hant_json_fail_at(r, "split", HANT_EFORMAT, "expected test, val or train");
  if (samples != floor(samples))
    return hant_json_fail_at(r, "samples", HANT_EFORMAT, "expected a whole number");
  if (!ev->data[0])
    return hant_json_fail_at(r, "data", HANT_EFORMAT, "expected fmnist or a data directory (IDX, CIFAR-10, NumPy or image folders)");
  ev->samples = (int)samples;
  return 0;
}

/* jobs.submit's transform params into a transform job. */
static int parse_submit_transform(hant_json_reader *r, const hant_json *jp, hant_deploy_job *job) {
  static const char *const tk[] = {"candidates",   "out",      "finetune_epochs", "finetune_samples",
                                   "eval_samples", "evaluate", NULL};
  hant_deploy_job_transform *t = &job->transform;
  const json_t *c = hant_json_member(jp, "candidates");
  int rc;
  if ((rc = hant_json_only(r, jp, tk)) ||
      (rc = get_path(r, jp, "out", HANT_JSON_REQUIRED, t->out, sizeof(t->out))) || (rc = get_tuning(r, jp, t)))
    return rc;
  size_t n = hant_json_size(c);
  if (!json_is_array(c) || !n || n > 100000)
    return hant_json_fail_at(r, "candidates", HANT_EFORMAT,
                             "expected a non-empty array of candidate ids, one per slot");
  int64_t *ids = malloc(sizeof(int64_t) * n);
  if (!ids)
    return HANT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const json_t *v = hant_json_at(c, i);
    /* Candidate ids are JSON integers, as job ids are. */
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
      free(ids);
      size_t m = hant_json_push_key(r, "candidates");
      hant_json_push_index(r, i);
      rc = hant_json_fail(r, HANT_EFORMAT, "expected a candidate id, got %s", hant_json_type_name(v));
      hant_json_pop(r, m);
      return rc;
    }
    ids[i] = (int64_t)json_integer_value(v);
  }
  rc = hant_deploy_job_set_candidates(job, ids, (int)n);
  free(ids);
  return rc;
}

static int parse_submit(hant_json_reader *r, const hant_json *p, hant_deploy_job **out) {
  static const char *const keys[] = {"kind", "params", NULL};
  char kind[24] = "";
  hant_json *jp = NULL;
  int rc;
  if ((rc = hant_json_only(r, p, keys)) ||
      (rc = hant_json_get_strbuf(r, p, "kind", HANT_JSON_REQUIRED | HANT_JSON_ALLOW_EMPTY, kind, sizeof(kind))) ||
      (rc = hant_json_get_object(r, p, "params", HANT_JSON_REQUIRED, NULL, &jp)))
    return rc;
  hant_deploy_job_kind k = hant_deploy_job_kind_from_name(kind);
  if (k == HANT_DEPLOY_JOB_KIND_COUNT) {
    char s[64];
    return hant_json_fail_at(r, "kind", HANT_EFORMAT, "'%s': expected eval or transform",
                             hant__rpc_shown(kind, s, sizeof(s)));
  }
  if ((rc = hant_deploy_job_new(k, out)))
    return rc;
  size_t m = hant_json_push_key(r, "params");
  rc = k == HANT_DEPLOY_JOB_EVAL ? parse_submit_eval(r, jp, &(*out)->eval) : parse_submit_transform(r, jp, *out);
  hant_json_pop(r, m);
  return rc;
}

/* Validates the parameters of each method into req->u. */
static int parse_params(hant_rpc_req *req, hant_json_reader *r) {
  const hant_json *p = req->params;
  static const char *const none[] = {NULL};
  int rc;
  req->job_id = -1;
  switch (req->method) {
  case HANT_RPC_TRANSFORM: return parse_transform(r, p, &req->u.transform);
  case HANT_RPC_PARETO: return parse_pareto(r, p, &req->u.pareto);
  case HANT_RPC_SOLVE: return parse_solve(r, p, &req->u.solve);
  case HANT_RPC_LIBRARY: {
    static const char *const keys[] = {"candidates", NULL};
    if ((rc = hant_json_only(r, p, keys)))
      return rc;
    return hant_json_get_bool(r, p, "candidates", 0, &req->u.list_candidates);
  }
  case HANT_RPC_DEVICES:
  case HANT_RPC_STATUS:
  case HANT_RPC_VERSION: return hant_json_only(r, p, none);
  case HANT_RPC_JOBS_LIST: return parse_jobs_list(r, p, &req->u.jobs_list);
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT:
  case HANT_RPC_JOBS_CANCEL: {
    static const char *const keys[] = {"id", NULL};
    if ((rc = hant_json_only(r, p, keys)))
      return rc;
    return get_job_id(r, p, &req->job_id);
  }
  case HANT_RPC_JOBS_SUBMIT: return parse_submit(r, p, &req->u.submit);
  case HANT_RPC_METHOD_COUNT: break;
  }
  return HANT_EINVAL;
}

/* ---- the envelope -------------------------------------------------------------- */

int hant_rpc_req_parse(const char *line, size_t len, hant_rpc_req **out, char **error_line) {
  static const char *const members[] = {"jsonrpc", "id", "method", "params", NULL};
  *out = NULL;
  *error_line = NULL;
  json_error_t jerr;
  /* Without JSON_ALLOW_NUL, jansson refuses "\u0000": no string or key
   * that the checks below see holds a NUL. */
  json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!root) {
    char msg[300];
    snprintf(msg, sizeof(msg), "parse error at byte %d: %s", jerr.position, jerr.text);
    *error_line = hant_rpc_error_line(NULL, HANT_RPC_PARSE_ERROR, msg, NULL);
    return HANT_RPC_PARSE_ERROR;
  }
  int code = 0;
  const char *why = NULL;
  char field[HANT_JSON_PATH_MAX] = "", msgbuf[600];
  hant_rpc_req *req = calloc(1, sizeof(*req));
  if (!req) {
    json_decref(root);
    *error_line = hant_rpc_error_line(NULL, HANT_RPC_INTERNAL, "out of memory", NULL);
    return HANT_RPC_INTERNAL;
  }
  /* Until the method is known, destroying the request frees no params. */
  req->method = HANT_RPC_METHOD_COUNT;
  if (json_is_array(root)) {
    code = HANT_RPC_INVALID_REQUEST;
    why = "invalid request: batches are not supported; send one request object per line";
    goto fail;
  }
  if (!json_is_object(root)) {
    code = HANT_RPC_INVALID_REQUEST;
    snprintf(msgbuf, sizeof(msgbuf), "invalid request: expected an object, got %s", hant_json_type_name(root));
    why = msgbuf;
    goto fail;
  }
  /* The id first, so that later errors can carry it. */
  json_t *id = json_object_get(root, "id");
  if (id) {
    if (!json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
      code = HANT_RPC_INVALID_REQUEST;
      snprintf(msgbuf, sizeof(msgbuf), "invalid request: id: expected a string, a whole number or null, got %s",
               hant_json_type_name(id));
      why = msgbuf;
      goto fail;
    }
    if (json_is_string(id) && json_string_length(id) > 256) {
      code = HANT_RPC_INVALID_REQUEST;
      why = "invalid request: id: longer than 256 bytes";
      goto fail;
    }
    if (!(req->id = hant__rpc_dump(id))) {
      code = HANT_RPC_INTERNAL;
      goto fail;
    }
  }
  const char *unknown = hant_json_first_unknown(root, members);
  if (unknown) {
    char s[64];
    code = HANT_RPC_INVALID_REQUEST;
    snprintf(msgbuf, sizeof(msgbuf), "invalid request: unknown member '%s'; expected jsonrpc, id, method, params",
             hant__rpc_shown(unknown, s, sizeof(s)));
    why = msgbuf;
    goto fail;
  }
  json_t *ver = json_object_get(root, "jsonrpc");
  if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) {
    code = HANT_RPC_INVALID_REQUEST;
    why = "invalid request: jsonrpc: expected \"2.0\"";
    goto fail;
  }
  json_t *m = json_object_get(root, "method");
  if (!json_is_string(m)) {
    code = HANT_RPC_INVALID_REQUEST;
    why = m ? "invalid request: method: expected a string" : "invalid request: method: missing";
    goto fail;
  }
  for (int i = 0; i < HANT_RPC_METHOD_COUNT; i++)
    if (!strcmp(json_string_value(m), hant_rpc_method_name((hant_rpc_method)i)))
      req->method = (hant_rpc_method)i;
  if (req->method == HANT_RPC_METHOD_COUNT) {
    char s[64];
    code = HANT_RPC_METHOD_NOT_FOUND;
    snprintf(msgbuf, sizeof(msgbuf),
             "method not found: '%s'; methods: transform, pareto, solve, devices, library, status, version, "
             "jobs.list, jobs.get, jobs.wait, jobs.cancel, jobs.submit",
             hant__rpc_shown(json_string_value(m), s, sizeof(s)));
    why = msgbuf;
    goto fail;
  }
  json_t *params = json_object_get(root, "params");
  if (params && !json_is_object(params)) {
    code = HANT_RPC_INVALID_PARAMS;
    snprintf(msgbuf, sizeof(msgbuf), "invalid params: params: expected an object (by-name parameters), got %s",
             hant_json_type_name(params));
    snprintf(field, sizeof(field), "params");
    why = msgbuf;
    goto fail;
  }
  req->params = params ? json_incref(params) : json_object();
  if (!req->params) {
    code = HANT_RPC_INTERNAL;
    goto fail;
  }
  /* Parameter errors read "invalid params: FIELD: what is wrong", with
   * FIELD also in error.data.field. */
  hant_json_reader r;
  hant_json_reader_init(&r, "invalid params");
  r.wording = &words;
  hant_errmsg_clear();
  int rc = parse_params(req, &r);
  if (rc) {
    /* The reader's errors are the client's; any other (memory) is ours. */
    code = rc == HANT_EFORMAT ? HANT_RPC_INVALID_PARAMS : HANT_RPC_INTERNAL;
    snprintf(msgbuf, sizeof(msgbuf), "%s", *hant_errmsg() ? hant_errmsg() : "invalid params");
    snprintf(field, sizeof(field), "%s", r.failed_at);
    why = msgbuf;
    goto fail;
  }
  json_decref(root);
  *out = req;
  return 0;
fail:
  /* Notifications get no answer, except when the request is too broken
   * to tell (spec: answer parse errors and invalid requests with id null). */
  if (req->id || code == HANT_RPC_INVALID_REQUEST || code == HANT_RPC_INTERNAL)
    *error_line = hant_rpc_error_line(req->id, code, why, field[0] ? field : NULL);
  hant_rpc_req_destroy(req);
  json_decref(root);
  return code;
}

char *hant_rpc_req_cache_key(const hant_rpc_req *req, int64_t library_version) {
  if (req->method != HANT_RPC_TRANSFORM || req->u.transform.job)
    return NULL;
  const hant_transform_req *t = &req->u.transform.tr;
  char b[HANT_BUDGET_KIND_COUNT][40];
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
    const hant_budget *x = hant_transform_req_budget(t, (hant_budget_kind)k);
    if (x)
      snprintf(b[k], sizeof(b[k]), "%.17g", x->value);
    else
      snprintf(b[k], sizeof(b[k]), "-");
  }
  /* Re-ranked answers are cached as well: their measurements are on fixed
   * validation images, so the same request measures the same. The image
   * count matters only when something is measured. */
  const double *rp = t->relative_percent;
  int rk = t->rerank_k > 1 ? t->rerank_k : 1, ri = rk > 1 ? t->rerank_images : 0;
  return hant__rpc_dupf("transform|v=%lld|d=%s|b=%s,%s,%s,%s,%s|r=%.17g,%.17g,%.17g,%.17g,%.17g|f=%.17g|g=%.17g|m=%s|"
                        "t=%.17g|rk=%d|ri=%d",
                        (long long)library_version, t->device, b[0], b[1], b[2], b[3], b[4], rp[0], rp[1], rp[2],
                        rp[3], rp[4], t->fps, t->grid_g_per_kwh, t->power_mode, t->time_limit_ms, rk, ri);
}
