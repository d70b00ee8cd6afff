/* SPDX-License-Identifier: MIT */
/* plural.h: the singular or plural form of a word for a count, so messages never say "1 epochs". */
#ifndef HANT_PLURAL_H
#define HANT_PLURAL_H

/* Returns one when n is exactly 1, many otherwise (0 takes the plural:
 * "0 entries"). Both strings are borrowed and returned as they are, so
 * irregular plurals ("entry", "entries") work: hant_plural(n, "epoch",
 * "epochs"). Never NULL when neither argument is. */
const char *hant_plural(long long n, const char *one, const char *many);

#endif
