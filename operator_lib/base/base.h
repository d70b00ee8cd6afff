/* SPDX-License-Identifier: MIT */
/* base.h: errors, assertions and small helpers shared by every part of libhant. */
#ifndef HANT_BASE_H
#define HANT_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Error codes. Functions return 0 on success or a negative HANT_E* code.
 * Each entry: name, value, default message. */
#define HANT_ERRNO_MAP(X)                                                    \
  X(EINVAL, -1, "invalid argument")                                          \
  X(ENOMEM, -2, "out of memory")                                             \
  X(EIO, -3, "input/output error")                                           \
  X(EFORMAT, -4, "malformed input")                                          \
  X(ESHAPE, -5, "tensor shapes do not match")                                \
  X(ENOTSUP, -6, "not supported")                                            \
  X(ERANGE, -7, "value out of range")                                        \
  X(ENOENT, -8, "no such file or entry")                                     \
  X(ELIMIT, -9, "size limit exceeded")                                       \
  X(EINFEASIBLE, -10, "no selection satisfies the budgets")                  \
  X(ETIMEOUT, -11, "time limit reached")                                     \
  X(EDB, -12, "database error")                                              \
  X(EBUSY, -13, "resource busy")                                             \
  X(ECANCELED, -14, "operation canceled")

enum hant_errno {
  HANT_OK = 0,
#define X(name, val, msg) HANT_##name = (val),
  HANT_ERRNO_MAP(X)
#undef X
};

/* Returns a static description of an error code; never NULL. */
const char *hant_strerror(int err);
/* Returns the code's name, e.g. "HANT_EFORMAT"; never NULL. */
const char *hant_err_name(int err);

/* The detailed message of the last error set on this thread, naming the
 * file, field and what was expected. Empty when none was set. The string is
 * owned by libhant and valid until the next libhant call on this thread. */
const char *hant_errmsg(void);
/* Clears this thread's message. */
void hant_errmsg_clear(void);

/* Records a detailed message for this thread and returns err, so that
 * parsers can write `return hant__error(HANT_EFORMAT, "%s: ...", path);`. */
int hant__error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Programmer errors only; stays on in release builds. */
#define HANT_ASSERT(cond)                                                    \
  do {                                                                       \
    if (!(cond))                                                             \
      hant__assert_fail(__FILE__, __LINE__, #cond);                          \
  } while (0)

_Noreturn void hant__assert_fail(const char *file, int line, const char *expr);

/* Allocation helpers that abort on exhaustion of tiny sizes are not used:
 * callers check NULL. These zero memory and return 64-byte aligned blocks. */
void *hant_alloc(size_t bytes);
void hant_free(void *p);

/* Monotonic wall-clock in seconds. */
double hant_now_s(void);
/* Process CPU time in seconds (user + system, all threads). */
double hant_cpu_s(void);

const char *hant_version(void);

#endif
