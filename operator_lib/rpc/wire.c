/* SPDX-License-Identifier: MIT */
/* wire.c: hantd's JSON-RPC 2.0 framing: error and method names, response lines around results and errors, ids, and the cache flag. */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "rpc_internal.h"

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

/* ---- JSON text ------------------------------------------------------------ */

char *hant__rpc_dupf(const char *fmt, ...) {
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

char *hant__rpc_dump(const json_t *v) {
  return v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(12) | JSON_ENCODE_ANY) : NULL;
}

json_t *hant__rpc_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

const char *hant__rpc_shown(const char *s, char *buf, size_t n) {
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

/* ---- response lines ------------------------------------------------------- */

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
  char *e = hant__rpc_dump(err);
  json_decref(err);
  if (!e)
    return NULL;
  char *line = hant__rpc_dupf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":%s}", id_json ? id_json : "null", e);
  free(e);
  return line;
}

char *hant_rpc_result_line(const char *id_json, const char *result_json) {
  return hant__rpc_dupf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", id_json ? id_json : "null", result_json);
}

/* A cacheable answer ends with its cache flag, and the cache keeps the
 * text before it, so a cached copy can be served with the flag set
 * without parsing it again. */
#define CACHE_SUFFIX_MISS "\"cache_hit\":false}"
#define CACHE_SUFFIX_HIT "\"cache_hit\":true}"

char *hant_rpc_cached_line(const char *id_json, const char *cached, bool hit) {
  return hant__rpc_dupf("{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s%s}", id_json ? id_json : "null", cached,
                        hit ? CACHE_SUFFIX_HIT : CACHE_SUFFIX_MISS);
}

char *hant_rpc_line_with_id(const char *line, const char *old_id, const char *new_id) {
  static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
  size_t h = sizeof(head) - 1, o = strlen(old_id);
  if (!line || strncmp(line, head, h) || strncmp(line + h, old_id, o) || line[h + o] != ',')
    return NULL;
  return hant__rpc_dupf("%s%s%s", head, new_id, line + h + o);
}

/* ---- replies ---------------------------------------------------------------- */

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

int hant__rpc_reply_error(const hant_rpc_req *req, hant_rpc_reply *r, int code, const char *msg, const char *field) {
  r->error = code;
  if (req->id)
    r->line = hant_rpc_error_line(req->id, code, msg, field);
  return req->id && !r->line ? HANT_ENOMEM : 0;
}

int hant__rpc_reply_text(const hant_rpc_req *req, hant_rpc_reply *r, char *text) {
  if (!text)
    return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  if (req->id)
    r->line = hant_rpc_result_line(req->id, text);
  free(text);
  return req->id && !r->line ? HANT_ENOMEM : 0;
}

int hant__rpc_reply_result(const hant_rpc_req *req, hant_rpc_reply *r, json_t *result) {
  if (!result)
    return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  char *s = hant__rpc_dump(result);
  json_decref(result);
  return hant__rpc_reply_text(req, r, s);
}

int hant__rpc_reply_cacheable(const hant_rpc_req *req, hant_rpc_reply *r, json_t *result, bool keep) {
  char *s = hant__rpc_dump(result);
  json_decref(result);
  if (!s)
    return hant__rpc_reply_error(req, r, HANT_RPC_INTERNAL, "out of memory", NULL);
  /* The body without its last '}', then the cache flag last. */
  size_t n = strlen(s);
  s[n - 1] = ',';
  char *body = hant__rpc_dupf("%s" CACHE_SUFFIX_MISS, s);
  if (keep)
    r->cache_body = s;
  else
    free(s);
  return hant__rpc_reply_text(req, r, body);
}

int hant__rpc_reply_hant_error(const hant_rpc_req *req, hant_rpc_reply *r, int rc, int enoent_code) {
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
  return hant__rpc_reply_error(req, r, code, buf, field[0] ? field : NULL);
}
