/* SPDX-License-Identifier: MIT */
/* jsonbuf.h: building one JSON document as a string in memory, for answers and canonical forms. */
#ifndef HANT_JSONBUF_H
#define HANT_JSONBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Builds a JSON text in a growing buffer, in the order the calls come: the
 * caller orders object keys (and sorts them where a canonical form needs
 * it). The layout is fixed so that a document built twice from the same
 * values is the same bytes (its SHA-256 names an input):
 *   - spaced: ", " between elements and ": " after keys, or with compact
 *     set, "," and ":";
 *   - reals with `precision` significant digits ("%.*g"), always with a
 *     '.' or an exponent so they read back as reals ("3.0", "1e-5"),
 *     exponents without '+' or leading zeros;
 *   - strings byte for byte, escaping '"', '\\' and control characters
 *     (\b \f \n \r \t, else \u00XX); callers pass UTF-8.
 * A non-finite real, nesting deeper than 32 or running out of memory marks
 * the document failed, and hant_jsonbuf_take() then returns NULL: write
 * null yourself for a value that may be missing. The caller owns the
 * struct; release an unfinished one with hant_jsonbuf_free(). */
typedef struct hant_jsonbuf {
  char *p;          /* the text so far, NUL-terminated once anything is written */
  size_t len, cap;  /* bytes used and allocated */
  int depth;
  bool first[33];   /* per depth: no element written yet */
  bool after_key;
  bool compact;
  int precision;    /* significant digits of reals */
  bool failed;
} hant_jsonbuf;

/* Starts an empty document. precision: significant digits of reals, 1 to 17. */
void hant_jsonbuf_init(hant_jsonbuf *b, bool compact, int precision);
/* Releases the buffer of a document not taken; NULL is a no-op. */
void hant_jsonbuf_free(hant_jsonbuf *b);

void hant_jsonbuf_obj_begin(hant_jsonbuf *b);
void hant_jsonbuf_obj_end(hant_jsonbuf *b);
void hant_jsonbuf_arr_begin(hant_jsonbuf *b);
void hant_jsonbuf_arr_end(hant_jsonbuf *b);
/* A member's key; the next value written is its value. */
void hant_jsonbuf_key(hant_jsonbuf *b, const char *k);
void hant_jsonbuf_str(hant_jsonbuf *b, const char *s);
/* A real number; non-finite fails the document (see above). */
void hant_jsonbuf_real(hant_jsonbuf *b, double v);
void hant_jsonbuf_int(hant_jsonbuf *b, long long v);
void hant_jsonbuf_bool(hant_jsonbuf *b, bool v);
void hant_jsonbuf_null(hant_jsonbuf *b);

/* Hands over the text as a malloc'd NUL-terminated string (release it with
 * free()) and leaves b empty; NULL when the document failed or is not
 * closed. Either way b needs no hant_jsonbuf_free() afterwards. */
char *hant_jsonbuf_take(hant_jsonbuf *b);

#endif
