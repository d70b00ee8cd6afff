/* SPDX-License-Identifier: MIT */
/* jsonw.h: libhant's one JSON writer, streaming to a FILE, a caller's fixed buffer or a growing buffer (no parsing). */
#ifndef HANT_JSONW_H
#define HANT_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* How a writer lays out its text. The zero style is the writer's own:
 * compact (no spaces, one line), numbers with 10 significant digits
 * ("%.10g"), numbers that are not finite written as null, and the control
 * characters other than \n, \r and \t escaped as lower-case \u00xx.
 *
 * The other fields reproduce what jansson's json_dumps writes, so that a
 * text whose bytes are compared or hashed keeps the layout it had when
 * jansson produced it. The style of a solver answer, for instance, is
 * {.spaced = true, .real_digits = 15, .jansson_escapes = true}: jansson's
 * flags JSON_REAL_PRECISION(15) without JSON_COMPACT. */
typedef struct hant_jsonw_style {
  /* 0 keeps the value on one line. 1 to 31, as jansson's JSON_INDENT(n):
   * each element of a non-empty object or array starts a new line indented
   * by n spaces per level of nesting, and its closing bracket starts a
   * line at its own level; empty ones stay "{}" and "[]". */
  int indent;
  /* ": " after keys, and ", " between elements of a one-line value, as
   * jansson without JSON_COMPACT; false writes ":" and ",". */
  bool spaced;
  /* 0: the zero style's numbers. 1 to 17: numbers as jansson writes reals,
   * "%.<real_digits>g" with '.' whatever the locale, ".0" appended when the
   * digits alone would read back as an integer ("3.0"), and exponents
   * without '+' or leading zeros ("1e20", "1e-5"). A number that is not
   * finite, which jansson cannot hold, then fails the writer with
   * HANT_EINVAL instead of being written. */
  int real_digits;
  /* Control characters as jansson escapes them: \b and \f by name, the
   * others not named (\n, \r, \t) as upper-case \u00XX. */
  bool jansson_escapes;
} hant_jsonw_style;

/* Writes one JSON value to one of three targets: a FILE (program output),
 * an array the caller owns (short texts kept in fixed-size record
 * fields), or a buffer the writer grows (texts of any length), in the
 * layout of its style (compact unless hant_jsonw_set_style says
 * otherwise). Nesting depth is at most 31. Keys and strings are escaped
 * ('"', '\\' and control characters; other bytes, UTF-8 included, are
 * copied as they are).
 *
 * The writer places commas, colons and line breaks; the caller orders the
 * keys and pairs each hant_jsonw_key with exactly one value inside
 * objects. Nesting deeper than 31, or closing more than was opened, is a
 * programmer error (HANT_ASSERT).
 *
 * After a failure (see hant_jsonw_error) nothing more is written to any
 * target, so a failed text never passes for a whole one. */
typedef struct hant_jsonw {
  FILE *f;      /* the stream, or NULL for a memory target */
  char *buf;    /* memory target: the text so far, always NUL-terminated */
  size_t len;   /* bytes of text in buf, without the NUL */
  size_t cap;   /* bytes buf can hold, with the NUL */
  bool grow;    /* buf belongs to the writer and is reallocated as needed */
  int err;      /* the first failure: 0, HANT_ELIMIT, HANT_ENOMEM or HANT_EINVAL */
  hant_jsonw_style style;
  int depth;
  bool first[32]; /* per depth: no element written yet */
  bool after_key;
} hant_jsonw;

/* Writes to f. Nothing is allocated; there is nothing to free. */
void hant_jsonw_init(hant_jsonw *w, FILE *f);

/* Writes into buf, n bytes (n >= 1) owned by the caller, keeping it
 * NUL-terminated. Text that does not fit is dropped and the writer's
 * error becomes HANT_ELIMIT; buf then holds "" so that no truncated JSON
 * is ever taken for a whole value. The same holds after any other
 * failure. Nothing is allocated. */
void hant_jsonw_init_buf(hant_jsonw *w, char *buf, size_t n);

/* Writes into a buffer the writer allocates and grows. Take the text with
 * hant_jsonw_take or release it with hant_jsonw_free. */
void hant_jsonw_init_mem(hant_jsonw *w);

/* Sets the layout of what w writes; style is copied. Call it after one of
 * the inits and before the first value: changing the layout of a value
 * half written, or a field out of its range, is a programmer error
 * (HANT_ASSERT). */
void hant_jsonw_set_style(hant_jsonw *w, const hant_jsonw_style *style);

/* 0 while everything written so far is in the target, else the first
 * failure: HANT_ELIMIT (a fixed buffer was too small), HANT_ENOMEM (a
 * growing buffer could not grow) or HANT_EINVAL (a number that is not
 * finite under a style with real_digits). Stream errors are the FILE's
 * own (ferror), as with any stdio output. */
int hant_jsonw_error(const hant_jsonw *w);

/* Hands over the text of a writer made by hant_jsonw_init_mem: a
 * NUL-terminated malloc'd string the caller frees, or NULL after a
 * failure. The writer is left empty, as after hant_jsonw_free. */
char *hant_jsonw_take(hant_jsonw *w);

/* Releases what a growing writer allocated; a no-op for the other targets
 * and when called twice. */
void hant_jsonw_free(hant_jsonw *w);

void hant_jsonw_obj_begin(hant_jsonw *w);
void hant_jsonw_obj_end(hant_jsonw *w);
void hant_jsonw_arr_begin(hant_jsonw *w);
void hant_jsonw_arr_end(hant_jsonw *w);
/* A member's key; the next value written is its value. */
void hant_jsonw_key(hant_jsonw *w, const char *k);
/* A string; NULL is written as "". */
void hant_jsonw_str(hant_jsonw *w, const char *s);
/* A number: with 10 significant digits ("%.10g"), or as the style's
 * real_digits say. */
void hant_jsonw_num(hant_jsonw *w, double v);
/* A number written with fmt, one printf conversion of a double such as
 * "%.6g" or "%.2f", for texts whose exact digits are stored, hashed or
 * compared and must not change with the default precision. The style's
 * real_digits does not apply, but its rule for numbers that are not
 * finite does. */
void hant_jsonw_numf(hant_jsonw *w, const char *fmt, double v);
void hant_jsonw_int(hant_jsonw *w, long long v);
void hant_jsonw_bool(hant_jsonw *w, bool v);
void hant_jsonw_null(hant_jsonw *w);
/* Ends a streamed document with a newline and flushes the stream. Memory
 * targets get no newline: their text is one value, ready to store. */
void hant_jsonw_end(hant_jsonw *w);

#endif
