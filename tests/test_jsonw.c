/* SPDX-License-Identifier: MIT */
/* test_jsonw.c: the JSON writer's three targets, escaping, numbers, nesting and jansson-compatible styles. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hant.h"
#include "test_util.h"

/* One document with every kind of value, written the same way to every
 * target and in every style below. */
static void write_sample(hant_jsonw *w) {
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "name");
  hant_jsonw_str(w, "conv1");
  hant_jsonw_key(w, "rank");
  hant_jsonw_int(w, 8);
  hant_jsonw_key(w, "ratio");
  hant_jsonw_num(w, 0.25);
  hant_jsonw_key(w, "dims");
  hant_jsonw_arr_begin(w);
  hant_jsonw_int(w, 3);
  hant_jsonw_num(w, 2);
  hant_jsonw_arr_end(w);
  hant_jsonw_key(w, "empty");
  hant_jsonw_obj_begin(w);
  hant_jsonw_obj_end(w);
  hant_jsonw_key(w, "none");
  hant_jsonw_arr_begin(w);
  hant_jsonw_arr_end(w);
  hant_jsonw_key(w, "ok");
  hant_jsonw_bool(w, true);
  hant_jsonw_key(w, "off");
  hant_jsonw_bool(w, false);
  hant_jsonw_key(w, "missing");
  hant_jsonw_null(w);
  hant_jsonw_obj_end(w);
}

static const char sample_compact[] =
    "{\"name\":\"conv1\",\"rank\":8,\"ratio\":0.25,\"dims\":[3,2],\"empty\":{},\"none\":[],\"ok\":true,\"off\":false,"
    "\"missing\":null}";

/* Writes what fn writes into a growing buffer with the given style (NULL:
 * the zero style) and hands the text over; NULL when the writer failed. */
static char *written(void (*fn)(hant_jsonw *), const hant_jsonw_style *style) {
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  if (style)
    hant_jsonw_set_style(&w, style);
  fn(&w);
  return hant_jsonw_take(&w);
}

static bool text_is(char *got, const char *want) {
  bool same = got && !strcmp(got, want);
  if (!same)
    fprintf(stderr, "  got:  %s\n  want: %s\n", got ? got : "(NULL)", want);
  free(got);
  return same;
}

static void test_file(void) {
  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  HANT_ASSERT(f);
  hant_jsonw w;
  hant_jsonw_init(&w, f);
  write_sample(&w);
  hant_jsonw_end(&w);
  CHECK(hant_jsonw_error(&w) == 0, "a stream writer reports no error");
  /* hant_jsonw_end flushes: the text is there before the stream closes. */
  CHECK(n == strlen(sample_compact) + 1 && s && !memcmp(s, sample_compact, n - 1) && s[n - 1] == '\n',
        "a stream gets the compact text and a newline at the end");
  fclose(f);
  free(s);
}

static void test_fixed_buffer(void) {
  size_t len = strlen(sample_compact);
  char *buf = malloc(len + 1);
  hant_jsonw w;
  hant_jsonw_init_buf(&w, buf, len + 1);
  write_sample(&w);
  hant_jsonw_end(&w);
  CHECK(hant_jsonw_error(&w) == 0 && !strcmp(buf, sample_compact), "a buffer of exactly the text's size holds it");
  free(buf);

  buf = malloc(len);
  memset(buf, 'x', len);
  hant_jsonw_init_buf(&w, buf, len);
  CHECK(buf[0] == '\0', "init_buf starts the buffer empty");
  write_sample(&w);
  CHECK(hant_jsonw_error(&w) == HANT_ELIMIT, "one byte short is HANT_ELIMIT, got %d", hant_jsonw_error(&w));
  CHECK(buf[0] == '\0', "an overflowed buffer holds \"\", not a prefix: %s", buf);
  hant_jsonw_str(&w, "x");
  CHECK(buf[0] == '\0' && hant_jsonw_error(&w) == HANT_ELIMIT, "writes after an overflow add nothing");
  free(buf);

  char one[1];
  hant_jsonw_init_buf(&w, one, sizeof(one));
  hant_jsonw_null(&w);
  CHECK(hant_jsonw_error(&w) == HANT_ELIMIT && one[0] == '\0', "a one-byte buffer holds only the NUL");
}

static void long_array(hant_jsonw *w) {
  hant_jsonw_arr_begin(w);
  for (int i = 0; i < 5000; i++)
    hant_jsonw_int(w, i);
  hant_jsonw_arr_end(w);
}

static void test_growing_buffer(void) {
  CHECK(text_is(written(write_sample, NULL), sample_compact), "a growing buffer holds the compact text, no newline");

  char *s = written(long_array, NULL);
  bool ok = s && !strncmp(s, "[0,1,2,", 7) && strstr(s, ",2500,2501,") && !strcmp(s + strlen(s) - 11, ",4998,4999]");
  CHECK(ok, "a long text grows the buffer without losing bytes (%zu bytes)", s ? strlen(s) : 0);
  free(s);

  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  s = hant_jsonw_take(&w);
  CHECK(s && !strcmp(s, ""), "an empty writer hands over \"\"");
  free(s);

  hant_jsonw_init_mem(&w);
  long_array(&w);
  hant_jsonw_free(&w);
  hant_jsonw_free(&w);
  CHECK(w.buf == NULL && w.len == 0, "free releases the text and may be called twice");
}

static void escapes(hant_jsonw *w) {
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "k\"\\\n");
  hant_jsonw_str(w, "q\" b\\ n\n r\r t\t b\b f\f 01\x01 1f\x1f del\x7f slash/ \xc3\xa9");
  hant_jsonw_key(w, "null");
  hant_jsonw_str(w, NULL);
  hant_jsonw_obj_end(w);
}

static void test_escaping(void) {
  CHECK(text_is(written(escapes, NULL), "{\"k\\\"\\\\\\n\":\"q\\\" b\\\\ n\\n r\\r t\\t b\\u0008 f\\u000c 01\\u0001 "
                                        "1f\\u001f del\x7f slash/ \xc3\xa9\",\"null\":\"\"}"),
        "the zero style escapes quotes, backslashes and control characters in keys and strings, \\b and \\f as "
        "lower-case \\u00xx, and copies other bytes");
  const hant_jsonw_style jansson = {.jansson_escapes = true};
  CHECK(text_is(written(escapes, &jansson), "{\"k\\\"\\\\\\n\":\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f 01\\u0001 "
                                            "1f\\u001F del\x7f slash/ \xc3\xa9\",\"null\":\"\"}"),
        "jansson escapes name \\b and \\f and write upper-case \\u00XX");
}

static void numbers(hant_jsonw *w) {
  hant_jsonw_arr_begin(w);
  hant_jsonw_num(w, 3);
  hant_jsonw_num(w, 0.1);
  hant_jsonw_num(w, 1.0 / 3);
  hant_jsonw_num(w, 1e20);
  hant_jsonw_num(w, 1e-5);
  hant_jsonw_num(w, -0.0);
  hant_jsonw_num(w, 123456789012.5);
  hant_jsonw_numf(w, "%.2f", 3.14159);
  hant_jsonw_int(w, LLONG_MIN);
  hant_jsonw_int(w, LLONG_MAX);
  hant_jsonw_arr_end(w);
}

static void test_numbers(void) {
  CHECK(text_is(written(numbers, NULL), "[3,0.1,0.3333333333,1e+20,1e-05,-0,1.23456789e+11,3.14,-9223372036854775808,"
                                        "9223372036854775807]"),
        "the zero style writes numbers with %%.10g, numf with its own format, integers exactly");
  const hant_jsonw_style r17 = {.real_digits = 17};
  CHECK(text_is(written(numbers, &r17), "[3.0,0.10000000000000001,0.33333333333333331,1e20,1.0000000000000001e-5,"
                                        "-0.0,123456789012.5,3.14,-9223372036854775808,9223372036854775807]"),
        "real_digits 17 writes jansson's reals: '.0' added, exponents trimmed, numf and integers untouched");
  const hant_jsonw_style r15 = {.real_digits = 15};
  CHECK(text_is(written(numbers, &r15),
                "[3.0,0.1,0.333333333333333,1e20,1e-5,-0.0,123456789012.5,3.14,-9223372036854775808,"
                "9223372036854775807]"),
        "real_digits 15 rounds to 15 digits");
}

static double bad_value;

static void nonfinite(hant_jsonw *w) {
  hant_jsonw_arr_begin(w);
  hant_jsonw_int(w, 1);
  hant_jsonw_num(w, bad_value);
  hant_jsonw_numf(w, "%.3f", bad_value);
  hant_jsonw_int(w, 2);
  hant_jsonw_arr_end(w);
}

static void test_nonfinite(void) {
  const double bad[] = {NAN, INFINITY, -INFINITY};
  const hant_jsonw_style jansson = {.spaced = true, .real_digits = 17, .jansson_escapes = true};
  for (int i = 0; i < 3; i++) {
    bad_value = bad[i];
    CHECK(text_is(written(nonfinite, NULL), "[1,null,null,2]"), "the zero style writes %g as null", bad[i]);
    CHECK(written(nonfinite, &jansson) == NULL, "a jansson style fails on %g: take hands over NULL", bad[i]);
  }

  bad_value = NAN;
  hant_jsonw w;
  char buf[64];
  hant_jsonw_init_buf(&w, buf, sizeof(buf));
  hant_jsonw_set_style(&w, &jansson);
  nonfinite(&w);
  CHECK(hant_jsonw_error(&w) == HANT_EINVAL && buf[0] == '\0',
        "a fixed buffer under a jansson style reports HANT_EINVAL and holds \"\": %s", buf);

  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  HANT_ASSERT(f);
  hant_jsonw_init(&w, f);
  hant_jsonw_set_style(&w, &jansson);
  nonfinite(&w);
  hant_jsonw_end(&w);
  CHECK(hant_jsonw_error(&w) == HANT_EINVAL && n == 4 && !memcmp(s, "[1, ", 4),
        "a stream under a jansson style stops at the failure (%zu bytes: %.*s)", n, (int)n, s);
  fclose(f);
  free(s);
}

static void nested(hant_jsonw *w) {
  hant_jsonw_arr_begin(w);
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "a");
  hant_jsonw_arr_begin(w);
  hant_jsonw_arr_begin(w);
  hant_jsonw_arr_end(w);
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "b");
  hant_jsonw_int(w, 1);
  hant_jsonw_key(w, "c");
  hant_jsonw_obj_begin(w);
  hant_jsonw_obj_end(w);
  hant_jsonw_obj_end(w);
  hant_jsonw_arr_end(w);
  hant_jsonw_key(w, "d");
  hant_jsonw_str(w, "e");
  hant_jsonw_obj_end(w);
  hant_jsonw_int(w, 2);
  hant_jsonw_arr_end(w);
}

static void deepest(hant_jsonw *w) {
  for (int i = 0; i < 31; i++)
    hant_jsonw_arr_begin(w);
  for (int i = 0; i < 31; i++)
    hant_jsonw_arr_end(w);
}

static void test_nesting(void) {
  CHECK(text_is(written(nested, NULL), "[{\"a\":[[],{\"b\":1,\"c\":{}}],\"d\":\"e\"},2]"),
        "commas go between elements at every depth and never after a key");
  char *s = written(deepest, NULL);
  CHECK(s && strlen(s) == 62 && s[30] == '[' && s[31] == ']', "31 levels of nesting are allowed");
  free(s);
}

static void answer(hant_jsonw *w) {
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "status");
  hant_jsonw_str(w, "optimal");
  hant_jsonw_key(w, "gap");
  hant_jsonw_num(w, 0);
  hant_jsonw_key(w, "solve_ms");
  hant_jsonw_num(w, 1.25);
  hant_jsonw_obj_end(w);
}

/* The expected texts are what jansson's json_dumps writes for the same
 * values with the flags each style names. */
static void test_jansson_layout(void) {
  const hant_jsonw_style answer_style = {.spaced = true, .real_digits = 15, .jansson_escapes = true};
  CHECK(text_is(written(answer, &answer_style), "{\"status\": \"optimal\", \"gap\": 0.0, \"solve_ms\": 1.25}"),
        "a solver answer's style writes \"gap\": 0.0 as jansson did");
  const hant_jsonw_style spaced = {.spaced = true, .real_digits = 17, .jansson_escapes = true};
  CHECK(text_is(written(write_sample, &spaced),
                "{\"name\": \"conv1\", \"rank\": 8, \"ratio\": 0.25, \"dims\": [3, 2.0], \"empty\": {}, \"none\": [], "
                "\"ok\": true, \"off\": false, \"missing\": null}"),
        "spaced: ', ' between elements and ': ' after keys, as json_dumps without JSON_COMPACT");
  CHECK(text_is(written(nested, &spaced), "[{\"a\": [[], {\"b\": 1, \"c\": {}}], \"d\": \"e\"}, 2]"),
        "spaced nesting");

  const hant_jsonw_style indent2 = {.indent = 2, .spaced = true, .real_digits = 17};
  CHECK(text_is(written(nested, &indent2), "[\n"
                                           "  {\n"
                                           "    \"a\": [\n"
                                           "      [],\n"
                                           "      {\n"
                                           "        \"b\": 1,\n"
                                           "        \"c\": {}\n"
                                           "      }\n"
                                           "    ],\n"
                                           "    \"d\": \"e\"\n"
                                           "  },\n"
                                           "  2\n"
                                           "]"),
        "indent 2: one element a line, closing brackets at their level, empty containers kept on one line");
  const hant_jsonw_style indent1c = {.indent = 1};
  CHECK(text_is(written(nested, &indent1c), "[\n {\n  \"a\":[\n   [],\n   {\n    \"b\":1,\n    \"c\":{}\n   }\n  ],\n"
                                            "  \"d\":\"e\"\n },\n 2\n]"),
        "indent without spacing: ':' after keys, as JSON_INDENT with JSON_COMPACT");
}

/* Deep indentation is written in pieces; check the deepest line whole. */
static void test_deep_indent(void) {
  const hant_jsonw_style indent4 = {.indent = 4};
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_set_style(&w, &indent4);
  for (int i = 0; i < 31; i++)
    hant_jsonw_arr_begin(&w);
  hant_jsonw_int(&w, 7);
  for (int i = 0; i < 31; i++)
    hant_jsonw_arr_end(&w);
  char *s = hant_jsonw_take(&w);
  char want[300];
  snprintf(want, sizeof(want), "[\n%*s7\n%*s]", 31 * 4, "", 30 * 4, "");
  CHECK(s && strstr(s, want), "the innermost value is indented by 124 spaces");
  free(s);
}

/* Runs fn in a child and tells whether it died of an assertion (SIGABRT). */
static bool aborts(void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  HANT_ASSERT(pid >= 0);
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr))
      _exit(2);
    fn();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void too_deep(void) {
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  for (int i = 0; i < 32; i++)
    hant_jsonw_arr_begin(&w);
}

static void close_unopened(void) {
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_arr_end(&w);
}

static void style_after_start(void) {
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_arr_begin(&w);
  hant_jsonw_set_style(&w, &(hant_jsonw_style){.spaced = true});
}

static void style_out_of_range(void) {
  hant_jsonw w;
  hant_jsonw_init_mem(&w);
  hant_jsonw_set_style(&w, &(hant_jsonw_style){.real_digits = 18});
}

static void deepest_ok(void) {
  free(written(deepest, NULL));
}

static void test_programmer_errors(void) {
  CHECK(aborts(too_deep), "a 32nd level of nesting is a programmer error");
  CHECK(aborts(close_unopened), "closing what was not opened is a programmer error");
  CHECK(aborts(style_after_start), "changing the style of a value half written is a programmer error");
  CHECK(aborts(style_out_of_range), "real_digits past 17 is a programmer error");
  CHECK(!aborts(deepest_ok), "31 levels do not abort, so the checks above fail for the reason they name");
}

int main(void) {
  test_file();
  test_fixed_buffer();
  test_growing_buffer();
  test_escaping();
  test_numbers();
  test_nonfinite();
  test_nesting();
  test_jansson_layout();
  test_deep_indent();
  test_programmer_errors();
  return test_summary("jsonw");
}
