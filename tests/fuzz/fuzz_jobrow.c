/* SPDX-License-Identifier: MIT */
/* fuzz_jobrow.c: fuzz target for job rows read back from a library's job table: a row that decodes still meets the daemon's places, and every row shows as one JSON object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hant.h"
#include "json_close.h"
#include "rpc.h"
#include "store.h"
#include "store_jobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input is a row: its kind column, a newline, and its params column.
 * The database is a file anyone with access can edit, so both are
 * untrusted. The process has no places (hant_rpc_set_places is never
 * called): a job that decodes must then be refused by its path check, as
 * hantd refuses a path outside the peer's places, before any work. */

static long accepted; /* rows that decoded into a job */
static char dir[64];
static hant_store *st;

static void fail(const char *what, const char *text, size_t n) {
  fprintf(stderr, "fuzz_jobrow: %s\n--- row ---\n%.*s\n---\n%s\n", what, (int)(n < 4000 ? n : 4000), text,
          hant_errmsg());
  abort();
}

static void cleanup(void) {
  hant_store_close(st);
  st = NULL;
  char path[128];
  snprintf(path, sizeof(path), "%s/lib.db", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/lib.db-wal", dir);
  unlink(path);
  snprintf(path, sizeof(path), "%s/lib.db-shm", dir);
  unlink(path);
  rmdir(dir);
}

/* An empty library for the job to run against, made once. */
static void setup(void) {
  if (st)
    return;
  snprintf(dir, sizeof(dir), "/tmp/hant-fuzz-jobrow.XXXXXX");
  char path[128];
  if (!mkdtemp(dir) || snprintf(path, sizeof(path), "%s/lib.db", dir) < 0 ||
      hant_store_open(path, HANT_STORE_CREATE | HANT_STORE_NOCHECK, &st)) {
    fprintf(stderr, "fuzz_jobrow: cannot make a library: %s\n", hant_errmsg());
    exit(2);
  }
  atexit(cleanup);
}

static int never_called(void *user, double f, const char *note) {
  (void)f, (void)note;
  fail("a job from a row started work without places", user, strlen(user));
  return 1;
}

static bool starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  const char *s = (const char *)data;
  const char *nl = memchr(s, '\n', size);
  size_t kind_len = nl ? (size_t)(nl - s) : 0;
  const char *params = nl ? nl + 1 : s;
  size_t params_len = size - (size_t)(params - s);
  hant_job_rec rec;
  memset(&rec, 0, sizeof(rec));
  rec.id = 42;
  /* As the store hands columns out: C strings, cut at a NUL. */
  snprintf(rec.kind, sizeof(rec.kind), "%.*s", (int)kind_len, s);
  rec.params = strndup(params, params_len);
  if (!rec.params)
    return 0;
  rec.state = HANT_JOB_QUEUED;
  snprintf(rec.created, sizeof(rec.created), "2024-01-01T00:00:00Z");

  /* jobs.get shows the row as one JSON object, its params embedded when
   * they parse (reals to hantd's 12 digits) and null otherwise. */
  char *shown = hant_rpc_job_json(&rec);
  if (shown) {
    json_t *o = json_loads(shown, 0, NULL), *p = json_loads(rec.params, 0, NULL);
    json_t *sp = json_object_get(o, "params");
    if (!json_is_object(o) || strchr(shown, '\n') || (p ? !json_close(sp, p, 1e-11) : !json_is_null(sp)))
      fail("jobs.get does not show the row as one object with its params", s, size);
    json_decref(p);
    json_decref(o);
    free(shown);
  }

  /* Running it: the row is decoded, then refused. */
  char *result = (char *)(uintptr_t)1;
  hant_errmsg_clear();
  int rc = hant_rpc_job_run(st, &rec, never_called, rec.params, &result);
  if (!rc || result)
    fail("a job from a row ran without places", s, size);
  const char *msg = hant_errmsg();
  char own[32];
  snprintf(own, sizeof(own), "job %lld: ", (long long)rec.id);
  if (starts_with(msg, "out: ") || starts_with(msg, "model: ") || starts_with(msg, "eval job: ")) {
    accepted++; /* decoded; refused by the place check of its path */
  } else if (rc != HANT_ENOMEM && !starts_with(msg, own) && !starts_with(msg, "deploy job: ")) {
    fail("a row refused without a message naming the job", s, size);
  }
  free(rec.params);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_jobrow"
#include "fuzz_driver.h"
#include "json_mutate.h"

static const char *const seeds[] = {
    /* as a transform request with out encodes its job */
    "transform\n{\"uid\":1000,\"candidates\":[3,8,12],\"out\":\"/var/lib/hantd/users/1000/x.onnx\",\"device\":"
    "\"jetson-nano\",\"power_mode\":\"5W\",\"library_version\":2,\"predicted_accuracy\":0.91,\"teacher_accuracy\":0.93,"
    "\"finetune_epochs\":1,\"finetune_samples\":100,\"eval_samples\":50,\"evaluate\":true}",
    /* fine-tuning for as many epochs as the assembled network's loss asks */
    "transform\n{\"uid\":1000,\"candidates\":[3,8,12],\"out\":\"/var/lib/hantd/users/1000/a.onnx\","
    "\"finetune_epochs\":\"auto\",\"finetune_samples\":100}",
    /* jobs.submit of a transform: candidates given, no solve */
    "transform\n{\"uid\":0,\"candidates\":[1],\"out\":\"relative.onnx\"}",
    /* an eval job */
    "eval\n{\"uid\":65534,\"model\":\"/srv/models/m.onnx\",\"split\":\"val\",\"samples\":10,\"data\":\"fmnist\"}",
    /* an eval job with no model named */
    "eval\n{\"uid\":1,\"model\":\"\"}",
};

static const char *const dict[] = {
    "\"uid\"", "\"candidates\"", "\"out\"", "\"model\"", "\"split\"", "\"samples\"", "\"data\"", "\"device\"",
    "\"power_mode\"", "\"library_version\"", "\"predicted_accuracy\"", "\"finetune_epochs\"", "\"evaluate\"", "\"auto\"",
    "transform\n", "eval\n", "4294967294", "4294967295", "-1", "9223372036854775807", "1e308", "null", "true", "[]",
    "{}", "\"../../etc/passwd\"", "\"/etc/shadow\"", "\"\\u0000\"", "\"\\ud800\"",
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
