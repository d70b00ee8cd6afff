/* SPDX-License-Identifier: MIT */
/* fuzz_problem.c: fuzz target for selection problem files (parse, solve, answer), with a standalone
 * replay/mutation driver. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
/* Standalone driver: runs the files named on the command line (directories
 * are expanded); with --random SECONDS [--seed N] it then mutates them (and
 * built-in seeds) for that long: byte flips, insertions, deletions, and
 * splices of JSON fragments that reach the checks behind the syntax. A
 * crashing input is saved to fuzz_problem-crash.bin in the working
 * directory. */

#define FUZZ_NAME "fuzz_problem"
#include "fuzz_driver.h"

static struct seed seeds[256];
static size_t n_seeds;

static void add_seed(const uint8_t *d, size_t n) {
  if (n_seeds == sizeof seeds / sizeof seeds[0])
    return;
  seeds[n_seeds].p = malloc(n + 1);
  if (!seeds[n_seeds].p)
    return;
  memcpy(seeds[n_seeds].p, d, n);
  seeds[n_seeds].n = n;
  n_seeds++;
}

static int load_file(const char *path) {
  size_t n;
  uint8_t *buf = read_path(path, &n);
  if (!buf)
    return 1;
  run_one(buf, n);
  add_seed(buf, n);
  free(buf);
  return 0;
}

static int load_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz_problem: cannot stat %s\n", path);
    return 1;
  }
  if (!S_ISDIR(st.st_mode))
    return load_file(path);
  DIR *d = opendir(path);
  if (!d)
    return 1;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
      char full[4096];
      snprintf(full, sizeof full, "%s/%s", path, e->d_name);
      rc |= load_file(full);
    }
  }
  closedir(d);
  return rc;
}

static uint64_t rng_state;

static uint64_t next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

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

static size_t mutate(const struct seed *s, uint8_t *out, size_t cap) {
  size_t n = s->n < cap ? s->n : cap;
  memcpy(out, s->p, n);
  int rounds = 1 + (int)(next() % 6);
  for (int r = 0; r < rounds; r++) {
    size_t pos = n ? (size_t)(next() % n) : 0;
    switch (next() % 6) {
    case 0: /* flip a byte */
      if (n)
        out[pos] ^= (uint8_t)(1u << (next() % 8));
      break;
    case 1: /* random byte */
      if (n)
        out[pos] = (uint8_t)next();
      break;
    case 2: { /* delete a run */
      size_t len = 1 + (size_t)(next() % 16);
      if (pos + len > n)
        len = n - pos;
      memmove(out + pos, out + pos + len, n - pos - len);
      n -= len;
      break;
    }
    case 3:   /* duplicate a run (repeats groups, items, keys) */
    case 4: { /* insert a JSON fragment */
      const char *f = fragments[next() % (sizeof fragments / sizeof fragments[0])];
      size_t len = strlen(f);
      const uint8_t *src = (const uint8_t *)f;
      uint8_t run[64];
      if (next() % 2 && n) {
        size_t from = (size_t)(next() % n);
        len = 1 + (size_t)(next() % 48);
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
          out[q] = (uint8_t)('0' + next() % 10);
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

int main(int argc, char **argv) {
  double seconds = 0;
  uint64_t seed_value = 1;
  int rc = 0;
  fuzz_install_handlers();
  add_seed((const uint8_t *)builtin, sizeof builtin - 1);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--random") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed_value = strtoull(argv[++i], NULL, 10);
    else
      rc |= load_path(argv[i]);
  }
  long runs = 0;
  if (seconds > 0) {
    rng_state = seed_value;
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    double end = hant_now_s() + seconds;
    while (buf && hant_now_s() < end) {
      for (int k = 0; k < 64; k++) {
        size_t n = mutate(&seeds[next() % n_seeds], buf, cap);
        run_one(buf, n);
        runs++;
        /* keep some parsable mutants as new seeds */
        if (n_seeds < 256 && next() % 64 == 0)
          add_seed(buf, n);
      }
    }
    free(buf);
  }
  for (size_t i = 0; i < n_seeds; i++)
    free(seeds[i].p);
  printf("fuzz_problem: %ld mutated inputs, %ld inputs parsed in total\n", runs, parsed_count);
  return rc;
}
#endif
