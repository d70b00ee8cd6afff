/* SPDX-License-Identifier: MIT */
/* fuzz_answer.c: fuzz target for hant-client's reading of what hantd sends: a hostile or broken daemon's lines are sorted as client_call sorts them, and the answers print without harm. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "rpc_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input is what hantd sends on a connection: lines, the client
 * waiting for the answer to request 7. */
#define REQUEST_ID 7

static long accepted; /* answers to request 7 */

static void fail(const char *what, const char *line, size_t n) {
  fprintf(stderr, "fuzz_answer: %s\n--- line ---\n%.*s\n---\n", what, (int)(n < 4000 ? n : 4000), line);
  abort();
}

/* What the answer says, printed as the commands print it, to /dev/null. */
static void print_quietly(const json_t *result) {
  static int null_fd = -2, out_fd = -1;
  if (null_fd == -2) {
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    out_fd = dup(1);
  }
  if (null_fd < 0 || out_fd < 0)
    return;
  fflush(stdout);
  dup2(null_fd, 1);
  client_print_job(result, false);
  client_print_job(result, true);
  client_print_json(result);
  char buf[64];
  client_fmt_kind(client_str(result, "axis", "latency_ms"), client_num(result, "cost"), buf, sizeof(buf));
  fflush(stdout);
  dup2(out_fd, 1);
}

/* Both absent, or equal. */
static bool same_value(const json_t *a, const json_t *b) { return (!a && !b) || (a && b && json_equal(a, b)); }

/* One line: sorted as the reference below, written from the protocol. */
static void check_line(const char *line, size_t n) {
  client_line l;
  memset(&l, 0xa5, sizeof(l));
  int rc = client_line_parse(line, n, REQUEST_ID, &l);
  json_t *msg = json_loadb(line, n, 0, NULL);
  if (!json_is_object(msg)) {
    if (rc != HANT_EFORMAT || l.kind != CLIENT_LINE_INVALID || l.msg)
      fail("a line that is not a JSON object is not refused as invalid", line, n);
    json_decref(msg);
    client_line_free(&l);
    return;
  }
  if (rc || l.kind == CLIENT_LINE_INVALID || !l.msg)
    fail("a JSON object is refused", line, n);
  json_t *id = json_object_get(msg, "id"), *err = json_object_get(msg, "error");
  const char *method = json_string_value(json_object_get(msg, "method"));
  client_line_kind want = CLIENT_LINE_OTHER;
  if (method && !id)
    want = CLIENT_LINE_NOTIFICATION;
  else if ((json_is_integer(id) && json_integer_value(id) == REQUEST_ID) || (err && json_is_null(id)))
    want = CLIENT_LINE_ANSWER;
  if (l.kind != want)
    fail("a line sorted as the wrong kind", line, n);
  switch (l.kind) {
  case CLIENT_LINE_NOTIFICATION:
    if (!l.method || strcmp(l.method, method) || !same_value(l.params, json_object_get(msg, "params")))
      fail("a notification without its method or params", line, n);
    break;
  case CLIENT_LINE_ANSWER:
    accepted++;
    if ((err != NULL) != (l.error != NULL) || (l.error != NULL) != (l.message != NULL))
      fail("an answer's error member, or its message, is lost", line, n);
    if (l.error) {
      json_t *code = json_object_get(err, "code");
      json_int_t c = json_integer_value(code);
      int want_code = json_is_integer(code) && c >= INT_MIN && c <= INT_MAX ? (int)c : 0;
      const char *m = json_string_value(json_object_get(err, "message"));
      if (l.code != want_code || (m && strcmp(m, l.message)) || l.result)
        fail("an error answer's code or message is not the one sent", line, n);
    } else {
      if (!same_value(l.result, json_object_get(msg, "result")))
        fail("an answer's result is not the one sent", line, n);
      if (l.result)
        print_quietly(l.result);
    }
    break;
  default:
    break;
  }
  client_line_free(&l);
  if (l.kind != CLIENT_LINE_INVALID || l.msg)
    fail("client_line_free leaves something behind", line, n);
  json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  /* Each line in a buffer of its own, so that reading past it is caught. */
  for (size_t pos = 0; pos < size;) {
    const char *nl = memchr(s + pos, '\n', size - pos);
    size_t n = nl ? (size_t)(nl - (s + pos)) : size - pos;
    char *line = malloc(n ? n : 1);
    if (!line)
      return 0;
    memcpy(line, s + pos, n);
    check_line(line, n);
    free(line);
    pos += n + 1;
  }
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_answer"
#include "fuzz_driver.h"
#include "json_mutate.h"

static const char *const seeds[] = {
    "{\"jsonrpc\":\"2.0\",\"method\":\"jobs.progress\",\"params\":{\"id\":3,\"state\":\"running\",\"progress\":0.5,"
    "\"note\":\"fine-tuning\"}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"id\":3,\"kind\":\"transform\",\"state\":\"done\",\"progress\":1,"
    "\"note\":\"\",\"params\":{},\"result\":{\"out\":\"/var/lib/hantd/users/1000/x.onnx\",\"placed\":\"/home/u/x.onnx\","
    "\"bytes\":1234,\"macs\":5e6,\"params\":4000,\"finetune_epochs\":1,\"predicted\":{\"accuracy\":0.9},\"measured\":"
    "{\"val_accuracy\":0.91,\"test_accuracy\":0.9,\"val_accuracy_before_finetune\":0.8,\"test_accuracy_before_finetune"
    "\":0.79,\"teacher_test_accuracy\":0.93,\"val_images\":100,\"test_images\":100}},\"error\":null,\"attempts\":1}}\n",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"kind\":\"eval\",\"state\":\"done\",\"result\":{\"accuracy\":0.5,\"loss\":"
    "1.2,\"n\":10,\"split\":\"test\",\"model\":\"/m.onnx\"}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32001,\"message\":\"busy: the work queue is full; retry later\"}}",
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32002,\"message\":\"message too large\"}}\n",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"status\":\"optimal\",\"axis\":\"energy_mj\",\"cost\":2.5,\"slots\":[]}}",
};

static const char *const dict[] = {
    "\"id\":7", "\"id\":null", "\"id\":\"7\"", "\"id\":7.0", "\"method\"", "\"params\"", "\"result\"", "\"error\"",
    "\"code\"", "\"message\"", "\"state\"", "\"done\"", "\"kind\"", "\"transform\"", "\"eval\"", "\"measured\"",
    "\"placed\"", "\"out\"", "9223372036854775807", "-9223372036854775808", "4294934527", "1e308", "null", "[]",
    "{}", "\"\\u0000\"", "\"\\ud800\"", "\n", "\x1b[2J",
};

static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  return json_mutate(buf, len, cap, dict, sizeof(dict) / sizeof(dict[0]));
}

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .dict = dict,
                                    .mutate = mutate,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
