/* SPDX-License-Identifier: MIT */
/* json_read.h: reading untrusted JSON documents through typed getters whose errors name the input and the field. */
#ifndef HANT_JSON_READ_H
#define HANT_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>

/* A JSON value. Documents are parsed by jansson, but only json_read.c and
 * the protocol code see jansson's definition: everywhere else a value is an
 * opaque pointer. (It is jansson's json_t, so the protocol code may pass its
 * own json_t pointers to the getters below.) A value belongs to the
 * document it came from and lives as long as that document. */
typedef struct json_t hant_json;

typedef enum hant_json_type {
  HANT_JSON_OBJECT,
  HANT_JSON_ARRAY,
  HANT_JSON_STRING,
  HANT_JSON_NUMBER, /* integer or real */
  HANT_JSON_BOOL,
  HANT_JSON_NULL,
  HANT_JSON_TYPE_COUNT
} hant_json_type;

/* ---- documents ---------------------------------------------------------- */

/* Where and why a text is not JSON, for callers that word the error in
 * their own format. */
typedef struct hant_json_syntax {
  int line, column; /* 1-based; the column counts characters, not bytes */
  size_t position;  /* bytes read before the error was found */
  char what[160];   /* e.g. "']' expected near end of file" */
} hant_json_syntax;

/* Parses len bytes of JSON text (no NUL terminator needed) into a new
 * document whose top level is an object or an array. Objects with a
 * duplicate key, and NUL characters in strings or keys, are refused.
 * source names the input in messages. On success *out is the root value,
 * owned by the caller: release it with hant_json_free(). Returns 0,
 * HANT_EFORMAT with the message "SOURCE:LINE:COLUMN: what is wrong" (and,
 * if syntax is not NULL, the same facts in *syntax), or HANT_ENOMEM; *out
 * is NULL on failure. */
int hant_json_parse(const char *text, size_t len, const char *source, hant_json **out, hant_json_syntax *syntax);

/* Releases a document returned by hant_json_parse(); NULL is a no-op. */
void hant_json_free(hant_json *doc);

/* ---- looking at values, without errors ---------------------------------- */

/* The type of v, which must not be NULL. */
hant_json_type hant_json_typeof(const hant_json *v);
/* What v is, for "expected X, got Y" messages: "an object", "an array",
 * "a string", "a number", "a boolean", "null", or "nothing" for NULL. */
const char *hant_json_type_name(const hant_json *v);
/* The member key of obj, or NULL when obj is NULL, is not an object or has
 * no such member. */
hant_json *hant_json_member(const hant_json *obj, const char *key);
/* Elements of an array or members of an object; 0 for anything else. */
size_t hant_json_size(const hant_json *v);
/* Element i of an array, or NULL when v is not an array or i is past its end. */
hant_json *hant_json_at(const hant_json *v, size_t i);
/* A string's bytes (NUL-terminated) and, if len is not NULL, its length in
 * bytes; NULL when v is not a string. */
const char *hant_json_string(const hant_json *v, size_t *len);
/* A number's value in *x; false, leaving *x alone, when v is not a number. */
bool hant_json_number(const hant_json *v, double *x);

/* Walks an object's members in document order:
 *
 *   hant_json_iter it = hant_json_iter_begin(obj);
 *   const char *key;
 *   size_t key_len;
 *   hant_json *val;
 *   while (hant_json_iter_next(&it, &key, &key_len, &val))
 *     ...
 *
 * A value that is not an object has no members. The object must not be
 * changed during the walk. */
typedef struct hant_json_iter {
  hant_json *obj;
  void *pos; /* the next member, NULL at the end */
} hant_json_iter;

hant_json_iter hant_json_iter_begin(const hant_json *obj);
/* Gives the next member and returns true, or returns false at the end.
 * key_len may be NULL. */
bool hant_json_iter_next(hant_json_iter *it, const char **key, size_t *key_len, hant_json **value);

/* ---- reading with errors ------------------------------------------------- */

#define HANT_JSON_PATH_MAX 256

/* The words a reader's messages are made of. The file formats use the
 * default words, quoted below (wording NULL, as hant_json_reader_init()
 * leaves it); hantd's protocol sets its own, the words its clients have
 * always received (rpc/params.c). Messages not made of these words read
 * the same for every reader. */
typedef struct hant_json_wording {
  /* Join a complaint to what was expected, as in "missing (expected a
   * string)" and "unknown field (expected one of: a, b)". */
  const char *expected_open;  /* " (expected " */
  const char *expected_close; /* ")" */
  const char *no_fields;      /* "one of: none", for an object that takes no fields */
  const char *too_long;       /* "is too long", then " (N bytes; at most M)" */
  const char *boolean;        /* "true or false", in "expected true or false, got a string" */
  /* A value that is not a number: false refuses it by the range
   * expected ("expected a number >= 0, got a string"), true by its type
   * alone ("expected a number, got a string"). */
  bool number_type_alone;
  /* Writes a key, which comes from the input, as paths show it into buf
   * of n bytes (n is at least 96) and returns buf. NULL: printable ASCII
   * only (other bytes become '?'), cut at 64 bytes with "...", and the
   * empty key as two double quotes. */
  const char *(*show_key)(const char *key, char *buf, size_t n);
} hant_json_wording;

/* The reader's place in a document, so that every error names the input
 * and the field, e.g.
 *
 *   devices/rpi4.json: power_modes[1].idle.value: expected a number >= 0, got -1
 *
 * The caller owns it (usually on the stack); nothing in it needs freeing.
 * Keys are shown in the path as the wording's show_key writes them, since
 * they come from the input. */
typedef struct hant_json_reader {
  const char *source;                  /* names the input: a file name, or a label such as "invalid params" */
  char path[HANT_JSON_PATH_MAX];       /* the field being read, e.g. "groups[3].items[7]"; "" at the top */
  size_t path_len;                     /* strlen(path) */
  char failed_at[HANT_JSON_PATH_MAX]; /* the path of the last error, for callers that report it apart */
  const hant_json_wording *wording;   /* NULL: the words quoted in hant_json_wording; not copied */
} hant_json_reader;

/* Starts at the top of a document, with the default wording; source is not
 * copied and must outlive r. A caller with its own wording sets
 * r->wording after this. */
void hant_json_reader_init(hant_json_reader *r, const char *source);

/* Descends into member key or element i. Each returns a mark to give to
 * hant_json_pop() to come back up. */
size_t hant_json_push_key(hant_json_reader *r, const char *key);
size_t hant_json_push_index(hant_json_reader *r, size_t i);
void hant_json_pop(hant_json_reader *r, size_t mark);

/* Records an error at the current path and returns code: the message is
 * "SOURCE: PATH: MESSAGE", or "SOURCE: MESSAGE" at the top of the document
 * (hant_errmsg()), and the path is copied to r->failed_at. */
int hant_json_fail(hant_json_reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same at member key of the current path, for checks a getter does not
 * make: the path of the message and of r->failed_at ends in key. */
int hant_json_fail_at(hant_json_reader *r, const char *key, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Flags of the getters. */
enum {
  HANT_JSON_REQUIRED = 1u << 0,    /* absence is an error ("missing (expected ...)") */
  HANT_JSON_NULL_ABSENT = 1u << 1, /* a null value counts as absent */
  HANT_JSON_ALLOW_EMPTY = 1u << 2, /* strings: "" is accepted */
};

/* The getters read member key of the object obj, with the key added to the
 * path in any message. An absent member (or obj NULL) is an error only with
 * HANT_JSON_REQUIRED; otherwise they return 0 and leave *out unchanged, so
 * the caller can set a default first. They return 0 or HANT_EFORMAT, with
 * messages of the form "expected WHAT, got GOT", where GOT is the value of
 * a number out of range ("got -0.5") and otherwise the type of the value
 * found ("got a string"), and "missing (expected WHAT)" (in the reader's
 * wording). `what`, where a getter takes it, replaces the default
 * description. */

/* An object or an array; *out points into the document. */
int hant_json_get_object(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags,
                         const char *what, hant_json **out);
int hant_json_get_array(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags,
                        const char *what, hant_json **out);

/* A finite number in [lo, hi]; lo and hi may be -INFINITY and INFINITY. The
 * default description follows the bounds: "a finite number",
 * "a number >= 0", "a number from 0 to 10". */
int hant_json_get_number(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, double lo,
                         double hi, const char *what, double *out);
/* A whole number in [lo, hi] (2 and 2.0 are both 2), by default described as
 * "a whole number from LO to HI". */
int hant_json_get_int(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, long long lo,
                      long long hi, const char *what, long long *out);
/* true or false. */
int hant_json_get_bool(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, bool *out);

/* A string of at most max_len bytes without NUL characters, non-empty unless
 * HANT_JSON_ALLOW_EMPTY. *out points into the document; *len (if len is not
 * NULL) receives its length in bytes. */
int hant_json_get_string(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags,
                         size_t max_len, const char **out, size_t *len);
/* The same, copied into buf of size bytes (so at most size - 1 of them). */
int hant_json_get_strbuf(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, char *buf,
                         size_t size);

/* Checks a value already in hand, at the current path: an error when v is
 * NULL ("missing (expected WHAT)") or not of the given type ("expected
 * WHAT, got GOT"). what may be NULL for the type's plain description. */
int hant_json_expect(hant_json_reader *r, const hant_json *v, hant_json_type type, const char *what);

/* The first key of obj, in document order, that is not in allowed
 * (NULL-terminated), or NULL when there is none or obj is not an object:
 * for formats that word the refusal themselves. */
const char *hant_json_first_unknown(const hant_json *obj, const char *const *allowed);

/* Refuses a member of obj whose key is not in allowed (NULL-terminated):
 * "PATH.KEY: unknown field (expected one of: a, b, c)", in the reader's
 * wording. Keys starting with '$' (such as "$schema") are accepted when
 * listed but left out of the message. Returns 0 or HANT_EFORMAT. */
int hant_json_only(hant_json_reader *r, const hant_json *obj, const char *const *allowed);

#endif
