/* SPDX-License-Identifier: MIT */
/* jsonbuf.c: JSON text in memory with one fixed layout, so equal documents are equal bytes. */
#include "jsonbuf.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hant_jsonbuf_init(hant_jsonbuf *b, bool compact, int precision) {
  memset(b, 0, sizeof(*b));
  b->first[0] = true;
  b->compact = compact;
  b->precision = precision < 1 ? 1 : precision > 17 ? 17 : precision;
}

void hant_jsonbuf_free(hant_jsonbuf *b) {
  if (!b)
    return;
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static void put(hant_jsonbuf *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->failed = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(hant_jsonbuf *b, const char *s) { put(b, s, strlen(s)); }

/* The separator before a value: none after a key or first in a container. */
static void sep(hant_jsonbuf *b) {
  if (b->after_key) {
    b->after_key = false;
    return;
  }
  if (!b->first[b->depth])
    puts_(b, b->compact ? "," : ", ");
  b->first[b->depth] = false;
}

static void open_(hant_jsonbuf *b, const char *c) {
  sep(b);
  puts_(b, c);
  if (b->depth >= 32) {
    b->failed = true;
    return;
  }
  b->first[++b->depth] = true;
}

static void close_(hant_jsonbuf *b, const char *c) {
  if (b->depth == 0) {
    b->failed = true;
    return;
  }
  b->depth--;
  puts_(b, c);
}

void hant_jsonbuf_obj_begin(hant_jsonbuf *b) { open_(b, "{"); }
void hant_jsonbuf_obj_end(hant_jsonbuf *b) { close_(b, "}"); }
void hant_jsonbuf_arr_begin(hant_jsonbuf *b) { open_(b, "["); }
void hant_jsonbuf_arr_end(hant_jsonbuf *b) { close_(b, "]"); }

static void quoted(hant_jsonbuf *b, const char *s) {
  put(b, "\"", 1);
  const char *run = s;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    const char *esc = NULL;
    char u[8];
    switch (*p) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    default:
      if (*p < 0x20) {
        snprintf(u, sizeof(u), "\\u%04X", *p);
        esc = u;
      }
    }
    if (esc) {
      put(b, run, (size_t)((const char *)p - run));
      puts_(b, esc);
      run = (const char *)p + 1;
    }
  }
  puts_(b, run);
  put(b, "\"", 1);
}

void hant_jsonbuf_key(hant_jsonbuf *b, const char *k) {
  sep(b);
  quoted(b, k);
  puts_(b, b->compact ? ":" : ": ");
  b->after_key = true;
}

void hant_jsonbuf_str(hant_jsonbuf *b, const char *s) {
  sep(b);
  quoted(b, s ? s : "");
}

void hant_jsonbuf_real(hant_jsonbuf *b, double v) {
  sep(b);
  if (!isfinite(v)) {
    b->failed = true;
    return;
  }
  char t[48];
  snprintf(t, sizeof(t), "%.*g", b->precision, v);
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
  puts_(b, t);
}

void hant_jsonbuf_int(hant_jsonbuf *b, long long v) {
  char t[32];
  sep(b);
  snprintf(t, sizeof(t), "%lld", v);
  puts_(b, t);
}

void hant_jsonbuf_bool(hant_jsonbuf *b, bool v) {
  sep(b);
  puts_(b, v ? "true" : "false");
}

void hant_jsonbuf_null(hant_jsonbuf *b) {
  sep(b);
  puts_(b, "null");
}

char *hant_jsonbuf_take(hant_jsonbuf *b) {
  char *s = b->failed || b->depth || !b->p ? NULL : b->p;
  if (!s)
    free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->failed = false;
  b->depth = 0;
  b->first[0] = true;
  b->after_key = false;
  return s;
}
