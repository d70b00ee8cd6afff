/* SPDX-License-Identifier: MIT */
/* jsonw.h: libhant's one JSON writer, streaming to a FILE, a caller's fixed buffer or a growing buffer (no parsing). */
#ifndef HANT_JSONW_H
#define HANT_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Writes one JSON value, compactly (no spaces), to one of three targets:
 * a FILE (program output), an array the caller owns (short texts kept in
 * fixed-size record fields), or a buffer the writer grows (texts of any
 * length). Nesting depth is at most 31. Keys and strings are escaped;
 * numbers that are not finite are written as null.
 *
 * The writer places commas and colons; the caller pairs each
 * hant_jsonw_key with exactly one value inside objects. Nesting deeper
 * than 31, or closing more than was opened, is a programmer error
 * (HANT_ASSERT). */
typedef struct hant_jsonw {
  FILE *f;      /* the stream, or NULL for a memory target */
  char *buf;    /* memory target: the text so far, always NUL-terminated */
  size_t len;   /* bytes of text in buf, without the NUL */
  size_t cap;   /* bytes buf can hold, with the NUL */
  bool grow;    /* buf belongs to the writer and is reallocated as needed */
  int err;      /* the first failure: 0, HANT_ELIMIT or HANT_ENOMEM */
  int depth;
  bool first[32];
  bool after_key;
} hant_jsonw;

/* Writes to f. Nothing is allocated; there is nothing to free. */
void hant_jsonw_init(hant_jsonw *w, FILE *f);

/* Writes into buf, n bytes (n >= 1) owned by the caller, keeping it
 * NUL-terminated. Text that does not fit is dropped and the writer's
 * error becomes HANT_ELIMIT; buf then holds "" so that no truncated JSON
 * is ever taken for a whole value. Nothing is allocated. */
void hant_jsonw_init_buf(hant_jsonw *w, char *buf, size_t n);

/* Writes into a buffer the writer allocates and grows. Take the text with
 * hant_jsonw_take or release it with hant_jsonw_free. */
void hant_jsonw_init_mem(hant_jsonw *w);

/* 0 while everything written so far is in the target, else the first
 * failure: HANT_ELIMIT (a fixed buffer was too small) or HANT_ENOMEM (a
 * growing buffer could not grow). Stream errors are the FILE's own
 * (ferror), as with any stdio output. */
int hant_jsonw_error(const hant_jsonw *w);

/* Hands over the text of a writer made by hant_jsonw_init_mem: a
 * NUL-terminated malloc'd string the caller frees, or NULL after
 * HANT_ENOMEM. The writer is left empty, as after hant_jsonw_free. */
char *hant_jsonw_take(hant_jsonw *w);

/* Releases what a growing writer allocated; a no-op for the other targets
 * and when called twice. */
void hant_jsonw_free(hant_jsonw *w);

void hant_jsonw_obj_begin(hant_jsonw *w);
void hant_jsonw_obj_end(hant_jsonw *w);
void hant_jsonw_arr_begin(hant_jsonw *w);
void hant_jsonw_arr_end(hant_jsonw *w);
void hant_jsonw_key(hant_jsonw *w, const char *k);
/* A string; NULL is written as "". */
void hant_jsonw_str(hant_jsonw *w, const char *s);
/* A number with 10 significant digits ("%.10g"). */
void hant_jsonw_num(hant_jsonw *w, double v);
/* A number written with fmt, one printf conversion of a double such as
 * "%.6g" or "%.2f", for texts whose exact digits are stored, hashed or
 * compared and must not change with the default precision. */
void hant_jsonw_numf(hant_jsonw *w, const char *fmt, double v);
void hant_jsonw_int(hant_jsonw *w, long long v);
void hant_jsonw_bool(hant_jsonw *w, bool v);
void hant_jsonw_null(hant_jsonw *w);
/* Ends a streamed document with a newline and flushes the stream. Memory
 * targets get no newline: their text is one value, ready to store. */
void hant_jsonw_end(hant_jsonw *w);

#endif
