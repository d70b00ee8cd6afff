/* SPDX-License-Identifier: MIT */
/* json_read.c: the JSON reader under libhant's file formats and hantd's requests, and outside the protocol code the only file that includes jansson.h. */
#include "json_read.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base.h"

/* ---- documents ---------------------------------------------------------- */

int hant_json_parse(const char *text, size_t len, const char *source, hant_json **out, hant_json_syntax *syntax) {
  *out = NULL;
  const char *src = source ? source : "<json>";
  json_error_t err;
  /* A duplicate key is refused rather than resolved: whichever copy won,
   * a misspelt budget or a doubled field would pass unnoticed. */
  json_t *root = json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    if (json_error_code(&err) == json_error_out_of_memory)
      return hant__error(HANT_ENOMEM, "%s: out of memory", src);
    if (syntax) {
      syntax->line = err.line;
      syntax->column = err.column;
      syntax->position = (size_t)err.position;
      snprintf(syntax->what, sizeof(syntax->what), "%s", err.text);
    }
    return hant__error(HANT_EFORMAT, "%s:%d:%d: %s", src, err.line, err.column, err.text);
  }
  *out = root;
  return 0;
}

void hant_json_free(hant_json *doc) { json_decref(doc); }

/* ---- looking at values --------------------------------------------------- */

hant_json_type hant_json_typeof(const hant_json *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return HANT_JSON_OBJECT;
  case JSON_ARRAY: return HANT_JSON_ARRAY;
  case JSON_STRING: return HANT_JSON_STRING;
  case JSON_INTEGER:
  case JSON_REAL: return HANT_JSON_NUMBER;
  case JSON_TRUE:
  case JSON_FALSE: return HANT_JSON_BOOL;
  case JSON_NULL: break;
  }
  return HANT_JSON_NULL;
}

static const char *const type_names[] = {
    [HANT_JSON_OBJECT] = "an object", [HANT_JSON_ARRAY] = "an array", [HANT_JSON_STRING] = "a string",
    [HANT_JSON_NUMBER] = "a number",  [HANT_JSON_BOOL] = "a boolean", [HANT_JSON_NULL] = "null",
};
_Static_assert(sizeof(type_names) / sizeof(type_names[0]) == HANT_JSON_TYPE_COUNT, "type_names must cover every type");

const char *hant_json_type_name(const hant_json *v) { return v ? type_names[hant_json_typeof(v)] : "nothing"; }

hant_json *hant_json_member(const hant_json *obj, const char *key) {
  return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

size_t hant_json_size(const hant_json *v) {
  if (json_is_array(v))
    return json_array_size(v);
  return json_is_object(v) ? json_object_size(v) : 0;
}

hant_json *hant_json_at(const hant_json *v, size_t i) { return json_is_array(v) ? json_array_get(v, i) : NULL; }

const char *hant_json_string(const hant_json *v, size_t *len) {
  if (!json_is_string(v))
    return NULL;
  if (len)
    *len = json_string_length(v);
  return json_string_value(v);
}

bool hant_json_number(const hant_json *v, double *x) {
  if (!json_is_number(v))
    return false;
  *x = json_number_value(v);
  return true;
}

hant_json_iter hant_json_iter_begin(const hant_json *obj) {
  hant_json_iter it = {(hant_json *)obj, json_is_object(obj) ? json_object_iter((json_t *)obj) : NULL};
  return it;
}

bool hant_json_iter_next(hant_json_iter *it, const char **key, size_t *key_len, hant_json **value) {
  if (!it->pos)
    return false;
  *key = json_object_iter_key(it->pos);
  if (key_len)
    *key_len = json_object_iter_key_len(it->pos);
  *value = json_object_iter_value(it->pos);
  it->pos = json_object_iter_next(it->obj, it->pos);
  return true;
}

/* ---- the path ------------------------------------------------------------ */

void hant_json_reader_init(hant_json_reader *r, const char *source) {
  r->source = source ? source : "<json>";
  r->path[0] = '\0';
  r->path_len = 0;
  r->failed_at[0] = '\0';
  r->wording = NULL;
}

/* The file formats' words, used by every reader that sets none. */
static const hant_json_wording file_words = {
    .expected_open = " (expected ",
    .expected_close = ")",
    .no_fields = "none",
    .too_long = "is too long",
    .boolean = "true or false",
    .number_type_alone = false,
    .show_key = NULL,
};

static const hant_json_wording *words(const hant_json_reader *r) { return r->wording ? r->wording : &file_words; }

/* Appends to the path, cutting it at the buffer's end rather than failing:
 * a long path still names the start of the field. */
static size_t append(hant_json_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t append(hant_json_reader *r, const char *fmt, ...) {
  size_t old = r->path_len;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(r->path + old, sizeof(r->path) - old, fmt, ap);
  va_end(ap);
  if (w > 0)
    r->path_len = old + (size_t)w < sizeof(r->path) ? old + (size_t)w : sizeof(r->path) - 1;
  return old;
}

/* Keys come from the input: keep the message one printable line, and
 * show an empty key rather than a bare dot. */
static const char *printable_key(const char *key, char *buf, size_t n) {
  if (!key || !*key)
    return "\"\"";
  size_t o = 0;
  const char *k = key;
  for (; *k && o < 64 && o + 4 < n; k++)
    buf[o++] = (*k >= 0x20 && *k < 0x7f) ? *k : '?';
  if (*k && o + 4 <= n) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

size_t hant_json_push_key(hant_json_reader *r, const char *key) {
  char buf[96];
  const hant_json_wording *w = words(r);
  const char *shown =
      w->show_key ? w->show_key(key ? key : "", buf, sizeof(buf)) : printable_key(key, buf, sizeof(buf));
  return append(r, "%s%s", r->path_len ? "." : "", shown);
}

size_t hant_json_push_index(hant_json_reader *r, size_t i) { return append(r, "[%zu]", i); }

void hant_json_pop(hant_json_reader *r, size_t mark) {
  if (mark > r->path_len)
    return;
  r->path_len = mark;
  r->path[mark] = '\0';
}

static int vfail(hant_json_reader *r, int code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
static int vfail(hant_json_reader *r, int code, const char *fmt, va_list ap) {
  /* Formatted apart first: callers pass hant_errmsg() as an argument when
   * they wrap a message from a lower layer. */
  char msg[768];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  memcpy(r->failed_at, r->path, r->path_len + 1);
  if (r->path_len)
    return hant__error(code, "%s: %s: %s", r->source, r->path, msg);
  return hant__error(code, "%s: %s", r->source, msg);
}

int hant_json_fail(hant_json_reader *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(r, code, fmt, ap);
  va_end(ap);
  return rc;
}

int hant_json_fail_at(hant_json_reader *r, const char *key, int code, const char *fmt, ...) {
  size_t m = hant_json_push_key(r, key);
  va_list ap;
  va_start(ap, fmt);
  int rc = vfail(r, code, fmt, ap);
  va_end(ap);
  hant_json_pop(r, m);
  return rc;
}

/* ---- getters ------------------------------------------------------------- */

/* The value for "got ...": by its type, except a number where a number in
 * some range was expected, which is shown itself. */
static const char *got(const json_t *v, bool show_number, char *buf, size_t n) {
  if (show_number && json_is_number(v)) {
    snprintf(buf, n, "%g", json_number_value(v));
    return buf;
  }
  return hant_json_type_name(v);
}

/* Looks up key and says whether the getter has a value to check; *rc is
 * the error when a required member is absent. */
static bool present(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, const char *what,
                    json_t **v, int *rc) {
  *rc = 0;
  *v = hant_json_member(obj, key);
  bool absent = !*v || ((flags & HANT_JSON_NULL_ABSENT) && json_is_null(*v));
  if (!absent)
    return true;
  if (flags & HANT_JSON_REQUIRED) {
    const hant_json_wording *w = words(r);
    *rc = hant_json_fail_at(r, key, HANT_EFORMAT, "missing%s%s%s", w->expected_open, what, w->expected_close);
  }
  return false;
}

/* Fails at member key: "expected WHAT, got GOT". */
static int wrong(hant_json_reader *r, const char *key, const char *what, const json_t *v, bool show_number) {
  char b[40];
  return hant_json_fail_at(r, key, HANT_EFORMAT, "expected %s, got %s", what, got(v, show_number, b, sizeof(b)));
}

static int get_typed(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, const char *what,
                     hant_json_type type, hant_json **out) {
  json_t *v;
  int rc;
  what = what ? what : type_names[type];
  if (!present(r, obj, key, flags, what, &v, &rc))
    return rc;
  if (hant_json_typeof(v) != type)
    return wrong(r, key, what, v, false);
  *out = v;
  return 0;
}

int hant_json_get_object(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags,
                         const char *what, hant_json **out) {
  return get_typed(r, obj, key, flags, what, HANT_JSON_OBJECT, out);
}

int hant_json_get_array(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags,
                        const char *what, hant_json **out) {
  return get_typed(r, obj, key, flags, what, HANT_JSON_ARRAY, out);
}

/* "a number from 0 to 10", "a number >= 0", ... from the bounds. */
static const char *range_what(double lo, double hi, char *buf, size_t n) {
  if (lo == -INFINITY && hi == INFINITY)
    snprintf(buf, n, "a finite number");
  else if (hi == INFINITY)
    snprintf(buf, n, "a number >= %g", lo);
  else if (lo == -INFINITY)
    snprintf(buf, n, "a number <= %g", hi);
  else
    snprintf(buf, n, "a number from %g to %g", lo, hi);
  return buf;
}

int hant_json_get_number(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, double lo,
                         double hi, const char *what, double *out) {
  char wb[96];
  json_t *v;
  int rc;
  what = what ? what : range_what(lo, hi, wb, sizeof(wb));
  if (!present(r, obj, key, flags, what, &v, &rc))
    return rc;
  if (!json_is_number(v))
    return wrong(r, key, words(r)->number_type_alone ? "a number" : what, v, false);
  double x = json_number_value(v);
  if (!isfinite(x) || x < lo || x > hi)
    return wrong(r, key, what, v, true);
  *out = x;
  return 0;
}

int hant_json_get_int(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, long long lo,
                      long long hi, const char *what, long long *out) {
  char wb[96];
  json_t *v;
  int rc;
  if (!what) {
    snprintf(wb, sizeof(wb), "a whole number from %lld to %lld", lo, hi);
    what = wb;
  }
  if (!present(r, obj, key, flags, what, &v, &rc))
    return rc;
  if (!json_is_number(v))
    return wrong(r, key, words(r)->number_type_alone ? "a number" : what, v, false);
  /* Compared as doubles, so that 2.0 is 2 and 1e300 is out of range
   * instead of overflowing the conversion. */
  double x = json_number_value(v);
  if (!isfinite(x) || x != floor(x) || x < (double)lo || x > (double)hi)
    return wrong(r, key, what, v, true);
  *out = json_is_integer(v) ? (long long)json_integer_value(v) : (long long)x;
  return 0;
}

int hant_json_get_bool(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, bool *out) {
  const char *what = words(r)->boolean;
  json_t *v;
  int rc;
  if (!present(r, obj, key, flags, what, &v, &rc))
    return rc;
  if (!json_is_boolean(v))
    return wrong(r, key, what, v, false);
  *out = json_is_true(v);
  return 0;
}

int hant_json_get_string(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags,
                         size_t max_len, const char **out, size_t *len) {
  json_t *v;
  int rc;
  if (!present(r, obj, key, flags, "a string", &v, &rc))
    return rc;
  if (!json_is_string(v))
    return wrong(r, key, "a string", v, false);
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  const char *why = NULL;
  char wb[80];
  if (n == 0 && !(flags & HANT_JSON_ALLOW_EMPTY))
    why = "must not be empty";
  else if (n > max_len)
    why = (snprintf(wb, sizeof(wb), "%s (%zu bytes; at most %zu)", words(r)->too_long, n, max_len), wb);
  else if (strlen(s) != n)
    why = "must not contain NUL characters";
  if (why)
    return hant_json_fail_at(r, key, HANT_EFORMAT, "%s", why);
  *out = s;
  if (len)
    *len = n;
  return 0;
}

int hant_json_get_strbuf(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, char *buf,
                         size_t size) {
  const char *s = NULL;
  size_t n = 0;
  int rc = hant_json_get_string(r, obj, key, flags, size ? size - 1 : 0, &s, &n);
  if (rc || !s)
    return rc;
  memcpy(buf, s, n + 1);
  return 0;
}

int hant_json_expect(hant_json_reader *r, const hant_json *v, hant_json_type type, const char *what) {
  char b[40];
  const hant_json_wording *w = words(r);
  what = what ? what : type_names[type];
  if (!v)
    return hant_json_fail(r, HANT_EFORMAT, "missing%s%s%s", w->expected_open, what, w->expected_close);
  if (hant_json_typeof(v) != type)
    return hant_json_fail(r, HANT_EFORMAT, "expected %s, got %s", what, got(v, false, b, sizeof(b)));
  return 0;
}

static bool listed(const char *key, size_t klen, const char *const *allowed) {
  if (strlen(key) != klen)
    return false;
  for (const char *const *a = allowed; *a; a++)
    if (!strcmp(key, *a))
      return true;
  return false;
}

const char *hant_json_first_unknown(const hant_json *obj, const char *const *allowed) {
  hant_json_iter it = hant_json_iter_begin(obj);
  const char *k;
  size_t klen;
  hant_json *v;
  while (hant_json_iter_next(&it, &k, &klen, &v))
    if (!listed(k, klen, allowed))
      return k;
  return NULL;
}

int hant_json_only(hant_json_reader *r, const hant_json *obj, const char *const *allowed) {
  hant_json_iter it = hant_json_iter_begin(obj);
  const char *k;
  size_t klen;
  hant_json *v;
  while (hant_json_iter_next(&it, &k, &klen, &v)) {
    if (strlen(k) != klen)
      return hant_json_fail(r, HANT_EFORMAT, "a field name contains a NUL character");
    if (listed(k, klen, allowed))
      continue;
    const hant_json_wording *w = words(r);
    char list[256];
    size_t n = 0;
    list[0] = '\0';
    for (const char *const *a = allowed; *a && n < sizeof(list); a++)
      if ((*a)[0] != '$')
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", *a);
    return hant_json_fail_at(r, k, HANT_EFORMAT, "unknown field%sone of: %s%s", w->expected_open,
                             n ? list : w->no_fields, w->expected_close);
  }
  return 0;
}
