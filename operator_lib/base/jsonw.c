/* SPDX-License-Identifier: MIT */
/* jsonw.c: escapes strings and keeps commas right while writing JSON to a stream or into memory. */
#include "jsonw.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

void hant_jsonw_init(hant_jsonw *w, FILE *f) {
  memset(w, 0, sizeof(*w));
  w->f = f;
  w->first[0] = true;
}

void hant_jsonw_init_buf(hant_jsonw *w, char *buf, size_t n) {
  HANT_ASSERT(buf && n >= 1);
  memset(w, 0, sizeof(*w));
  w->buf = buf;
  w->cap = n;
  w->buf[0] = '\0';
  w->first[0] = true;
}

void hant_jsonw_init_mem(hant_jsonw *w) {
  memset(w, 0, sizeof(*w));
  w->grow = true;
  w->first[0] = true;
}

void hant_jsonw_set_style(hant_jsonw *w, const hant_jsonw_style *style) {
  HANT_ASSERT(w->depth == 0 && w->first[0] && !w->after_key);
  HANT_ASSERT(style->indent >= 0 && style->indent <= 31);
  HANT_ASSERT(style->real_digits >= 0 && style->real_digits <= 17);
  w->style = *style;
}

int hant_jsonw_error(const hant_jsonw *w) { return w->err; }

char *hant_jsonw_take(hant_jsonw *w) {
  HANT_ASSERT(w->grow);
  char *s = NULL;
  if (!w->err) {
    /* An empty writer still hands over a string the caller can free. */
    s = w->buf ? w->buf : calloc(1, 1);
    w->buf = NULL;
  }
  hant_jsonw_free(w);
  return s;
}

void hant_jsonw_free(hant_jsonw *w) {
  if (!w->grow)
    return;
  free(w->buf);
  w->buf = NULL;
  w->len = w->cap = 0;
}

/* Records the first failure. A fixed buffer is emptied rather than left
 * holding a prefix that looks like JSON; a growing one is kept for
 * hant_jsonw_free, since hant_jsonw_take no longer hands it over. */
static void fail(hant_jsonw *w, int err) {
  if (w->err)
    return;
  w->err = err;
  if (!w->f && !w->grow && w->cap)
    w->buf[0] = '\0';
}

static void mem_put(hant_jsonw *w, const char *s, size_t n) {
  if (w->len + n + 1 > w->cap) {
    if (!w->grow) {
      fail(w, HANT_ELIMIT);
      return;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
      cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
      fail(w, HANT_ENOMEM);
      return;
    }
    w->buf = b;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void put(hant_jsonw *w, const char *s, size_t n) {
  if (w->err)
    return;
  if (w->f)
    fwrite(s, 1, n, w->f);
  else
    mem_put(w, s, n);
}

static void puts_(hant_jsonw *w, const char *s) { put(w, s, strlen(s)); }

/* Only numbers and \u escapes are formatted, so 64 bytes always suffice. */
static void vputf(hant_jsonw *w, const char *fmt, va_list ap) {
  char tmp[64];
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  HANT_ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
  put(w, tmp, (size_t)n);
}

static void putf(hant_jsonw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(hant_jsonw *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vputf(w, fmt, ap);
  va_end(ap);
}

/* A line break and the indentation of nesting level `depth`. */
static void newline(hant_jsonw *w, int depth) {
  static const char spaces[] = "                                ";
  put(w, "\n", 1);
  for (size_t n = (size_t)depth * (size_t)w->style.indent; n;) {
    size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
    put(w, spaces, k);
    n -= k;
  }
}

/* What comes before a value or a key: nothing after a key; else a comma
 * unless it is its container's first element, then the line break of an
 * indented style, or the space of a spaced one-line style. The line break
 * before a first element waits until there is one, so that empty
 * containers stay "{}" and "[]" as jansson writes them. */
static void sep(hant_jsonw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  bool first = w->first[w->depth];
  w->first[w->depth] = false;
  if (!first)
    put(w, ",", 1);
  if (w->style.indent && w->depth > 0)
    newline(w, w->depth);
  else if (!first && w->style.spaced)
    put(w, " ", 1);
}

static void open_(hant_jsonw *w, char c) {
  sep(w);
  put(w, &c, 1);
  HANT_ASSERT(w->depth < 31);
  w->first[++w->depth] = true;
}

static void close_(hant_jsonw *w, char c) {
  HANT_ASSERT(w->depth > 0);
  bool empty = w->first[w->depth];
  w->depth--;
  if (w->style.indent && !empty)
    newline(w, w->depth);
  put(w, &c, 1);
}

void hant_jsonw_obj_begin(hant_jsonw *w) { open_(w, '{'); }
void hant_jsonw_obj_end(hant_jsonw *w) { close_(w, '}'); }
void hant_jsonw_arr_begin(hant_jsonw *w) { open_(w, '['); }
void hant_jsonw_arr_end(hant_jsonw *w) { close_(w, ']'); }

/* Bytes that need no escape go out in runs, so a stream sees one write
 * per run rather than one per byte. */
static void put_str(hant_jsonw *w, const char *s) {
  const bool jansson = w->style.jansson_escapes;
  put(w, "\"", 1);
  const char *run = s;
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    const char *esc = NULL;
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = jansson ? "\\b" : NULL; break;
    case '\f': esc = jansson ? "\\f" : NULL; break;
    default: break;
    }
    if (!esc && c >= 0x20)
      continue;
    put(w, run, (size_t)(p - run));
    if (esc)
      puts_(w, esc);
    else
      putf(w, jansson ? "\\u%04X" : "\\u%04x", c);
    run = p + 1;
  }
  puts_(w, run);
  put(w, "\"", 1);
}

void hant_jsonw_key(hant_jsonw *w, const char *k) {
  sep(w);
  put_str(w, k);
  puts_(w, w->style.spaced ? ": " : ":");
  w->after_key = true;
}

void hant_jsonw_str(hant_jsonw *w, const char *s) {
  sep(w);
  put_str(w, s ? s : "");
}

/* A number that is not finite has no JSON form: the zero style writes
 * null, a jansson style fails as json_real would refuse it. */
static bool finite_or_fail(hant_jsonw *w, double v) {
  if (isfinite(v))
    return true;
  if (w->style.real_digits)
    fail(w, HANT_EINVAL);
  else
    puts_(w, "null");
  return false;
}

/* jansson's form of a real, so that texts once written by json_dumps keep
 * their bytes. */
static void put_real(hant_jsonw *w, double v) {
  char t[48];
  snprintf(t, sizeof(t), "%.*g", w->style.real_digits, v);
  /* printf follows the locale; JSON does not. */
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1])
    for (char *c = t; *c; c++)
      if (*c == dp[0])
        *c = '.';
  /* "3" would read back as an integer. */
  if (!strchr(t, '.') && !strchr(t, 'e'))
    strcat(t, ".0");
  /* "1e+20" -> "1e20", "1e-05" -> "1e-5". */
  char *e = strchr(t, 'e');
  if (e) {
    char *from = e + 1, *to = e + 1;
    if (*from == '+')
      from++;
    else if (*from == '-')
      from++, to++;
    while (*from == '0' && from[1])
      from++;
    memmove(to, from, strlen(from) + 1);
  }
  puts_(w, t);
}

void hant_jsonw_num(hant_jsonw *w, double v) {
  sep(w);
  if (!finite_or_fail(w, v))
    return;
  if (w->style.real_digits)
    put_real(w, v);
  else
    putf(w, "%.10g", v);
}

/* The caller's format reaches vsnprintf through a va_list, where the
 * compiler accepts a format it cannot see; the contract (one conversion of
 * a double) is the caller's. */
static void put_num(hant_jsonw *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vputf(w, fmt, ap);
  va_end(ap);
}

void hant_jsonw_numf(hant_jsonw *w, const char *fmt, double v) {
  sep(w);
  if (finite_or_fail(w, v))
    put_num(w, fmt, v);
}

void hant_jsonw_int(hant_jsonw *w, long long v) {
  sep(w);
  putf(w, "%lld", v);
}

void hant_jsonw_bool(hant_jsonw *w, bool v) {
  sep(w);
  puts_(w, v ? "true" : "false");
}

void hant_jsonw_null(hant_jsonw *w) {
  sep(w);
  puts_(w, "null");
}

void hant_jsonw_end(hant_jsonw *w) {
  if (!w->f)
    return;
  put(w, "\n", 1);
  fflush(w->f);
}
