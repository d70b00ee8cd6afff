/* SPDX-License-Identifier: MIT */
/* json_mutate.h: a mutator for fuzz targets of JSON: swaps whole values for tokens, so that mutants stay JSON and reach the checks of types and ranges. */
#ifndef HANT_FUZZ_JSON_MUTATE_H
#define HANT_FUZZ_JSON_MUTATE_H

/* Include after fuzz_driver.h (it draws from fuzz_below). */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Where the scalar value (string, number, literal) that starts at or after
 * buf[at] ends; returns at itself when an object or array starts there
 * or the text ends. */
static size_t json_scalar_end(const uint8_t *buf, size_t len, size_t at) {
  if (at >= len || buf[at] == '{' || buf[at] == '[')
    return at;
  size_t e = at;
  if (buf[e] == '"') {
    for (e++; e < len && buf[e] != '"'; e++)
      if (buf[e] == '\\')
        e++;
    return e < len ? e + 1 : at;
  }
  while (e < len && !strchr(",}] \t\r\n", buf[e]))
    e++;
  return e;
}

/* Replaces the value after a random ':', ',' or '[' with one of tokens;
 * falls back to fuzz_mutate's byte edits (one round) half of the time
 * and when no value is found. Returns the new length. */
static size_t json_mutate(uint8_t *buf, size_t len, size_t cap, const char *const *tokens, size_t n_tokens) {
  if (len && n_tokens && fuzz_below(2)) {
    for (int tries = 0; tries < 8; tries++) {
      size_t at = fuzz_below((uint32_t)len);
      if (buf[at] != ':' && buf[at] != ',' && buf[at] != '[')
        continue;
      size_t a = at + 1;
      while (a < len && (buf[a] == ' ' || buf[a] == '\n'))
        a++;
      size_t e = json_scalar_end(buf, len, a), after = e;
      while (after < len && (buf[after] == ' ' || buf[after] == '\n'))
        after++;
      if (e == a || (after < len && buf[after] == ':')) /* nothing, or a key */
        continue;
      const char *t = tokens[fuzz_below((uint32_t)n_tokens)];
      size_t k = strlen(t);
      if (len - (e - a) + k > cap)
        break;
      memmove(buf + a + k, buf + e, len - e);
      memcpy(buf + a, t, k);
      return len - (e - a) + k;
    }
  }
  return fuzz_mutate(buf, len, cap, tokens, n_tokens);
}

#endif
