/* SPDX-License-Identifier: MIT */
/* jsonw.h: a minimal streaming JSON writer for program output (no parsing). */
#ifndef HANT_JSONW_H
#define HANT_JSONW_H

#include <stdbool.h>
#include <stdio.h>

/* Writes one JSON value to a FILE. Nesting depth up to 32. Keys and
 * strings are escaped; non-finite numbers are written as null. */
typedef struct hant_jsonw {
  FILE *f;
  int depth;
  bool first[32];
  bool after_key;
} hant_jsonw;

void hant_jsonw_init(hant_jsonw *w, FILE *f);
void hant_jsonw_obj_begin(hant_jsonw *w);
void hant_jsonw_obj_end(hant_jsonw *w);
void hant_jsonw_arr_begin(hant_jsonw *w);
void hant_jsonw_arr_end(hant_jsonw *w);
void hant_jsonw_key(hant_jsonw *w, const char *k);
void hant_jsonw_str(hant_jsonw *w, const char *s);
void hant_jsonw_num(hant_jsonw *w, double v);
void hant_jsonw_int(hant_jsonw *w, long long v);
void hant_jsonw_bool(hant_jsonw *w, bool v);
void hant_jsonw_null(hant_jsonw *w);
/* Ends the document with a newline. */
void hant_jsonw_end(hant_jsonw *w);

/* Writes s as a JSON string literal (with quotes) into buf; returns the
 * length needed (like snprintf). */
size_t hant_json_escape(char *buf, size_t n, const char *s);

#endif
