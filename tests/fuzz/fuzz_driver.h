/* SPDX-License-Identifier: MIT */
/* fuzz_driver.h: the parts every standalone fuzz driver shares: crash capture, replay of files, memory cap. */
#ifndef HANT_FUZZ_DRIVER_H
#define HANT_FUZZ_DRIVER_H

/* Include once, after defining FUZZ_NAME ("fuzz_netfile") and declaring
 * LLVMFuzzerTestOneInput, and only when not built for libFuzzer
 * (HANT_LIBFUZZER). Every function is static: one copy per target. */

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

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
  uint8_t *p;
  size_t n;
} seed;

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
__attribute__((unused)) static uint8_t *read_path(const char *path, size_t *len) {
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

__attribute__((unused)) static int run_path(const char *path) {
  size_t n;
  uint8_t *buf = read_path(path, &n);
  if (!buf)
    return 1;
  run_one(buf, n);
  free(buf);
  return 0;
}

/* ---- a generic mutation loop, for targets without a structure-aware one */

static uint64_t fuzz_rng = 0x9e3779b97f4a7c15ull;

static uint32_t fuzz_below(uint32_t n) {
  fuzz_rng ^= fuzz_rng << 13, fuzz_rng ^= fuzz_rng >> 7, fuzz_rng ^= fuzz_rng << 17;
  return n ? (uint32_t)(fuzz_rng % n) : 0;
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

/* Runs the seeds, then mutants of them for `seconds`; prints a summary. */
__attribute__((unused)) static int fuzz_run_random(const seed *pool, size_t n_pool, double seconds, uint64_t seed_value,
                                                   const char *const *dict, size_t n_dict) {
  enum { CAP = 1 << 16 };
  uint8_t *buf = malloc(CAP);
  if (!buf)
    return 1;
  /* splitmix64 of the seed: never the all-zero state xorshift cannot leave. */
  uint64_t z = seed_value + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  fuzz_rng = (z ^ (z >> 31)) | 1;
  for (size_t i = 0; i < n_pool; i++)
    run_one(pool[i].p, pool[i].n);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long runs = 0;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 >= seconds)
      break;
    const seed *s = &pool[fuzz_below((uint32_t)n_pool)];
    size_t n = s->n < CAP ? s->n : CAP;
    memcpy(buf, s->p, n);
    int rounds = 1 + (int)fuzz_below(3);
    for (int r = 0; r < rounds; r++)
      n = fuzz_mutate(buf, n, CAP, dict, n_dict);
    run_one(buf, n);
    runs++;
  }
  printf(FUZZ_NAME ": %ld mutated inputs in %.0f s, no crash\n", runs, seconds);
  free(buf);
  return 0;
}

/* The whole main() of a target with built-in seeds: each argument is a
 * file to replay (and then a seed), "--random S" mutates the seeds for S
 * seconds with the dictionary, "--seed N" fixes the mutation stream.
 * Returns the exit status. */
__attribute__((unused)) static int fuzz_main(int argc, char **argv, const char *const *base, size_t n_base,
                                             const char *const *dict, size_t n_dict) {
  fuzz_install_handlers();
  double seconds = 0;
  uint64_t seed_value = 1;
  seed pool[64];
  size_t n_pool = 0;
  for (size_t i = 0; i < n_base && n_pool < 64; i++)
    pool[n_pool++] = (seed){(uint8_t *)base[i], strlen(base[i])};
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--random") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed_value = strtoull(argv[++i], NULL, 10);
    else if (n_pool < 64 && (pool[n_pool].p = read_path(argv[i], &pool[n_pool].n)))
      run_one(pool[n_pool].p, pool[n_pool].n), n_pool++;
    else
      rc = 1;
  }
  if (seconds > 0)
    rc |= fuzz_run_random(pool, n_pool, seconds, seed_value, dict, n_dict);
  /* Seeds past the built-in ones were read from files. */
  for (size_t i = n_base; i < n_pool; i++)
    free(pool[i].p);
  return rc;
}

#endif
