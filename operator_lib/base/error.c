/* SPDX-License-Identifier: MIT */
/* error.c: the error table, per-thread error messages, and tiny runtime helpers. */
#include "base.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "hant_config.h"

static _Thread_local char last_msg[1024];

const char *hant_strerror(int err) {
  switch (err) {
  case HANT_OK: return "success";
#define X(name, val, msg) case HANT_##name: return msg;
  HANT_ERRNO_MAP(X)
#undef X
  }
  return "unknown error";
}

const char *hant_err_name(int err) {
  switch (err) {
  case HANT_OK: return "HANT_OK";
#define X(name, val, msg) case HANT_##name: return "HANT_" #name;
  HANT_ERRNO_MAP(X)
#undef X
  }
  return "HANT_UNKNOWN";
}

const char *hant_errmsg(void) { return last_msg; }

void hant_errmsg_clear(void) { last_msg[0] = '\0'; }

int hant__error(int err, const char *fmt, ...) {
  /* Format into a copy first: callers wrap an earlier message by passing
   * hant_errmsg() as an argument, and vsnprintf must not write into its own
   * source. */
  char buf[sizeof(last_msg)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  memcpy(last_msg, buf, sizeof(last_msg));
  return err;
}

void hant__assert_fail(const char *file, int line, const char *expr) {
  fprintf(stderr, "hant: assertion failed at %s:%d: %s\n", file, line, expr);
  fflush(stderr);
  abort();
}

void *hant_alloc(size_t bytes) {
  void *p = NULL;
  if (bytes == 0)
    bytes = 1;
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (rounded < bytes)
    return NULL;
  p = aligned_alloc(64, rounded);
  if (p)
    memset(p, 0, rounded);
  return p;
}

void hant_free(void *p) { free(p); }

double hant_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double hant_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *hant_version(void) { return HANT_VERSION; }
