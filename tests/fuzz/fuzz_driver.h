/* SPDX-License-Identifier: MIT */
/* fuzz_driver.h: the one standalone fuzz driver: replay of files, seeded mutation, crash capture, memory cap. */
#ifndef HANT_FUZZ_DRIVER_H
#define HANT_FUZZ_DRIVER_H

/* Include once, after defining FUZZ_NAME ("fuzz_netfile") and declaring
 * LLVMFuzzerTestOneInput, and only when not built for libFuzzer
 * (HANT_LIBFUZZER). Every function is static: one copy per target. A
 * target's main() is one call:
 *
 *   int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
 *
 * with a fuzz_target that gives its seeds and, when byte edits do not get
 * past the format's outer checks, its own mutator. */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hant.h"

#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including fuzz_driver.h"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

#ifdef FUZZ_ASAN
/* Huge requests from hostile sizes fail as NULL instead of aborting. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1:max_allocation_size_mb=512:soft_rss_limit_mb=2048";
}
#endif

/* Present when built with a sanitizer: lets us save the input it kills us for. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

typedef struct seed {
  uint8_t *p; /* malloc'd */
  size_t n;
} seed;

enum { FUZZ_MAX_SEEDS = 256 };

/* What a target gives the driver besides LLVMFuzzerTestOneInput. Fields
 * left zero are not used. */
typedef struct fuzz_target {
  const char *const *seeds; /* built-in seeds, as text */
  size_t n_seeds;
  /* Builds more seeds when mutation starts (files the library writes, for
   * example): appends malloc'd buffers to pool[*n..cap) and advances *n.
   * Returns 0, or nonzero to fail the run. */
  int (*make_seeds)(seed *pool, size_t *n, size_t cap);
  /* Mutates a copy of a seed, buf[0..len), in place within cap bytes and
   * returns the new length. Draws its randomness from fuzz_below and
   * fuzz_next. NULL: byte edits and splices of dict. */
  size_t (*mutate)(uint8_t *buf, size_t len, size_t cap);
  const char *const *dict; /* tokens of the format, for the default mutator */
  size_t n_dict;
  /* Keep about one mutant in this many as a new seed, so that edits
   * accumulate; 0: seeds stay as given. */
  uint32_t keep_one_in;
  /* The target's count of inputs it accepted (parsed, loaded, answered):
   * printed in the summary, and checked by seeds_must_pass. May be NULL. */
  const long *accepted;
  /* With --random, a seed the target does not accept fails the run: a
   * broken seed would leave the mutants testing nothing but refusals. */
  bool seeds_must_pass;
} fuzz_target;

static const uint8_t *fuzz_cur_data;
static size_t fuzz_cur_size;

/* Writes the input in flight to FUZZ_NAME-crash.bin in the working directory. */
static void save_crash(void) {
  int fd = open(FUZZ_NAME "-crash.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    if (fuzz_cur_data && write(fd, fuzz_cur_data, fuzz_cur_size) < 0)
      fuzz_cur_size = 0;
    close(fd);
  }
}

static void on_signal(int sig) {
  save_crash();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* A safety net for the driver itself: a parser bug that allocates without
 * bound fails as HANT_ENOMEM instead of exhausting the machine. (ASan keeps
 * its own limits above.) */
static void cap_memory(void) {
#ifndef FUZZ_ASAN
  struct rlimit rl = {(rlim_t)3 << 30, (rlim_t)3 << 30};
  setrlimit(RLIMIT_AS, &rl);
#endif
}

/* Saves the crashing input on fatal signals and sanitizer reports, and caps
 * memory. */
static void fuzz_install_handlers(void) {
  static const int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    signal(sigs[i], on_signal);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback(save_crash);
  cap_memory();
}

static void run_one(const uint8_t *p, size_t n) {
  fuzz_cur_data = p;
  fuzz_cur_size = n;
  LLVMFuzzerTestOneInput(p, n);
  fuzz_cur_data = NULL;
}

/* A whole file in a malloc'd buffer, or NULL with a message. */
static uint8_t *read_path(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, FUZZ_NAME ": cannot open %s\n", path);
    return NULL;
  }
  size_t cap = 1 << 16, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb)
        break;
      buf = nb;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

/* ---- mutation: one random stream for the driver and the targets' mutators */

static uint64_t fuzz_rng = 0x9e3779b97f4a7c15ull;

static uint64_t fuzz_next(void) {
  fuzz_rng ^= fuzz_rng << 13, fuzz_rng ^= fuzz_rng >> 7, fuzz_rng ^= fuzz_rng << 17;
  return fuzz_rng;
}

/* Uniform enough in [0, n); 0 when n is 0. */
static uint32_t fuzz_below(uint32_t n) {
  uint64_t r = fuzz_next();
  return n ? (uint32_t)(r % n) : 0;
}

/* Flips, sets, inserts and deletes bytes, and splices in pieces of
 * `dict` (tokens of the format, so mutants get past the tokenizer). */
static size_t fuzz_mutate(uint8_t *buf, size_t len, size_t cap, const char *const *dict, size_t n_dict) {
  int edits = 1 + (int)fuzz_below(4);
  for (int e = 0; e < edits; e++) {
    uint32_t op = fuzz_below(6);
    size_t at = len ? fuzz_below((uint32_t)len) : 0;
    if (op == 0 && len) {
      buf[at] ^= (uint8_t)(1u << fuzz_below(8));
    } else if (op == 1 && len) {
      static const uint8_t bytes[] = {0, '"', ',', ':', '{', '}', '[', ']', ';', '=', '\n', ' ', '-', '9', 0xff};
      buf[at] = bytes[fuzz_below(sizeof(bytes))];
    } else if (op == 2 && len < cap) {
      memmove(buf + at + 1, buf + at, len - at);
      buf[at] = (uint8_t)fuzz_below(256);
      len++;
    } else if (op == 3 && len) {
      size_t k = 1 + fuzz_below(8);
      k = k > len - at ? len - at : k;
      memmove(buf + at, buf + at + k, len - at - k);
      len -= k;
    } else if (n_dict) {
      const char *t = dict[fuzz_below((uint32_t)n_dict)];
      size_t k = strlen(t);
      if (len + k <= cap) {
        memmove(buf + at + k, buf + at, len - at);
        memcpy(buf + at, t, k);
        len += k;
      }
    }
  }
  return len;
}

static long fuzz_accepted(const fuzz_target *t) { return t->accepted ? *t->accepted : 0; }

/* Appends a malloc'd copy of p[0..n) to the pool unless it is full. */
static void pool_add(seed *pool, size_t *n_pool, const uint8_t *p, size_t n) {
  if (*n_pool == FUZZ_MAX_SEEDS)
    return;
  uint8_t *c = malloc(n ? n : 1);
  if (!c)
    return;
  if (n)
    memcpy(c, p, n);
  pool[(*n_pool)++] = (seed){c, n};
}

/* Replays one file and keeps it as a seed. With `must`, the target has to
 * accept it. */
static int replay_file(const fuzz_target *t, const char *path, bool must, seed *pool, size_t *n_pool) {
  size_t n;
  uint8_t *buf = read_path(path, &n);
  if (!buf)
    return 1;
  long before = fuzz_accepted(t);
  run_one(buf, n);
  int rc = 0;
  if (must && fuzz_accepted(t) == before) {
    fprintf(stderr, FUZZ_NAME ": seed %s is not accepted: %s\n", path, hant_errmsg());
    rc = 1;
  }
  pool_add(pool, n_pool, buf, n);
  free(buf);
  return rc;
}

/* A file, or every regular file in a directory (in name order, as a
 * corpus directory). */
static int replay_path(const fuzz_target *t, const char *path, bool must, seed *pool, size_t *n_pool) {
  struct stat ps;
  if (stat(path, &ps) != 0) {
    fprintf(stderr, FUZZ_NAME ": cannot open %s\n", path);
    return 1;
  }
  if (!S_ISDIR(ps.st_mode))
    return replay_file(t, path, must, pool, n_pool);
  struct dirent **names;
  int n = scandir(path, &names, NULL, alphasort), rc = 0;
  if (n < 0) {
    fprintf(stderr, FUZZ_NAME ": cannot read the directory %s\n", path);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    char full[4096];
    struct stat fs;
    if (names[i]->d_name[0] != '.' &&
        snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name) < (int)sizeof(full) && stat(full, &fs) == 0 &&
        S_ISREG(fs.st_mode))
      rc |= replay_file(t, full, must, pool, n_pool);
    free(names[i]);
  }
  free(names);
  return rc;
}

/* Mutants of the pool's seeds for `seconds`; prints a summary. */
static int fuzz_run_random(const fuzz_target *t, seed *pool, size_t *n_pool, double seconds, uint64_t seed_value) {
  if (!*n_pool) {
    fprintf(stderr, FUZZ_NAME ": no seeds to mutate\n");
    return 1;
  }
  /* Room for every seed to grow. */
  size_t cap = (size_t)1 << 16;
  for (size_t i = 0; i < *n_pool; i++)
    if (2 * pool[i].n + 4096 > cap)
      cap = 2 * pool[i].n + 4096;
  uint8_t *buf = malloc(cap);
  if (!buf)
    return 1;
  long runs = 0, accepted0 = fuzz_accepted(t);
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9 >= seconds)
      break;
    const seed *s = &pool[fuzz_below((uint32_t)*n_pool)];
    size_t n = s->n < cap ? s->n : cap;
    memcpy(buf, s->p, n);
    if (t->mutate) {
      n = t->mutate(buf, n, cap);
    } else {
      int rounds = 1 + (int)fuzz_below(3);
      for (int r = 0; r < rounds; r++)
        n = fuzz_mutate(buf, n, cap, t->dict, t->n_dict);
    }
    run_one(buf, n);
    runs++;
    if (t->keep_one_in && fuzz_below(t->keep_one_in) == 0)
      pool_add(pool, n_pool, buf, n);
  }
  printf(FUZZ_NAME ": %ld mutated inputs", runs);
  if (t->accepted)
    printf(" (%ld accepted)", fuzz_accepted(t) - accepted0);
  printf(" in %.0f s (seed %llu), no crash\n", seconds, (unsigned long long)seed_value);
  free(buf);
  return 0;
}

/* The whole main() of a target. Each argument is a file to replay, or a
 * directory of them, and then a seed; "--random S" mutates the seeds for
 * S seconds, adding the target's built-in seeds; "--seed N" fixes the
 * random stream. Returns the exit status. */
__attribute__((unused)) static int fuzz_main(int argc, char **argv, const fuzz_target *t) {
  fuzz_install_handlers();
  double seconds = 0;
  uint64_t seed_value = 1;
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--random") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed_value = strtoull(argv[++i], NULL, 10);
  }
  if (argc < 2)
    fprintf(stderr, "usage: %s [FILE|DIR...] [--random SECONDS [--seed N]]\n", argv[0]);
  /* splitmix64 of the seed: never the all-zero state xorshift cannot leave. */
  uint64_t z = seed_value + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  fuzz_rng = (z ^ (z >> 31)) | 1;
  static seed pool[FUZZ_MAX_SEEDS];
  size_t n_pool = 0;
  bool must = t->seeds_must_pass && seconds > 0;
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "--random") || !strcmp(argv[i], "--seed")) && i + 1 < argc)
      i++;
    else
      rc |= replay_path(t, argv[i], must, pool, &n_pool);
  }
  if (seconds > 0) {
    size_t first = n_pool;
    for (size_t i = 0; i < t->n_seeds; i++)
      pool_add(pool, &n_pool, (const uint8_t *)t->seeds[i], strlen(t->seeds[i]));
    if (t->make_seeds && t->make_seeds(pool, &n_pool, FUZZ_MAX_SEEDS)) {
      fprintf(stderr, FUZZ_NAME ": cannot build the seeds: %s\n", hant_errmsg());
      rc = 1;
    }
    for (size_t i = first; i < n_pool; i++) {
      long before = fuzz_accepted(t);
      run_one(pool[i].p, pool[i].n);
      if (must && fuzz_accepted(t) == before) {
        fprintf(stderr, FUZZ_NAME ": built-in seed %zu is not accepted: %s\n", i - first, hant_errmsg());
        rc = 1;
      }
    }
    if (!rc)
      rc = fuzz_run_random(t, pool, &n_pool, seconds, seed_value);
  }
  for (size_t i = 0; i < n_pool; i++)
    free(pool[i].p);
  return rc;
}

#endif
