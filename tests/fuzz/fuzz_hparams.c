/* SPDX-License-Identifier: MIT */
/* fuzz_hparams.c: fuzz target for candidates' hyper-parameters read back from a library into hantd's answers: any stored text gives a well-formed answer that shows it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hant.h"
#include "json_close.h"
#include "library.h"
#include "rpc.h"
#include "store.h"
#include "synth_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input is the hparams column of every candidate of a small synthetic
 * library, as the store hands it out (a C string of at most 255 bytes):
 * a library is a file anyone with access can edit. Each is answered by
 * `library` with the candidates listed and, every eighth, by a
 * `transform` that shows the chosen ones. */

static long accepted; /* texts shown as the JSON they hold */
static char dir[64];
static hant_store *st;
static hant_library *lib;

static void fail(const char *what, const char *text, const char *line) {
  fprintf(stderr, "fuzz_hparams: %s\n--- hparams ---\n%s\n--- answer ---\n%.4000s\n", what, text, line ? line : "");
  abort();
}

static void cleanup(void) {
  hant_library_unref(lib);
  hant_store_close(st);
  lib = NULL;
  st = NULL;
  if (dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
  }
}

static void setup(void) {
  if (lib)
    return;
  snprintf(dir, sizeof(dir), "/tmp/hant-fuzz-hparams.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("fuzz_hparams: mkdtemp");
    exit(2);
  }
  char path[128];
  snprintf(path, sizeof(path), "%s/lib.db", dir);
  if (synth_lib_build(path, 3, 4, 1) || hant_store_open(path, HANT_STORE_NOCHECK, &st) ||
      hant_library_load(st, NULL, &lib)) {
    fprintf(stderr, "fuzz_hparams: cannot build the library: %s\n", hant_errmsg());
    exit(2);
  }
  atexit(cleanup);
}

/* Checks one shown hparams member against the stored text: the JSON it
 * holds when it parses as an object or array (reals to hantd's 12
 * digits), else the text as a string. Returns whether it was shown as
 * JSON. */
static bool check_shown(const json_t *shown, const char *text, const char *line) {
  json_t *want = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  bool as_json = want != NULL;
  if (!want)
    want = json_string(text);
  /* Text that is not UTF-8 cannot be a JSON string: the member is then
   * left out (want is NULL), which the check accepts. */
  if (want && !json_close(shown, want, 1e-11))
    fail(as_json ? "hparams not shown as the JSON they hold" : "hparams not shown as their text", text, line);
  json_decref(want);
  return as_json;
}

static json_t *answer(const char *request, const char *text, char **line_out) {
  hant_rpc_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.lib = lib;
  ctx.st = st;
  ctx.default_time_limit_ms = 50;
  hant_rpc_reply r;
  hant_rpc_reply_init(&r);
  int rc = hant_rpc_handle(&ctx, request, strlen(request), (size_t)1 << 20, &r);
  if (rc == HANT_ENOMEM) {
    hant_rpc_reply_free(&r);
    return NULL;
  }
  if (rc || !r.line || r.error)
    fail("the request is not answered with a result", text, r.line);
  json_t *o = json_loads(r.line, 0, NULL);
  if (!json_object_get(o, "result") || strchr(r.line, '\n'))
    fail("the answer is not one line of JSON with a result", text, r.line);
  *line_out = r.line;
  r.line = NULL;
  hant_rpc_reply_free(&r);
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static long runs;
  setup();
  char text[256];
  snprintf(text, sizeof(text), "%.*s", (int)(size < 255 ? size : 255), (const char *)data);
  for (int i = 0; i < lib->n_cands; i++)
    memcpy(lib->cands[i].hparams, text, sizeof(text));

  char *line = NULL;
  json_t *o = answer("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"library\",\"params\":{\"candidates\":true}}", text,
                     &line);
  if (!o)
    return 0;
  size_t i, j, listed = 0;
  json_t *slot, *cand;
  bool as_json = false;
  json_array_foreach(json_object_get(json_object_get(o, "result"), "slots"), i, slot) {
    json_array_foreach(json_object_get(slot, "list"), j, cand) {
      as_json = check_shown(json_object_get(cand, "hparams"), text, line);
      listed++;
    }
  }
  if (listed != (size_t)lib->n_cands)
    fail("the library answer does not list every candidate", text, line);
  accepted += as_json;
  json_decref(o);
  free(line);

  if (++runs % 8)
    return 0;
  o = answer("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"transform\",\"params\":{\"device\":\"cpu\",\"budgets\":"
             "{\"macs\":1e12}}}",
             text, &line);
  if (!o)
    return 0;
  json_t *slots = json_object_get(json_object_get(o, "result"), "slots");
  if (json_array_size(slots) != (size_t)lib->n_slots)
    fail("the transform answer has no choice for every slot", text, line);
  json_array_foreach(slots, i, slot) check_shown(json_object_get(slot, "hparams"), text, line);
  json_decref(o);
  free(line);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_hparams"
#include "fuzz_driver.h"
#include "json_mutate.h"

static const char *const seeds[] = {
    "{\"j\":3}",
    "{\"rank\":8,\"kernel\":[3,3],\"groups\":2,\"expand\":4.5,\"act\":\"relu6\",\"keep\":0.75}",
    "[1,2,{\"a\":null,\"b\":true}]",
    "{\"nested\":{\"deeper\":{\"name\":\"\\u00e9\\ud83d\\ude00\"}},\"empty\":{},\"list\":[]}",
};

static const char *const dict[] = {"{", "}", "[", "]", ":", ",", "\"", "\\", "null", "true", "false", "-0", "1e308",
                                   "1e-400", "\"\\u0000\"", "\"\\ud800\"", "\xc3\xa9", "\xff", "{\"a\":1,\"a\":2}",
                                   "[[[[[[[[[[[[[[[[", "9223372036854775808"};

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
