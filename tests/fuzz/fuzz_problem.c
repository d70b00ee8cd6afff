/* SPDX-License-Identifier: MIT */
/* fuzz_problem.c: fuzz target for selection problem files (parse, solve, answer), with a standalone
 * replay/mutation driver. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "problem_json.h"
#include "select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long parsed_count; /* inputs that parsed, for the driver's summary */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct hant_problem_limits lim;
  hant_problem_limits_default(&lim);
  lim.max_bytes = 1 << 20;
  lim.max_items = 20000;
  struct hant_problem *p = (struct hant_problem *)(uintptr_t)1;
  hant_errmsg_clear();
  int rc = hant_problem_parse((const char *)data, size, "fuzz.json", &lim, &p);
  if (rc) {
    /* refused: nothing handed out, and a message saying why */
    if (p || (rc != HANT_ENOMEM && !hant_errmsg()[0]))
      abort();
    return 0;
  }
  if (!p || p->n_groups == 0 || p->n_items == 0)
    abort();
  parsed_count++;
  struct hant_select_problem v;
  hant_problem_view(p, &v);
  v.time_limit_ms = 20;
  struct hant_select_result r;
  hant_select_result_init(&r);
  rc = hant_select_solve(&v, &r);
  if (rc && rc != HANT_ENOMEM)
    abort(); /* a parsed problem is always valid for the solver */
  if (rc == 0) {
    /* the answer is consistent and serialises */
    if (r.has_choice) {
      size_t o = 0;
      for (size_t i = 0; i < v.n_groups; i++) {
        if (r.choice[i] >= v.group_size[i])
          abort();
        o += v.group_size[i];
      }
      if (r.status == HANT_SELECT_INFEASIBLE || !(r.gap >= 0))
        abort();
    } else if (r.status == HANT_SELECT_OPTIMAL) {
      abort();
    }
    char *s = hant_problem_answer_json(p, &r);
    if (!s)
      abort();
    free(s);
  }
  hant_select_result_free(&r);
  if (p->n_keys > 0) {
    size_t axis;
    struct hant_select_front *f = NULL;
    if (hant_problem_view_axis(p, 0, &v, &axis) == 0) {
      struct hant_select_front_options opt = {axis, 1, 256};
      if (hant_select_front_new(&v, &opt, &f) == 0) {
        char *s = hant_problem_front_json(p, f, 0, 5, 1, 0);
        free(s);
        hant_select_front_destroy(f);
      }
    }
  }
  hant_problem_destroy(p);
  return 0;
}

#ifndef HANT_LIBFUZZER
/* Standalone driver (fuzz_driver.h): runs the files named on the command
 * line (directories are expanded); with --random SECONDS [--seed N] it then
 * mutates them (and a built-in seed) for that long: byte flips, insertions,
 * deletions, and splices of JSON fragments that reach the checks behind
 * the syntax, keeping about one mutant in 64 as a new seed. A crashing
 * input is saved to fuzz_problem-crash.bin in the working directory. */

#define FUZZ_NAME "fuzz_problem"
#include "fuzz_driver.h"

static const char *const fragments[] = {
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"groups\"",
    "\"items\"",
    "\"id\"",
    "\"value\"",
    "\"cost\"",
    "\"budgets\"",
    "\"name\"",
    "\"time_limit_ms\"",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e-320",
    "3.5",
    "null",
    "true",
    "\"\"",
    "\"a\"",
    "\"latency_ms\"",
    "\"energy_mj\"",
    "{}",
    "[]",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "9007199254740993",
    "-0",
    "\"meta\"",
    "[[[[[[[[",
    "\"\\\"\"",
    "1e999",
};

static size_t mutate(uint8_t *out, size_t n, size_t cap) {
  int rounds = 1 + (int)(fuzz_next() % 6);
  for (int r = 0; r < rounds; r++) {
    size_t pos = n ? (size_t)(fuzz_next() % n) : 0;
    switch (fuzz_next() % 6) {
    case 0: /* flip a byte */
      if (n)
        out[pos] ^= (uint8_t)(1u << (fuzz_next() % 8));
      break;
    case 1: /* random byte */
      if (n)
        out[pos] = (uint8_t)fuzz_next();
      break;
    case 2: { /* delete a run */
      size_t len = 1 + (size_t)(fuzz_next() % 16);
      if (pos + len > n)
        len = n - pos;
      memmove(out + pos, out + pos + len, n - pos - len);
      n -= len;
      break;
    }
    case 3:   /* duplicate a run (repeats groups, items, keys) */
    case 4: { /* insert a JSON fragment */
      const char *f = fragments[fuzz_next() % (sizeof fragments / sizeof fragments[0])];
      size_t len = strlen(f);
      const uint8_t *src = (const uint8_t *)f;
      uint8_t run[64];
      if (fuzz_next() % 2 && n) {
        size_t from = (size_t)(fuzz_next() % n);
        len = 1 + (size_t)(fuzz_next() % 48);
        if (from + len > n)
          len = n - from;
        memcpy(run, out + from, len);
        src = run;
      }
      if (n + len > cap)
        break;
      memmove(out + pos + len, out + pos, n - pos);
      memcpy(out + pos, src, len);
      n += len;
      break;
    }
    default: /* change a digit: numbers drive the solver */
      for (size_t q = pos; q < n; q++)
        if (out[q] >= '0' && out[q] <= '9') {
          out[q] = (uint8_t)('0' + fuzz_next() % 10);
          break;
        }
      break;
    }
  }
  return n;
}

static const char builtin[] =
    "{\"groups\": [{\"name\": \"a\", \"items\": [{\"id\": \"x\", \"value\": 1, \"cost\": "
    "{\"latency_ms\": 1, \"energy_mj\": -2}}, {\"id\": \"y\", \"value\": 2.5, \"cost\": "
    "{\"latency_ms\": 3, \"energy_mj\": 0}}]}, {\"items\": [{\"id\": \"x\", \"value\": 0, "
    "\"cost\": {\"latency_ms\": 0.5, \"energy_mj\": 1}}]}], \"budgets\": {\"latency_ms\": 3, "
    "\"energy_mj\": 0}, \"time_limit_ms\": 5}";

static const char *const builtin_seeds[] = {builtin};

static const fuzz_target target = {.seeds = builtin_seeds,
                                   .n_seeds = 1,
                                   .mutate = mutate,
                                   .keep_one_in = 64,
                                   .accepted = &parsed_count};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
