/* SPDX-License-Identifier: MIT */
/* rpc.c: hantd's JSON-RPC 2.0 protocol (the only protocol code that includes jansson.h): parsing, validation, method handlers, answers. */
#include "rpc.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "energy.h"
#include "base.h"
#include "problem_json.h"
#include "sha256.h"

/* ---- names ---------------------------------------------------------------- */

const char *hant_rpc_error_message(int code) {
  switch (code) {
#define X(name, c, msg)                                                                                                \
  case c: return msg;
    HANT_RPC_ERROR_MAP(X)
#undef X
  }
  return "unknown error";
}

const char *hant_rpc_error_name(int code) {
  switch (code) {
#define X(name, c, msg)                                                                                                \
  case c: return #name;
    HANT_RPC_ERROR_MAP(X)
#undef X
  }
  return "UNKNOWN";
}

static const char *const method_names[] = {"transform", "pareto",    "solve",    "devices",     "library",
                                           "status",    "version",   "jobs.list", "jobs.get",   "jobs.wait",
                                           "jobs.cancel", "jobs.submit"};
static_assert(sizeof(method_names) / sizeof(method_names[0]) == HANT_RPC_METHOD_COUNT, "one name per method");

const char *hant_rpc_method_name(hant_rpc_method m) {
  return (unsigned)m < HANT_RPC_METHOD_COUNT ? method_names[m] : "unknown";
}

/* ---- strings -------------------------------------------------------------- */

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* Dumps compactly with object keys in insertion order; plain malloc memory. */
static char *dump(const json_t *v) {
  return v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(12) | JSON_ENCODE_ANY) : NULL;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Copies untrusted text for a message: printable ASCII, at most 48 bytes. */
static const char *shown(const char *s, char *buf, size_t n) {
  size_t o = 0;
  for (; s && *s && o + 4 < n && o < 48; s++)
    buf[o++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') ? *s : '?';
  if (s && *s && o + 4 <= n) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

char *hant_rpc_error_line(const char *id_json, int code, const char *message, const char *field) {
  json_t *err = json_object();
  if (!err)
    return NULL;
  json_object_set_new(err, "code", json_integer(code));
  json_object_set_new(err, "message", json_string(message && *message ? message : hant_rpc_error_message(code)));
  /* json_string refuses invalid UTF-8: fall back to the code's message. */
  if (!json_object_get(err, "message"))
    json_object_set_new(err, "message", json_string(hant_rpc_error_message(code)));
  json_t *data = json_object();
  json_object_set_new(data, "name", json_string(hant_rpc_error_name(code)));
  if (field && *field) {
    json_object_set_new(data, "field", json_string(field));
    if (!json_object_get(data, "field"))
      json_object_set_new(data, "field", json_string("?"));
  }
  json_object_set_new(err, "data", data);
  char *e = dump(err);
  json_decref(err);
  if (!e)
    return NULL;
  char *line = dupf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":%s}", id_json ? id_json : "null", e);
  free(e);
  return line;
}

char *hant_rpc_result_line(const char *id_json, const char *result_json) {
  return dupf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", id_json ? id_json : "null", result_json);
}

#define CACHE_SUFFIX_MISS "\"cache_hit\":false}"
#define CACHE_SUFFIX_HIT "\"cache_hit\":true}"

char *hant_rpc_cached_line(const char *id_json, const char *cached, bool hit) {
  return dupf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s%s}", id_json ? id_json : "null", cached,
              hit ? CACHE_SUFFIX_HIT : CACHE_SUFFIX_MISS);
}

char *hant_rpc_line_with_id(const char *line, const char *old_id, const char *new_id) {
  static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
  size_t h = sizeof(head) - 1, o = strlen(old_id);
  if (!line || strncmp(line, head, h) || strncmp(line + h, old_id, o) || line[h + o] != ',')
    return NULL;
  return dupf("%s%s%s", head, new_id, line + h + o);
}

/* ---- requests --------------------------------------------------------------- */

struct hant_rpc_req {
  hant_rpc_method method;
  char *id; /* JSON text, NULL for a notification */
  json_t *params;
  /* transform, pareto */
  hant_transform_req tr;
  char out[1024];
  double finetune_epochs, finetune_samples, eval_samples; /* transform with out; -1: not given */
  int evaluate;                                           /* -1: not given */
  bool measure;                                           /* transform: measured-latency correction */
  hant_budget_kind axis;
  int points;
  bool respect;
  /* solve */
  json_t *problem; /* borrowed from params */
  double time_limit_ms; /* -1: not given */
  char pareto_key[128];
  /* library */
  bool list_candidates;
  /* jobs */
  int64_t job_id;
  int jobs_state;
  int jobs_limit;
  char submit_kind[24];
  char *submit_params; /* canonical JSON */
};

void hant_rpc_req_destroy(hant_rpc_req *req) {
  if (!req)
    return;
  free(req->id);
  json_decref(req->params);
  free(req->submit_params);
  free(req);
}

hant_rpc_method hant_rpc_req_method(const hant_rpc_req *req) { return req->method; }
bool hant_rpc_req_is_notification(const hant_rpc_req *req) { return !req->id; }
const char *hant_rpc_req_id(const hant_rpc_req *req) { return req->id ? req->id : "null"; }
int64_t hant_rpc_req_job_id(const hant_rpc_req *req) { return req->job_id; }

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

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "something else";
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
      snprintf(f, sizeof(f), "%s%s", prefix, shown(k, s, sizeof(s)));
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
    return bad(e, field, "expected a number, got %s", type_name(v));
  double x = json_number_value(v);
  if (!isfinite(x) || x < lo || x > hi)
    return bad(e, field, "expected a number from %g to %g, got %g", lo, hi, x);
  *out = x;
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
    return bad(e, field, "expected a string, got %s", type_name(v));
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
      return bad(e, field, "'%s' is not a name: use letters, digits, '.', '_' and '-'", shown(s, b, sizeof(b)));
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
        return bad(e, f, "expected a budget with a unit such as \"2W\" or \"15ms\", got %s", type_name(v));
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
      snprintf(f, sizeof(f), "budgets.%s", shown(k, s, sizeof(s)));
      hant_budget bud;
      bud.kind = hant_budget_kind_from_key(k);
      if (bud.kind == HANT_BUDGET_KIND_COUNT)
        return bad(e, f, "unknown budget; expected latency_ms, energy_mj, power_w, memory_bytes or macs");
      if (!json_is_number(v))
        return bad(e, f, "expected a number in the key's unit, got %s", type_name(v));
      bud.value = json_number_value(v);
      if (!isfinite(bud.value) || !(bud.value > 0) || bud.value > 1e18)
        return bad(e, f, "expected a number greater than 0, got %g", bud.value);
      hant_transform_req_add_budget(tr, &bud);
    }
    return 0;
  }
  return bad(e, "budgets", "expected an array of budgets with units (\"2W\") or an object of base units "
                           "({\"power_w\": 2}), got %s",
             type_name(b));
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
      return bad(e, "options", "expected an object, got %s", type_name(o));
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
    return bad(e, "id", "expected a positive whole number, got %s", json_is_integer(v) ? "a number <= 0" : type_name(v));
  *id = (int64_t)json_integer_value(v);
  return 0;
}

static int get_abs_path(struct perr *e, const json_t *p, const char *key, const char *field, char *out, size_t n,
                        bool required) {
  int rc = get_string(e, p, key, field, out, n, required);
  if (rc || !*out)
    return rc ? rc : (required ? bad(e, field, "empty; expected an absolute path") : 0);
  if (out[0] != '/')
    return bad(e, field, "expected an absolute path (the daemon's working directory is not yours)");
  return 0;
}

/* The fine-tuning and evaluation parameters of a transform with out. */
static int get_deploy_opts(struct perr *e, const json_t *p, const char *prefix, hant_rpc_req *req) {
  char f[3][48], g[48];
  snprintf(f[0], sizeof(f[0]), "%sfinetune_epochs", prefix);
  snprintf(f[1], sizeof(f[1]), "%sfinetune_samples", prefix);
  snprintf(f[2], sizeof(f[2]), "%seval_samples", prefix);
  snprintf(g, sizeof(g), "%sevaluate", prefix);
  req->finetune_epochs = req->finetune_samples = req->eval_samples = -1;
  req->evaluate = -1;
  int rc;
  if ((rc = get_number(e, p, "finetune_epochs", f[0], 0, 1000, &req->finetune_epochs)) ||
      (rc = get_number(e, p, "finetune_samples", f[1], 0, 55000, &req->finetune_samples)) ||
      (rc = get_number(e, p, "eval_samples", f[2], 0, 10000, &req->eval_samples)))
    return rc;
  double *v[3] = {&req->finetune_epochs, &req->finetune_samples, &req->eval_samples};
  for (int i = 0; i < 3; i++)
    if (*v[i] >= 0 && *v[i] != floor(*v[i]))
      return bad(e, f[i], "expected a whole number, got %g", *v[i]);
  json_t *ev = json_object_get(p, "evaluate");
  if (ev && !json_is_boolean(ev))
    return bad(e, g, "expected a boolean, got %s", type_name(ev));
  if (ev)
    req->evaluate = json_is_true(ev);
  return 0;
}

/* Adds the given fine-tuning and evaluation parameters to a job's params. */
static void put_deploy_opts(json_t *jp, const hant_rpc_req *req) {
  if (req->finetune_epochs >= 0)
    json_object_set_new(jp, "finetune_epochs", json_integer((json_int_t)req->finetune_epochs));
  if (req->finetune_samples >= 0)
    json_object_set_new(jp, "finetune_samples", json_integer((json_int_t)req->finetune_samples));
  if (req->eval_samples >= 0)
    json_object_set_new(jp, "eval_samples", json_integer((json_int_t)req->eval_samples));
  if (req->evaluate >= 0)
    json_object_set_new(jp, "evaluate", json_boolean(req->evaluate));
}

/* Validates the parameters of each method into req. */
static int parse_params(hant_rpc_req *req, struct perr *e) {
  json_t *p = req->params;
  static const char *const none[] = {NULL};
  int rc;
  req->time_limit_ms = -1;
  req->job_id = -1;
  switch (req->method) {
  case HANT_RPC_TRANSFORM: {
    static const char *const keys[] = {"device",          "budgets",          "fps",          "grid_g_per_kwh",
                                       "options",         "out",              "finetune_epochs", "finetune_samples",
                                       "eval_samples",    "evaluate",         "measure",         NULL};
    if ((rc = only(e, p, "", keys)) || (rc = get_target(e, p, &req->tr, &req->time_limit_ms)) ||
        (rc = get_abs_path(e, p, "out", "out", req->out, sizeof(req->out), false)) ||
        (rc = get_deploy_opts(e, p, "", req)))
      return rc;
    if (!req->out[0] && (req->finetune_epochs >= 0 || req->finetune_samples >= 0 || req->eval_samples >= 0 ||
                         req->evaluate >= 0))
      return bad(e, req->finetune_epochs >= 0 ? "finetune_epochs" : "out",
                 "fine-tuning and evaluation need out (the ONNX file to write)");
    json_t *ms = json_object_get(p, "measure");
    if (ms && !json_is_boolean(ms))
      return bad(e, "measure", "expected a boolean, got %s", type_name(ms));
    req->measure = ms && json_is_true(ms);
    if (req->measure && strcmp(req->tr.device, "host"))
      return bad(e, "measure", "only the host can be measured (device is '%s')", req->tr.device);
    if (req->measure && !hant_transform_req_budget(&req->tr, HANT_BUDGET_LATENCY))
      return bad(e, "measure", "the measured-latency correction needs a latency budget");
    if (req->time_limit_ms >= 0)
      req->tr.time_limit_ms = req->time_limit_ms;
    return 0;
  }
  case HANT_RPC_PARETO: {
    static const char *const keys[] = {"device", "axis", "budgets", "fps", "grid_g_per_kwh",
                                       "options", "points", "respect_budgets", NULL};
    if ((rc = only(e, p, "", keys)) || (rc = get_target(e, p, &req->tr, &req->time_limit_ms)))
      return rc;
    char axis[32] = "";
    if ((rc = get_string(e, p, "axis", "axis", axis, sizeof(axis), true)))
      return rc;
    req->axis = hant_budget_kind_from_key(axis);
    if (req->axis != HANT_BUDGET_LATENCY && req->axis != HANT_BUDGET_ENERGY && req->axis != HANT_BUDGET_MEMORY &&
        req->axis != HANT_BUDGET_MACS) {
      char s[64];
      return bad(e, "axis", "'%s': expected latency_ms, energy_mj, memory_bytes or macs", shown(axis, s, sizeof(s)));
    }
    double pts = 20;
    if ((rc = get_number(e, p, "points", "points", 0, 10000, &pts)))
      return rc;
    if (pts != floor(pts))
      return bad(e, "points", "expected a whole number");
    req->points = (int)pts;
    req->respect = true;
    json_t *r = json_object_get(p, "respect_budgets");
    if (r && !json_is_boolean(r))
      return bad(e, "respect_budgets", "expected a boolean, got %s", type_name(r));
    if (r)
      req->respect = json_is_true(r);
    return 0;
  }
  case HANT_RPC_SOLVE: {
    static const char *const keys[] = {"problem", "options", NULL};
    if ((rc = only(e, p, "", keys)))
      return rc;
    req->problem = json_object_get(p, "problem");
    if (!req->problem)
      return bad(e, "problem", "missing; expected a problem object (schema/problem.schema.json)");
    if (!json_is_object(req->problem))
      return bad(e, "problem", "expected an object, got %s", type_name(req->problem));
    json_t *o = json_object_get(p, "options");
    req->points = 0;
    req->respect = true;
    if (o) {
      static const char *const opts[] = {"time_limit_ms", "pareto", "points", "respect_budgets", NULL};
      if (!json_is_object(o))
        return bad(e, "options", "expected an object, got %s", type_name(o));
      double pts = 0;
      if ((rc = only(e, o, "options.", opts)) ||
          (rc = get_number(e, o, "time_limit_ms", "options.time_limit_ms", 0, 600000, &req->time_limit_ms)) ||
          (rc = get_string(e, o, "pareto", "options.pareto", req->pareto_key, sizeof(req->pareto_key), false)) ||
          (rc = get_number(e, o, "points", "options.points", 0, 10000, &pts)))
        return rc;
      if (pts != floor(pts))
        return bad(e, "options.points", "expected a whole number");
      req->points = (int)pts;
      json_t *r = json_object_get(o, "respect_budgets");
      if (r && !json_is_boolean(r))
        return bad(e, "options.respect_budgets", "expected a boolean, got %s", type_name(r));
      if (r)
        req->respect = json_is_true(r);
    }
    return 0;
  }
  case HANT_RPC_LIBRARY: {
    static const char *const keys[] = {"candidates", NULL};
    if ((rc = only(e, p, "", keys)))
      return rc;
    json_t *c = json_object_get(p, "candidates");
    if (c && !json_is_boolean(c))
      return bad(e, "candidates", "expected a boolean, got %s", type_name(c));
    req->list_candidates = c && json_is_true(c);
    return 0;
  }
  case HANT_RPC_DEVICES:
  case HANT_RPC_STATUS:
  case HANT_RPC_VERSION: return only(e, p, "", none);
  case HANT_RPC_JOBS_LIST: {
    static const char *const keys[] = {"state", "limit", NULL};
    char st[16] = "";
    double limit = 50;
    if ((rc = only(e, p, "", keys)) || (rc = get_string(e, p, "state", "state", st, sizeof(st), false)) ||
        (rc = get_number(e, p, "limit", "limit", 1, 10000, &limit)))
      return rc;
    req->jobs_state = -1;
    if (*st) {
      req->jobs_state = (int)hant_job_state_from_name(st);
      if (req->jobs_state == HANT_JOB_STATE_COUNT)
        return bad(e, "state", "expected queued, running, done, failed or canceled");
    }
    req->jobs_limit = (int)limit;
    return 0;
  }
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT:
  case HANT_RPC_JOBS_CANCEL: {
    static const char *const keys[] = {"id", NULL};
    if ((rc = only(e, p, "", keys)) || (rc = get_job_id(e, p, &req->job_id)))
      return rc;
    return 0;
  }
  case HANT_RPC_JOBS_SUBMIT: {
    static const char *const keys[] = {"kind", "params", NULL};
    if ((rc = only(e, p, "", keys)) ||
        (rc = get_string(e, p, "kind", "kind", req->submit_kind, sizeof(req->submit_kind), true)))
      return rc;
    json_t *jp = json_object_get(p, "params");
    if (!jp || !json_is_object(jp))
      return bad(e, "params", jp ? "expected an object, got %s" : "missing; expected an object%s",
                 jp ? type_name(jp) : "");
    json_t *canon = json_object();
    if (!canon)
      return HANT_RPC_INTERNAL;
    if (!strcmp(req->submit_kind, "eval")) {
      static const char *const ek[] = {"model", "split", "samples", "data", NULL};
      char model[1024] = "", split[8] = "test", data[1024] = "fmnist";
      double samples = 0;
      if ((rc = only(e, jp, "params.", ek)) ||
          (rc = get_abs_path(e, jp, "model", "params.model", model, sizeof(model), true)) ||
          (rc = get_string(e, jp, "split", "params.split", split, sizeof(split), false)) ||
          (rc = get_number(e, jp, "samples", "params.samples", 0, 1e7, &samples)) ||
          (rc = get_string(e, jp, "data", "params.data", data, sizeof(data), false))) {
        json_decref(canon);
        return rc;
      }
      if (strcmp(split, "test") && strcmp(split, "val") && strcmp(split, "train")) {
        json_decref(canon);
        return bad(e, "params.split", "expected test, val or train");
      }
      if (samples != floor(samples)) {
        json_decref(canon);
        return bad(e, "params.samples", "expected a whole number");
      }
      if (strcmp(data, "fmnist") && data[0] != '/') {
        json_decref(canon);
        return bad(e, "params.data", "expected fmnist or an absolute directory");
      }
      json_object_set_new(canon, "model", json_string(model));
      json_object_set_new(canon, "split", json_string(split));
      json_object_set_new(canon, "samples", json_integer((json_int_t)samples));
      json_object_set_new(canon, "data", json_string(data));
    } else if (!strcmp(req->submit_kind, "transform")) {
      static const char *const tk[] = {"candidates",   "out",      "finetune_epochs", "finetune_samples",
                                       "eval_samples", "evaluate", NULL};
      char out[1024] = "";
      json_t *c = json_object_get(jp, "candidates");
      if ((rc = only(e, jp, "params.", tk)) ||
          (rc = get_abs_path(e, jp, "out", "params.out", out, sizeof(out), true)) ||
          (rc = get_deploy_opts(e, jp, "params.", req))) {
        json_decref(canon);
        return rc;
      }
      if (!json_is_array(c) || !json_array_size(c) || json_array_size(c) > 100000) {
        json_decref(canon);
        return bad(e, "params.candidates", "expected a non-empty array of candidate ids, one per slot");
      }
      json_t *ids = json_array();
      size_t i;
      json_t *v;
      json_array_foreach(c, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
          json_decref(ids);
          json_decref(canon);
          char f[48];
          snprintf(f, sizeof(f), "params.candidates[%zu]", i);
          return bad(e, f, "expected a candidate id, got %s", type_name(v));
        }
        json_array_append_new(ids, json_integer(json_integer_value(v)));
      }
      json_object_set_new(canon, "candidates", ids);
      json_object_set_new(canon, "out", json_string(out));
      put_deploy_opts(canon, req);
    } else {
      json_decref(canon);
      char s[64];
      return bad(e, "kind", "'%s': expected eval or transform", shown(req->submit_kind, s, sizeof(s)));
    }
    req->submit_params = dump(canon);
    json_decref(canon);
    return req->submit_params ? 0 : HANT_RPC_INTERNAL;
  }
  case HANT_RPC_METHOD_COUNT: break;
  }
  return HANT_RPC_INTERNAL;
}

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
  if (json_is_array(root)) {
    code = HANT_RPC_INVALID_REQUEST;
    why = "invalid request: batches are not supported; send one request object per line";
    goto fail;
  }
  if (!json_is_object(root)) {
    code = HANT_RPC_INVALID_REQUEST;
    snprintf(msgbuf, sizeof(msgbuf), "invalid request: expected an object, got %s", type_name(root));
    why = msgbuf;
    goto fail;
  }
  /* The id first, so that later errors can carry it. */
  json_t *id = json_object_get(root, "id");
  if (id) {
    if (!json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
      code = HANT_RPC_INVALID_REQUEST;
      snprintf(msgbuf, sizeof(msgbuf), "invalid request: id: expected a string, a whole number or null, got %s",
               type_name(id));
      why = msgbuf;
      goto fail;
    }
    if (json_is_string(id) && json_string_length(id) > 256) {
      code = HANT_RPC_INVALID_REQUEST;
      why = "invalid request: id: longer than 256 bytes";
      goto fail;
    }
    if (!(req->id = dump(id))) {
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
               shown(k, s, sizeof(s)));
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
  req->method = HANT_RPC_METHOD_COUNT;
  for (int i = 0; i < HANT_RPC_METHOD_COUNT; i++)
    if (!strcmp(json_string_value(m), method_names[i]))
      req->method = (hant_rpc_method)i;
  if (req->method == HANT_RPC_METHOD_COUNT) {
    char s[64];
    code = HANT_RPC_METHOD_NOT_FOUND;
    snprintf(msgbuf, sizeof(msgbuf),
             "method not found: '%s'; methods: transform, pareto, solve, devices, library, status, version, "
             "jobs.list, jobs.get, jobs.wait, jobs.cancel, jobs.submit",
             shown(json_string_value(m), s, sizeof(s)));
    why = msgbuf;
    goto fail;
  }
  json_t *params = json_object_get(root, "params");
  if (params && !json_is_object(params)) {
    code = HANT_RPC_INVALID_PARAMS;
    snprintf(msgbuf, sizeof(msgbuf), "invalid params: params: expected an object (by-name parameters), got %s",
             type_name(params));
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
  if (req->method != HANT_RPC_TRANSFORM || req->out[0])
    return NULL;
  const hant_transform_req *t = &req->tr;
  char b[HANT_BUDGET_KIND_COUNT][40];
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
    const hant_budget *x = hant_transform_req_budget(t, (hant_budget_kind)k);
    if (x)
      snprintf(b[k], sizeof(b[k]), "%.17g", x->value);
    else
      snprintf(b[k], sizeof(b[k]), "-");
  }
  return dupf("transform|v=%lld|d=%s|b=%s,%s,%s,%s,%s|f=%.17g|g=%.17g|m=%s|t=%.17g", (long long)library_version,
              t->device, b[0], b[1], b[2], b[3], b[4], t->fps, t->grid_g_per_kwh, t->power_mode, t->time_limit_ms);
}

/* ---- answers ---------------------------------------------------------------- */

void hant_rpc_reply_init(hant_rpc_reply *r) {
  memset(r, 0, sizeof(*r));
  r->job_id = -1;
}

void hant_rpc_reply_free(hant_rpc_reply *r) {
  if (!r)
    return;
  free(r->line);
  free(r->cache_body);
  r->line = r->cache_body = NULL;
}

static int reply_error(const hant_rpc_req *req, hant_rpc_reply *r, int code, const char *msg, const char *field) {
  r->error = code;
  if (req->id)
    r->line = hant_rpc_error_line(req->id, code, msg, field);
  return req->id && !r->line ? HANT_ENOMEM : 0;
}

/* Takes ownership of result (a JSON object) and answers with it. */
static int reply_result(const hant_rpc_req *req, hant_rpc_reply *r, json_t *result) {
  if (!result)
    return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  char *s = dump(result);
  json_decref(result);
  if (!s)
    return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  if (req->id)
    r->line = hant_rpc_result_line(req->id, s);
  free(s);
  return req->id && !r->line ? HANT_ENOMEM : 0;
}

/* Maps a libhant error of a library method to an answer. */
static int reply_hant_error(const hant_rpc_req *req, hant_rpc_reply *r, int rc, int enoent_code) {
  const char *msg = hant_errmsg();
  char field[96] = "";
  int code;
  switch (rc) {
  case HANT_ENOENT: code = enoent_code; break;
  case HANT_EINVAL:
  case HANT_EFORMAT:
  case HANT_ELIMIT:
    code = HANT_RPC_INVALID_PARAMS;
    /* Messages of request checks start with the field: "fps: ...". */
    if (*msg) {
      size_t n = strcspn(msg, ": ");
      if (n < sizeof(field) && msg[n] == ':') {
        memcpy(field, msg, n);
        field[n] = '\0';
      }
    }
    break;
  case HANT_EBUSY: code = HANT_RPC_BUSY; break;
  case HANT_ENOMEM: code = HANT_RPC_INTERNAL; break;
  default: code = HANT_RPC_SERVER; break;
  }
  char buf[700];
  if (code == HANT_RPC_INVALID_PARAMS)
    snprintf(buf, sizeof(buf), "invalid params: %s", *msg ? msg : hant_strerror(rc));
  else
    snprintf(buf, sizeof(buf), "%s", *msg ? msg : hant_strerror(rc));
  return reply_error(req, r, code, buf, field[0] ? field : NULL);
}

static json_t *budgets_json(const hant_transform_req *t) {
  json_t *o = json_object();
  for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
    const hant_budget *b = hant_transform_req_budget(t, (hant_budget_kind)k);
    if (b)
      json_object_set_new(o, hant_budget_kind_key((hant_budget_kind)k), num(b->value));
  }
  return o;
}

static json_t *hparams_json(const char *text) {
  json_t *h = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  return h ? h : json_string(text);
}

static int exec_transform(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const hant_library *lib = ctx->lib;
  if (!lib->has_teacher || !lib->n_cands)
    return reply_error(req, r, HANT_RPC_LIBRARY_EMPTY,
                       "the library is empty: build one with 'hant-distill build --teacher T --db LIBRARY.db', "
                       "profile a device with 'hant-distill profile', then send SIGHUP to hantd",
                       NULL);
  hant_transform_req tr = req->tr;
  if (!(tr.time_limit_ms > 0) && req->time_limit_ms < 0)
    tr.time_limit_ms = ctx->default_time_limit_ms;
  /* The measured-latency correction calls deploy directly from the
   * solver; the snapshot's teacher is loaded once for every round. */
  hant_deploy_measurer measurer = {lib, ctx->st};
  if (req->measure) {
    if (!ctx->st)
      return reply_error(req, r, HANT_RPC_INTERNAL, "measuring needs the library's database", NULL);
    tr.measure = hant_deploy_measure_choice;
    tr.measure_user = &measurer;
  }
  hant_transform_result res;
  hant_transform_result_init(&res);
  hant_errmsg_clear();
  int rc = hant_transform_solve(lib, &tr, &res);
  if (rc) {
    hant_transform_result_free(&res);
    return reply_hant_error(req, r, rc, HANT_RPC_NO_COSTS);
  }
  const hant_library_device *dev = hant_library_device_find(lib, tr.device);
  const hant_library_mode *md = &dev->modes[res.mode];
  json_t *o = json_object();
  json_object_set_new(o, "status", json_string(hant_select_status_name(res.status)));
  json_object_set_new(o, "device", json_string(tr.device));
  json_object_set_new(o, "power_mode", res.power_mode[0] && res.has_choice ? json_string(res.power_mode) : json_null());
  json_object_set_new(o, "budgets", budgets_json(&tr));
  json_object_set_new(o, "fps", tr.fps > 0 ? num(tr.fps) : json_null());
  json_object_set_new(o, "grid_g_per_kwh", num(res.grid_g_per_kwh));
  if (req->measure) {
    /* The measured-latency correction: how many solves it took, and the
     * assembled network's latency measured on this machine. */
    json_t *m = json_object();
    json_object_set_new(m, "rounds", json_integer(res.measure_rounds));
    json_object_set_new(m, "latency_ms", res.measure_rounds ? num(res.measured_latency_ms) : json_null());
    json_object_set_new(m, "fits", json_boolean(res.measured_fits));
    json_object_set_new(o, "measured_latency", m);
  }
  if (res.has_choice) {
    json_t *slots = json_array();
    for (int s = 0; s < res.n_slots; s++) {
      const hant_cand_rec *c = &lib->cands[res.choice[s]];
      json_t *e = json_object();
      json_object_set_new(e, "slot", json_string(lib->slots[s].name));
      json_object_set_new(e, "candidate", json_integer(c->id));
      json_object_set_new(e, "key", json_string(c->key));
      json_object_set_new(e, "family", json_string(c->family));
      json_object_set_new(e, "hparams", hparams_json(c->hparams));
      json_object_set_new(e, "score", num(c->score));
      json_object_set_new(e, "latency_ms", num(md->latency_ms[res.choice[s]]));
      json_object_set_new(e, "energy_mj", num(md->energy_mj[res.choice[s]]));
      json_object_set_new(e, "memory_bytes", num(md->memory_bytes[res.choice[s]]));
      json_object_set_new(e, "macs", num(c->macs));
      json_array_append_new(slots, e);
    }
    json_object_set_new(o, "slots", slots);
    json_object_set_new(o, "teacher_accuracy", num(res.teacher_accuracy));
    json_object_set_new(o, "predicted_accuracy", num(res.predicted_accuracy));
    json_object_set_new(o, "score", num(res.totals.score));
    json_t *t = json_object();
    json_object_set_new(t, "latency_ms", num(res.totals.latency_ms));
    json_object_set_new(t, "latency_sum_ms", num(res.totals.latency_sum_ms));
    json_object_set_new(t, "energy_mj", num(res.totals.energy_mj));
    json_object_set_new(t, "power_w", num(res.totals.power_w));
    json_object_set_new(t, "sustained_power_w", tr.fps > 0 ? num(res.totals.sustained_power_w) : json_null());
    json_object_set_new(t, "memory_bytes", num(res.totals.memory_bytes));
    json_object_set_new(t, "macs", num(res.totals.macs));
    json_object_set_new(o, "totals", t);
    json_object_set_new(o, "co2e_g_per_million", num(res.co2e_g_per_million));
  } else {
    json_object_set_new(o, "slots", json_null());
    json_object_set_new(o, "teacher_accuracy", num(res.teacher_accuracy));
    json_object_set_new(o, "predicted_accuracy", json_null());
    json_object_set_new(o, "totals", json_null());
  }
  if (res.status == HANT_SELECT_INFEASIBLE) {
    json_t *mt = json_object(), *ob = json_array();
    for (int k = 0; k < HANT_BUDGET_KIND_COUNT; k++) {
      if (!hant_transform_req_budget(&tr, (hant_budget_kind)k) && !(k == HANT_BUDGET_LATENCY && tr.fps > 0))
        continue;
      json_object_set_new(mt, hant_budget_kind_key((hant_budget_kind)k), num(res.min_totals[k]));
      if (res.over_budget[k])
        json_array_append_new(ob, json_string(hant_budget_kind_key((hant_budget_kind)k)));
    }
    json_object_set_new(o, "min_totals", mt);
    json_object_set_new(o, "over_budget", ob);
    json_object_set_new(o, "jointly_infeasible", json_boolean(res.jointly_infeasible));
  }
  json_object_set_new(o, "gap", num(res.gap));
  json_object_set_new(o, "nodes", json_integer((json_int_t)res.nodes));
  json_object_set_new(o, "modes_tried", json_integer(res.n_modes_tried));
  json_object_set_new(o, "idle_w", md->idle_w >= 0 && res.has_choice ? num(md->idle_w) : json_null());
  json_object_set_new(o, "skipped_candidates", json_integer(res.skipped));
  if (res.latency_corrected) {
    json_t *lc = json_object();
    json_object_set_new(lc, "factor", num(res.correction_factor));
    json_object_set_new(lc, "overhead_ms", num(res.correction_overhead_ms));
    json_object_set_new(o, "latency_correction", lc);
  } else {
    json_object_set_new(o, "latency_correction", json_null());
  }
  json_object_set_new(o, "solve_ms", num(res.solve_ms));
  json_object_set_new(o, "library_version", json_integer(res.library_version));
  /* Assembly and export run as a job. */
  if (req->out[0] && res.has_choice) {
    if (!ctx->st) {
      json_decref(o);
      hant_transform_result_free(&res);
      return reply_error(req, r, HANT_RPC_SERVER, "out: this server cannot run jobs (no database)", "out");
    }
    json_t *jp = json_object(), *ids = json_array();
    for (int s = 0; s < res.n_slots; s++)
      json_array_append_new(ids, json_integer(lib->cands[res.choice[s]].id));
    json_object_set_new(jp, "candidates", ids);
    json_object_set_new(jp, "out", json_string(req->out));
    json_object_set_new(jp, "device", json_string(tr.device));
    json_object_set_new(jp, "power_mode", json_string(res.power_mode));
    json_object_set_new(jp, "library_version", json_integer(lib->version));
    json_object_set_new(jp, "predicted_accuracy", num(res.predicted_accuracy));
    json_object_set_new(jp, "teacher_accuracy", num(res.teacher_accuracy));
    put_deploy_opts(jp, req);
    char *ps = dump(jp);
    json_decref(jp);
    int64_t jid = -1;
    rc = ps ? hant_store_job_add(ctx->st, "transform", ps, ctx->max_queued_jobs, &jid) : HANT_ENOMEM;
    free(ps);
    if (rc) {
      json_decref(o);
      hant_transform_result_free(&res);
      return reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    }
    json_t *job = json_object();
    json_object_set_new(job, "id", json_integer(jid));
    json_object_set_new(job, "state", json_string("queued"));
    json_object_set_new(job, "out", json_string(req->out));
    json_object_set_new(o, "job", job);
    r->job_id = jid;
    if (ctx->host && ctx->host->job_added)
      ctx->host->job_added(ctx->host->data, jid);
  } else {
    json_object_set_new(o, "job", json_null());
  }
  /* A time-limited answer depends on the machine's load: never cache it. */
  bool cacheable = !req->out[0] && !req->measure && res.status != HANT_SELECT_TIME_LIMIT;
  hant_transform_result_free(&res);
  /* The body without its last '}', then the cache flag last, so a cached
   * copy can be served with the flag set. */
  char *s = dump(o);
  json_decref(o);
  if (!s)
    return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  size_t n = strlen(s);
  s[n - 1] = ',';
  char *body = dupf("%s" CACHE_SUFFIX_MISS, s);
  if (cacheable)
    r->cache_body = s;
  else
    free(s);
  if (!body)
    return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  if (req->id)
    r->line = hant_rpc_result_line(req->id, body);
  free(body);
  return req->id && !r->line ? HANT_ENOMEM : 0;
}

static int exec_pareto(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const hant_library *lib = ctx->lib;
  if (!lib->has_teacher || !lib->n_cands)
    return reply_error(req, r, HANT_RPC_LIBRARY_EMPTY, "the library is empty: build one with 'hant-distill build'",
                       NULL);
  hant_transform_front *f = NULL;
  hant_errmsg_clear();
  int rc = hant_transform_front_new(lib, &req->tr, req->axis, req->points, req->respect, &f);
  if (rc)
    return reply_hant_error(req, r, rc, HANT_RPC_NO_COSTS);
  json_t *o = json_object();
  json_object_set_new(o, "device", json_string(req->tr.device));
  json_object_set_new(o, "axis", json_string(hant_budget_kind_key(req->axis)));
  json_object_set_new(o, "respect_budgets", json_boolean(req->respect));
  json_object_set_new(o, "budgets", budgets_json(&req->tr));
  json_object_set_new(o, "teacher_accuracy", num(f->teacher_accuracy));
  json_t *fronts = json_array();
  for (int m = 0; m < f->n_modes; m++) {
    const hant_transform_front_mode *fm = &f->modes[m];
    json_t *fo = json_object(), *pts = json_array();
    json_object_set_new(fo, "power_mode", fm->power_mode[0] ? json_string(fm->power_mode) : json_null());
    json_object_set_new(fo, "exact", json_boolean(!fm->approximate));
    json_object_set_new(fo, "cost_error", num(fm->cost_error));
    json_object_set_new(fo, "infeasible", json_boolean(fm->infeasible));
    for (int i = 0; i < fm->n_points; i++) {
      json_t *p = json_object(), *ids = json_array();
      json_object_set_new(p, "cost", num(fm->cost[i]));
      json_object_set_new(p, "score", num(fm->score[i]));
      json_object_set_new(p, "predicted_accuracy", num(f->teacher_accuracy + fm->score[i]));
      for (int s = 0; s < f->n_slots; s++)
        json_array_append_new(ids, json_integer(lib->cands[fm->choice[(size_t)i * (size_t)f->n_slots + (size_t)s]].id));
      json_object_set_new(p, "candidates", ids);
      json_array_append_new(pts, p);
    }
    json_object_set_new(fo, "points", pts);
    json_array_append_new(fronts, fo);
  }
  json_object_set_new(o, "fronts", fronts);
  json_object_set_new(o, "solve_ms", num(f->solve_ms));
  json_object_set_new(o, "library_version", json_integer(f->library_version));
  hant_transform_front_destroy(f);
  return reply_result(req, r, o);
}

static int exec_solve(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  char *text = dump(req->problem);
  if (!text)
    return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  struct hant_problem *p = NULL;
  hant_errmsg_clear();
  int rc = hant_problem_parse(text, strlen(text), "params.problem", NULL, &p);
  free(text);
  if (rc) {
    char buf[700];
    snprintf(buf, sizeof(buf), "invalid params: %s", hant_errmsg());
    return reply_error(req, r, rc == HANT_ENOMEM ? HANT_RPC_INTERNAL : HANT_RPC_INVALID_PARAMS, buf, "problem");
  }
  char *answer = NULL;
  if (req->pareto_key[0]) {
    long key = hant_problem_key_index(p, req->pareto_key);
    if (key < 0) {
      hant_problem_destroy(p);
      return reply_error(req, r, HANT_RPC_INVALID_PARAMS, "invalid params: options.pareto: no item has this cost key",
                         "options.pareto");
    }
    struct hant_select_problem view;
    size_t axis;
    struct hant_select_front *f = NULL;
    if ((rc = hant_problem_view_axis(p, (size_t)key, &view, &axis)) == 0) {
      struct hant_select_front_options opt = {axis, req->respect ? 1 : 0, 0};
      double t0 = hant_now_s();
      rc = hant_select_front_new(&view, &opt, &f);
      if (!rc)
        answer = hant_problem_front_json(p, f, (size_t)key, (size_t)req->points, req->respect ? 1 : 0,
                                         (hant_now_s() - t0) * 1e3);
    }
    hant_select_front_destroy(f);
    if (rc == HANT_EINFEASIBLE) {
      /* Same shape as an infeasible solve, so clients handle one answer. */
      hant_problem_destroy(p);
      json_t *o = json_object();
      json_object_set_new(o, "status", json_string("infeasible"));
      json_object_set_new(o, "message", json_string(hant_errmsg()));
      return reply_result(req, r, o);
    }
  } else {
    struct hant_select_problem view;
    hant_problem_view(p, &view);
    view.time_limit_ms = req->time_limit_ms >= 0  ? req->time_limit_ms
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
    return reply_hant_error(req, r, rc, HANT_RPC_SERVER);
  if (!answer)
    return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  if (req->id)
    r->line = hant_rpc_result_line(req->id, answer);
  free(answer);
  return req->id && !r->line ? HANT_ENOMEM : 0;
}

/* A digest of a device's batch-1 costs (every mode, every costed candidate
 * by id), so that a client can tell when one device's costs changed
 * without the library version, which any device's profiling bumps. */
static void costs_digest(const hant_library *lib, const hant_library_device *dev, char out[65]) {
  hant_sha256 h;
  hant_sha256_init(&h);
  char buf[160];
  for (int m = 0; m < dev->n_modes; m++) {
    const hant_library_mode *md = &dev->modes[m];
    int k = snprintf(buf, sizeof(buf), "mode %s\n", md->name);
    hant_sha256_update(&h, buf, (size_t)k);
    for (int j = 0; j < lib->n_cands; j++) {
      int i = lib->by_id[j];
      if (!md->has[i])
        continue;
      k = snprintf(buf, sizeof(buf), "%lld %.17g %.17g %.17g\n", (long long)lib->cands[i].id, md->latency_ms[i],
                   md->energy_mj[i], md->memory_bytes[i]);
      hant_sha256_update(&h, buf, (size_t)k);
    }
  }
  if (dev->has_additivity) {
    int k = snprintf(buf, sizeof(buf), "additivity %.17g %.17g\n", dev->additivity.factor,
                     dev->additivity.overhead_ms);
    hant_sha256_update(&h, buf, (size_t)k);
  }
  hant_sha256_hex(&h, out);
}

/* The teacher's own predicted cost on a device, per mode: the sum of its
 * teacher-copy candidates (family "teacher", key "teacher") with the
 * additivity correction; null for a mode where a slot has none costed. */
static json_t *teacher_costs_json(const hant_library *lib, const hant_library_device *dev) {
  json_t *a = json_array();
  for (int m = 0; m < dev->n_modes; m++) {
    const hant_library_mode *md = &dev->modes[m];
    double lat = 0, en = 0;
    int found = 0;
    for (int s = 0; s < lib->n_slots; s++)
      for (int j = 0; j < lib->slot_count[s]; j++) {
        int i = lib->slot_first[s] + j;
        if (!strcmp(lib->cands[i].family, "teacher") && !strcmp(lib->cands[i].key, "teacher") && md->has[i]) {
          lat += md->latency_ms[i];
          en += md->energy_mj[i];
          found++;
          break;
        }
      }
    if (found != lib->n_slots)
      continue;
    if (dev->has_additivity)
      lat = dev->additivity.factor * lat + dev->additivity.overhead_ms;
    json_t *t = json_object();
    json_object_set_new(t, "power_mode", json_string(md->name));
    json_object_set_new(t, "latency_ms", num(lat));
    json_object_set_new(t, "energy_mj", num(en));
    json_array_append_new(a, t);
  }
  return a;
}

static json_t *device_json(const hant_library *lib, const hant_library_device *dev) {
  json_t *o = json_object();
  json_object_set_new(o, "teacher_costs", teacher_costs_json(lib, dev));
  char digest[65];
  costs_digest(lib, dev, digest);
  json_object_set_new(o, "profile_sha256", json_string(dev->profile_sha256));
  json_object_set_new(o, "costs_sha256", json_string(digest));
  json_object_set_new(o, "name", json_string(dev->name));
  json_object_set_new(o, "in_library", json_true());
  json_object_set_new(o, "costed", json_boolean(dev->n_modes > 0));
  json_object_set_new(o, "cost_sources", json_string(dev->sources));
  if (dev->profile) {
    json_object_set_new(o, "kind", json_string(dev->profile->kind));
    json_object_set_new(o, "description", json_string(dev->profile->description));
    json_object_set_new(o, "idle_w", num(dev->profile->idle_w));
    json_object_set_new(o, "active_w", num(dev->profile->active_w));
    json_object_set_new(o, "profile_error", json_null());
  } else {
    json_object_set_new(o, "profile_error", json_string(dev->profile_error));
  }
  json_t *modes = json_array();
  for (int m = 0; m < dev->n_modes; m++) {
    json_t *mo = json_object();
    json_object_set_new(mo, "name", json_string(dev->modes[m].name));
    json_object_set_new(mo, "idle_w", dev->modes[m].idle_w >= 0 ? num(dev->modes[m].idle_w) : json_null());
    json_object_set_new(mo, "candidates_costed", json_integer(dev->modes[m].n_costed));
    json_array_append_new(modes, mo);
  }
  json_object_set_new(o, "power_modes", modes);
  json_object_set_new(o, "candidates", json_integer(lib->n_cands));
  if (dev->has_additivity) {
    json_t *a = json_object();
    json_object_set_new(a, "factor", num(dev->additivity.factor));
    json_object_set_new(a, "overhead_ms", num(dev->additivity.overhead_ms));
    json_object_set_new(a, "networks", json_integer(dev->additivity.networks));
    json_object_set_new(a, "corrected_median", num(dev->additivity.corrected_median));
    json_object_set_new(o, "latency_correction", a);
  } else {
    json_object_set_new(o, "latency_correction", json_null());
  }
  return o;
}

static int exec_devices(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const hant_library *lib = ctx->lib;
  json_t *o = json_object(), *devs = json_array(), *profiles = json_array();
  for (int d = 0; d < lib->n_devices; d++)
    json_array_append_new(devs, device_json(lib, &lib->devices[d]));
  for (int i = 0; i < lib->n_profiles; i++) {
    json_t *p = json_object();
    json_object_set_new(p, "name", json_string(lib->profiles[i]));
    json_object_set_new(p, "in_library", json_boolean(hant_library_device_find(lib, lib->profiles[i]) != NULL));
    json_array_append_new(profiles, p);
  }
  json_object_set_new(o, "devices", devs);
  json_object_set_new(o, "profiles", profiles);
  json_object_set_new(o, "library_version", json_integer(lib->version));
  return reply_result(req, r, o);
}

static int exec_library(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  const hant_library *lib = ctx->lib;
  json_t *o = json_object();
  json_object_set_new(o, "path", json_string(lib->path));
  json_object_set_new(o, "version", json_integer(lib->version));
  json_object_set_new(o, "empty", json_boolean(!lib->has_teacher || !lib->n_cands));
  if (lib->has_teacher) {
    const hant_teacher_rec *t = &lib->teacher;
    json_t *to = json_object();
    json_object_set_new(to, "path", json_string(t->path));
    json_object_set_new(to, "sha256", json_string(t->sha256));
    json_object_set_new(to, "format", json_string(t->format));
    char shape[64];
    snprintf(shape, sizeof(shape), "%dx%dx%d", t->input_c, t->input_h, t->input_w);
    json_object_set_new(to, "input", json_string(shape));
    json_object_set_new(to, "classes", json_integer(t->classes));
    json_object_set_new(to, "macs", num(t->macs));
    json_object_set_new(to, "params", json_integer(t->params));
    json_object_set_new(to, "val_accuracy", num(t->val_accuracy));
    json_object_set_new(to, "val_split", json_string(t->val_split));
    json_object_set_new(o, "teacher", to);
  } else {
    json_object_set_new(o, "teacher", json_null());
  }
  json_t *slots = json_array();
  for (int s = 0; s < lib->n_slots; s++) {
    json_t *so = json_object(), *fam = json_object();
    json_object_set_new(so, "name", json_string(lib->slots[s].name));
    json_object_set_new(so, "kind", json_string(lib->slots[s].kind));
    json_object_set_new(so, "arch", json_string(lib->slots[s].arch));
    json_object_set_new(so, "candidates", json_integer(lib->slot_count[s]));
    json_t *list = req->list_candidates ? json_array() : NULL;
    for (int j = 0; j < lib->slot_count[s]; j++) {
      const hant_cand_rec *c = &lib->cands[lib->slot_first[s] + j];
      json_t *n = json_object_get(fam, c->family);
      json_object_set_new(fam, c->family, json_integer(n ? json_integer_value(n) + 1 : 1));
      if (list) {
        json_t *co = json_object();
        json_object_set_new(co, "id", json_integer(c->id));
        json_object_set_new(co, "key", json_string(c->key));
        json_object_set_new(co, "family", json_string(c->family));
        json_object_set_new(co, "hparams", hparams_json(c->hparams));
        json_object_set_new(co, "score", num(c->score));
        json_object_set_new(co, "macs", num(c->macs));
        json_object_set_new(co, "params", json_integer(c->params));
        json_array_append_new(list, co);
      }
    }
    json_object_set_new(so, "families", fam);
    if (list)
      json_object_set_new(so, "list", list);
    json_array_append_new(slots, so);
  }
  json_object_set_new(o, "slots", slots);
  json_object_set_new(o, "candidates", json_integer(lib->n_cands));
  json_t *devs = json_array();
  for (int d = 0; d < lib->n_devices; d++)
    json_array_append_new(devs, json_string(lib->devices[d].name));
  json_object_set_new(o, "devices", devs);
  json_object_set_new(o, "load_ms", num(lib->load_ms));
  return reply_result(req, r, o);
}

char *hant_rpc_status_json(const hant_rpc_status *s) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "version", json_string(hant_version()));
  json_object_set_new(o, "uptime_s", num(s->uptime_s));
  json_object_set_new(o, "requests", json_integer((json_int_t)s->requests));
  json_object_set_new(o, "errors", json_integer((json_int_t)s->errors));
  json_object_set_new(o, "cache_hits", json_integer((json_int_t)s->cache_hits));
  json_object_set_new(o, "cache_misses", json_integer((json_int_t)s->cache_misses));
  json_object_set_new(o, "cache_entries", json_integer((json_int_t)s->cache_entries));
  json_object_set_new(o, "cache_capacity", json_integer((json_int_t)s->cache_capacity));
  json_object_set_new(o, "queue_depth", json_integer((json_int_t)s->queue_depth));
  json_object_set_new(o, "queue_capacity", json_integer((json_int_t)s->queue_capacity));
  json_object_set_new(o, "workers", json_integer(s->workers));
  json_object_set_new(o, "workers_busy", json_integer(s->workers_busy));
  json_object_set_new(o, "busy_rejections", json_integer((json_int_t)s->busy_rejections));
  json_object_set_new(o, "connections", json_integer(s->connections));
  json_object_set_new(o, "jobs_queued", json_integer(s->jobs_queued));
  json_object_set_new(o, "jobs_running", json_integer(s->jobs_running));
  json_object_set_new(o, "job_workers", json_integer(s->job_workers));
  json_object_set_new(o, "library_version", json_integer(s->library_version));
  json_object_set_new(o, "library_load_ms", num(s->library_load_ms));
  json_object_set_new(o, "reloads", json_integer((json_int_t)s->reloads));
  json_object_set_new(o, "db", s->db ? json_string(s->db) : json_null());
  json_object_set_new(o, "socket", s->socket ? json_string(s->socket) : json_null());
  json_object_set_new(o, "stopping", json_boolean(s->stopping));
  char *t = dump(o);
  json_decref(o);
  return t;
}

char *hant_rpc_version_json(int64_t library_version, int schema_version) {
  return dupf("{\"hantd\":\"%s\",\"protocol\":%d,\"library_version\":%lld,\"schema_version\":%d}", hant_version(),
              HANT_RPC_PROTOCOL_VERSION, (long long)library_version, schema_version);
}

static json_t *job_object(const hant_job_rec *j) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(j->id));
  json_object_set_new(o, "kind", json_string(j->kind));
  json_object_set_new(o, "state", json_string(hant_job_state_name(j->state)));
  json_object_set_new(o, "progress", num(j->progress));
  json_object_set_new(o, "note", json_string(j->note));
  json_t *p = j->params ? json_loads(j->params, 0, NULL) : NULL;
  json_object_set_new(o, "params", p ? p : json_null());
  json_t *res = j->result ? json_loads(j->result, 0, NULL) : NULL;
  json_object_set_new(o, "result", res ? res : json_null());
  json_object_set_new(o, "error", j->error ? json_string(j->error) : json_null());
  json_object_set_new(o, "attempts", json_integer(j->attempts));
  json_object_set_new(o, "created", json_string(j->created));
  json_object_set_new(o, "started", j->started[0] ? json_string(j->started) : json_null());
  json_object_set_new(o, "finished", j->finished[0] ? json_string(j->finished) : json_null());
  return o;
}

char *hant_rpc_job_json(const hant_job_rec *j) {
  json_t *o = job_object(j);
  char *s = dump(o);
  json_decref(o);
  return s;
}

char *hant_rpc_progress_line(const hant_job_rec *j) {
  json_t *o = json_object(), *p = json_object();
  json_object_set_new(o, "jsonrpc", json_string("2.0"));
  json_object_set_new(o, "method", json_string("jobs.progress"));
  json_object_set_new(p, "id", json_integer(j->id));
  json_object_set_new(p, "state", json_string(hant_job_state_name(j->state)));
  json_object_set_new(p, "progress", num(j->progress));
  json_object_set_new(p, "note", json_string(j->note));
  json_object_set_new(o, "params", p);
  char *s = dump(o);
  json_decref(o);
  return s;
}

static bool job_finished(hant_job_state s) {
  return s == HANT_JOB_DONE || s == HANT_JOB_FAILED || s == HANT_JOB_CANCELED;
}

static int exec_jobs(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  if (!ctx->st)
    return reply_error(req, r, HANT_RPC_SERVER, "this server keeps no jobs (no database)", NULL);
  int rc;
  hant_errmsg_clear();
  switch (req->method) {
  case HANT_RPC_JOBS_LIST: {
    hant_job_rec *jobs = NULL;
    int n = 0;
    if ((rc = hant_store_jobs(ctx->st, req->jobs_state, req->jobs_limit, &jobs, &n)))
      return reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    json_t *o = json_object(), *a = json_array();
    for (int i = 0; i < n; i++)
      json_array_append_new(a, job_object(&jobs[i]));
    hant_store_jobs_free(jobs, n);
    json_object_set_new(o, "jobs", a);
    return reply_result(req, r, o);
  }
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT: {
    hant_job_rec j;
    r->job_id = req->job_id;
    if ((rc = hant_store_job_get(ctx->st, req->job_id, &j)))
      return reply_hant_error(req, r, rc, HANT_RPC_NO_SUCH_JOB);
    if (req->method == HANT_RPC_JOBS_WAIT && !job_finished(j.state)) {
      hant_job_rec_free(&j);
      r->job_pending = true;
      return 0;
    }
    json_t *o = job_object(&j);
    hant_job_rec_free(&j);
    return reply_result(req, r, o);
  }
  case HANT_RPC_JOBS_CANCEL: {
    hant_job_state before;
    r->job_id = req->job_id;
    if ((rc = hant_store_job_cancel(ctx->st, req->job_id, &before)))
      return reply_hant_error(req, r, rc, HANT_RPC_NO_SUCH_JOB);
    if (before == HANT_JOB_RUNNING && ctx->host && ctx->host->job_cancel)
      ctx->host->job_cancel(ctx->host->data, req->job_id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(req->job_id));
    json_object_set_new(o, "state_before", json_string(hant_job_state_name(before)));
    json_object_set_new(o, "state", json_string(before == HANT_JOB_QUEUED    ? "canceled"
                                                : before == HANT_JOB_RUNNING ? "canceling"
                                                                             : hant_job_state_name(before)));
    return reply_result(req, r, o);
  }
  case HANT_RPC_JOBS_SUBMIT: {
    int64_t id;
    if ((rc = hant_store_job_add(ctx->st, req->submit_kind, req->submit_params, ctx->max_queued_jobs, &id)))
      return reply_hant_error(req, r, rc, HANT_RPC_SERVER);
    r->job_id = id;
    if (ctx->host && ctx->host->job_added)
      ctx->host->job_added(ctx->host->data, id);
    json_t *o = json_object(), *job = json_object();
    json_object_set_new(job, "id", json_integer(id));
    json_object_set_new(job, "kind", json_string(req->submit_kind));
    json_object_set_new(job, "state", json_string("queued"));
    json_object_set_new(o, "job", job);
    return reply_result(req, r, o);
  }
  default: break;
  }
  return reply_error(req, r, HANT_RPC_INTERNAL, "not a job method", NULL);
}

int hant_rpc_exec(const hant_rpc_ctx *ctx, const hant_rpc_req *req, hant_rpc_reply *r) {
  switch (req->method) {
  case HANT_RPC_TRANSFORM: return exec_transform(ctx, req, r);
  case HANT_RPC_PARETO: return exec_pareto(ctx, req, r);
  case HANT_RPC_SOLVE: return exec_solve(ctx, req, r);
  case HANT_RPC_DEVICES: return exec_devices(ctx, req, r);
  case HANT_RPC_LIBRARY: return exec_library(ctx, req, r);
  case HANT_RPC_STATUS:
  case HANT_RPC_VERSION: {
    char *v = req->method == HANT_RPC_STATUS
                  ? hant_rpc_status_json(&ctx->status)
                  : hant_rpc_version_json(ctx->lib->version, ctx->st ? hant_store_schema_version(ctx->st) : -1);
    if (!v)
      return reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
    if (req->id)
      r->line = hant_rpc_result_line(req->id, v);
    free(v);
    return 0;
  }
  case HANT_RPC_JOBS_LIST:
  case HANT_RPC_JOBS_GET:
  case HANT_RPC_JOBS_WAIT:
  case HANT_RPC_JOBS_CANCEL:
  case HANT_RPC_JOBS_SUBMIT: return exec_jobs(ctx, req, r);
  case HANT_RPC_METHOD_COUNT: break;
  }
  return reply_error(req, r, HANT_RPC_INTERNAL, "unknown method", NULL);
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
  int code = hant_rpc_parse(line, len, &req, &err);
  if (code) {
    r->error = code;
    r->line = err;
    return 0;
  }
  int rc = hant_rpc_exec(ctx, req, r);
  hant_rpc_req_destroy(req);
  return rc;
}

/* ---- jobs ----------------------------------------------------------------------- */

int hant_rpc_job_run(hant_store *st, const hant_job_rec *job, int (*progress)(void *user, double f, const char *note),
                     void *user, char **result_json) {
  *result_json = NULL;
  json_error_t jerr;
  json_t *p = json_loads(job->params ? job->params : "", JSON_REJECT_DUPLICATES, &jerr);
  if (!p || !json_is_object(p)) {
    json_decref(p);
    return hant__error(HANT_EFORMAT, "job %lld: params are not a JSON object", (long long)job->id);
  }
  int rc;
  json_t *o = json_object();
  if (!strcmp(job->kind, "transform")) {
    json_t *c = json_object_get(p, "candidates");
    const char *out = json_string_value(json_object_get(p, "out"));
    size_t n = json_array_size(c);
    int64_t *ids = n ? malloc(sizeof(int64_t) * n) : NULL;
    if (!out || !n || !ids) {
      free(ids);
      rc = ids || !n ? hant__error(HANT_EFORMAT, "job %lld: params need candidates and out", (long long)job->id)
                     : HANT_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < n; i++)
      ids[i] = (int64_t)json_integer_value(json_array_get(c, i));
    hant_deploy_opts dopt = {0};
    dopt.finetune_epochs = (int)json_integer_value(json_object_get(p, "finetune_epochs"));
    dopt.finetune_samples = (int)json_integer_value(json_object_get(p, "finetune_samples"));
    dopt.eval_samples = (int)json_integer_value(json_object_get(p, "eval_samples"));
    dopt.evaluate = json_is_true(json_object_get(p, "evaluate"));
    dopt.seed = (uint64_t)job->id;
    hant_deploy_export_info info;
    rc = hant_deploy_transform(st, ids, (int)n, out, &dopt, progress, user, &info);
    free(ids);
    if (rc)
      goto out;
    json_object_set_new(o, "out", json_string(info.out));
    json_object_set_new(o, "format", json_string("onnx"));
    json_object_set_new(o, "bytes", json_integer((json_int_t)info.bytes));
    json_object_set_new(o, "macs", num(info.macs));
    json_object_set_new(o, "params", json_integer(info.params));
    json_object_set_new(o, "slots", json_integer(info.slots));
    json_object_set_new(o, "teacher", json_string(info.teacher));
    json_object_set_new(o, "finetune_epochs", json_integer(info.finetune_epochs));
    if (info.finetune_epochs > 0) {
      json_t *ft = json_object();
      json_object_set_new(ft, "samples", json_integer(info.finetune_samples));
      json_object_set_new(ft, "steps", json_integer((json_int_t)info.finetune_steps));
      json_object_set_new(ft, "seconds", num(info.finetune_s));
      json_object_set_new(o, "finetune", ft);
    }
    /* Predicted and measured accuracy side by side. */
    json_t *pa = json_object_get(p, "predicted_accuracy");
    json_t *pr = json_object();
    json_object_set_new(pr, "accuracy", json_is_number(pa) ? num(json_number_value(pa)) : json_null());
    json_object_set_new(o, "predicted", pr);
    if (info.evaluated) {
      json_t *m = json_object();
      json_object_set_new(m, "val_accuracy", num(info.val_accuracy));
      json_object_set_new(m, "test_accuracy", num(info.test_accuracy));
      json_object_set_new(m, "val_loss", num(info.val_loss));
      json_object_set_new(m, "test_loss", num(info.test_loss));
      json_object_set_new(m, "val_accuracy_before_finetune", num(info.val_accuracy_before));
      json_object_set_new(m, "test_accuracy_before_finetune", num(info.test_accuracy_before));
      json_object_set_new(m, "teacher_test_accuracy", num(info.teacher_test_accuracy));
      json_object_set_new(m, "val_images", json_integer(info.val_n));
      json_object_set_new(m, "test_images", json_integer(info.test_n));
      json_object_set_new(o, "measured", m);
    } else {
      json_object_set_new(o, "measured", json_null());
    }
  } else if (!strcmp(job->kind, "eval")) {
    const char *model = json_string_value(json_object_get(p, "model"));
    const char *split = json_string_value(json_object_get(p, "split"));
    const char *data = json_string_value(json_object_get(p, "data"));
    int samples = (int)json_integer_value(json_object_get(p, "samples"));
    if (!model) {
      rc = hant__error(HANT_EFORMAT, "job %lld: params need a model", (long long)job->id);
      goto out;
    }
    hant_deploy_eval_info info;
    if ((rc = hant_deploy_eval(model, data, split, samples, progress, user, &info)))
      goto out;
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "split", json_string(info.split));
    json_object_set_new(o, "n", json_integer(info.n));
    json_object_set_new(o, "accuracy", num(info.accuracy));
    json_object_set_new(o, "loss", num(info.loss));
  } else {
    char s[40];
    rc = hant__error(HANT_ENOTSUP, "job %lld: unknown kind '%s'", (long long)job->id, shown(job->kind, s, sizeof(s)));
    goto out;
  }
  *result_json = dump(o);
  rc = *result_json ? 0 : HANT_ENOMEM;
out:
  json_decref(o);
  json_decref(p);
  return rc;
}
