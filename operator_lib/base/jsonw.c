/* SPDX-License-Identifier: MIT */
/* jsonw.c: escapes strings and keeps commas right while writing JSON to a stream or into memory. */
#include "jsonw.h"

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

/* Appends n bytes to a memory target; a fixed buffer that overflows is
 * emptied rather than left holding a prefix that looks like JSON. */
static void mem_put(hant_jsonw *w, const char *s, size_t n) {
  if (w->err)
    return;
  if (w->len + n + 1 > w->cap) {
    if (!w->grow) {
      w->err = HANT_ELIMIT;
      if (w->cap)
        w->buf[0] = '\0';
      return;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
      cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
      w->err = HANT_ENOMEM;
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
  if (w->f)
    fwrite(s, 1, n, w->f);
  else
    mem_put(w, s, n);
}

static void putc_(hant_jsonw *w, char c) { put(w, &c, 1); }

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

static void sep(hant_jsonw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (!w->first[w->depth])
    putc_(w, ',');
  w->first[w->depth] = false;
}

static void open_(hant_jsonw *w, char c) {
  sep(w);
  putc_(w, c);
  HANT_ASSERT(w->depth < 31);
  w->first[++w->depth] = true;
}

static void close_(hant_jsonw *w, char c) {
  HANT_ASSERT(w->depth > 0);
  w->depth--;
  putc_(w, c);
}

void hant_jsonw_obj_begin(hant_jsonw *w) { open_(w, '{'); }
void hant_jsonw_obj_end(hant_jsonw *w) { close_(w, '}'); }
void hant_jsonw_arr_begin(hant_jsonw *w) { open_(w, '['); }
void hant_jsonw_arr_end(hant_jsonw *w) { close_(w, ']'); }

static void put_str(hant_jsonw *w, const char *s) {
  putc_(w, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': puts_(w, "\\\""); break;
    case '\\': puts_(w, "\\\\"); break;
    case '\n': puts_(w, "\\n"); break;
    case '\r': puts_(w, "\\r"); break;
    case '\t': puts_(w, "\\t"); break;
    default:
      if (*p < 0x20)
        putf(w, "\\u%04x", *p);
      else
        putc_(w, (char)*p);
    }
  }
  putc_(w, '"');
}

void hant_jsonw_key(hant_jsonw *w, const char *k) {
  sep(w);
  put_str(w, k);
  putc_(w, ':');
  w->after_key = true;
}

void hant_jsonw_str(hant_jsonw *w, const char *s) {
  sep(w);
  put_str(w, s ? s : "");
}

void hant_jsonw_num(hant_jsonw *w, double v) {
  sep(w);
  if (isfinite(v))
    putf(w, "%.10g", v);
  else
    puts_(w, "null");
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
  if (isfinite(v))
    put_num(w, fmt, v);
  else
    puts_(w, "null");
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
  fputc('\n', w->f);
  fflush(w->f);
}
