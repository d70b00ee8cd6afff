/* SPDX-License-Identifier: MIT */
/* plural.c: picks a word's singular or plural form for a count. */
#include "plural.h"

const char *hant_plural(long long n, const char *one, const char *many) {
  /* English counts -1 and 1 alike ("-1 point"); nothing in hant prints a
   * negative count, so only 1 is singular. */
  return n == 1 ? one : many;
}
