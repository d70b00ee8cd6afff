/* SPDX-License-Identifier: MIT */
/* jsonw.c: escapes strings and keeps commas right while streaming JSON. */
#include "jsonw.h"

#include <math.h>
#include <string.h>

#include "base.h"

void hant_jsonw_init(hant_jsonw *w, FILE *f) {
  memset(w, 0, sizeof(*w));
  w->f = f;
  w->first[0] = true;
}

static void sep(hant_jsonw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (!w->first[w->depth])
    fputc(',', w->f);
  w->first[w->depth] = false;
}

static void open_(hant_jsonw *w, char c) {
  sep(w);
  fputc(c, w->f);
  HANT_ASSERT(w->depth < 31);
  w->first[++w->depth] = true;
}

static void close_(hant_jsonw *w, char c) {
  HANT_ASSERT(w->depth > 0);
  w->depth--;
  fputc(c, w->f);
}

void hant_jsonw_obj_begin(hant_jsonw *w) { open_(w, '{'); }
void hant_jsonw_obj_end(hant_jsonw *w) { close_(w, '}'); }
void hant_jsonw_arr_begin(hant_jsonw *w) { open_(w, '['); }
void hant_jsonw_arr_end(hant_jsonw *w) { close_(w, ']'); }

static void put_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

void hant_jsonw_key(hant_jsonw *w, const char *k) {
  sep(w);
  put_str(w->f, k);
  fputc(':', w->f);
  w->after_key = true;
}

void hant_jsonw_str(hant_jsonw *w, const char *s) {
  sep(w);
  put_str(w->f, s ? s : "");
}

void hant_jsonw_num(hant_jsonw *w, double v) {
  sep(w);
  if (isfinite(v))
    fprintf(w->f, "%.10g", v);
  else
    fputs("null", w->f);
}

void hant_jsonw_int(hant_jsonw *w, long long v) {
  sep(w);
  fprintf(w->f, "%lld", v);
}

void hant_jsonw_bool(hant_jsonw *w, bool v) {
  sep(w);
  fputs(v ? "true" : "false", w->f);
}

void hant_jsonw_null(hant_jsonw *w) {
  sep(w);
  fputs("null", w->f);
}

void hant_jsonw_end(hant_jsonw *w) {
  fputc('\n', w->f);
  fflush(w->f);
}

size_t hant_json_escape(char *buf, size_t n, const char *s) {
  size_t k = 0;
#define PUT(c) do { if (k + 1 < n) buf[k] = (c); k++; } while (0)
  PUT('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      PUT('\\');
      PUT((char)*p);
    } else if (*p < 0x20) {
      char tmp[8];
      snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
      for (char *t = tmp; *t; t++)
        PUT(*t);
    } else {
      PUT((char)*p);
    }
  }
  PUT('"');
#undef PUT
  if (n)
    buf[k < n ? k : n - 1] = '\0';
  return k;
}
