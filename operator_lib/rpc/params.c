/* SPDX-License-Identifier: MIT */
/* params.c: hantd's requests parsed and validated into typed requests, with errors that name the offending field, and their cache keys. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
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

/* A parameter error: the field's path and what is wrong. */
struct perr {
  char field[96];
  char msg[512];
};

static int bad(struct perr *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct perr *e, const char *field, const char *fmt, ...) {
  snprintf(e->field, sizeof(e->field), "%s", field);
  int o = snprintf(e->msg, sizeof(e->msg), "invalid params: %s: ", field);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg + o, sizeof(e->msg) - (size_t)o, fmt, ap);
  va_end(ap);
  return HANT_RPC_INVALID_PARAMS;
}

/* Refuses members of obj not in the NULL-terminated list allowed. */
static int only(struct perr *e, const json_t *obj, const char *prefix, const char *const *allowed) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = !strcmp(*a, k);
    if (!ok) {
      char f[96], s[64];
      snprintf(f, sizeof(f), "%s%s", prefix, hant__rpc_shown(k, s, sizeof(s)));
      char list[256];
      size_t o = 0;
      list[0] = '\0';
      for (const char *const *a = allowed; *a && o < sizeof(list); a++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", a == allowed ? "" : ", ", *a);
      return bad(e, f, "unknown field; expected one of: %s", allowed[0] ? list : "(none)");
    }
  }
  return 0;
}

static int get_number(struct perr *e, const json_t *obj, const char *key, const char *field, double lo, double hi,
                      double *out) {
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_number(v))
    return bad(e, field, "expected a number, got %s", hant__rpc_type_name(v));
  double x = json_number_value(v);
  if (!isfinite(x) || x < lo || x > hi)
    return bad(e, field, "expected a number from %g to %g, got %g", lo, hi, x);
  *out = x;
  return 0;
}

static int get_bool(struct perr *e, const json_t *obj, const char *key, const char *field, bool *given, bool *out) {
  json_t *v = json_object_get(obj, key);
  *given = v != NULL;
  if (v && !json_is_boolean(v))
    return bad(e, field, "expected a boolean, got %s", hant__rpc_type_name(v));
  if (v)
    *out = json_is_true(v);
  return 0;
}

static int get_string(struct perr *e, const json_t *obj, const char *key, const char *field, char *out, size_t n,
                      bool required) {
  json_t *v = json_object_get(obj, key);
  if (!v) {
    if (required)
      return bad(e, field, "missing; expected a string");
    return 0;
  }
  if (!json_is_string(v))
    return bad(e, field, "expected a string, got %s", hant__rpc_type_name(v));
  size_t len = json_string_length(v);
  const char *s = json_string_value(v);
  if (len >= n)
    return bad(e, field, "too long (%zu bytes; at most %zu)", len, n - 1);
  if (strlen(s) != len)
    return bad(e, field, "contains a NUL character");
  memcpy(out, s, len + 1);
  return 0;
}

/* Device and power mode names: letters, digits, '.', '_', '-'. */
static int check_name(struct perr *e, const char *field, const char *s, bool allow_empty) {
  char b[64];
  if (!*s && !allow_empty)
    return bad(e, field, "empty; expected a name");
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
      return bad(e, field, "'%s' is not a name: use letters, digits, '.', '_' and '-'",
                 hant__rpc_shown(s, b, sizeof(b)));
  return 0;
}

static int get_budgets(struct perr *e, const json_t *params, hant_transform_req *tr) {
  json_t *b = json_object_get(params, "budgets");
  if (!b)
    return 0;
  if (json_is_array(b)) {
    if (json_array_size(b) > 32)
      return bad(e, "budgets", "too many budgets (%zu; at most 32)", json_array_size(b));
    size_t i;
    json_t *v;
    json_array_foreach(b, i, v) {
      char f[32];
      snprintf(f, sizeof(f), "budgets[%zu]", i);
      if (!json_is_string(v))
        return bad(e, f, "expected a budget with a unit such as \"2W\" or \"15ms\", got %s", hant__rpc_type_name(v));
      hant_budget bud;
      if (strlen(json_string_value(v)) != json_string_length(v))
        return bad(e, f, "contains a NUL character");
      if (hant_budget_parse(json_string_value(v), &bud))
        return bad(e, f, "%s", hant_errmsg());
      hant_transform_req_add_budget(tr, &bud);
    }
    return 0;
  }
  if (json_is_object(b)) {
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v) {
      char f[96], s[64];
      snprintf(f, sizeof(f), "budgets.%s", hant__rpc_shown(k, s, sizeof(s)));
      hant_budget bud;
      bud.kind = hant_budget_kind_from_key(k);
      if (bud.kind == HANT_BUDGET_KIND_COUNT)
        return bad(e, f, "unknown budget; expected latency_ms, energy_mj, power_w, memory_bytes or macs");
      if (!json_is_number(v))
        return bad(e, f, "expected a number in the key's unit, got %s", hant__rpc_type_name(v));
      bud.value = json_number_value(v);
      if (!isfinite(bud.value) || !(bud.value > 0) || bud.value > 1e18)
        return bad(e, f, "expected a number greater than 0, got %g", bud.value);
      hant_transform_req_add_budget(tr, &bud);
    }
    return 0;
  }
  return bad(e, "budgets", "expected an array of budgets with units (\"2W\") or an object of base units "
                           "({\"power_w\": 2}), got %s",
             hant__rpc_type_name(b));
}

/* device, budgets, fps, grid_g_per_kwh, options: shared by transform and pareto. */
static int get_target(struct perr *e, const json_t *p, hant_transform_req *tr, double *time_limit_ms) {
  int rc;
  hant_transform_req_init(tr);
  if ((rc = get_string(e, p, "device", "device", tr->device, sizeof(tr->device), true)) ||
      (rc = check_name(e, "device", tr->device, false)) || (rc = get_budgets(e, p, tr)) ||
      (rc = get_number(e, p, "fps", "fps", 1e-6, 1e6, &tr->fps)) ||
      (rc = get_number(e, p, "grid_g_per_kwh", "grid_g_per_kwh", 0, 1e5, &tr->grid_g_per_kwh)))
    return rc;
  json_t *o = json_object_get(p, "options");
  if (o) {
    static const char *const opts[] = {"power_mode", "time_limit_ms", NULL};
    if (!json_is_object(o))
      return bad(e, "options", "expected an object, got %s", hant__rpc_type_name(o));
    if ((rc = only(e, o, "options.", opts)) ||
        (rc = get_string(e, o, "power_mode", "options.power_mode", tr->power_mode, sizeof(tr->power_mode), false)) ||
        (rc = check_name(e, "options.power_mode", tr->power_mode, true)) ||
        (rc = get_number(e, o, "time_limit_ms", "options.time_limit_ms", 0, 600000, time_limit_ms)))
      return rc;
  }
  return 0;
}

static int get_job_id(struct perr *e, const json_t *p, int64_t *id) {
  json_t *v = json_object_get(p, "id");
  if (!v)
    return bad(e, "id", "missing; expected a job id");
  if (!json_is_integer(v) || json_integer_value(v) <= 0)
    return bad(e, "id", "expected a positive whole number, got %s",
               json_is_integer(v) ? "a number <= 0" : hant__rpc_type_name(v));
  *id = (int64_t)json_integer_value(v);
  return 0;
}

/* A file the request names: a name in the peer's own directory or an
 * absolute path. Which place it lies in is decided when the request runs
 * (methods.c), off the event loop: resolving may create the peer's
 * directory. */
static int get_path(struct perr *e, const json_t *p, const char *key, const char *field, char *out, size_t n,
                    bool required) {
  json_t *v = json_object_get(p, key);
  int rc = get_string(e, p, key, field, out, n, required);
  if (rc)
    return rc;
  if (v && !*out)
    return bad(e, field, "empty; expected a file name in your directory of hantd's state or an absolute path");
  return 0;
}

/* The fine-tuning and evaluation options of a transform job; those not
 * given stay -1, so the job's stored row leaves them out. */
static int get_tuning(struct perr *e, const json_t *p, const char *prefix, hant_deploy_job_transform *t) {
  static const char *const keys[3] = {"finetune_epochs", "finetune_samples", "eval_samples"};
  static const double hi[3] = {1000, 55000, 10000};
  char f[3][48];
  double v[3] = {-1, -1, -1};
  int rc;
  for (int i = 0; i < 3; i++) {
    snprintf(f[i], sizeof(f[i]), "%s%s", prefix, keys[i]);
    if ((rc = get_number(e, p, keys[i], f[i], 0, hi[i], &v[i])))
      return rc;
  }
  for (int i = 0; i < 3; i++)
    if (v[i] >= 0 && v[i] != floor(v[i]))
      return bad(e, f[i], "expected a whole number, got %g", v[i]);
  t->finetune_epochs = (int)v[0];
  t->finetune_samples = (int)v[1];
  t->eval_samples = (int)v[2];
  char g[48];
  bool given = false, ev = false;
  snprintf(g, sizeof(g), "%sevaluate", prefix);
  if ((rc = get_bool(e, p, "evaluate", g, &given, &ev)))
    return rc;
  t->evaluate = given ? ev : -1;
  return 0;
}

static bool tuning_given(const hant_deploy_job_transform *t) {
  return t->finetune_epochs >= 0 || t->finetune_samples >= 0 || t->eval_samples >= 0 || t->evaluate >= 0;
}

/* ---- each method's params --------------------------------------------------- */

static int parse_transform(struct perr *e, const json_t *p, rpc_transform *q) {
  static const char *const keys[] = {"device",          "budgets",          "fps",          "grid_g_per_kwh",
                                     "options",         "out",              "finetune_epochs", "finetune_samples",
                                     "eval_samples",    "evaluate",         "measure",         NULL};
  int rc;
  q->time_limit_ms = -1;
  if ((rc = only(e, p, "", keys)) || (rc = get_target(e, p, &q->tr, &q->time_limit_ms)))
    return rc;
  /* The export job is made now and completed by the solve; dropped when
   * there is no out. */
  if (hant_deploy_job_new(HANT_DEPLOY_JOB_TRANSFORM, &q->job))
    return HANT_RPC_INTERNAL;
  hant_deploy_job_transform *t = &q->job->transform;
  if ((rc = get_path(e, p, "out", "out", t->out, sizeof(t->out), false)) || (rc = get_tuning(e, p, "", t)))
    return rc;
  if (!t->out[0]) {
    if (tuning_given(t))
      return bad(e, t->finetune_epochs >= 0 ? "finetune_epochs" : "out",
                 "fine-tuning and evaluation need out (the ONNX file to write)");
    hant_deploy_job_destroy(q->job);
    q->job = NULL;
  }
  bool given;
  if ((rc = get_bool(e, p, "measure", "measure", &given, &q->measure)))
    return rc;
  if (q->measure && strcmp(q->tr.device, "host"))
    return bad(e, "measure", "only the host can be measured (device is '%s')", q->tr.device);
  if (q->measure && !hant_transform_req_budget(&q->tr, HANT_BUDGET_LATENCY))
    return bad(e, "measure", "the measured-latency correction needs a latency budget");
  if (q->time_limit_ms >= 0)
    q->tr.time_limit_ms = q->time_limit_ms;
  return 0;
}

static int parse_pareto(struct perr *e, const json_t *p, rpc_pareto *q) {
  static const char *const keys[] = {"device", "axis", "budgets", "fps", "grid_g_per_kwh",
                                     "options", "points", "respect_budgets", NULL};
  double time_limit_ms = -1; /* accepted, but a front is computed whole */
  int rc;
  if ((rc = only(e, p, "", keys)) || (rc = get_target(e, p, &q->tr, &time_limit_ms)))
    return rc;
  char axis[32] = "";
  if ((rc = get_string(e, p, "axis", "axis", axis, sizeof(axis), true)))
    return rc;
  q->axis = hant_budget_kind_from_key(axis);
  if (q->axis != HANT_BUDGET_LATENCY && q->axis != HANT_BUDGET_ENERGY && q->axis != HANT_BUDGET_MEMORY &&
      q->axis != HANT_BUDGET_MACS) {
    char s[64];
    return bad(e, "axis", "'%s': expected latency_ms, energy_mj, memory_bytes or macs",
               hant__rpc_shown(axis, s, sizeof(s)));
  }
  double pts = 20;
  if ((rc = get_number(e, p, "points", "points", 0, 10000, &pts)))
    return rc;
  if (pts != floor(pts))
    return bad(e, "points", "expected a whole number");
  q->points = (int)pts;
  q->respect = true;
  bool given;
  return get_bool(e, p, "respect_budgets", "respect_budgets", &given, &q->respect);
}

static int parse_solve(struct perr *e, const json_t *p, rpc_solve *q) {
  static const char *const keys[] = {"problem", "options", NULL};
  int rc;
  q->time_limit_ms = -1;
  if ((rc = only(e, p, "", keys)))
    return rc;
  q->problem = json_object_get(p, "problem");
  if (!q->problem)
    return bad(e, "problem", "missing; expected a problem object (schema/problem.schema.json)");
  if (!json_is_object(q->problem))
    return bad(e, "problem", "expected an object, got %s", hant__rpc_type_name(q->problem));
  json_t *o = json_object_get(p, "options");
  q->points = 0;
  q->respect = true;
  if (!o)
    return 0;
  static const char *const opts[] = {"time_limit_ms", "pareto", "points", "respect_budgets", NULL};
  if (!json_is_object(o))
    return bad(e, "options", "expected an object, got %s", hant__rpc_type_name(o));
  double pts = 0;
  if ((rc = only(e, o, "options.", opts)) ||
      (rc = get_number(e, o, "time_limit_ms", "options.time_limit_ms", 0, 600000, &q->time_limit_ms)) ||
      (rc = get_string(e, o, "pareto", "options.pareto", q->pareto_key, sizeof(q->pareto_key), false)) ||
      (rc = get_number(e, o, "points", "options.points", 0, 10000, &pts)))
    return rc;
  if (pts != floor(pts))
    return bad(e, "options.points", "expected a whole number");
  q->points = (int)pts;
  bool given;
  return get_bool(e, o, "respect_budgets", "options.respect_budgets", &given, &q->respect);
}

static int parse_jobs_list(struct perr *e, const json_t *p, rpc_jobs_list *q) {
  static const char *const keys[] = {"state", "limit", NULL};
  char st[16] = "";
  double limit = 50;
  int rc;
  if ((rc = only(e, p, "", keys)) || (rc = get_string(e, p, "state", "state", st, sizeof(st), false)) ||
      (rc = get_number(e, p, "limit", "limit", 1, 10000, &limit)))
    return rc;
  q->state = -1;
  if (*st) {
    q->state = (int)hant_job_state_from_name(st);
    if (q->state == HANT_JOB_STATE_COUNT)
      return bad(e, "state", "expected queued, running, done, failed or canceled");
  }
  q->limit = (int)limit;
  return 0;
}

/* jobs.submit's eval params into an eval job. */
static int parse_submit_eval(struct perr *e, const json_t *jp, hant_deploy_job_eval *ev) {
  static const char *const ek[] = {"model", "split", "samples", "data", NULL};
  double samples = 0;
  int rc;
  if ((rc = only(e, jp, "params.", ek)) ||
      (rc = get_path(e, jp, "model", "params.model", ev->model, sizeof(ev->model), true)) ||
      (rc = get_string(e, jp, "split", "params.split", ev->split, sizeof(ev->split), false)) ||
      (rc = get_number(e, jp, "samples", "params.samples", 0, 1e7, &samples)) ||
      (rc = get_string(e, jp, "data", "params.data", ev->data, sizeof(ev->data), false)))
    return rc;
  if (strcmp(ev->split, "test") && strcmp(ev->split, "val") && strcmp(ev->split, "train"))
    return bad(e, "params.split", "expected test, val or train");
  if (samples != floor(samples))
    return bad(e, "params.samples", "expected a whole number");
  if (!ev->data[0])
    return bad(e, "params.data", "expected fmnist or a directory of IDX files");
  ev->samples = (int)samples;
  return 0;
}

/* jobs.submit's transform params into a transform job. */
static int parse_submit_transform(struct perr *e, const json_t *jp, hant_deploy_job *job) {
  static const char *const tk[] = {"candidates",   "out",      "finetune_epochs", "finetune_samples",
                                   "eval_samples", "evaluate", NULL};
  hant_deploy_job_transform *t = &job->transform;
  json_t *c = json_object_get(jp, "candidates");
  int rc;
  if ((rc = only(e, jp, "params.", tk)) ||
      (rc = get_path(e, jp, "out", "params.out", t->out, sizeof(t->out), true)) ||
      (rc = get_tuning(e, jp, "params.", t)))
    return rc;
  if (!json_is_array(c) || !json_array_size(c) || json_array_size(c) > 100000)
    return bad(e, "params.candidates", "expected a non-empty array of candidate ids, one per slot");
  size_t n = json_array_size(c), i;
  int64_t *ids = malloc(sizeof(int64_t) * n);
  if (!ids)
    return HANT_RPC_INTERNAL;
  json_t *v;
  json_array_foreach(c, i, v) {
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
      free(ids);
      char f[48];
      snprintf(f, sizeof(f), "params.candidates[%zu]", i);
      return bad(e, f, "expected a candidate id, got %s", hant__rpc_type_name(v));
    }
    ids[i] = (int64_t)json_integer_value(v);
  }
  rc = hant_deploy_job_set_candidates(job, ids, (int)n);
  free(ids);
  return rc ? HANT_RPC_INTERNAL : 0;
}

static int parse_submit(struct perr *e, const json_t *p, hant_deploy_job **out) {
  static const char *const keys[] = {"kind", "params", NULL};
  char kind[24];
  int rc;
  if ((rc = only(e, p, "", keys)) || (rc = get_string(e, p, "kind", "kind", kind, sizeof(kind), true)))
    return rc;
  json_t *jp = json_object_get(p, "params");
  if (!jp || !json_is_object(jp))
    return bad(e, "params", jp ? "expected an object, got %s" : "missing; expected an object%s",
               jp ? hant__rpc_type_name(jp) : "");
  hant_deploy_job_kind k = hant_deploy_job_kind_from_name(kind);
  if (k == HANT_DEPLOY_JOB_KIND_COUNT) {
    char s[64];
    return bad(e, "kind", "'%s': expected eval or transform", hant__rpc_shown(kind, s, sizeof(s)));
  }
  if (hant_deploy_job_new(k, out))
    return HANT_RPC_INTERNAL;
  return k == HANT_DEPLOY_JOB_EVAL ? parse_submit_eval(e, jp, &(*out)->eval) : parse_submit_transform(e, jp, *out);
}

/* Validates the parameters of each method into req->u. */
static int parse_params(hant_rpc_req *req, struct perr *e) {
  const json_t *p = req->params;
  static const char *const none[] = {NULL};
  req->job_id = -1;
  switch (req->method) {
  case HANT_RPC_TRANSFORM: return parse_transform(e, p, &req->u.transform);
  case HANT_RPC_PARETO: return parse_pareto(e, p, &req->u.pareto);
  case HANT_RPC_SOLVE: return parse_solve(e, p, &req->u.solve);
  case HANT_RPC_LIBRARY: {
    static const char *const keys[] = {"candidates", NULL};
    bool given;
    int rc = only(e, p, "", keys);
    return rc ? rc : get_bool(e, p, "candidates", "candidates", &given, &req->u.list_candidates);
  }
  case HANT_RPC_DEVICES:
  case HANT_RPC_STATUS:
  case HANT_RPC_VERSION: return only(e, p, "", none);
  case HANT_RPC_JOBS_LIST: return parse_jobs_list(e, p, &req->u.jobs_list);
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT:
  case HANT_RPC_JOBS_CANCEL: {
    static const char *const keys[] = {"id", NULL};
    int rc = only(e, p, "", keys);
    return rc ? rc : get_job_id(e, p, &req->job_id);
  }
  case HANT_RPC_JOBS_SUBMIT: return parse_submit(e, p, &req->u.submit);
  case HANT_RPC_METHOD_COUNT: break;
  }
  return HANT_RPC_INTERNAL;
}

/* ---- the envelope -------------------------------------------------------------- */

int hant_rpc_parse(const char *line, size_t len, hant_rpc_req **out, char **error_line) {
  *out = NULL;
  *error_line = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!root) {
    char msg[300];
    snprintf(msg, sizeof(msg), "parse error at byte %d: %s", jerr.position, jerr.text);
    *error_line = hant_rpc_error_line(NULL, HANT_RPC_PARSE_ERROR, msg, NULL);
    return HANT_RPC_PARSE_ERROR;
  }
  int code = 0;
  const char *why = NULL;
  char field[96] = "", msgbuf[600];
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
    snprintf(msgbuf, sizeof(msgbuf), "invalid request: expected an object, got %s", hant__rpc_type_name(root));
    why = msgbuf;
    goto fail;
  }
  /* The id first, so that later errors can carry it. */
  json_t *id = json_object_get(root, "id");
  if (id) {
    if (!json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
      code = HANT_RPC_INVALID_REQUEST;
      snprintf(msgbuf, sizeof(msgbuf), "invalid request: id: expected a string, a whole number or null, got %s",
               hant__rpc_type_name(id));
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
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    if (strcmp(k, "jsonrpc") && strcmp(k, "id") && strcmp(k, "method") && strcmp(k, "params")) {
      char s[64];
      code = HANT_RPC_INVALID_REQUEST;
      snprintf(msgbuf, sizeof(msgbuf), "invalid request: unknown member '%s'; expected jsonrpc, id, method, params",
               hant__rpc_shown(k, s, sizeof(s)));
      why = msgbuf;
      goto fail;
    }
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
             hant__rpc_type_name(params));
    snprintf(field, sizeof(field), "params");
    why = msgbuf;
    goto fail;
  }
  req->params = params ? json_incref(params) : json_object();
  if (!req->params) {
    code = HANT_RPC_INTERNAL;
    goto fail;
  }
  struct perr pe;
  memset(&pe, 0, sizeof(pe));
  hant_errmsg_clear();
  if ((code = parse_params(req, &pe))) {
    snprintf(msgbuf, sizeof(msgbuf), "%s", pe.msg[0] ? pe.msg : "invalid params");
    snprintf(field, sizeof(field), "%s", pe.field);
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
  return hant__rpc_dupf("transform|v=%lld|d=%s|b=%s,%s,%s,%s,%s|f=%.17g|g=%.17g|m=%s|t=%.17g",
                        (long long)library_version, t->device, b[0], b[1], b[2], b[3], b[4], t->fps,
                        t->grid_g_per_kwh, t->power_mode, t->time_limit_ms);
}
