/* SPDX-License-Identifier: MIT */
/* fnv.h: FNV-1a 64, the fast non-cryptographic hash of cache keys, seeds and file names. */
#ifndef HANT_FNV_H
#define HANT_FNV_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64 (Fowler, Noll and Vo; the offset basis and prime of the
 * 64-bit variant). A hash is started from HANT_FNV_BASIS (or a value
 * mixed from it) and continued over any number of pieces: hashing "ab"
 * equals hashing "a" then "b". Not for anything an adversary chooses to
 * collide: hant uses SHA-256 there (sha256.h). */
#define HANT_FNV_BASIS 0xcbf29ce484222325ull
#define HANT_FNV_PRIME 0x100000001b3ull

/* h continued over n bytes at p. */
static inline uint64_t hant_fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * HANT_FNV_PRIME;
  return h;
}

/* h continued over the bytes of s, without its terminating NUL. */
static inline uint64_t hant_fnv_str(uint64_t h, const char *s) {
  for (const unsigned char *b = (const unsigned char *)s; *b; b++)
    h = (h ^ *b) * HANT_FNV_PRIME;
  return h;
}

#endif
