/* SPDX-License-Identifier: MIT */
/* fuzz_rpc.c: fuzz target for hantd's request handler (bytes of one line in, one answer out), with a standalone random/mutation driver. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "library.h"
#include "rpc.h"
#include "store.h"
#include "synth_lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static hant_store *st;
static hant_library *lib;
static long results; /* requests answered with a result, for the summary */

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

/* A small synthetic library and a job table, made once. */
static void setup(void) {
  if (lib)
    return;
  snprintf(dir, sizeof(dir), "/tmp/hant-fuzz-rpc.XXXXXX");
  if (!mkdtemp(dir)) {
    perror("fuzz_rpc: mkdtemp");
    exit(2);
  }
  char path[128];
  snprintf(path, sizeof(path), "%s/lib.db", dir);
  if (synth_lib_build(path, 3, 5, 1) || hant_store_open(path, HANT_STORE_NOCHECK, &st) ||
      hant_library_load(st, NULL, &lib)) {
    fprintf(stderr, "fuzz_rpc: cannot build the library: %s\n", hant_errmsg());
    exit(2);
  }
  atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static long runs;
  if (++runs % 4096 == 0) { /* keep the job table small: start over with a new library */
    cleanup();
    dir[0] = '\0';
  }
  setup();
  hant_rpc_ctx ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.lib = lib;
  ctx.st = st;
  ctx.max_queued_jobs = 8;
  ctx.default_time_limit_ms = 200;
  hant_rpc_reply r;
  hant_rpc_reply_init(&r);
  int rc = hant_rpc_handle(&ctx, (const char *)data, size, (size_t)1 << 20, &r);
  if (rc && rc != HANT_ENOMEM)
    abort();
  if (r.line) {
    /* One line of JSON-RPC 2.0: never a newline inside (that would break framing). */
    size_t n = strlen(r.line);
    if (strncmp(r.line, "{\"jsonrpc\":\"2.0\",\"id\":", 22) || r.line[n - 1] != '}' || memchr(r.line, '\n', n))
      abort();
    if (!strstr(r.line, "\"result\":") == !strstr(r.line, "\"error\":{\"code\":"))
      abort();
    results += !r.error;
  }
  hant_rpc_reply_free(&r);
  return 0;
}

#ifndef HANT_LIBFUZZER
/* Standalone driver (fuzz_driver.h): runs the files named on the command
 * line, or with --random SECONDS [--seed N] mutates valid requests for
 * that long. A crashing input is saved to fuzz_rpc-crash.bin. */

static const char *const seeds[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"transform\",\"params\":{\"device\":\"jetson-nano\",\"budgets\":[\"2W\","
    "\"60us\"],\"fps\":3000,\"grid_g_per_kwh\":300,\"options\":{\"power_mode\":\"5W\",\"time_limit_ms\":50}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"transform\",\"params\":{\"device\":\"cpu\",\"budgets\":{\"latency_ms\":"
    "0.4,\"memory_bytes\":60000,\"macs\":900000,\"energy_mj\":2}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pareto\",\"params\":{\"device\":\"jetson-nano\",\"axis\":\"energy_mj\","
    "\"points\":4,\"budgets\":[\"3W\"],\"respect_budgets\":false}}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"solve\",\"params\":{\"problem\":{\"groups\":[{\"name\":\"g\",\"items\":[{\"id\":"
    "\"a\",\"value\":1,\"cost\":{\"t\":1,\"e\":2}},{\"id\":\"b\",\"value\":2,\"cost\":{\"t\":3,\"e\":1}}]}],\"budgets\":{\"t\":"
    "2}},\"options\":{\"pareto\":\"e\",\"points\":3}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"jobs.submit\",\"params\":{\"kind\":\"eval\",\"params\":{\"model\":\"/x.onnx\","
    "\"split\":\"val\",\"samples\":10}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"transform\",\"params\":{\"device\":\"rpi4\",\"budgets\":[\"50%energy\"],"
    "\"out\":\"n.onnx\",\"finetune_epochs\":\"auto\",\"eval_samples\":100}}",
    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"jobs.get\",\"params\":{\"id\":1}}",
    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"jobs.cancel\",\"params\":{\"id\":1}}",
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"jobs.list\",\"params\":{\"state\":\"queued\",\"limit\":3}}",
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"library\",\"params\":{\"candidates\":true}}",
    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"devices\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"version\"}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}",
    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}]",
};
#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))

#define FUZZ_NAME "fuzz_rpc"
#include "fuzz_driver.h"

/* Tokens that steer mutants into the parameter checks. */
static const char *const tokens[] = {
    "\"device\"", "\"budgets\"", "\"fps\"", "\"options\"", "\"out\"", "\"axis\"", "\"points\"", "\"problem\"", "\"id\"",
    "\"params\"", "\"method\"", "\"jsonrpc\"", "null", "true", "false", "-1", "1e308", "-0", "1e-320", "[]", "{}",
    "\"2W\"", "\"15mS\"", "\"4MB\"", "\"\\u0000\"", "\"\\ud800\"", "9223372036854775807", "\"jobs.wait\"",
    "\"transform\"", "\"auto\"", "\"pareto\"", "\"/tmp/o.onnx\"", "\"5W\"", "\"latency_ms\"", "\"macs\"", "\"power_w\"", ",", ":",
    "\"", "\\", "{", "}", "[", "]",
};

static size_t mutate(uint8_t *buf, size_t n, size_t cap) {
  int k = 1 + (int)fuzz_below(4);
  for (int i = 0; i < k; i++) {
    switch (fuzz_below(6)) {
    case 0: /* flip a byte */
      if (n)
        buf[fuzz_below((uint32_t)n)] ^= (uint8_t)(1 + fuzz_below(255));
      break;
    case 1: /* delete a run */
      if (n > 1) {
        size_t a = fuzz_below((uint32_t)n), l = 1 + fuzz_below(16);
        if (a + l > n)
          l = n - a;
        memmove(buf + a, buf + a + l, n - a - l);
        n -= l;
      }
      break;
    case 2: { /* insert a token */
      const char *t = tokens[fuzz_below(sizeof(tokens) / sizeof(tokens[0]))];
      size_t l = strlen(t), a = fuzz_below((uint32_t)n + 1);
      if (n + l < cap) {
        memmove(buf + a + l, buf + a, n - a);
        memcpy(buf + a, t, l);
        n += l;
      }
      break;
    }
    case 3: { /* duplicate a run */
      if (!n)
        break;
      size_t a = fuzz_below((uint32_t)n), l = 1 + fuzz_below(32);
      if (a + l > n)
        l = n - a;
      if (n + l < cap) {
        size_t b = fuzz_below((uint32_t)n + 1);
        uint8_t tmp[32];
        memcpy(tmp, buf + a, l);
        memmove(buf + b + l, buf + b, n - b);
        memcpy(buf + b, tmp, l);
        n += l;
      }
      break;
    }
    case 4: /* deep nesting */
      if (n + 64 < cap && fuzz_below(8) == 0) {
        size_t a = fuzz_below((uint32_t)n + 1);
        memmove(buf + a + 64, buf + a, n - a);
        memset(buf + a, fuzz_below(2) ? '[' : '{', 64);
        n += 64;
      }
      break;
    default: /* truncate */
      if (n)
        n = fuzz_below((uint32_t)n + 1);
      break;
    }
  }
  return n;
}

static const fuzz_target target = {.seeds = seeds, .n_seeds = N_SEEDS, .mutate = mutate, .accepted = &results};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
